"""`tk predict` on an idle machine and with one core kept busy: does the wait policy chosen at its
start (threads that sleep while they wait when other processes already use a core) help?

One small run of ``mobilenetv4_conv_small`` at 256 px (one epoch on generated images: the
answers do not matter, the model's size does) is exported to ONNX; then ``tk predict`` classifies
the same images with ``best.pt`` (PyTorch eager) and with the ``.onnx`` (ONNX Runtime), idle and
with another process spinning on a core (started and stopped by this script), for:

* **tk default** — the policy chosen at the start (`toolkit.core.threads.choose_wait_policy`):
  busy → ``OMP_WAIT_POLICY=PASSIVE``, which ONNX Runtime's pool follows (no spinning);
* **spin** — ``GOMP_SPINCOUNT=300000`` set (so tk keeps it): OpenMP's and ONNX Runtime's
  threads spin while they wait, as before tk 0.3 chose.

Each figure is the wall time of ``tk predict`` over all images less its wall time over one
image (start-up, imports, loading the model), median of ``--repeat``: seconds for the images.

    python benchmarks/busy_predict.py --json benchmarks/results/busy_predict.json   # ~5 minutes
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from busy_machine import busy_loop, wait_quiet

SETTINGS = {"tk default": {}, "spin": {"GOMP_SPINCOUNT": "300000"}}


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "MKL_NUM_THREADS", "GOMP_SPINCOUNT")}
    env.update(extra, HF_HUB_OFFLINE="1")
    return env


def _tk(*args: str, env: dict[str, str] | None = None, cwd: Path) -> subprocess.CompletedProcess:
    tk = Path(sys.executable).with_name("tk")
    done = subprocess.run([str(tk), *args], env=env or _env({}), cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"tk {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done


def _timed(model: str, images: list[str], setting: str, cwd: Path) -> tuple[float, str]:
    started = time.perf_counter()
    done = _tk("predict", model, *images, "--out", str(cwd / "p.csv"), env=_env(SETTINGS[setting]), cwd=cwd)
    line = next((x for x in done.stderr.splitlines() if x.startswith("Threads: ")), "")
    return time.perf_counter() - started, line


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=200, help="images to classify")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--quiet-below", type=float, default=0.3, metavar="CPUS",
                   help="before each round, wait until other processes use fewer CPUs than this (0: do not wait)")
    p.add_argument("--json", type=Path)
    args = p.parse_args()

    from toolkit.testing import make_image_folder, make_recipe

    work = Path(tempfile.mkdtemp(prefix="tk-busy-predict-"))
    per_class = max(2, args.images // 3)
    root = make_image_folder(work / "images", {"a": per_class, "b": per_class, "c": per_class}, size=256)
    recipe = make_recipe(work / "r.toml", root, epochs=1, batch_size=16, backbone="mobilenetv4_conv_small")
    recipe.write_text(recipe.read_text().replace("image_size = 32", "image_size = 256"))
    _tk("run", str(recipe), "--out", str(work / "run"), "--quiet", cwd=work)
    _tk("export", str(work / "run"), "--onnx", "--out", str(work / "export"), cwd=work)
    models = {"PyTorch eager": str(work / "run" / "best.pt"),
              "ONNX Runtime": str(next((work / "export").rglob("*.onnx")))}
    images = sorted(str(x) for x in root.rglob("*.png"))[:args.images]
    load_before = os.getloadavg()[0]
    seconds: dict[tuple[str, str, str], list[float]] = {}
    lines: dict[tuple[str, str, str], str] = {}
    for state in ("idle", "busy", "idle"):
        if args.quiet_below > 0:
            wait_quiet(args.quiet_below)
        loop = busy_loop() if state == "busy" else None
        try:
            time.sleep(0.5)
            for runtime, model in models.items():
                for setting in SETTINGS:
                    for _ in range(max(1, args.repeat // 2 if state == "idle" else args.repeat)):
                        whole, line = _timed(model, images, setting, work)
                        start, _ = _timed(model, images[:1], setting, work)
                        seconds.setdefault((runtime, setting, state), []).append(whole - start)
                        lines[runtime, setting, state] = line
                    print(f"{state:<5} {runtime:<14} {setting:<11} {seconds[runtime, setting, state][-1]:6.2f} s   "
                          f"{lines[runtime, setting, state]}", flush=True)
        finally:
            if loop is not None:
                loop.kill()
                loop.wait()
    rows = []
    print(f"\n{len(images)} images at 256 px, mobilenetv4_conv_small; seconds for the images (median); busy = one "
          f"other process spinning on a core")
    print(f"{'runtime':<14} {'setting':<11} {'idle s':>7} {'busy s':>7} {'busy/idle':>10}")
    for runtime in models:
        for setting in SETTINGS:
            idle = statistics.median(seconds[runtime, setting, "idle"])
            busy = statistics.median(seconds[runtime, setting, "busy"])
            rows.append({"runtime": runtime, "setting": setting, "idle_s": round(idle, 3), "busy_s": round(busy, 3),
                         "busy_over_idle": round(busy / idle, 3), "threads_line_busy": lines[runtime, setting, "busy"],
                         "idle_runs": seconds[runtime, setting, "idle"], "busy_runs": seconds[runtime, setting, "busy"]})
            print(f"{runtime:<14} {setting:<11} {idle:7.2f} {busy:7.2f} {busy / idle:9.2f}x")
    if args.json:
        args.json.write_text(json.dumps({
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": platform.platform(),
            "cores": len(os.sched_getaffinity(0)), "images": len(images), "load_before": load_before,
            "load_after": os.getloadavg()[0], "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()

"""Epoch time of `tk run` on an idle machine and with one core kept busy, for tk's default and the alternatives.

The same short training (generated 128 px images, mobilenetv4_conv_small, CPU) runs as a real
``tk run`` subprocess in each setting, idle and then with a busy loop in another process (a
``while True: pass``, started and stopped by this script, like a browser tab or another job
taking one core). Settings:

* **tk default** — no thread settings: every available core, `toolkit.threads.ThreadGovernor`
  giving up the cores other processes use and taking them back.
* **2 threads, spinning** — ``--threads 2`` with OpenMP's default wait policy: tk before this
  change (a fixed pool, threads spin while they wait).
* **2 threads, OMP_WAIT_POLICY=PASSIVE** — the same pool, idle threads sleep.
* **1 thread** — ``--threads 1``.

Each setting reports the median epoch time (from ``history.jsonl``, epochs 2 on; the first
pays warm-up) idle and busy, the slowdown busy/idle, and idle time relative to the old default.
Settings take turns (idle A, B, C, D, then busy A, B, C, D, then the idle round again, and the
two idle rounds are pooled) so that drift in the machine's own load is spread over all of them.

    python benchmarks/busy_machine.py                      # about 4 minutes on a 2-core machine
    python benchmarks/busy_machine.py --json benchmarks/results/busy_machine.json
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

SETTINGS = {
    "tk default": ([], {}),
    "2 threads, spinning": (["--threads", "2"], {}),
    "2 threads, OMP_WAIT_POLICY=PASSIVE": (["--threads", "2"], {"OMP_WAIT_POLICY": "PASSIVE"}),
    "1 thread": (["--threads", "1"], {}),
}
OLD_DEFAULT = "2 threads, spinning"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=120, help="images per class (3 classes)")
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--model", default="mobilenetv4_conv_small")
    p.add_argument("--json", type=Path, help="write the figures here")
    return p.parse_args(argv)


def busy_loop() -> subprocess.Popen:
    """Another process keeping one core busy (pure Python, no threads)."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def one_run(work: Path, recipe: Path, name: str, extra: list[str], env_extra: dict[str, str], tag: str) -> list[float]:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "MKL_NUM_THREADS")}
    env.update(env_extra, HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    out = work / "runs" / f"{tag}-{abs(hash(name))}"
    tk = Path(sys.executable).with_name("tk")
    done = subprocess.run([str(tk), "run", str(recipe), "--out", str(out), "--quiet", *extra], env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{name} ({tag}) failed:\n{done.stdout}\n{done.stderr}")
    history = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    return [float(h["epoch_time"]) for h in history[1:]]


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    from toolkit.testing import make_image_folder, make_recipe
    from toolkit.threads import available_cores

    work = Path(tempfile.mkdtemp(prefix="tk-busy-"))
    images = make_image_folder(work / "images", {"a": args.images, "b": args.images, "c": args.images},
                               size=args.size)
    recipe = make_recipe(work / "busy.toml", images, epochs=args.epochs, batch_size=16, backbone=args.model,
                         train_extra="early_stopping = false")
    recipe.write_text(recipe.read_text().replace("image_size = 32", f"image_size = {args.size}"))
    times: dict[str, dict[str, list[float]]] = {name: {"idle": [], "busy": []} for name in SETTINGS}
    for round_, state in enumerate(("idle", "busy", "idle")):
        loop = busy_loop() if state == "busy" else None
        try:
            for name, (extra, env_extra) in SETTINGS.items():
                started = time.perf_counter()
                times[name][state] += one_run(work, recipe, name, extra, env_extra, f"{state}{round_}")
                print(f"{state:>4} {name:<36} {time.perf_counter() - started:6.1f}s run", flush=True)
        finally:
            if loop is not None:
                loop.kill()
                loop.wait()
    old_idle = statistics.median(times[OLD_DEFAULT]["idle"])
    rows = []
    for name in SETTINGS:
        idle, busy = statistics.median(times[name]["idle"]), statistics.median(times[name]["busy"])
        rows.append({"setting": name, "idle_epoch_s": round(idle, 3), "busy_epoch_s": round(busy, 3),
                     "slowdown_busy_over_idle": round(busy / idle, 2),
                     "idle_vs_old_default": round(idle / old_idle, 2),
                     "busy_vs_old_default_idle": round(busy / old_idle, 2)})
    cores, how = available_cores()
    result = {"created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": platform.platform(),
              "python": platform.python_version(), "cores": cores, "cores_from": how,
              "load_before": os.getloadavg()[0], "model": args.model, "size": args.size,
              "images": 3 * args.images, "epochs": args.epochs, "rows": rows}
    print(f"\n{args.model} at {args.size}px, {3 * args.images} images, {cores} cores ({how}); median epoch, "
          f"epochs 2-{args.epochs}; busy = one other process spinning on a core")
    print(f"{'setting':<36} {'idle s':>8} {'busy s':>8} {'busy/idle':>10} {'idle vs old':>12}")
    for r in rows:
        print(f"{r['setting']:<36} {r['idle_epoch_s']:>8.2f} {r['busy_epoch_s']:>8.2f} "
              f"{r['slowdown_busy_over_idle']:>9.2f}x {r['idle_vs_old_default']:>11.2f}x")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()

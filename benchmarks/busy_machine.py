"""Epoch time of `tk run` on an idle machine and with one core kept busy, for tk's default and the alternatives.

The same short training (generated images, CPU) runs as a real ``tk run`` subprocess in each
setting, idle and then with a busy loop in another process (a ``while True: pass``, started and
stopped by pid by this script, like a browser tab or another job taking one core). Settings:

* **tk default** — no thread settings: every available core, fixed for the run (results
  repeat); the wait policy chosen when the run starts (`toolkit.core.threads.choose_wait_policy`):
  OpenMP's default spin on an idle machine, ``OMP_WAIT_POLICY=PASSIVE`` when other processes
  already use half a CPU or more.
* **adaptive (0.2 default)** — ``train.threads = "adaptive"`` with libgomp's own spin
  (300,000): tk 0.2's default, the governor changing the count with the load.
* **2 threads, spin 300000** — a fixed pool with libgomp's default wait (tk 0.1).
* **2 threads, spin N** — other ``GOMP_SPINCOUNT`` values, ``OMP_WAIT_POLICY=PASSIVE`` (spin 0).
* **1 thread** — ``--threads 1``.
* **2 threads on 1 core** — ``--threads 2`` (the same sums as the default's two threads) with the
  process confined to one core (``sched_setaffinity``), threads sleeping while they wait
  (PASSIVE) or after 300 spins: what a run could do when it starts on a machine with a core taken.

Each setting reports the median epoch time (from ``history.jsonl``, epochs 2 on; the first
pays warm-up) idle and busy, the slowdown busy/idle, and idle time relative to the 0.2 default.
Settings take turns (idle A, B, C …, then busy A, B, C …, then the idle round again, and the
two idle rounds are pooled) so that drift in the machine's own load is spread over all of them.

    python benchmarks/busy_machine.py                      # about 12 minutes on a 2-core machine
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
    "adaptive (0.2 default)": (["--set", 'train.threads="adaptive"'], {"GOMP_SPINCOUNT": "300000"}),
    "2 threads, spin 300000": (["--threads", "2"], {"GOMP_SPINCOUNT": "300000"}),
    "2 threads, spin 100000": (["--threads", "2"], {"GOMP_SPINCOUNT": "100000"}),
    "2 threads, spin 10000": (["--threads", "2"], {"GOMP_SPINCOUNT": "10000"}),
    "2 threads, spin 3000": (["--threads", "2"], {"GOMP_SPINCOUNT": "3000"}),
    "2 threads, spin 1000": (["--threads", "2"], {"GOMP_SPINCOUNT": "1000"}),
    "2 threads, spin 1000": (["--threads", "2"], {"GOMP_SPINCOUNT": "1000"}),
    "2 threads, spin 300": (["--threads", "2"], {"GOMP_SPINCOUNT": "300"}),
    "2 threads, PASSIVE": (["--threads", "2"], {"OMP_WAIT_POLICY": "PASSIVE"}),
    "1 thread": (["--threads", "1"], {}),
    "2 threads on 1 core, PASSIVE": (["--threads", "2"], {"OMP_WAIT_POLICY": "PASSIVE"}),
    "2 threads on 1 core, spin 300": (["--threads", "2"], {"GOMP_SPINCOUNT": "300"}),
}
ON_CORES = {"2 threads on 1 core, PASSIVE": 1, "2 threads on 1 core, spin 300": 1}
"""Settings whose process runs on this many cores (the last ones of its affinity set, by
``sched_setaffinity`` before it starts): the thread count, hence the result, stays the same; the
other process spinning keeps a core to itself (the kernel moves it off ours)."""
OLD_DEFAULT = "adaptive (0.2 default)"
MODELS = {"tiny": ("test_efficientnet", 64), "mobilenetv4-128": ("mobilenetv4_conv_small", 128),
          "mobilenetv4-256": ("mobilenetv4_conv_small", 256)}
DEFAULT_MODELS = ["tiny", "mobilenetv4-128"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=120, help="images per class (3 classes)")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--models", nargs="+", default=DEFAULT_MODELS, choices=list(MODELS),
                   help="tiny: timm's test_efficientnet at 64 px; mobilenetv4-128/-256: mobilenetv4_conv_small at "
                        "128/256 px (256 px trains on a quarter of --images per class: its epochs are 4x longer)")
    p.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    p.add_argument("--json", type=Path, help="write the figures here")
    p.add_argument("--quiet-below", type=float, default=0.0, metavar="CPUS",
                   help="before each round, wait until other processes use fewer CPUs than this; stop after 10 "
                        "minutes without (0: do not wait)")
    return p.parse_args(argv)


def busy_loop() -> subprocess.Popen:
    """Another process keeping one core busy (pure Python, no threads)."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def _busy_seconds() -> float:
    """Busy CPU seconds of the whole machine so far (``/proc/stat``)."""
    v = [int(x) for x in open("/proc/stat").readline().split()[1:9]]
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / os.sysconf("SC_CLK_TCK")


def _children_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


OTHERS: list[float] = []
"""CPUs that processes other than this benchmark's used during each run (the machine's busy time
less the run's own and, when busy, one CPU for the spinning process): the load it measured under."""


def wait_quiet(below: float, patience: float = 600.0) -> float:
    """Sample the machine's busy CPUs for 3 s until under ``below``; stop the benchmark when that
    takes over ``patience`` seconds (figures taken on a busy machine would compare nothing)."""
    started = time.monotonic()
    while True:
        b0, t0 = _busy_seconds(), time.monotonic()
        time.sleep(3)
        cpus = (_busy_seconds() - b0) / (time.monotonic() - t0)
        if cpus < below:
            return cpus
        if time.monotonic() - started > patience:
            raise SystemExit(f"The machine was not quiet for {patience:.0f} s (other processes used {cpus:.2f} CPUs "
                             f"last): nothing measured. Run again when it is.")
        print(f"  waiting for a quiet machine: other processes use {cpus:.2f} CPUs", flush=True)
        time.sleep(15)


def one_run(work: Path, recipe: Path, name: str, extra: list[str], env_extra: dict[str, str], tag: str,
            spinning: bool = False) -> list[float]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "MKL_NUM_THREADS", "GOMP_SPINCOUNT")}
    env.update(env_extra, HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    out = work / "runs" / f"{tag}-{list(SETTINGS).index(name)}"
    tk = Path(sys.executable).with_name("tk")
    cores = ON_CORES.get(name)
    cpus = sorted(os.sched_getaffinity(0))[-cores:] if cores else None
    busy0, own0, wall0 = _busy_seconds(), _children_seconds(), time.monotonic()
    done = subprocess.run([str(tk), "run", str(recipe), "--out", str(out), "--quiet", *extra], env=env,
                          capture_output=True, text=True,
                          preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
    wall = time.monotonic() - wall0
    OTHERS.append(max(0.0, (_busy_seconds() - busy0 - (_children_seconds() - own0)) / wall - (1.0 if spinning else 0.0)))
    if done.returncode != 0:
        raise SystemExit(f"{name} ({tag}) failed:\n{done.stdout}\n{done.stderr}")
    history = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    return [float(h["epoch_time"]) for h in history[1:]]


def measure(work: Path, model: str, size: int, args: argparse.Namespace) -> list[dict]:
    from toolkit.testing import make_image_folder, make_recipe

    per_class = args.images if size < 256 else max(16, args.images // 4)
    images = make_image_folder(work / f"images{size}", {"a": per_class, "b": per_class, "c": per_class},
                               size=size)
    recipe = make_recipe(work / f"busy-{model}.toml", images, epochs=args.epochs, batch_size=16, backbone=model,
                         train_extra="early_stopping = false")
    recipe.write_text(recipe.read_text().replace("image_size = 32", f"image_size = {size}"))
    times: dict[str, dict[str, list[float]]] = {name: {"idle": [], "busy": []} for name in args.settings}
    for round_, state in enumerate(("idle", "busy", "idle")):
        if args.quiet_below > 0:
            wait_quiet(args.quiet_below)
        loop = busy_loop() if state == "busy" else None
        try:
            for name in args.settings:
                extra, env_extra = SETTINGS[name]
                started = time.perf_counter()
                times[name][state] += one_run(work, recipe, name, extra, env_extra, f"{model}-{size}-{state}{round_}",
                                              spinning=state == "busy")
                print(f"{model:<24} {state:>4} {name:<28} {time.perf_counter() - started:6.1f}s run, others used "
                      f"{OTHERS[-1]:.2f} CPUs", flush=True)
        finally:
            if loop is not None:
                loop.kill()
                loop.wait()
    base = OLD_DEFAULT if OLD_DEFAULT in times else args.settings[0]
    old_idle = statistics.median(times[base]["idle"])
    rows = []
    for name in args.settings:
        idle, busy = statistics.median(times[name]["idle"]), statistics.median(times[name]["busy"])
        rows.append({"model": model, "size": size, "setting": name, "idle_epoch_s": round(idle, 3),
                     "busy_epoch_s": round(busy, 3), "slowdown_busy_over_idle": round(busy / idle, 2),
                     "idle_vs_0.2_default": round(idle / old_idle, 2),
                     "busy_vs_0.2_default_idle": round(busy / old_idle, 2)})
    return rows


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    from toolkit.core.threads import BUSY_CPUS, WAIT_ENV, available_cores

    work = Path(tempfile.mkdtemp(prefix="tk-busy-"))
    load_before = os.getloadavg()[0]
    rows = []
    for key in args.models:
        model, size = MODELS[key]
        rows += measure(work, model, size, args)
    cores, how = available_cores()
    result = {"created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": platform.platform(),
              "python": platform.python_version(), "cores": cores, "cores_from": how, "tk_wait_env": WAIT_ENV, "busy_cpus": BUSY_CPUS,
              "load_before": load_before, "load_after": os.getloadavg()[0],
              "others_cpus_during_runs": {"max": round(max(OTHERS), 2), "median": round(statistics.median(OTHERS), 2)},
              "images": 3 * args.images, "epochs": args.epochs, "rows": rows}
    print(f"\n{3 * args.images} images, {cores} cores ({how}); median epoch, epochs 2-{args.epochs}; "
          f"busy = one other process spinning on a core (started before the run); tk default: wait policy "
          f"chosen at the start (toolkit.core.threads.choose_wait_policy)")
    print(f"{'model':<24} {'setting':<28} {'idle s':>8} {'busy s':>8} {'busy/idle':>10} {'idle vs 0.2':>12}")
    for r in rows:
        print(f"{r['model']:<24} {r['setting']:<28} {r['idle_epoch_s']:>8.2f} {r['busy_epoch_s']:>8.2f} "
              f"{r['slowdown_busy_over_idle']:>9.2f}x {r['idle_vs_0.2_default']:>11.2f}x")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()

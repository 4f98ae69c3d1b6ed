"""The cost model of the image store: build time, size, memory of one and two processes, epoch time.

For N generated images (small 160×90 PNGs of noise and shapes, so the benchmark stays quick),
decoded to 128×128 (``--size``):

* **store build**: `tk run` decodes every image into one store (`toolkit.data.store`); the
  time is the run header's decode time, the size the store file's;
* **memory**: the same recipe trains one epoch (a tiny CNN, CPU) as one process and as
  ``--nproc 2``; every 0.2 s this script reads ``/proc/<pid>/smaps_rollup`` of each process
  of the run and keeps the peak resident (Rss) and proportional (Pss: shared pages divided
  among the processes that map them) memory, and the peak of their sum; and, from
  ``/proc/<pid>/smaps``, the Pss of the store's own mapping (the data's share of memory).
  Under ``--nproc 2`` the sum counts the launching ``tk run`` process as well as the two
  workers (on Linux the workers are forked from it and share its loaded libraries, so leaving
  it out would hide a third of those pages); the workers' own sum is reported beside it;
* **epoch time**: from history.jsonl.

From the measured N it fits time and size linearly and prints what they predict for 1M images.
Memory of a process is a constant (Python, torch, the model) plus the store pages it touches;
those live in the page cache, once per machine, whatever the number of processes.

    python benchmarks/store_memory.py --sizes 1000 10000 20000 50000   # about 40 minutes on 2 cores
    python benchmarks/store_memory.py --sizes 1000 20000 --json benchmarks/results/store_memory.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

RECIPE = """\
[data]
root = "{root}"
image_size = {size}
val_fraction = 0.1
workers = 2
group_by = "none"

[model]
backbone = "test_resnet"
pretrained = false

[train]
epochs = 1
batch_size = 32
device = "cpu"
threads = 1
early_stopping = false

[calibration]
temperature = false
"""


def make_images(root: Path, n: int) -> None:
    import numpy as np
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(0)
    for c in range(4):
        (root / f"class_{c}").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        c = i % 4
        img = Image.fromarray(rng.integers(0, 256, (90, 160, 3), dtype=np.uint8))
        ImageDraw.Draw(img).rectangle((10 + 30 * c, 10, 50 + 30 * c, 60), fill=(255, 255, 255))
        img.save(root / f"class_{c}" / f"{i:06d}.png", compress_level=1)


def smaps(pid: int) -> tuple[int, int, int]:
    """(Rss, Pss, Pss of the image store's mapping) in kB."""
    rss = pss = 0
    with open(f"/proc/{pid}/smaps_rollup") as fh:
        for line in fh:
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    store = 0
    in_store = False
    with open(f"/proc/{pid}/smaps") as fh:
        for line in fh:
            head = line.split()
            if head and "-" in head[0] and len(head) >= 5:  # a mapping's first line: range perms offset dev inode [path]
                in_store = line.rstrip().endswith(".tkstore")
            elif in_store and line.startswith("Pss:"):
                store += int(head[1])
    return rss, pss, store


def descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    kids = [int(k) for k in fh.read().split()]
                out += kids
                todo += kids
        except OSError:
            continue
    return out


def train(recipe: Path, out: Path, nproc: int, env: dict[str, str]) -> dict[str, float]:
    cmd = [sys.executable, "-m", "toolkit.cli", "run", str(recipe), "--out", str(out)]  # a pipe: log mode
    if nproc > 1:
        cmd += ["--nproc", str(nproc)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak: dict[str, float] = {"rss_one": 0, "pss_one": 0, "pss_sum": 0, "rss_sum": 0, "store_pss_sum": 0,
                              "pss_workers": 0, "pss_launcher": 0}
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            # the training processes: the `tk` process itself (one process), or the workers (--nproc)
            workers = [p for p in descendants(proc.pid) if _is_python(p)] if nproc > 1 else [proc.pid]
            readings = []
            for p in workers:
                try:
                    readings.append(smaps(p))
                except OSError:
                    pass
            launcher = (0, 0, 0)
            if nproc > 1:  # the launching `tk run --nproc` process holds memory too (with forked workers,
                try:       # pages it shares with them): every process of the run is counted
                    launcher = smaps(proc.pid)
                except OSError:
                    pass
            if readings:
                peak["rss_one"] = max(peak["rss_one"], max(r for r, _, _ in readings))
                peak["pss_one"] = max(peak["pss_one"], max(p for _, p, _ in readings))
                peak["rss_sum"] = max(peak["rss_sum"], sum(r for r, _, _ in readings))
                workers_pss = sum(p for _, p, _ in readings)
                peak["pss_workers"] = max(peak["pss_workers"], workers_pss)
                peak["pss_launcher"] = max(peak["pss_launcher"], launcher[1])
                peak["pss_sum"] = max(peak["pss_sum"], workers_pss + launcher[1])
                peak["store_pss_sum"] = max(peak["store_pss_sum"], sum(s for _, _, s in readings))
            time.sleep(0.2)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    output = proc.communicate()[0]
    done.set()
    thread.join()
    if proc.returncode != 0:
        raise SystemExit(f"tk run failed:\n{output[-3000:]}")
    history = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    decode = next((line for line in output.splitlines() if line.startswith("Data:")), "")
    return {**{k: v / 1024 for k, v in peak.items()}, "epoch_seconds": history[-1]["epoch_time"], "header": decode}


def _is_python(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return b"python" in fh.read().split(b"\0")[0]
    except OSError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 20000, 50000])
    parser.add_argument("--size", type=int, default=128, help="model input size in pixels (the store's rows)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="tk-store-") as work:
        for n in args.sizes:
            root = Path(work) / f"images_{n}"
            t = time.perf_counter()
            make_images(root, n)
            generated = time.perf_counter() - t
            cache = Path(work) / f"cache_{n}"
            env = {**os.environ, "TK_CACHE_DIR": str(cache), "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
            recipe = Path(work) / f"r_{n}.toml"
            recipe.write_text(RECIPE.format(root=root, size=args.size))
            t = time.perf_counter()
            first = train(recipe, Path(work) / f"one_{n}", 1, env)  # builds the store, then trains
            build_run = time.perf_counter() - t
            store = next((cache / "stores").glob("*.tkstore"))
            one = train(recipe, Path(work) / f"one_again_{n}", 1, env)  # the store is reused
            two = train(recipe, Path(work) / f"two_{n}", 2, env)
            decode_s = float(first["header"].rsplit(", ", 1)[-1].rstrip("s)")) if first["header"] else build_run
            rows.append({"images": n, "generate_seconds": generated, "store_build_seconds": decode_s,
                         "store_mb": store.stat().st_size / 2**20, "one_process": one, "two_processes": two,
                         "pss_ratio_two_over_one": two["pss_sum"] / one["pss_one"],
                         "pss_ratio_workers_over_one": two["pss_workers"] / one["pss_one"],
                         "store_pss_ratio_two_over_one": two["store_pss_sum"] / max(one["store_pss_sum"], 1e-9)})
            print(f"{n:>7} images: store {rows[-1]['store_mb']:.0f} MB built in {decode_s:.1f} s; one process "
                  f"RSS {one['rss_one']:.0f} MB, PSS {one['pss_one']:.0f} MB, epoch {one['epoch_seconds']:.1f} s; "
                  f"store pages {one['store_pss_sum']:.0f} MB; --nproc 2: PSS {two['pss_sum']:.0f} MB together "
                  f"({rows[-1]['pss_ratio_two_over_one']:.2f}x one; launcher {two['pss_launcher']:.0f} MB, "
                  f"the two workers {two['pss_workers']:.0f} MB, "
                  f"{rows[-1]['pss_ratio_workers_over_one']:.2f}x), store pages {two['store_pss_sum']:.0f} MB together "
                  f"({rows[-1]['store_pss_ratio_two_over_one']:.2f}x one), RSS {two['rss_one']:.0f} MB each at most, "
                  f"epoch {two['epoch_seconds']:.1f} s", flush=True)
    if len(rows) >= 2:
        import numpy as np

        n = np.array([r["images"] for r in rows], dtype=float)

        def fit(values):
            slope, intercept = np.polyfit(n, np.array(values, dtype=float), 1)
            return slope * 1e6 + intercept

        prediction = {"store_build_seconds": fit([r["store_build_seconds"] for r in rows]),
                      "store_gb": fit([r["store_mb"] for r in rows]) / 1024,
                      "epoch_seconds_one_process": fit([r["one_process"]["epoch_seconds"] for r in rows])}
        print(f"1M images predicted: store {prediction['store_gb']:.0f} GB built in "
              f"{prediction['store_build_seconds'] / 3600:.1f} h, one epoch {prediction['epoch_seconds_one_process'] / 3600:.1f} h "
              f"(one process, this tiny CNN)")
    else:
        prediction = {}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"machine": f"{platform.machine()}, {os.cpu_count()} cpus, python "
                                                    f"{sys.version.split()[0]}", "image_size": args.size, "rows": rows,
                                         "predicted_1M": prediction}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

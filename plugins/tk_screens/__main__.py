"""`python -m tk_screens OUT_DIR [--per-class N | --reference] [--size WxH] [--seed S]`"""

from __future__ import annotations

import argparse
import sys
import time

from .generate import REFERENCE_COUNTS, generate_dataset


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 1280x720, got {text!r}") from None
    if w < 1 or h < 1:
        raise argparse.ArgumentTypeError(f"size must be positive, got {text!r}")
    return w, h


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tk_screens",
                                description="Write a synthetic screen-state dataset (class folders of PNGs).")
    p.add_argument("out_dir")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--per-class", type=int, default=None, metavar="N", help="images per class (default 50)")
    g.add_argument("--reference", action="store_true", help="the real class imbalance (3,152 images)")
    p.add_argument("--size", type=_size, default=(320, 180), metavar="WxH", help="image size (default 320x180)")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    counts = REFERENCE_COUNTS if a.reference else {c: a.per_class or 50 for c in REFERENCE_COUNTS}

    def progress(done: int, total: int) -> None:
        if done == total or done % 50 == 0:
            print(f"\r{done}/{total} images", end="", file=sys.stderr, flush=True)

    t = time.perf_counter()
    try:
        out = generate_dataset(a.out_dir, counts=counts, size=a.size, seed=a.seed, on_progress=progress)
    except (ValueError, FileExistsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"\n{out} ready ({sum(counts.values())} images, {time.perf_counter() - t:.1f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

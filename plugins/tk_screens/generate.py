"""Write a synthetic screen-state dataset as class folders of PNGs, deterministically.

Each image gets its own `random.Random(f"{seed}:{class}:{index}")`: string seeds are hashed
with SHA-512 by `random`, never with Python's per-process randomised `hash()`, so the same
parameters give byte-identical files on every run, in any order, on any number of threads.

The folder is built next to `out_dir` and renamed into place, with a `.complete` marker that
records the parameters: a repeated call returns at once, a call with other parameters rebuilds,
and a killed run never leaves a half-written dataset behind.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .draw import CLASSES, draw_screen

#: Bumped whenever drawing changes, so folders written by an older generator are rebuilt.
GENERATOR_VERSION = 1
MARKER = ".complete"

#: Class counts of the real reference dataset (3,152 screenshots, heavily imbalanced).
REFERENCE_COUNTS: dict[str, int] = {
    "slide": 2530,
    "not_slide_others": 479,
    "not_slide_desktop": 62,
    "may_be_slide_powerpoint_edit_mode": 36,
    "not_slide_no_signal": 26,
    "may_be_slide_powerpoint_side_screen": 15,
    "not_slide_black_or_blue_screen": 4,
}


def resolve_counts(counts: dict[str, int] | None = None, per_class: int | None = None) -> dict[str, int]:
    """Images per class, in `CLASSES` order. Neither argument: the reference counts."""
    if counts is not None and per_class is not None:
        raise ValueError("give either counts or per_class, not both")
    if per_class is not None:
        counts = {c: per_class for c in CLASSES}
    elif counts is None:
        counts = REFERENCE_COUNTS
    unknown = [c for c in counts if c not in CLASSES]
    if unknown:
        raise ValueError(f"unknown screen class {unknown[0]!r}; expected one of: {', '.join(CLASSES)}")
    out = {c: int(counts.get(c, 0)) for c in CLASSES}
    if any(n < 0 for n in out.values()):
        raise ValueError(f"image counts must be >= 0, got {out}")
    return out


def image_name(cls: str, i: int) -> str:
    return f"{cls}_{i:05d}.png"


def generate_dataset(
    out_dir: str | os.PathLike[str],
    *,
    counts: dict[str, int] | None = None,
    per_class: int | None = None,
    size: tuple[int, int] = (320, 180),
    seed: int = 0,
    on_progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
) -> Path:
    """Write `out_dir/<class>/<class>_<i:05d>.png` and return `out_dir`.

    `counts` maps class → images (classes left out get none, and no folder); `per_class` gives
    every class the same number; neither means `REFERENCE_COUNTS`. `size` is (width, height).
    `on_progress(done, total)` is called from the calling thread after each image.
    Raises `FileExistsError` rather than replace a non-empty folder this function did not write.
    """
    out = Path(out_dir)
    n_per = resolve_counts(counts, per_class)
    w, h = int(size[0]), int(size[1])
    if w < 1 or h < 1:
        raise ValueError(f"image size must be positive, got {w}x{h}")
    params = {"generator": "tk_screens", "version": GENERATOR_VERSION, "seed": seed,
              "size": [w, h], "counts": n_per}
    if _marker(out) == params:
        return out
    if out.exists() and _marker(out) is None and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(
            f"{out} exists and was not written by the screens generator; "
            "choose another folder or delete it first")

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{uuid.uuid4().hex[:8]}"
    jobs = [(c, i) for c in CLASSES for i in range(n_per[c])]
    try:
        for c in CLASSES:
            if n_per[c]:
                (tmp / c).mkdir(parents=True)
        tmp.mkdir(exist_ok=True)

        def one(job: tuple[str, int]) -> None:
            c, i = job
            img = draw_screen(c, random.Random(f"{seed}:{c}:{i}"), (w, h))
            # Level 1: several times faster than the default on noisy screens, ~15% larger.
            img.save(tmp / c / image_name(c, i), "PNG", compress_level=1)

        workers = workers or _cpus()
        done, total = 0, len(jobs)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for _ in pool.map(one, jobs):
                done += 1
                if on_progress:
                    on_progress(done, total)
        (tmp / MARKER).write_text(json.dumps(params, indent=1) + "\n")
        _swap_in(tmp, out, params)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _cpus() -> int:
    # PIL's drawing, resizing and PNG encoding release the GIL, so threads scale with cores.
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:
        n = os.cpu_count() or 1
    return max(1, min(8, n))


def _marker(out: Path) -> dict | None:
    try:
        return json.loads((out / MARKER).read_text())
    except (OSError, ValueError):
        return None


def _swap_in(tmp: Path, out: Path, params: dict) -> None:
    """Rename `tmp` to `out`, moving an older generated folder aside first."""
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
        out.rename(old)
    try:
        tmp.rename(out)
    except OSError:
        # Another process won the race; keep its result if it matches, else give up loudly.
        if _marker(out) != params:
            raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

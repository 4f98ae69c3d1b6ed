"""Fixtures for the data-layer tests: real, tiny image files written with PIL."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image


def write_image(
    path: str | os.PathLike[str] | bytes,
    size: tuple[int, int] = (16, 16),
    mode: str = "RGB",
    color: object = None,
    **save: object,
) -> str | bytes:
    """Write a `mode` image of `size` (width, height) to `path`, creating parent folders."""
    if isinstance(path, bytes):
        os.makedirs(os.path.dirname(path), exist_ok=True)
    else:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    if color is None:
        color = {"RGB": (200, 30, 60), "L": 128, "CMYK": (0, 255, 0, 0)}.get(mode, 0)
    img = Image.new(mode, size, color)
    fmt = save.pop("format", None)
    if isinstance(path, bytes):
        with open(path, "wb") as fh:
            img.save(fh, format=fmt or "PNG", **save)
    else:
        img.save(path, format=fmt, **save)
    return path


@pytest.fixture
def make_image() -> Callable[..., str | bytes]:
    return write_image


def make_class_tree(root: Path, counts: dict[str, int], size: tuple[int, int] = (16, 16)) -> None:
    """`root/<class>/<i>.png` for each class, with a distinct colour per image."""
    for c, (name, n) in enumerate(counts.items()):
        for i in range(n):
            write_image(root / name / f"{i:03d}.png", size, color=(c * 40 % 256, i * 7 % 256, 90))


@pytest.fixture
def make_tree() -> Callable[..., None]:
    return make_class_tree


def groups_and_conflicts(report: dict, command: str) -> tuple[list[list[str]], list]:
    """The near-duplicate groups (sorted file names) and label conflicts of a ``tk data check``
    or ``tk data doctor`` JSON report."""
    from pathlib import Path

    if command == "check":
        dups = report["near_duplicates"]
        return [sorted(Path(m["path"]).name for m in g) for g in dups["members"]], dups["conflicts"]
    return ([sorted(Path(p).name for p in g) for g in report["near_duplicates"]["groups"]],
            report["label_conflicts"])

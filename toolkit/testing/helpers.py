"""Helpers for tests of tk and of tk plugins: plugin managers, image folders, recipes, the CLI.

Importable as ``toolkit.testing`` (which re-exports them); the fixtures live there.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Iterable

__all__ = ["make_plugins", "make_image_folder", "make_recipe", "run_cli"]


def make_plugins(*plugins: Any, entry_points: bool = False, names: Iterable[str] | None = None):
    """A fresh `toolkit.plugin.manager.Plugins` holding ``plugins`` (modules or objects with hookimpls).

    With ``entry_points=True`` the installed plugins (tk's built-ins and every ``tk`` entry
    point) are loaded too, as in a real run. A plugin that fails to register is reported in
    ``.broken`` rather than raised, exactly as `tk plugins` would show it.
    """
    from ..plugin.manager import load_plugins

    names = list(names) if names is not None else [getattr(p, "__name__", type(p).__name__) for p in plugins]
    return load_plugins(extra=list(zip(names, plugins)), entry_points=entry_points)


def make_image_folder(root: Path, classes: dict[str, int], *, size: int = 32, seed: int = 0, fmt: str = "png") -> Path:
    """Write ``classes`` (name → image count) as class sub-folders of real, distinct images.

    Each class gets its own base colour and stripe orientation, so a small model can learn
    them and tests of training are meaningful; each image its own colour shift, stripe phase
    and a dark blob at its own place, so no two are near-duplicates of each other (tk keeps
    near-duplicates together when it splits).
    """
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    root = Path(root)
    for k, (name, count) in enumerate(sorted(classes.items())):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        base = ((k * 97) % 256, (k * 53 + 80) % 256, (k * 151 + 40) % 256)
        for i in range(count):
            img = Image.new("RGB", (size, size), tuple(min(255, max(0, c + rng.randint(-20, 20))) for c in base))
            draw = ImageDraw.Draw(img)
            step = 4 + k % 5
            for j in range(-rng.randrange(step * 2), size, step * 2):
                box = (0, j, size, j + step) if k % 2 == 0 else (j, 0, j + step, size)
                draw.rectangle(box, fill=tuple(255 - c for c in base))
            r = max(2, size // 5)
            x, y = rng.randrange(size - r), rng.randrange(size - r)
            draw.ellipse((x, y, x + r, y + r), fill=(20, 20, 20))
            img.save(folder / f"{name}_{i:03d}.{fmt}")
    return root


def make_recipe(path: Path, root: Path, *, epochs: int = 2, batch_size: int = 8, lr: float = 0.01,
                backbone: str = "test_efficientnet", train_extra: str = "", extra: str = "") -> Path:
    """Write a recipe that trains ``backbone`` on the class folders under ``root`` in seconds:
    CPU, 32 px, no downloads, no decode threads. ``train_extra`` lands inside ``[train]``,
    ``extra`` after it (further sections)."""
    path = Path(path)
    path.write_text(f"""\
# A test recipe: {backbone} on {Path(root).name}
[data]
root = "{Path(root).as_posix()}"
image_size = 32
val_fraction = 0.25
workers = 0

[model]
backbone = "{backbone}"
pretrained = false

[optim]
lr = {lr}

[train]
epochs = {epochs}
batch_size = {batch_size}
device = "cpu"
{train_extra}
{extra}
""", encoding="utf-8")
    return path


def run_cli(*args: str, input: str | None = None):
    """Run ``tk ARGS`` in-process; returns click's ``Result`` (``exit_code``, ``output``, ``stderr``)."""
    from click.testing import CliRunner

    from ..cli import cli

    return CliRunner().invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)

"""Near-duplicate copies of a screenshot, as screen recordings produce them.

Frames cut from a recording repeat: the same slide re-encoded, nudged by a few pixels, or
with the cursor moved. `recorded_copy` makes one such copy (deterministically from `rng`);
`write_with_copies` writes a class-folder tree in which a share of each chosen class's images
are copies of its others — the data on which a random split leaks copies into validation.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

from PIL import Image, ImageDraw

from .draw import draw_screen

__all__ = ["DISTORTIONS", "recorded_copy", "write_with_copies"]

#: The three kinds of copy, in the order `recorded_copy(kind=...)` numbers them.
DISTORTIONS = ("jpeg", "shift", "cursor")


def recorded_copy(img: Image.Image, kind: int | str, rng: random.Random) -> Image.Image:
    """A copy of ``img``: re-encoded as JPEG (quality 70), shifted by 1–3 pixels (edges
    repeated), or with a mouse cursor drawn at a random place."""
    kind = DISTORTIONS[kind] if isinstance(kind, int) else kind
    if kind == "jpeg":
        buf = io.BytesIO()
        img.convert("RGB").save(buf, "JPEG", quality=70)
        return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    if kind == "shift":
        dx, dy = rng.choice([-3, -2, 2, 3]), rng.choice([-2, -1, 1, 2])
        out = Image.new("RGB", img.size)
        out.paste(img, (dx, dy))
        # repeat the edge the shift uncovered, as a re-captured frame would show the screen's border
        if dx > 0:
            out.paste(img.crop((0, 0, 1, img.height)).resize((dx, img.height)), (0, dy))
        elif dx < 0:
            out.paste(img.crop((img.width - 1, 0, img.width, img.height)).resize((-dx, img.height)), (img.width + dx, dy))
        if dy > 0:
            out.paste(out.crop((0, dy, img.width, dy + 1)).resize((img.width, dy)), (0, 0))
        elif dy < 0:
            out.paste(out.crop((0, img.height + dy - 1, img.width, img.height + dy)).resize((img.width, -dy)),
                      (0, img.height + dy))
        return out
    if kind == "cursor":
        out = img.convert("RGB").copy()
        x, y = rng.randrange(img.width - 16), rng.randrange(img.height - 20)
        ImageDraw.Draw(out).polygon([(x, y), (x, y + 16), (x + 4, y + 12), (x + 10, y + 12)],
                                    fill="black", outline="white")
        return out
    raise ValueError(f"unknown copy kind {kind!r}; one of {', '.join(DISTORTIONS)}")


def write_with_copies(root: str | Path, classes: dict[str, tuple[str, int, int]], *, seed: int = 0,
                      size: tuple[int, int] = (320, 180)) -> dict[str, list[str]]:
    """Write ``classes`` (folder name → (screen class to draw, originals, copies)) as PNGs.

    Copy ``j`` of a folder copies its original ``j % originals`` with distortion ``j % 3``
    and is named ``copy_<j>_of_<original>.png``. Returns, per folder, the copies' file names.
    """
    root = Path(root)
    rng = random.Random(seed)
    written: dict[str, list[str]] = {}
    for folder, (screen, originals, copies) in classes.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        images = [draw_screen(screen, rng, size) for _ in range(originals)]
        for i, img in enumerate(images):
            img.save(root / folder / f"{i:03d}.png")
        written[folder] = []
        for j in range(copies):
            name = f"copy_{j:03d}_of_{j % originals:03d}.png"
            recorded_copy(images[j % originals], j % 3, rng).save(root / folder / name)
            written[folder].append(name)
    return written

"""A folder of class folders holding every kind of bad or odd file users really have.

`build_corpus(root)` writes two trainable classes of good PNGs, then, beside and among them,
one file (or folder, or link) of each `Kind`: what a scan must say about it. Every file is
real — a truncated JPEG is a real JPEG cut in half, the decompression bomb a real 70-megapixel
PNG, the non-UTF-8 name real bytes on disk — so the checks exercise PIL and the filesystem, not
a mock of them.

Expectations: ``bad`` files are named like images and cannot be used (listed with their reason,
left out of training, or the reason a ``fail`` policy stops); ``ignored`` files are not images
at all (hidden files, text, archive folders) and are listed but never counted as bad; ``note``
files are odd but usable (trained on, with a note); ``used`` files are trained on silently.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from toolkit.testing import make_image_folder

GOOD_PER_CLASS = 8


@dataclass(frozen=True)
class Kind:
    """One kind of file in the corpus and what tk must say about it."""

    name: str  # what it is, for docs/reliability.md
    path: str  # where it is, relative to the corpus root (may hold non-UTF-8 bytes, surrogate-escaped)
    expect: str  # "bad" | "ignored" | "note" | "used" | "empty class"
    says: str  # a phrase the reason or note must contain ("" for "used")


def _png(size=(32, 32), mode="RGB", color=(200, 40, 40)) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, color if mode in ("RGB", "RGBA") else 0).save(buf, "PNG")
    return buf.getvalue()


def _jpeg(size=(64, 48), mode="RGB", **kwargs) -> bytes:
    buf = io.BytesIO()
    color = (30, 120, 200) if mode == "RGB" else (10, 200, 30, 0)
    img = Image.new(mode, size, color)
    for x in range(0, size[0], 4):  # some detail, so the entropy stream is long enough to cut
        for y in range(size[1]):
            img.putpixel((x, y), (255, 255, 255) if mode == "RGB" else (0, 0, 0, 255))
    img.save(buf, "JPEG", quality=90, **kwargs)
    return buf.getvalue()


def build_corpus(root: Path) -> list[Kind]:
    """Write the corpus under ``root``; return every `Kind` placed in it."""
    make_image_folder(root, {"cat": GOOD_PER_CLASS, "dog": GOOD_PER_CLASS}, size=32)
    cat, dog = root / "cat", root / "dog"
    kinds: list[Kind] = []

    def put(rel: str, data: bytes, name: str, expect: str, says: str) -> None:
        (root / rel).write_bytes(data)
        kinds.append(Kind(name, rel, expect, says))

    # -- unusable, named like images -----------------------------------------------------------
    put("cat/empty.png", b"", "empty file", "bad", "empty file (0 bytes)")
    png = _png((64, 64))
    put("cat/truncated.png", png[: len(png) // 2], "truncated PNG", "bad", "truncated or corrupt")
    flipped = bytearray(png)
    flipped[len(png) // 2] ^= 0xFF
    put("cat/bitflip.png", bytes(flipped), "PNG with a corrupt chunk (CRC mismatch)", "bad", "truncated or corrupt")
    jpeg = _jpeg((256, 192))
    put("cat/truncated.jpg", jpeg[: len(jpeg) // 2], "truncated JPEG", "bad", "truncated or corrupt")
    put("cat/notes.jpg", b"these are my notes, not a picture\n" * 20, "text file named .jpg", "bad", "not an image")
    os.symlink("loop.png", cat / "loop.png")
    kinds.append(Kind("symlink loop (a link to itself)", "cat/loop.png", "bad", "symlink loop"))
    os.symlink("gone.png", cat / "dangling.png")
    kinds.append(Kind("broken symlink", "cat/dangling.png", "bad", "broken symlink"))
    os.mkfifo(cat / "pipe.png")
    kinds.append(Kind("named pipe (FIFO) named .png: reading it would block", "cat/pipe.png", "bad",
                      "not a regular file"))
    buf = io.BytesIO()
    Image.new("1", (10_000, 7_000)).save(buf, "PNG")  # 70 MP: a few KB on disk, 210 MB as RGB
    put("cat/bomb.png", buf.getvalue(), "decompression bomb (70 megapixels in a few KB)", "bad", "decompression bomb")
    put("cat/pixel.png", _png((1, 1)), "1×1 image", "bad", "too small")
    put("cat/banner.png", _png((2000, 20)), "huge aspect ratio (2000×20)", "bad", "extreme aspect ratio")
    bad_name = os.fsdecode(b"cat/broken-\xff\xfe.jpg")
    put(bad_name, b"\x00garbage", "non-UTF-8 file name (bytes ff fe), unreadable content", "bad", "not an image")

    # -- odd but usable -------------------------------------------------------------------------
    buf = io.BytesIO()
    Image.new("I;16", (32, 32), 40_000).save(buf, "PNG")
    put("dog/deep.png", buf.getvalue(), "16-bit grayscale PNG", "note", "16-bit image")
    put("dog/cmyk.jpg", _jpeg((32, 32), mode="CMYK"), "CMYK JPEG", "note", "cmyk image")
    buf = io.BytesIO()
    pal = Image.new("P", (32, 32), 0)
    pal.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    for x in range(16):
        for y in range(32):
            pal.putpixel((x, y), 1)
    pal.save(buf, "PNG", transparency=0)
    put("dog/palette.png", buf.getvalue(), "palette PNG with transparency", "used", "")
    frames = [Image.new("RGB", (32, 32), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    put("dog/animated.gif", buf.getvalue(), "animated GIF (3 frames)", "note", "3 frames")
    exif = Image.Exif()
    exif[0x0112] = 6
    put("dog/rotated.jpg", _jpeg((48, 32), exif=exif.tobytes()), "EXIF-rotated JPEG (orientation 6)", "note",
        "exif orientation 6")
    put("dog/misnamed.jpg", _png((32, 32)), "PNG data in a .jpg file", "note", "png data in a .jpg file")
    good_name = os.fsdecode(b"dog/caf\xe9-latin1.png")
    put(good_name, _png((32, 32), color=(20, 180, 90)), "non-UTF-8 file name (Latin-1 é), good image", "used", "")
    (dog / "album.png").mkdir()
    (dog / "album.png" / "inside.png").write_bytes(_png((32, 32), color=(90, 90, 250)))
    kinds.append(Kind("folder named like an image (album.png/), with an image inside", "dog/album.png/inside.png",
                      "used", ""))

    # -- not images at all ---------------------------------------------------------------------
    put("cat/.DS_Store", b"\x00\x00\x00\x01Bud1", "hidden file (.DS_Store)", "ignored", "hidden file")
    put("dog/._cmyk.jpg", b"\x00\x05\x16\x07AppleDouble", "AppleDouble companion (._name.jpg)", "ignored",
        "hidden file")
    put("dog/readme.txt", b"about these pictures\n", "text file", "ignored", "not an image file (.txt)")
    (root / "__MACOSX").mkdir()
    (root / "__MACOSX" / "x.png").write_bytes(png)
    kinds.append(Kind("__MACOSX archive folder", "__MACOSX", "ignored", "system or archive folder"))
    put("index.csv", b"path,label\n", "loose file next to the class folders", "ignored", "not inside a class folder")
    os.symlink("..", cat / "up")
    kinds.append(Kind("symlink to a folder above (a folder loop)", "cat/up", "ignored",
                      "symlink to a folder above it"))

    # -- classes with nothing usable -----------------------------------------------------------
    (root / "empty").mkdir()
    kinds.append(Kind("empty class folder", "empty", "empty class", "no usable images"))
    (root / "broken").mkdir()
    (root / "broken" / "half.png").write_bytes(png[:40])
    kinds.append(Kind("class folder whose only image is broken", "broken", "empty class", "no usable images"))
    return kinds


def usable_paths(root: Path, kinds: list[Kind]) -> list[str]:
    """Absolute paths of every file a run must train on (good PNGs and the usable odd ones)."""
    good = [str(p) for cls in ("cat", "dog") for p in sorted((root / cls).glob(f"{cls}_*.png"))]
    return good + [str(root / k.path) for k in kinds if k.expect in ("note", "used")]

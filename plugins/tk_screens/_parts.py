"""Drawing primitives shared by every scene: a forgiving pen, text, gradients, photos, a mouse pointer.

Scenes lay things out in fractions of the canvas, so at 64×64 many boxes collapse to zero or
negative sizes. `Pen` normalises every box instead of letting Pillow raise, which keeps the
scene code free of size checks. Text below 7 px is drawn as grey bars: unreadable either way,
and the bars keep the texture of text at any size.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

Color = tuple[int, int, int]
Box = tuple[float, float, float, float]

WHITE: Color = (255, 255, 255)
BLACK: Color = (0, 0, 0)
ACCENTS: list[Color] = [
    (0, 120, 215), (232, 93, 4), (46, 160, 67), (200, 40, 40), (120, 60, 180),
    (0, 150, 150), (240, 180, 0), (30, 60, 120), (210, 50, 120), (90, 90, 90),
]
WORDS = (
    "the of and quarterly revenue growth market plan team review results strategy data model "
    "next steps overview goals customer product launch roadmap budget design summary agenda key "
    "findings risk timeline update sales region analysis project status priorities research "
    "introduction conclusion questions thank you performance users support platform cloud "
    "security training process quality cost impact vision mission service network report "
    "annual forecast metrics pipeline partners feedback strategy 2024 2025 Q1 Q2 Q3 Q4 new "
    "improve build deliver scale learn share our your with for in on to a is are by"
).split()

_local = threading.local()


def font(px: int) -> ImageFont.FreeTypeFont:
    """Pillow's bundled scalable font at `px` pixels, cached per thread (FreeType faces are
    not safe to share between threads)."""
    cache = getattr(_local, "fonts", None)
    if cache is None:
        cache = _local.fonts = {}
    px = max(1, min(int(px), 160))
    if px not in cache:
        base = ImageFont.load_default(size=px)
        # BASIC layout: identical rendering whether or not libraqm is installed.
        cache[px] = base.font_variant(layout_engine=ImageFont.Layout.BASIC)
    return cache[px]


def words(rng: random.Random, n: int, title: bool = False) -> str:
    s = " ".join(rng.choice(WORDS) for _ in range(max(1, n)))
    return s.title() if title else s[:1].upper() + s[1:]


def mix(a: Sequence[int], b: Sequence[int], t: float) -> Color:
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b))  # type: ignore[return-value]


def jitter(c: Sequence[int], rng: random.Random, d: int = 12) -> Color:
    return tuple(max(0, min(255, v + rng.randint(-d, d))) for v in c)  # type: ignore[return-value]


def lum(c: Sequence[int]) -> float:
    return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]


def on(c: Sequence[int], rng: random.Random | None = None) -> Color:
    """A text colour readable on background `c`."""
    dark = lum(c) > 140
    base = (30, 30, 35) if dark else (245, 245, 245)
    return jitter(base, rng, 10) if rng else base


def nprng(rng: random.Random) -> np.random.Generator:
    return np.random.default_rng(rng.getrandbits(64))


def _norm(box: Box) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    if x1 < x0:
        x0, x1 = x1, x0
    if y1 < y0:
        y0, y1 = y1, y0
    return x0, y0, x1, y1


class Pen:
    """ImageDraw that accepts any box (float, inverted, empty) and never raises on size."""

    def __init__(self, img: Image.Image):
        self.img = img
        self.d = ImageDraw.Draw(img)

    def rect(self, box: Box, fill=None, outline=None, width: int = 1, r: float = 0) -> None:
        x0, y0, x1, y1 = _norm(box)
        r = int(min(r, (x1 - x0) / 2, (y1 - y0) / 2))
        width = max(1, int(width))
        if r >= 2:
            self.d.rounded_rectangle((x0, y0, x1, y1), r, fill=fill, outline=outline, width=width)
        else:
            self.d.rectangle((x0, y0, x1, y1), fill=fill, outline=outline, width=width)

    def ellipse(self, box: Box, fill=None, outline=None, width: int = 1) -> None:
        self.d.ellipse(_norm(box), fill=fill, outline=outline, width=max(1, int(width)))

    def pie(self, box: Box, start: float, end: float, fill) -> None:
        self.d.pieslice(_norm(box), start, end, fill=fill)

    def line(self, pts: Sequence[tuple[float, float]], fill, width: float = 1) -> None:
        self.d.line([(int(x), int(y)) for x, y in pts], fill=fill, width=max(1, int(width)))

    def poly(self, pts: Sequence[tuple[float, float]], fill, outline=None) -> None:
        self.d.polygon([(int(x), int(y)) for x, y in pts], fill=fill, outline=outline)

    def text(self, xy: tuple[float, float], s: str, px: float, fill, anchor: str = "la") -> float:
        """Draw `s` at `px` pixels (bars when too small to read); returns its width."""
        x, y = xy
        if px < 7:
            w, h = len(s) * px * 0.5, max(1.0, px * 0.6)
            x -= {"l": 0, "m": w / 2, "r": w}[anchor[0]]
            y -= {"a": 0, "t": 0, "m": h / 2, "s": h, "b": h, "d": h}[anchor[1]]
            self.rect((x, y, x + w, y + h), fill=fill)
            return w
        f = font(px)
        self.d.text((int(x), int(y)), s, font=f, fill=fill, anchor=anchor)
        return f.getlength(s)

    def text_line(self, rng: random.Random, x: float, y: float, w: float, px: float,
                  fill, real: bool) -> None:
        """One line of text at most `w` wide: real words, or word-shaped bars."""
        if w <= 0:
            return
        if real and px >= 7:
            f, s = font(px), ""
            while True:
                nxt = (s + " " + rng.choice(WORDS)).strip()
                if f.getlength(nxt) > w:
                    break
                s = nxt
            if s:
                self.d.text((int(x), int(y)), s[:1].upper() + s[1:], font=f, fill=fill)
            return
        bh = max(1.0, px * 0.55)
        top = y + (px - bh) / 2
        cx = x
        while cx < x + w - 1:
            ww = min(rng.uniform(1.2, 5.0) * px * 0.55, x + w - cx)
            self.rect((cx, top, cx + ww, top + bh), fill=fill)
            cx += ww + max(1.0, px * 0.35)

    def paragraph(self, rng: random.Random, box: Box, px: float, fill, real: bool,
                  spacing: float = 1.5, ragged: bool = True) -> None:
        x0, y0, x1, y1 = box
        y = y0
        step = max(2.0, px * spacing)
        while y + px <= y1:
            w = (x1 - x0) * (rng.uniform(0.55, 1.0) if ragged else 1.0)
            self.text_line(rng, x0, y, w, px, fill, real)
            y += step


def gradient(w: int, h: int, c1: Color, c2: Color, angle: float | None = None,
             rng: random.Random | None = None) -> Image.Image:
    """Linear gradient, computed small and upscaled (bilinear keeps it exact enough)."""
    w, h = max(1, w), max(1, h)
    if angle is None:
        angle = rng.uniform(0, 360) if rng else 90.0
    gw, gh = 32, 18
    yy, xx = np.mgrid[0:gh, 0:gw].astype(np.float32)
    a = np.deg2rad(angle)
    t = (xx / (gw - 1) - 0.5) * np.cos(a) + (yy / (gh - 1) - 0.5) * np.sin(a)
    t = (t - t.min()) / max(1e-6, float(t.max() - t.min()))
    arr = np.asarray(c1, np.float32) * (1 - t[..., None]) + np.asarray(c2, np.float32) * t[..., None]
    small = Image.fromarray(arr.clip(0, 255).astype(np.uint8))
    return small.resize((w, h), Image.BILINEAR)


def add_noise(img: Image.Image, rng: random.Random, sigma: float) -> Image.Image:
    if sigma <= 0:
        return img
    a = np.asarray(img, dtype=np.int16)
    n = nprng(rng).integers(-int(sigma * 1.7), int(sigma * 1.7) + 1, a.shape, dtype=np.int16)
    return Image.fromarray((a + n).clip(0, 255).astype(np.uint8))


def photo(rng: random.Random, w: int, h: int) -> Image.Image:
    """A photo-like picture: a landscape (sky, horizon, ground) or soft colour blobs, with
    detail at two scales and grain, so it has the texture of a real photograph."""
    w, h = max(1, int(w)), max(1, int(h))
    g = nprng(rng)
    if rng.random() < 0.5:  # landscape
        sky = jitter(rng.choice([(110, 160, 220), (200, 170, 140), (60, 80, 120), (170, 200, 230)]), rng, 25)
        ground = jitter(rng.choice([(70, 110, 50), (120, 100, 70), (40, 70, 90), (150, 140, 110)]), rng, 25)
        horizon = rng.uniform(0.35, 0.7)
        gh, gw = 24, 32
        t = np.linspace(0, 1, gh, dtype=np.float32)[:, None, None]
        base = np.where(t < horizon, np.asarray(sky) * (0.8 + 0.3 * t), np.asarray(ground) * (1.1 - 0.4 * t))
        base = np.broadcast_to(base, (gh, gw, 3)).astype(np.float32)
        base = base + g.normal(0, 22, (gh, gw, 1)) + g.normal(0, 8, (gh, gw, 3))
    else:  # soft blobs around one palette: luminance varies more than hue, as in photos
        gh, gw = int(g.integers(2, 6)), int(g.integers(3, 8))
        center = np.asarray(jitter((128, 118, 105), rng, 70), np.float32)
        base = center + g.normal(0, 45, (gh, gw, 1)) + g.normal(0, 18, (gh, gw, 3))
    img = Image.fromarray(base.clip(0, 255).astype(np.uint8)).resize((w, h), Image.BICUBIC)
    pen = Pen(img)
    mean = base.reshape(-1, 3).mean(0)
    for _ in range(rng.randint(2, 8)):  # objects: soft shapes in related colours
        c = jitter(mix(mean, rng.choice(ACCENTS + [WHITE, BLACK]), rng.uniform(0.2, 0.7)), rng, 20)
        cx, cy = rng.uniform(0, w), rng.uniform(h * 0.2, h)
        rw, rh = w * rng.uniform(0.04, 0.3), h * rng.uniform(0.05, 0.4)
        if rng.random() < 0.6:
            pen.ellipse((cx - rw, cy - rh, cx + rw, cy + rh), fill=c)
        else:
            pen.rect((cx - rw, cy - rh, cx + rw, cy + rh * 3), fill=c)
    img = img.filter(ImageFilter.GaussianBlur(max(0.5, min(w, h) * rng.uniform(0.005, 0.03))))
    dw, dh = max(2, w // 6), max(2, h // 6)
    detail = g.normal(0, 9, (dh, dw, 1)) + g.normal(0, 3, (dh, dw, 3))
    detail = Image.fromarray((128 + detail).clip(0, 255).astype(np.uint8)).resize((w, h), Image.BICUBIC)
    img = Image.fromarray((np.asarray(img, np.int16) + np.asarray(detail, np.int16) - 128).clip(0, 255).astype(np.uint8))
    return add_noise(img, rng, rng.uniform(0.5, 3))


def icon(pen: Pen, rng: random.Random, box: Box, color: Color | None = None) -> None:
    """A small application-like icon: a coloured tile with a simple glyph."""
    x0, y0, x1, y1 = box
    s = min(x1 - x0, y1 - y0)
    color = color or jitter(rng.choice(ACCENTS), rng, 30)
    kind = rng.random()
    if kind < 0.2:  # folder
        c = jitter((240, 190, 60), rng, 15)
        pen.rect((x0, y0 + s * 0.1, x0 + s * 0.45, y0 + s * 0.3), fill=mix(c, BLACK, 0.1))
        pen.rect((x0, y0 + s * 0.2, x0 + s, y0 + s * 0.85), fill=c, r=s * 0.06)
    elif kind < 0.35:  # document
        pen.rect((x0 + s * 0.15, y0, x0 + s * 0.85, y0 + s), fill=(250, 250, 250), outline=(150, 150, 150))
        for i in range(3):
            yy = y0 + s * (0.3 + 0.18 * i)
            pen.rect((x0 + s * 0.28, yy, x0 + s * 0.72, yy + max(1, s * 0.06)), fill=color)
    else:
        pen.rect((x0, y0, x0 + s, y0 + s), fill=color, r=s * rng.choice([0.0, 0.15, 0.25, 0.5]))
        glyph = on(color)
        if rng.random() < 0.5:
            pen.ellipse((x0 + s * 0.3, y0 + s * 0.3, x0 + s * 0.7, y0 + s * 0.7), fill=glyph)
        else:
            pen.rect((x0 + s * 0.28, y0 + s * 0.28, x0 + s * 0.72, y0 + s * 0.72), outline=glyph,
                     width=max(1, s * 0.08))


def _cursor(pen: Pen, rng: random.Random, W: int, H: int) -> None:
    x, y, s = rng.uniform(0, W), rng.uniform(0, H), max(3.0, H * 0.03)
    pen.poly([(x, y), (x, y + s), (x + s * 0.3, y + s * 0.75), (x + s * 0.65, y + s * 0.7)], fill=WHITE, outline=BLACK)

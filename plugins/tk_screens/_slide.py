"""One presentation slide at any size.

Used full-screen by the `slide` class and as a picture inside the editor and presenter view,
so the three slide-bearing classes share slide content and differ only in what surrounds it —
the distinction the real classifier has to learn.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from PIL import Image

from ._parts import ACCENTS, BLACK, WHITE, Color, Pen, gradient, jitter, mix, on, photo


@dataclass
class Theme:
    bg: Color
    bg2: Color | None  # second gradient colour, or None for flat
    title: Color
    text: Color
    accent: Color
    real_text: bool


def theme(rng: random.Random) -> Theme:
    accent = jitter(rng.choice(ACCENTS), rng, 20)
    r = rng.random()
    if r < 0.45:
        bg = rng.choice([WHITE, (250, 250, 246), (244, 244, 244), mix(accent, WHITE, 0.92)])
        title = rng.choice([(30, 30, 30), (40, 45, 70), mix(accent, BLACK, 0.3)])
        text = jitter((80, 80, 85), rng, 25)
    elif r < 0.72:
        bg = jitter(rng.choice([(20, 24, 40), (33, 33, 33), (10, 30, 60), mix(accent, BLACK, 0.75)]), rng, 8)
        title, text = WHITE, jitter((210, 210, 215), rng, 20)
    elif r < 0.86:
        bg = mix(accent, WHITE, rng.uniform(0.0, 0.25))
        title, text = on(bg), on(bg)
    else:
        bg = jitter(rng.choice([(235, 240, 250), (250, 240, 230), (40, 50, 80)]), rng, 15)
        title, text = on(bg), mix(on(bg), bg, 0.25)
    bg2 = None
    if rng.random() < 0.25:
        bg2 = mix(bg, accent, rng.uniform(0.15, 0.45))
    return Theme(bg, bg2, title, text, accent, rng.random() < 0.6)


def draw_slide(w: int, h: int, rng: random.Random, th: Theme | None = None) -> Image.Image:
    """A slide of theme ``th`` drawn top to bottom (title, body, figures, footer); long because each
    element is placed on the space the previous ones left, which parts would only pass around."""
    w, h = max(1, int(w)), max(1, int(h))
    th = th or theme(rng)
    img = gradient(w, h, th.bg, th.bg2, rng=rng) if th.bg2 else Image.new("RGB", (w, h), th.bg)
    if w < 6 or h < 6:
        return img
    pen = Pen(img)
    mx, my = w * rng.uniform(0.05, 0.09), h * rng.uniform(0.06, 0.1)
    title_color = th.title
    title_px = h * rng.uniform(0.06, 0.1)
    ty = my

    # Decorations, each independent.
    if rng.random() < 0.3:  # coloured band behind the title
        band = h * rng.uniform(0.14, 0.22)
        pen.rect((0, 0, w, band), fill=th.accent)
        title_color = on(th.accent)
        ty = (band - title_px) / 2
    if rng.random() < 0.2:
        pen.rect((0, 0, w * rng.uniform(0.01, 0.03), h), fill=th.accent)
    if rng.random() < 0.2:
        pen.rect((0, h * rng.uniform(0.94, 0.97), w, h), fill=th.accent)
    if rng.random() < 0.15:
        r = h * rng.uniform(0.2, 0.5)
        cx, cy = rng.choice([(w, 0), (w, h), (0, h)])
        pen.ellipse((cx - r, cy - r, cx + r, cy + r), fill=mix(th.accent, th.bg, 0.5))

    layout = rng.choices(
        ["bullets", "two_col", "chart", "title", "image", "table", "section"],
        [0.32, 0.2, 0.16, 0.1, 0.08, 0.08, 0.06])[0]
    if layout == "title":
        _title_slide(pen, rng, w, h, th)
        return img
    if layout == "section":
        split = w * rng.uniform(0.35, 0.5)
        pen.rect((0, 0, split, h), fill=th.accent)
        pen.text((split / 2, h * 0.45), str(rng.randint(1, 9)).zfill(2), h * 0.25, on(th.accent), "mm")
        pen.text_line(rng, split + mx, h * 0.42, w - split - 2 * mx, title_px, th.title, th.real_text)
        return img

    centred = rng.random() < 0.25
    if centred:
        tw = w * rng.uniform(0.4, 0.8)
        pen.text_line(rng, (w - tw) / 2, ty, tw, title_px, title_color, th.real_text)
    else:
        pen.text_line(rng, mx, ty, w * rng.uniform(0.35, 0.8), title_px, title_color, th.real_text)
    if rng.random() < 0.3:
        uy = ty + title_px * 1.3
        pen.rect((mx, uy, mx + w * rng.uniform(0.08, 0.3), uy + max(1, h * 0.006)), fill=th.accent)

    footer = rng.random() < 0.5
    body = (mx, max(ty + title_px * 1.8, h * 0.2), w - mx, h - my - (h * 0.06 if footer else 0))
    if layout == "bullets":
        _bullets(pen, rng, body, h, th)
    elif layout == "two_col":
        x0, y0, x1, y1 = body
        mid = x0 + (x1 - x0) * rng.uniform(0.45, 0.6)
        left_first = rng.random() < 0.5
        tbox = (x0, y0, mid - w * 0.02, y1) if left_first else (mid + w * 0.02, y0, x1, y1)
        pbox = (mid + w * 0.02, y0, x1, y1) if left_first else (x0, y0, mid - w * 0.02, y1)
        _bullets(pen, rng, tbox, h, th)
        if rng.random() < 0.6:
            _picture(img, rng, pbox)
        else:
            _chart(pen, rng, pbox, th)
    elif layout == "chart":
        _chart(pen, rng, body, th)
    elif layout == "image":
        x0, y0, x1, y1 = body
        _picture(img, rng, (x0, y0, x1, y1 - h * 0.07))
        pen.text_line(rng, x0, y1 - h * 0.05, (x1 - x0) * 0.6, h * 0.035, th.text, th.real_text)
    elif layout == "table":
        _table(pen, rng, body, th)

    if footer:
        fy, fpx = h - my * 0.9, h * 0.028
        pen.text((w - mx, fy), str(rng.randint(2, 40)), fpx, th.text, "rm")
        if rng.random() < 0.6:
            pen.text_line(rng, mx, fy - fpx / 2, w * rng.uniform(0.15, 0.35), fpx, mix(th.text, th.bg, 0.3), th.real_text)
        if rng.random() < 0.3:
            pen.rect((w / 2 - w * 0.04, fy - fpx, w / 2 + w * 0.04, fy + fpx), fill=th.accent, r=fpx * 0.3)
    return img


def _title_slide(pen: Pen, rng: random.Random, w: int, h: int, th: Theme) -> None:
    px = h * rng.uniform(0.09, 0.14)
    y = h * rng.uniform(0.3, 0.45)
    if rng.random() < 0.5:
        tw = w * rng.uniform(0.4, 0.8)
        x = (w - tw) / 2
    else:
        tw, x = w * rng.uniform(0.4, 0.7), w * 0.08
    pen.text_line(rng, x, y, tw, px, th.title, th.real_text)
    if rng.random() < 0.5:
        pen.text_line(rng, x, y + px * 1.3, tw, px, th.title, th.real_text)
        y += px * 1.3
    pen.text_line(rng, x, y + px * 1.6, tw * rng.uniform(0.4, 0.8), px * 0.45, th.text, th.real_text)
    if rng.random() < 0.4:
        pen.rect((x, y + px * 1.4, x + tw * 0.3, y + px * 1.4 + max(1, h * 0.008)), fill=th.accent)


def _bullets(pen: Pen, rng: random.Random, box, h: int, th: Theme) -> None:
    x0, y0, x1, y1 = box
    px = h * rng.uniform(0.035, 0.055)
    step = px * rng.uniform(1.6, 2.4)
    marker = rng.choice(["dot", "square", "dash", "none"])
    y = y0
    for _ in range(rng.randint(2, 8)):
        if y + px > y1:
            break
        indent = px * 1.5 if rng.random() < 0.2 else 0
        bx, cy = x0 + indent, y + px / 2
        m = px * 0.2
        if marker == "dot":
            pen.ellipse((bx, cy - m, bx + 2 * m, cy + m), fill=th.accent)
        elif marker == "square":
            pen.rect((bx, cy - m, bx + 2 * m, cy + m), fill=th.accent)
        elif marker == "dash":
            pen.rect((bx, cy - 1, bx + 3 * m, cy + 1), fill=th.text)
        tx = bx + (0 if marker == "none" else px)
        pen.text_line(rng, tx, y, (x1 - tx) * rng.uniform(0.4, 1.0), px * (0.85 if indent else 1), th.text, th.real_text)
        y += step


def _picture(img: Image.Image, rng: random.Random, box) -> None:
    x0, y0, x1, y1 = (int(v) for v in box)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return
    img.paste(photo(rng, x1 - x0, y1 - y0), (x0, y0))


def _chart(pen: Pen, rng: random.Random, box, th: Theme) -> None:
    x0, y0, x1, y1 = box
    cw, ch = x1 - x0, y1 - y0
    palette = [th.accent] + [jitter(c, rng, 20) for c in rng.sample(ACCENTS, 5)]
    kind = rng.choice(["bar", "bar", "pie", "line"])
    if kind == "pie":
        r = min(cw, ch) * 0.45
        cx, cy = x0 + cw * rng.uniform(0.3, 0.5), y0 + ch / 2
        a = rng.uniform(0, 360)
        for i, frac in enumerate(_fractions(rng, rng.randint(3, 6))):
            pen.pie((cx - r, cy - r, cx + r, cy + r), a, a + 360 * frac, palette[i % len(palette)])
            a += 360 * frac
        if rng.random() < 0.3:  # donut
            pen.ellipse((cx - r / 2, cy - r / 2, cx + r / 2, cy + r / 2), fill=th.bg)
        for i in range(3):  # legend
            ly = y0 + ch * (0.3 + 0.15 * i)
            pen.rect((cx + r * 1.3, ly, cx + r * 1.4, ly + ch * 0.05), fill=palette[i])
            pen.text_line(rng, cx + r * 1.5, ly, cw * 0.2, ch * 0.05, th.text, False)
        return
    axis = mix(th.text, th.bg, 0.3)
    pen.line([(x0, y0), (x0, y1), (x1, y1)], fill=axis, width=max(1, ch * 0.006))
    for i in range(1, 4):
        gy = y1 - ch * i / 4
        pen.line([(x0, gy), (x1, gy)], fill=mix(th.bg, th.text, 0.15))
    n = rng.randint(3, 9)
    vals = [rng.uniform(0.15, 0.95) for _ in range(n)]
    if kind == "bar":
        series = rng.choice([1, 1, 2])
        slot = cw / n
        bw = slot * rng.uniform(0.4, 0.75) / series
        for i, v in enumerate(vals):
            for s in range(series):
                vv = v if s == 0 else v * rng.uniform(0.5, 1.1)
                bx = x0 + slot * i + (slot - bw * series) / 2 + bw * s
                pen.rect((bx, y1 - ch * min(vv, 1.0), bx + bw, y1), fill=palette[s])
    else:
        pts = [(x0 + cw * (i + 0.5) / n, y1 - ch * v) for i, v in enumerate(vals)]
        pen.line(pts, fill=th.accent, width=max(1, ch * 0.015))
        r = max(1, ch * 0.015)
        for x, y in pts:
            pen.ellipse((x - r, y - r, x + r, y + r), fill=th.accent)


def _table(pen: Pen, rng: random.Random, box, th: Theme) -> None:
    x0, y0, x1, y1 = box
    rows, cols = rng.randint(3, 7), rng.randint(2, 5)
    rh, cw = (y1 - y0) / rows, (x1 - x0) / cols
    stripe = mix(th.bg, th.text, 0.08)
    for r in range(rows):
        ry = y0 + r * rh
        fill = th.accent if r == 0 else (stripe if r % 2 else None)
        if fill:
            pen.rect((x0, ry, x1, ry + rh), fill=fill)
        for c in range(cols):
            color = on(th.accent) if r == 0 else th.text
            pen.text_line(rng, x0 + c * cw + rh * 0.3, ry + rh * 0.3, cw * rng.uniform(0.3, 0.7), rh * 0.4, color, th.real_text)
    pen.rect((x0, y0, x1, y1), outline=mix(th.text, th.bg, 0.5))


def _fractions(rng: random.Random, n: int) -> list[float]:
    v = [rng.uniform(0.3, 1.0) for _ in range(n)]
    s = sum(v)
    return [x / s for x in v]


"""Desktop furniture and non-presentation applications.

`APPS` are the contents of `not_slide_others` (web page, code editor, spreadsheet, video,
file explorer, document viewer, terminal, video call, mail); the desktop class reuses them for
its small floating windows, and both reuse the wallpaper and taskbar.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np
from PIL import Image

from ._parts import (ACCENTS, BLACK, WHITE, Box, Pen, gradient, icon, jitter, mix, nprng, on,
                     photo, words)


def wallpaper(rng: random.Random, w: int, h: int) -> Image.Image:
    kind = rng.choice(["gradient", "photo", "bloom", "solid", "waves"])
    c1 = jitter(rng.choice([(0, 90, 180), (20, 30, 60), (90, 40, 120), (0, 110, 90), (200, 90, 40), (40, 40, 40)]), rng, 30)
    c2 = jitter(rng.choice([(120, 200, 250), (10, 10, 20), (230, 120, 160), (240, 200, 120), (20, 60, 120)]), rng, 30)
    if kind == "photo":
        return photo(rng, w, h)
    if kind == "solid":
        return Image.new("RGB", (max(1, w), max(1, h)), c1)
    img = gradient(w, h, c1, c2, rng=rng)
    if kind == "bloom":  # soft nested petals, Windows 11 style
        pen = Pen(img)
        cx, cy = w * rng.uniform(0.3, 0.7), h * rng.uniform(0.35, 0.65)
        for i in range(6, 0, -1):
            r = min(w, h) * 0.08 * i
            pen.ellipse((cx - r * 1.3, cy - r, cx + r * 1.3, cy + r), fill=mix(c2, c1, i / 7))
    elif kind == "waves":
        g = nprng(rng)
        yy, xx = np.mgrid[0:18, 0:32].astype(np.float32)
        t = 0.5 + 0.5 * np.sin(xx / 32 * g.uniform(2, 7) + yy / 18 * g.uniform(2, 6) + g.uniform(0, 6))
        arr = np.asarray(c1, np.float32) * t[..., None] + np.asarray(c2, np.float32) * (1 - t[..., None])
        img = Image.fromarray(arr.astype(np.uint8)).resize(img.size, Image.BICUBIC)
    return img


def taskbar(pen: Pen, rng: random.Random, w: int, h: int, style: str | None = None) -> float:
    """Draw an OS bar; returns the height it took at the bottom (0 for a mac dock overlay)."""
    style = style or rng.choice(["win11", "win10", "mac", "linux"])
    if style == "mac":
        mb = h * 0.03
        pen.rect((0, 0, w, mb), fill=jitter((235, 235, 235), rng, 15))
        for i in range(rng.randint(4, 8)):
            pen.text_line(rng, w * (0.02 + 0.06 * i), mb * 0.2, w * 0.04, mb * 0.6, (40, 40, 40), False)
        n = rng.randint(6, 14)
        s = min(h * 0.06, w * 0.8 / n)
        dw = n * s * 1.15
        x0, y0 = (w - dw) / 2, h - s * 1.3
        pen.rect((x0 - s * 0.2, y0 - s * 0.15, x0 + dw, h - s * 0.1), fill=jitter((215, 215, 220), rng, 20), r=s * 0.3)
        for i in range(n):
            icon(pen, rng, (x0 + i * s * 1.15, y0, x0 + i * s * 1.15 + s, y0 + s))
        return 0
    bh = h * rng.uniform(0.04, 0.06)
    dark = rng.random() < 0.6
    bg = jitter((30, 32, 38) if dark else (225, 228, 235), rng, 12)
    y0 = h - bh
    pen.rect((0, y0, w, h), fill=bg)
    s = bh * 0.65
    n = rng.randint(3, 10)
    start = (w - n * s * 1.5) / 2 if style == "win11" else bh * 1.2
    if style != "win11":
        pen.rect((bh * 0.2, y0 + bh * 0.2, bh * 0.8, h - bh * 0.2), fill=(0, 120, 215) if style == "win10" else (220, 90, 30))
    if style == "win10" and rng.random() < 0.6:  # search box
        pen.rect((start, y0 + bh * 0.15, start + w * 0.15, h - bh * 0.15), fill=mix(bg, WHITE, 0.2))
        start += w * 0.16
    for i in range(n):
        x = start + i * s * 1.5
        icon(pen, rng, (x, y0 + (bh - s) / 2, x + s, y0 + (bh + s) / 2))
    tc = on(bg)
    pen.text((w - bh * 0.4, y0 + bh * 0.3), f"{rng.randint(1, 12)}:{rng.randint(0, 59):02d}", bh * 0.32, tc, "rm")
    pen.text((w - bh * 0.4, y0 + bh * 0.7), f"{rng.randint(1, 28)}/{rng.randint(1, 12)}/2025", bh * 0.28, tc, "rm")
    return bh


def window(pen: Pen, rng: random.Random, box: Box, dark: bool = False, title: bool = True) -> Box:
    """Window frame with title bar; returns the content box."""
    x0, y0, x1, y1 = box
    bar = max(2.0, (y1 - y0) * rng.uniform(0.035, 0.06)) if title else 0
    frame = jitter((45, 45, 48) if dark else (238, 238, 240), rng, 8)
    pen.rect((x0, y0, x1, y1), fill=frame, outline=mix(frame, BLACK, 0.3))
    if title:
        pen.text_line(rng, x0 + bar * 0.6, y0 + bar * 0.25, (x1 - x0) * 0.25, bar * 0.5, on(frame), False)
        for i, c in enumerate([(200, 60, 60), on(frame), on(frame)]):
            cx = x1 - bar * (0.7 + i * 1.3)
            pen.rect((cx - bar * 0.2, y0 + bar * 0.4, cx + bar * 0.2, y0 + bar * 0.6), fill=c)
    return (x0, y0 + bar, x1, y1)


def app_web(img, pen, rng, box) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    chrome = jitter((222, 225, 230), rng, 15)
    cb = h * 0.08
    pen.rect((x0, y0, x1, y0 + cb), fill=chrome)
    pen.rect((x0 + w * 0.01, y0 + cb * 0.05, x0 + w * 0.18, y0 + cb * 0.45), fill=mix(chrome, WHITE, 0.6), r=cb * 0.1)
    pen.rect((x0 + w * 0.08, y0 + cb * 0.55, x1 - w * 0.1, y0 + cb * 0.92), fill=WHITE, r=cb * 0.2)
    pen.text_line(rng, x0 + w * 0.1, y0 + cb * 0.6, w * 0.25, cb * 0.28, (90, 90, 90), True)
    y = y0 + cb
    page_bg = rng.choice([WHITE, (248, 248, 248), (25, 25, 30)])
    pen.rect((x0, y, x1, y1), fill=page_bg)
    tc = on(page_bg)
    brand = jitter(rng.choice(ACCENTS), rng, 20)
    nav = h * rng.uniform(0.06, 0.1)
    pen.rect((x0, y, x1, y + nav), fill=brand if rng.random() < 0.6 else page_bg)
    pen.text((x0 + w * 0.03, y + nav / 2), words(rng, 1, True), nav * 0.45, on(brand), "lm")
    for i in range(rng.randint(3, 6)):
        pen.text_line(rng, x1 - w * (0.08 + 0.09 * i), y + nav * 0.35, w * 0.06, nav * 0.3, on(brand), True)
    y += nav + h * 0.03
    if rng.random() < 0.5:  # hero
        hh = h * rng.uniform(0.2, 0.35)
        img.paste(photo(rng, int(w), int(hh)), (int(x0), int(y)))
        pen.text_line(rng, x0 + w * 0.05, y + hh * 0.4, w * 0.5, hh * 0.15, WHITE, True)
        y += hh + h * 0.03
    cols = rng.randint(1, 4)
    gap = w * 0.03
    cw = (w - gap * (cols + 1)) / cols
    for c in range(cols):
        cx = x0 + gap + c * (cw + gap)
        yy = y
        if rng.random() < 0.5 and cols > 1:
            ih = min(cw * 0.6, (y1 - y) * 0.4)
            img.paste(photo(rng, int(cw), int(ih)), (int(cx), int(yy)))
            yy += ih + h * 0.02
        pen.text_line(rng, cx, yy, cw * 0.8, h * 0.03, tc, True)
        pen.paragraph(rng, (cx, yy + h * 0.05, cx + cw, y1 - h * 0.02), h * 0.018, mix(tc, page_bg, 0.3), rng.random() < 0.5)


def app_code(img, pen, rng, box) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    dark = rng.random() < 0.8
    bg = jitter((30, 30, 32) if dark else (250, 250, 250), rng, 8)
    side = jitter((37, 37, 40) if dark else (240, 240, 243), rng, 6)
    pen.rect((x0, y0, x1, y1), fill=bg)
    act = w * 0.03
    pen.rect((x0, y0, x0 + act, y1), fill=mix(side, BLACK, 0.2))
    for i in range(5):
        pen.rect((x0 + act * 0.25, y0 + act * (0.5 + 1.5 * i), x0 + act * 0.75, y0 + act * (1 + 1.5 * i)), fill=(130, 130, 130))
    tree = w * rng.uniform(0.12, 0.22) if rng.random() < 0.8 else 0
    pen.rect((x0 + act, y0, x0 + act + tree, y1), fill=side)
    if tree:
        pen.paragraph(rng, (x0 + act + tree * 0.1, y0 + h * 0.03, x0 + act + tree * 0.9, y1 - h * 0.05), h * 0.017, (170, 170, 170), True, 1.6)
    ex = x0 + act + tree
    tab = h * 0.04
    pen.rect((ex, y0, x1, y0 + tab), fill=side)
    pen.rect((ex, y0, ex + w * 0.12, y0 + tab), fill=bg)
    status = h * 0.025
    pen.rect((x0, y1 - status, x1, y1), fill=rng.choice([(0, 122, 204), (104, 33, 122), (60, 60, 60)]))
    px = h * rng.uniform(0.016, 0.024)
    syn = [(86, 156, 214), (197, 134, 192), (206, 145, 120), (106, 153, 85), (220, 220, 170), (156, 220, 254), (212, 212, 212)]
    if not dark:
        syn = [mix(c, BLACK, 0.45) for c in syn]
    y, indent = y0 + tab + px, 0
    gutter = ex + px * 3
    n = 1
    while y + px < y1 - status:
        pen.text((gutter - px * 0.5, y), str(n), px * 0.8, (110, 110, 110), "ra")
        indent = max(0, min(6, indent + rng.choice([-1, 0, 0, 0, 1])))
        if rng.random() > 0.12:
            cx = gutter + px + indent * px * 1.6
            for _ in range(rng.randint(1, 6)):
                tw = rng.uniform(1.5, 9) * px * 0.55
                pen.rect((cx, y + px * 0.2, cx + tw, y + px * 0.75), fill=rng.choice(syn))
                cx += tw + px * 0.5
                if cx > x1 - w * 0.1:
                    break
        y += px * 1.45
        n += 1
    if rng.random() < 0.6:  # minimap
        mx0 = x1 - w * 0.06
        for i in range(int((y1 - y0) / 3)):
            pen.rect((mx0, y0 + tab + i * 3, mx0 + rng.uniform(0.1, 1) * w * 0.04, y0 + tab + i * 3 + 1), fill=mix(rng.choice(syn), bg, 0.5))


def app_sheet(img, pen, rng, box) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    top = jitter((33, 115, 70), rng, 15) if rng.random() < 0.7 else jitter((240, 240, 240), rng, 8)
    rb = h * rng.uniform(0.1, 0.16)
    pen.rect((x0, y0, x1, y0 + rb), fill=top)
    for i in range(rng.randint(8, 18)):
        s = rb * 0.3
        pen.rect((x0 + w * 0.01 + i * s * 1.6, y0 + rb * 0.5, x0 + w * 0.01 + i * s * 1.6 + s, y0 + rb * 0.5 + s), fill=on(top))
    y = y0 + rb
    pen.rect((x0, y, x1, y1), fill=WHITE)
    fb = h * 0.035
    pen.rect((x0, y, x1, y + fb), fill=(245, 245, 245), outline=(200, 200, 200))
    y += fb
    ch = h * rng.uniform(0.025, 0.04)
    cw = w * rng.uniform(0.06, 0.12)
    rhw = w * 0.03
    grid = (215, 215, 215)
    pen.rect((x0, y, x1, y + ch), fill=(235, 235, 235))
    pen.rect((x0, y, x0 + rhw, y1), fill=(235, 235, 235))
    cx = x0 + rhw
    while cx < x1:
        pen.line([(cx, y), (cx, y1)], fill=grid)
        cx += cw
    filled_cols = rng.randint(2, max(2, int((w - rhw) / cw)))
    header_fill = jitter(rng.choice(ACCENTS), rng, 20) if rng.random() < 0.5 else None
    ry, r = y + ch, 0
    while ry < y1:
        pen.line([(x0, ry), (x1, ry)], fill=grid)
        if r < rng.randint(8, 40):
            for c in range(filled_cols):
                if rng.random() < 0.85:
                    bx = x0 + rhw + c * cw
                    if r == 0 and header_fill:
                        pen.rect((bx, ry, bx + cw, ry + ch), fill=header_fill)
                    pen.text_line(rng, bx + ch * 0.2, ry + ch * 0.2, cw * rng.uniform(0.3, 0.8), ch * 0.6,
                                  on(header_fill) if r == 0 and header_fill else (40, 40, 40), rng.random() < 0.5)
        ry += ch
        r += 1


def app_video(img, pen, rng, box) -> None:
    x0, y0, x1, y1 = (int(v) for v in box)
    w, h = max(1, x1 - x0), max(1, y1 - y0)
    pen.rect((x0, y0, x1, y1), fill=BLACK)
    bars = h * rng.choice([0, 0, 0.1, 0.12])
    img.paste(photo(rng, w, int(h - 2 * bars)), (x0, int(y0 + bars)))
    if rng.random() < 0.6:
        cy = y1 - h * 0.06
        pen.rect((x0, cy - h * 0.04, x1, y1), fill=(20, 20, 20))
        pen.rect((x0 + w * 0.03, cy - h * 0.03, x1 - w * 0.03, cy - h * 0.024), fill=(90, 90, 90))
        pen.rect((x0 + w * 0.03, cy - h * 0.03, x0 + w * rng.uniform(0.05, 0.9), cy - h * 0.024), fill=(230, 30, 30))
        pen.poly([(x0 + w * 0.03, cy), (x0 + w * 0.03, cy + h * 0.03), (x0 + w * 0.05, cy + h * 0.015)], fill=WHITE)
    if rng.random() < 0.3:
        pen.text_line(rng, x0 + w * 0.3, y1 - h * 0.2, w * 0.4, h * 0.04, (250, 250, 250), True)


def app_explorer(img, pen, rng, box) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    dark = rng.random() < 0.3
    bg = (32, 32, 32) if dark else WHITE
    tc = on(bg)
    pen.rect((x0, y0, x1, y1), fill=bg)
    tb = h * 0.08
    pen.rect((x0, y0, x1, y0 + tb), fill=mix(bg, tc, 0.06))
    for i in range(rng.randint(4, 9)):
        icon(pen, rng, (x0 + w * 0.01 + i * tb * 0.8, y0 + tb * 0.25, x0 + w * 0.01 + i * tb * 0.8 + tb * 0.5, y0 + tb * 0.75))
    nav = w * rng.uniform(0.15, 0.22)
    pen.rect((x0, y0 + tb, x0 + nav, y1), fill=mix(bg, tc, 0.04))
    px = h * 0.02
    pen.paragraph(rng, (x0 + nav * 0.15, y0 + tb + px, x0 + nav * 0.9, y1), px, mix(tc, bg, 0.2), True, 1.8)
    gx = x0 + nav + w * 0.02
    if rng.random() < 0.5:  # details list
        y = y0 + tb + px
        pen.text_line(rng, gx, y, w * 0.5, px, mix(tc, bg, 0.4), False)
        y += px * 2
        while y + px < y1:
            icon(pen, rng, (gx, y, gx + px * 1.1, y + px * 1.1))
            pen.text_line(rng, gx + px * 1.8, y, w * rng.uniform(0.1, 0.3), px, tc, True)
            pen.text_line(rng, x0 + w * 0.65, y, w * 0.12, px, mix(tc, bg, 0.4), False)
            pen.text_line(rng, x0 + w * 0.85, y, w * 0.08, px, mix(tc, bg, 0.4), False)
            y += px * 1.9
    else:  # large icons
        s = h * rng.uniform(0.08, 0.14)
        y = y0 + tb + s * 0.4
        while y + s * 1.5 < y1:
            x = gx
            while x + s < x1:
                icon(pen, rng, (x, y, x + s, y + s))
                pen.text_line(rng, x, y + s * 1.1, s, s * 0.18, tc, False)
                x += s * 1.6
            y += s * 1.7


def app_document(img, pen, rng, box) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    pen.rect((x0, y0, x1, y1), fill=jitter((90, 90, 95) if rng.random() < 0.5 else (200, 200, 205), rng, 10))
    tb = h * 0.06
    pen.rect((x0, y0, x1, y0 + tb), fill=jitter((245, 245, 245), rng, 8))
    for i in range(rng.randint(4, 12)):
        pen.rect((x0 + w * 0.01 + i * tb * 0.9, y0 + tb * 0.25, x0 + w * 0.01 + i * tb * 0.9 + tb * 0.5, y0 + tb * 0.75), fill=(110, 110, 120))
    pages = rng.choice([1, 1, 2])
    ph = h - tb - h * 0.05
    pw = ph * 0.707
    gap = w * 0.02
    px0 = x0 + (w - pages * pw - (pages - 1) * gap) / 2
    for p in range(pages):
        px = px0 + p * (pw + gap)
        py = y0 + tb + h * 0.025
        pen.rect((px, py, px + pw, py + ph), fill=WHITE)
        m = pw * 0.1
        pen.text_line(rng, px + m, py + m, pw * 0.6, ph * 0.03, (20, 20, 20), True)
        pen.paragraph(rng, (px + m, py + m + ph * 0.07, px + pw - m, py + ph - m), ph * 0.014, (60, 60, 60), False, 1.7)


def app_terminal(img, pen, rng, box) -> None:
    x0, y0, x1, y1 = box
    h = y1 - y0
    bg = jitter(rng.choice([(12, 12, 12), (40, 0, 40), (0, 30, 40), (30, 30, 30)]), rng, 6)
    pen.rect((x0, y0, x1, y1), fill=bg)
    px = h * rng.uniform(0.018, 0.028)
    fg = rng.choice([(200, 200, 200), (0, 220, 0), (230, 230, 230)])
    y = y0 + px
    while y + px < y1:
        if rng.random() < 0.25:
            pen.rect((x0 + px, y + px * 0.2, x0 + px * 6, y + px * 0.8), fill=(80, 200, 80))
            pen.text_line(rng, x0 + px * 7, y, (x1 - x0) * rng.uniform(0.1, 0.4), px, fg, True)
        else:
            pen.text_line(rng, x0 + px, y, (x1 - x0) * rng.uniform(0.2, 0.9), px, mix(fg, bg, 0.2), rng.random() < 0.4)
        y += px * 1.4


def app_call(img, pen, rng, box) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    pen.rect((x0, y0, x1, y1), fill=jitter((32, 32, 36), rng, 8))
    cols, rows = rng.choice([(2, 1), (2, 2), (3, 2), (3, 3), (4, 3)])
    bar = h * 0.1
    gap = w * 0.008
    tw, th = (w - gap * (cols + 1)) / cols, (h - bar - gap * (rows + 1)) / rows
    for r in range(rows):
        for c in range(cols):
            tx, ty = x0 + gap + c * (tw + gap), y0 + gap + r * (th + gap)
            if rng.random() < 0.8:
                img.paste(photo(rng, int(tw), int(th)), (int(tx), int(ty)))
            else:
                pen.rect((tx, ty, tx + tw, ty + th), fill=(60, 60, 66))
                rr = min(tw, th) * 0.15
                pen.ellipse((tx + tw / 2 - rr, ty + th / 2 - rr, tx + tw / 2 + rr, ty + th / 2 + rr), fill=jitter(rng.choice(ACCENTS), rng, 20))
            pen.rect((tx + gap, ty + th - th * 0.12, tx + tw * 0.35, ty + th - gap), fill=(20, 20, 20))
    by = y1 - bar / 2
    for i in range(5):
        cx = x0 + w / 2 + (i - 2) * bar * 0.9
        pen.ellipse((cx - bar * 0.3, by - bar * 0.3, cx + bar * 0.3, by + bar * 0.3), fill=(200, 40, 40) if i == 4 else (70, 70, 76))


def app_mail(img, pen, rng, box) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    top = jitter(rng.choice([(0, 95, 184), (40, 40, 40), (240, 240, 240)]), rng, 10)
    tb = h * 0.07
    pen.rect((x0, y0, x1, y1), fill=WHITE)
    pen.rect((x0, y0, x1, y0 + tb), fill=top)
    pen.rect((x0 + w * 0.3, y0 + tb * 0.2, x0 + w * 0.7, y0 + tb * 0.8), fill=mix(top, WHITE, 0.7), r=tb * 0.2)
    a, b = x0 + w * 0.18, x0 + w * 0.45
    pen.rect((x0, y0 + tb, a, y1), fill=(243, 243, 246))
    px = h * 0.02
    pen.paragraph(rng, (x0 + w * 0.02, y0 + tb + px, a - w * 0.02, y1), px, (60, 60, 60), True, 1.9)
    y = y0 + tb
    while y < y1:
        pen.line([(a, y), (b, y)], fill=(225, 225, 225))
        pen.text_line(rng, a + px, y + px * 0.6, (b - a) * 0.5, px, (30, 30, 30), True)
        pen.text_line(rng, a + px, y + px * 2, (b - a) * 0.85, px * 0.8, (120, 120, 120), False)
        y += px * 3.6
    pen.line([(b, y0 + tb), (b, y1)], fill=(210, 210, 210))
    pen.text_line(rng, b + w * 0.03, y0 + tb + px * 2, (x1 - b) * 0.7, px * 1.5, (20, 20, 20), True)
    pen.paragraph(rng, (b + w * 0.03, y0 + tb + px * 6, x1 - w * 0.03, y1 - px * 2), px, (70, 70, 70), rng.random() < 0.5)


AppFn = Callable[[Image.Image, Pen, random.Random, Box], None]
APPS: dict[str, AppFn] = {
    "web": app_web, "code": app_code, "sheet": app_sheet, "video": app_video,
    "explorer": app_explorer, "document": app_document, "terminal": app_terminal,
    "call": app_call, "mail": app_mail,
}
APP_WEIGHTS = [0.22, 0.15, 0.12, 0.12, 0.1, 0.1, 0.06, 0.07, 0.06]

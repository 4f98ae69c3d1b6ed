"""Draw one synthetic screenshot of a presentation screen, for any of the 7 screen states.

`draw_screen(class_name, rng, size)` is a pure function of the `random.Random` it is given:
the same generator state gives the same pixels. Each class has one scene function below; all
of them lay out in fractions of the canvas (any size works, down to a few pixels) and then go
through the same `_camera` pass (slight zoom/offset, colour drift, grain, JPEG artefacts), so
that pass carries no class information.

The three slide-bearing classes share the slide renderer (`_slide.draw_slide`) and differ by
what surrounds the slide; the desktop and "others" classes share applications and wallpaper
(`_apps`); black/blue and no-signal screens are both dark and differ by the message box. The
overlaps are deliberate: a model must learn layout, not colour.
"""

from __future__ import annotations

import io
import random

import numpy as np
from PIL import Image

from ._apps import APP_WEIGHTS, APPS, taskbar, wallpaper, window
from ._parts import (BLACK, WHITE, Pen, add_noise, font, gradient, icon, jitter, mix, on,
                     words)
from ._slide import draw_slide, theme

CLASSES: tuple[str, ...] = (
    "slide",
    "not_slide_others",
    "not_slide_desktop",
    "may_be_slide_powerpoint_edit_mode",
    "not_slide_no_signal",
    "may_be_slide_powerpoint_side_screen",
    "not_slide_black_or_blue_screen",
)


def draw_screen(class_name: str, rng: random.Random, size: tuple[int, int] = (320, 180)) -> Image.Image:
    """An RGB screenshot of `class_name` at `size` (W, H), drawn from `rng` alone."""
    try:
        scene = _SCENES[class_name]
    except KeyError:
        raise ValueError(f"unknown screen class {class_name!r}; expected one of: {', '.join(CLASSES)}") from None
    w, h = int(size[0]), int(size[1])
    if w < 1 or h < 1:
        raise ValueError(f"image size must be positive, got {w}x{h}")
    img = scene(rng, w, h)
    return _camera(img, rng)


# ---------------------------------------------------------------- slide, full screen
def _slide(rng: random.Random, W: int, H: int) -> Image.Image:
    if rng.random() < 0.12:  # a 4:3 deck on a 16:9 screen: pillar-boxed
        sw = min(W, int(H * 4 / 3))
        img = Image.new("RGB", (W, H), jitter((4, 4, 4), rng, 4))
        img.paste(draw_slide(sw, H, rng), ((W - sw) // 2, 0))
    else:
        img = draw_slide(W, H, rng)
    pen = Pen(img)
    if rng.random() < 0.15:  # faint slide-show controls, bottom left
        s = H * 0.03
        for i in range(rng.randint(4, 6)):
            pen.ellipse((s + i * s * 1.4, H - s * 2, s * 2 + i * s * 1.4, H - s), fill=(150, 150, 150))
    if rng.random() < 0.1:
        _cursor(pen, rng, W, H)
    return img


# ---------------------------------------------------------------- PowerPoint editor
_TABS = ["File", "Home", "Insert", "Draw", "Design", "Transitions", "Animations", "Slide Show",
         "Record", "Review", "View", "Help"]


def _edit_mode(rng: random.Random, W: int, H: int) -> Image.Image:
    """One screen drawn top to bottom; long because each step places the next on the last's
    geometry, and split into parts it would only pass that geometry around."""
    dark = rng.random() < 0.25
    if rng.random() < 0.1:  # not maximised: editor in a window on the desktop
        img = wallpaper(rng, W, H)
        x0, y0 = W * rng.uniform(0.02, 0.1), H * rng.uniform(0.02, 0.1)
        region = (x0, y0, W - W * rng.uniform(0.02, 0.1), H - H * rng.uniform(0.05, 0.12))
    else:
        img = Image.new("RGB", (W, H))
        region = (0, 0, W, H)
    pen = Pen(img)
    x0, y0, x1, y1 = region
    w, h = x1 - x0, y1 - y0
    app_bg = jitter((41, 41, 41) if dark else (243, 242, 241), rng, 6)
    fg = on(app_bg)
    brand = jitter(rng.choice([(183, 71, 42), (196, 62, 28), (210, 80, 40)]), rng, 10)
    pen.rect(region, fill=app_bg)

    tb = h * rng.uniform(0.03, 0.045)  # title bar
    tcol = brand if rng.random() < 0.5 else mix(app_bg, BLACK if not dark else WHITE, 0.04)
    pen.rect((x0, y0, x1, y0 + tb), fill=tcol)
    title = rng.choice(["Presentation1", words(rng, 2, True), "Deck_v3", "Q3 Review"]) + " - PowerPoint"
    pen.text((x0 + w / 2, y0 + tb / 2), title, tb * 0.45, on(tcol), "mm")
    for i in range(rng.randint(2, 5)):
        pen.rect((x0 + tb * (0.5 + i * 1.1), y0 + tb * 0.3, x0 + tb * (0.9 + i * 1.1), y0 + tb * 0.7), fill=on(tcol))
    y = y0 + tb

    th_ = h * rng.uniform(0.03, 0.04)  # tabs
    x, sel = x0 + w * 0.01, rng.randint(0, 4)
    for i, t in enumerate(_TABS[: rng.randint(7, len(_TABS))]):
        tw = pen.text((x, y + th_ / 2), t, th_ * 0.45, fg, "lm")
        if i == sel:
            pen.rect((x, y + th_ * 0.85, x + tw, y + th_ * 0.95), fill=brand)
        x += tw + th_ * 0.7
    y += th_

    if rng.random() < 0.85:  # ribbon
        rb = h * rng.uniform(0.09, 0.14)
        rbg = mix(app_bg, WHITE if not dark else BLACK, 0.5 if not dark else 0.2)
        pen.rect((x0 + w * 0.004, y, x1 - w * 0.004, y + rb), fill=rbg, r=rb * 0.08)
        gx = x0 + w * 0.01
        while gx < x1 - w * 0.06:
            if rng.random() < 0.4:  # one big button
                s = rb * 0.45
                icon(pen, rng, (gx, y + rb * 0.1, gx + s, y + rb * 0.1 + s),
                     jitter(rng.choice([brand, (60, 110, 190), (90, 90, 90)]), rng, 20))
                pen.text_line(rng, gx, y + rb * 0.62, s, rb * 0.12, fg, False)
                gw = s
            else:  # a grid of small buttons
                s, cols = rb * 0.17, rng.randint(2, 6)
                for r in range(3):
                    for c in range(cols):
                        if rng.random() < 0.85:
                            cx, cy = gx + c * s * 1.6, y + rb * 0.1 + r * s * 1.35
                            pen.rect((cx, cy, cx + s, cy + s), fill=jitter(rng.choice([(90, 90, 90), (60, 110, 190), brand, (70, 150, 80)]), rng, 25))
                gw = cols * s * 1.6
            pen.text_line(rng, gx + gw * 0.2, y + rb * 0.82, gw * 0.6, rb * 0.1, mix(fg, rbg, 0.4), False)
            gx += gw + rb * 0.15
            pen.line([(gx, y + rb * 0.1), (gx, y + rb * 0.9)], fill=mix(rbg, fg, 0.2))
            gx += rb * 0.15
        y += rb + h * 0.005

    sb = h * rng.uniform(0.025, 0.035)  # status bar
    pen.rect((x0, y1 - sb, x1, y1), fill=mix(app_bg, BLACK if not dark else WHITE, 0.05))
    pen.text((x0 + w * 0.01, y1 - sb / 2), f"Slide {rng.randint(1, 9)} of {rng.randint(10, 40)}", sb * 0.5, fg, "lm")
    pen.rect((x1 - w * 0.12, y1 - sb * 0.55, x1 - w * 0.04, y1 - sb * 0.45), fill=mix(fg, app_bg, 0.4))
    pen.rect((x1 - w * 0.085, y1 - sb * 0.8, x1 - w * 0.08, y1 - sb * 0.2), fill=fg)
    bottom = y1 - sb

    deck = theme(rng)
    aspect = 4 / 3 if rng.random() < 0.15 else 16 / 9
    tp = w * rng.uniform(0.1, 0.18) if rng.random() < 0.9 else 0
    if tp:  # slide thumbnails, same deck theme
        tw = tp * 0.72
        tht = tw / aspect
        ty, n, cur = y + h * 0.015, 1, rng.randint(1, 4)
        while ty + tht < bottom:
            tx = x0 + tp * 0.2
            pen.text((tx - tp * 0.05, ty), str(n), max(1, tht * 0.18), fg, "ra")
            if n == cur:
                pen.rect((tx - 3, ty - 3, tx + tw + 3, ty + tht + 3), outline=brand, width=max(1, h * 0.004))
            img.paste(draw_slide(int(tw), int(tht), rng, deck), (int(tx), int(ty)))
            ty += tht * 1.25
            n += 1
    rp = w * rng.uniform(0.15, 0.22) if rng.random() < 0.2 else 0
    if rp:  # format pane
        pbg = mix(app_bg, WHITE if not dark else BLACK, 0.4)
        pen.rect((x1 - rp, y, x1, bottom), fill=pbg)
        py = y + h * 0.03
        while py < bottom - h * 0.05:
            pen.text_line(rng, x1 - rp * 0.9, py, rp * 0.4, h * 0.018, fg, True)
            pen.rect((x1 - rp * 0.45, py, x1 - rp * 0.1, py + h * 0.022), outline=mix(fg, pbg, 0.5))
            py += h * 0.045
    notes = h * rng.uniform(0.08, 0.15) if rng.random() < 0.5 else 0
    canvas = (x0 + tp, y, x1 - rp, bottom - notes)
    cbg = jitter((60, 60, 60) if dark else (226, 226, 226), rng, 8)
    pen.rect(canvas, fill=cbg)
    cw, ch = canvas[2] - canvas[0], canvas[3] - canvas[1]
    m = rng.uniform(0.05, 0.12)
    sw = min(cw * (1 - 2 * m), ch * (1 - 2 * m) * aspect)
    sh = sw / aspect
    sx = canvas[0] + (cw - sw) / 2 + cw * rng.uniform(-0.02, 0.02)
    sy = canvas[1] + (ch - sh) / 2
    pen.rect((sx + 2, sy + 2, sx + sw + 2, sy + sh + 2), fill=mix(cbg, BLACK, 0.25))
    img.paste(draw_slide(int(sw), int(sh), rng, deck), (int(sx), int(sy)))
    if notes:
        nbg = (36, 36, 36) if dark else WHITE
        pen.rect((x0 + tp, bottom - notes, x1 - rp, bottom), fill=nbg, outline=mix(nbg, fg, 0.2))
        nx = x0 + tp + w * 0.02
        if rng.random() < 0.5:
            pen.text((nx, bottom - notes + notes * 0.2), "Click to add notes", notes * 0.18, mix(fg, nbg, 0.5))
        else:
            pen.paragraph(rng, (nx, bottom - notes + notes * 0.15, x1 - rp - w * 0.05, bottom - notes * 0.1), notes * 0.15, fg, True)
    return img


# ---------------------------------------------------------------- presenter view
def _side_screen(rng: random.Random, W: int, H: int) -> Image.Image:
    light = rng.random() < 0.15
    bg = jitter((238, 238, 238) if light else rng.choice([(0, 0, 0), (30, 30, 30), (45, 45, 48), (20, 24, 36)]), rng, 6)
    fg = on(bg)
    img = Image.new("RGB", (W, H), bg)
    pen = Pen(img)
    deck = theme(rng)
    aspect = 4 / 3 if rng.random() < 0.1 else 16 / 9
    top = H * rng.uniform(0.04, 0.06)
    if rng.random() < 0.8:  # menu strip
        pen.rect((0, 0, W, top), fill=mix(bg, fg, 0.08))
        for i in range(rng.randint(2, 4)):
            pen.text_line(rng, W * (0.02 + 0.14 * i), top * 0.3, W * 0.1, top * 0.4, mix(fg, bg, 0.2), False)
        pen.text((W * 0.98, top / 2), "End Slide Show", top * 0.4, fg, "rm")
    timer = f"{rng.randint(0, 1)}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
    clock = f"{rng.randint(1, 12)}:{rng.randint(0, 59):02d} {rng.choice(['AM', 'PM'])}"
    tpx = H * rng.uniform(0.035, 0.05)
    variant = rng.choice(["ppt", "ppt", "keynote", "stacked"])
    if variant == "keynote":
        gap = W * 0.03
        cw = (W - 3 * gap) * rng.uniform(0.5, 0.6)
        nw = W - 3 * gap - cw
        y = top + H * 0.08
        pen.text((gap, y - tpx * 0.6), "Current Slide", tpx * 0.5, mix(fg, bg, 0.3), "ls")
        pen.text((2 * gap + cw, y - tpx * 0.6), "Next Slide", tpx * 0.5, mix(fg, bg, 0.3), "ls")
        img.paste(draw_slide(int(cw), int(cw / aspect), rng, deck), (int(gap), int(y)))
        _next_slide(img, rng, deck, 2 * gap + cw, y, nw, nw / aspect)
        ny = y + cw / aspect + H * 0.05
        pen.text((W - gap, top + H * 0.03), clock + "   " + timer, tpx * 0.8, fg, "rm")
        pen.paragraph(rng, (gap, ny, W - gap, H - H * 0.03), H * rng.uniform(0.025, 0.04), fg, True)
        return img
    cur_w = W * rng.uniform(0.56, 0.64)
    cx, cy = W * 0.02, top + H * rng.uniform(0.08, 0.14)
    pen.text((cx, top + H * 0.015), timer, tpx, fg)
    for i in range(2):
        ix = cx + tpx * 4.5 + i * tpx * 1.3
        pen.ellipse((ix, top + H * 0.02, ix + tpx * 0.8, top + H * 0.02 + tpx * 0.8), outline=fg, width=max(1, H * 0.003))
    ch = cur_w / aspect
    if cy + ch > H * 0.88:
        ch = H * 0.88 - cy
        cur_w = ch * aspect
    img.paste(draw_slide(int(cur_w), int(ch), rng, deck), (int(cx), int(cy)))
    by = cy + ch + H * 0.05
    for i in range(rng.randint(4, 7)):  # pen, pointer, grid, zoom, subtitles...
        bx = cx + cur_w * 0.15 + i * H * 0.06
        pen.ellipse((bx, by - H * 0.02, bx + H * 0.04, by + H * 0.02), outline=mix(fg, bg, 0.2), width=max(1, H * 0.003))
    pen.text((cx + cur_w * 0.5 + H * 0.2, by), f"Slide {rng.randint(1, 20)} of {rng.randint(20, 40)}", tpx * 0.6, fg, "lm")
    rx = cx + cur_w + W * 0.03
    rw = W - rx - W * 0.02
    pen.text((W * 0.98, top + H * 0.015), clock, tpx, fg, "ra")
    ny0 = cy
    if variant == "stacked":
        nw = rw * rng.uniform(0.55, 0.8)
    else:
        nw = rw * rng.uniform(0.85, 1.0)
    pen.text((rx, ny0 - H * 0.01), "Next Slide", tpx * 0.5, mix(fg, bg, 0.3), "ls")
    _next_slide(img, rng, deck, rx, ny0, nw, nw / aspect)
    notes_y = ny0 + nw / aspect + H * 0.05
    pen.paragraph(rng, (rx, notes_y, W - W * 0.03, H - H * 0.08), H * rng.uniform(0.025, 0.04), fg, True,
                  spacing=rng.uniform(1.3, 1.7))
    for i in range(2):  # text size buttons
        pen.text((rx + i * H * 0.05, H - H * 0.04), "A", H * (0.03 + 0.01 * i), fg, "lm")
    return img


def _next_slide(img, rng, deck, x, y, w, h) -> None:
    if rng.random() < 0.1:  # end of show
        pen = Pen(img)
        pen.rect((x, y, x + w, y + h), fill=BLACK, outline=(80, 80, 80))
        pen.text((x + w / 2, y + h / 2), "End of slide show", h * 0.07, (200, 200, 200), "mm")
    else:
        img.paste(draw_slide(int(w), int(h), rng, deck), (int(x), int(y)))


# ---------------------------------------------------------------- black / blue
def _black_blue(rng: random.Random, W: int, H: int) -> Image.Image:
    r = rng.random()
    if r < 0.5:
        c = jitter((6, 6, 8), rng, 6)
    elif r < 0.9:
        c = jitter(rng.choice([(0, 0, 170), (0, 120, 215), (16, 40, 140), (0, 0, 255), (0, 30, 100), (10, 60, 160)]), rng, 15)
    else:
        c = jitter((24, 24, 28), rng, 8)
    img = gradient(W, H, c, jitter(c, rng, 8), rng=rng)
    pen = Pen(img)
    faint = mix(c, WHITE, rng.uniform(0.2, 0.7))
    if rng.random() < 0.35:  # tiny text
        px = H * rng.uniform(0.015, 0.03)
        x, y = rng.choice([(W * 0.03, H * 0.93), (W * 0.5, H * 0.5), (W * 0.7, H * 0.93), (W * 0.03, H * 0.03)])
        pen.text_line(rng, x, y, W * rng.uniform(0.08, 0.25), px, faint, True)
    if rng.random() < 0.2:  # small logo
        s = H * rng.uniform(0.04, 0.09)
        x, y = W / 2 - s / 2, H * rng.uniform(0.4, 0.6)
        if rng.random() < 0.5:
            for i in range(4):
                qx, qy = x + (i % 2) * s * 0.52, y + (i // 2) * s * 0.52
                pen.rect((qx, qy, qx + s * 0.48, qy + s * 0.48), fill=faint)
        else:
            pen.ellipse((x, y, x + s, y + s), outline=faint, width=max(1, s * 0.08))
    if rng.random() < 0.08:
        _cursor(pen, rng, W, H)
    return add_noise(img, rng, rng.uniform(0.5, 3))


# ---------------------------------------------------------------- no signal
_MESSAGES = ["No Signal", "NO SIGNAL", "No Input", "No input signal", "Check signal cable",
             "Searching for source...", "No Signal Detected", "HDMI 1: No Signal", "NO SOURCE",
             "Input not supported", "Going to sleep"]
_BRANDS = ["VIEWMAX", "Lumio", "PROJEKTA", "Optivue", "CASTLINK", "Beamo"]


def _no_signal(rng: random.Random, W: int, H: int) -> Image.Image:
    r = rng.random()
    if r < 0.25:
        img = _colour_bars(W, H, rng)
    else:
        c = (jitter((5, 5, 8), rng, 5) if r < 0.55 else
             jitter(rng.choice([(0, 0, 255), (20, 40, 160), (0, 60, 140), (0, 0, 128)]), rng, 15) if r < 0.9 else
             jitter((40, 40, 44), rng, 8))
        img = gradient(W, H, c, jitter(c, rng, 10), rng=rng)
    pen = Pen(img)
    msg = rng.choice(_MESSAGES)
    bw, bh = W * rng.uniform(0.25, 0.5), H * rng.uniform(0.12, 0.25)
    if rng.random() < 0.8:
        bx, by = (W - bw) / 2, (H - bh) / 2
    else:  # floating message (screensaver)
        bx, by = rng.uniform(0, W - bw), rng.uniform(0, H - bh)
    box_fill = rng.choice([None, (0, 0, 0), (30, 30, 30), (0, 0, 140), (235, 235, 235)])
    text_c = on(box_fill) if box_fill else WHITE
    if box_fill or rng.random() < 0.6:
        outline = rng.choice([None, (255, 255, 255), (160, 160, 160), (0, 170, 255)])
        pen.rect((bx, by, bx + bw, by + bh), fill=box_fill, outline=outline, width=max(1, H * 0.004), r=bh * rng.choice([0, 0.1, 0.2]))
    px = bh * rng.uniform(0.25, 0.4)
    px = min(px, bw * 0.85 / (0.5 * len(msg)))  # the bar estimate, for sizes drawn as bars
    if px >= 7:
        px = min(px, px * bw * 0.85 / max(1.0, font(int(px)).getlength(msg)))
    two = rng.random() < 0.5
    pen.text((bx + bw / 2, by + bh * (0.4 if two else 0.5)), msg, px, text_c, "mm")
    if two:
        sub = rng.choice(["HDMI 1", "VGA", "Press SOURCE to select input", "DisplayPort", "USB-C", "Power off in 60s"])
        pen.text((bx + bw / 2, by + bh * 0.72), sub, px * 0.5, mix(text_c, box_fill or BLACK, 0.25), "mm")
    if rng.random() < 0.4:  # projector/TV brand
        bp = H * rng.uniform(0.04, 0.07)
        pos = rng.choice([(W / 2, by - bp * 1.2, "mm"), (W * 0.04, H * 0.06, "lm"), (W * 0.96, H * 0.94, "rm")])
        pen.text(pos[:2], rng.choice(_BRANDS), bp, mix(WHITE, BLACK, rng.uniform(0, 0.4)), pos[2])
    if rng.random() < 0.2:  # source list
        lx, ly, lpx = W * 0.05, H * 0.3, H * 0.035
        sel = rng.randint(0, 3)
        for i, s in enumerate(["HDMI 1", "HDMI 2", "VGA", "USB"]):
            if i == sel:
                pen.rect((lx - lpx * 0.3, ly + i * lpx * 1.6 - lpx * 0.2, lx + lpx * 5, ly + i * lpx * 1.6 + lpx * 1.2), fill=(0, 120, 215))
            pen.text((lx, ly + i * lpx * 1.6), s, lpx, WHITE)
    return add_noise(img, rng, rng.uniform(0.5, 3))


def _colour_bars(W: int, H: int, rng: random.Random) -> Image.Image:
    img = Image.new("RGB", (W, H))
    pen = Pen(img)
    top = [(192, 192, 192), (192, 192, 0), (0, 192, 192), (0, 192, 0), (192, 0, 192), (192, 0, 0), (0, 0, 192)]
    bw = W / 7
    for i, c in enumerate(top):
        pen.rect((i * bw, 0, (i + 1) * bw, H * 0.67), fill=c)
        pen.rect((i * bw, H * 0.67, (i + 1) * bw, H * 0.75), fill=top[6 - i] if i % 2 == 0 else (19, 19, 19))
    for i, c in enumerate([(0, 33, 76), WHITE, (50, 0, 106), (19, 19, 19), (9, 9, 9), (29, 29, 29)]):
        pen.rect((i * W / 6, H * 0.75, (i + 1) * W / 6, H), fill=c)
    return img


# ---------------------------------------------------------------- desktop
def _desktop(rng: random.Random, W: int, H: int) -> Image.Image:
    img = wallpaper(rng, W, H)
    pen = Pen(img)
    style = rng.choice(["win11", "win10", "mac", "linux"])
    s = H * rng.uniform(0.05, 0.08)
    n = rng.randint(2, 24)
    col_h = s * 1.9
    per_col = max(1, int(H * 0.85 / col_h))
    right = style == "mac"
    top = H * (0.06 if right else 0.02)
    for i in range(n):
        c, r = divmod(i, per_col)
        x = (W - s * 1.8 * (c + 1)) if right else (s * 0.5 + c * s * 1.8)
        y = top + r * col_h
        icon(pen, rng, (x, y, x + s, y + s))
        label_w = s * rng.uniform(0.8, 1.5)
        pen.text_line(rng, x + s / 2 - label_w / 2 + 1, y + s * 1.12 + 1, label_w, s * 0.22, (0, 0, 0), False)
        pen.text_line(rng, x + s / 2 - label_w / 2, y + s * 1.12, label_w, s * 0.22, WHITE, rng.random() < 0.4)
    if rng.random() < 0.15:  # clock widget
        pen.text((W * 0.75, H * 0.2), f"{rng.randint(1, 12)}:{rng.randint(0, 59):02d}", H * 0.12, (250, 250, 250), "mm")
    if rng.random() < 0.35:  # a small window
        ww, wh = W * rng.uniform(0.3, 0.55), H * rng.uniform(0.3, 0.6)
        wx, wy = rng.uniform(W * 0.15, W - ww), rng.uniform(H * 0.05, H * 0.9 - wh)
        pen.rect((wx + 4, wy + 4, wx + ww + 4, wy + wh + 4), fill=(0, 0, 0))
        content = window(pen, rng, (wx, wy, wx + ww, wy + wh), dark=rng.random() < 0.3)
        name = rng.choices(list(APPS), APP_WEIGHTS)[0]
        APPS[name](img, pen, rng, content)
    taskbar(pen, rng, W, H, style)
    return img


# ---------------------------------------------------------------- anything else
def _others(rng: random.Random, W: int, H: int) -> Image.Image:
    name = rng.choices(list(APPS), APP_WEIGHTS)[0]
    mode = rng.choices(["full", "taskbar", "window"], [0.45, 0.4, 0.15])[0]
    if mode == "window":
        img = wallpaper(rng, W, H)
        pen = Pen(img)
        bx = (W * rng.uniform(0.02, 0.15), H * rng.uniform(0.02, 0.1), W * rng.uniform(0.8, 0.98), H * rng.uniform(0.85, 0.93))
        content = window(pen, rng, bx, dark=rng.random() < 0.3)
        taskbar(pen, rng, W, H)
    else:
        img = Image.new("RGB", (W, H), WHITE)
        pen = Pen(img)
        bar = taskbar(pen, rng, W, H, rng.choice(["win11", "win10"])) if mode == "taskbar" else 0
        content = window(pen, rng, (0, 0, W, H - bar), title=rng.random() < 0.5)
    APPS[name](img, pen, rng, content)
    if rng.random() < 0.1:
        _cursor(pen, rng, W, H)
    return img


# ---------------------------------------------------------------- shared bits
def _cursor(pen: Pen, rng: random.Random, W: int, H: int) -> None:
    x, y, s = rng.uniform(0, W), rng.uniform(0, H), max(3.0, H * 0.03)
    pen.poly([(x, y), (x, y + s), (x + s * 0.3, y + s * 0.75), (x + s * 0.65, y + s * 0.7)], fill=WHITE, outline=BLACK)


def _camera(img: Image.Image, rng: random.Random) -> Image.Image:
    """Capture artefacts shared by every class: zoom/offset, colour drift, grain, JPEG."""
    W, H = img.size
    if rng.random() < 0.5 and W >= 16 and H >= 16:
        z = rng.uniform(1.0, 1.06)
        cw, ch = W / z, H / z
        ox, oy = rng.uniform(0, W - cw), rng.uniform(0, H - ch)
        img = img.resize((W, H), Image.BILINEAR, box=(ox, oy, ox + cw, oy + ch))
    if rng.random() < 0.7:
        gain = np.asarray([rng.uniform(0.93, 1.07) for _ in range(3)], np.float32) * rng.uniform(0.92, 1.08)
        a = np.asarray(img, np.float32) * gain + rng.uniform(-8, 8)
        img = Image.fromarray(a.clip(0, 255).astype(np.uint8))
    if rng.random() < 0.5:
        img = add_noise(img, rng, rng.uniform(0.5, 3))
    if rng.random() < 0.6:
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=rng.randint(35, 92))
        buf.seek(0)
        img = Image.open(buf).convert("RGB")
    return img


_SCENES = {
    "slide": _slide,
    "not_slide_others": _others,
    "not_slide_desktop": _desktop,
    "may_be_slide_powerpoint_edit_mode": _edit_mode,
    "not_slide_no_signal": _no_signal,
    "may_be_slide_powerpoint_side_screen": _side_screen,
    "not_slide_black_or_blue_screen": _black_blue,
}
assert tuple(_SCENES) == CLASSES

"""Dark screens: a black or blue screen (`not_slide_black_or_blue_screen`) and a projector's
"no signal" screen (`not_slide_no_signal`), scenes of `draw.draw_screen`.

Both are mostly one dark or blue colour: what tells them apart is the no-signal screen's
message box (with a brand, a source list) or its colour bars.
"""

from __future__ import annotations

import random

from PIL import Image

from ._parts import BLACK, WHITE, Pen, _cursor, add_noise, font, gradient, jitter, mix, on


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

"""PowerPoint on screen: the editor (`may_be_slide_powerpoint_edit_mode`) and the presenter view
(`may_be_slide_powerpoint_side_screen`), scenes of `draw.draw_screen`.

Both show slides of one deck theme (`_slide`) inside the application's own furniture: ribbon,
thumbnails and notes for the editor; timer, current and next slide and speaker notes for the
presenter view, in PowerPoint's and Keynote's layouts.
"""

from __future__ import annotations

import random

from PIL import Image

from ._apps import wallpaper
from ._parts import BLACK, WHITE, Pen, icon, jitter, mix, on, words
from ._slide import draw_slide, theme


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

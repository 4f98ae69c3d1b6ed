"""Draw one synthetic screenshot of a presentation screen, for any of the 7 screen states.

`draw_screen(class_name, rng, size)` is a pure function of the `random.Random` it is given:
the same generator state gives the same pixels. Each class has one scene function (`_SCENES`):
the full-screen slide, desktop and "others" scenes are here, PowerPoint's editor and presenter
view in `_powerpoint`, the black/blue and no-signal screens in `_dark`. All of them lay out in
fractions of the canvas (any size works, down to a few pixels) and then go through the same
`_camera` pass (slight zoom/offset, colour drift, grain, JPEG artefacts), so that pass carries
no class information.

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
from ._dark import _black_blue, _no_signal
from ._parts import WHITE, Pen, _cursor, add_noise, icon, jitter
from ._powerpoint import _edit_mode, _side_screen
from ._slide import draw_slide

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

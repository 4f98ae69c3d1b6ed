"""`real_screens.py`'s composed frames — full-screen slides, presenter and reader views,
"No Signal" and flat capture-card frames, cursors, notification toasts, recorded copies — and
the test fixtures it writes with ``--fixtures``."""

from __future__ import annotations

import json
import random
import re
import struct
from pathlib import Path

from real_screens_common import (CURSORS, FONT, FONT_BOLD, ICONS, NO_SIGNAL, TOASTS, W, H)


# -- composed frames ----------------------------------------------------------------------------
COPY_KINDS = ["jpeg", "shift", "cursor", "shift+cursor+jpeg", "toast"]
PAIR_KINDS = ["jpeg", "shift", "cursor", "toast", "shift+cursor+jpeg", "toast+jpeg"]


def _open(path):
    from PIL import Image

    with Image.open(path) as im:
        img = im.convert("RGB")
    if img.size != (W, H):
        img = img.resize((W, H), Image.Resampling.LANCZOS)
    return img


def fullscreen(png):
    """A page as a slide show shows it: fitted to 1280x720, black around it."""
    from PIL import Image

    with Image.open(png) as im:
        page = im.convert("RGB")
    scale = min(W / page.width, H / page.height)
    size = (max(1, round(page.width * scale)), max(1, round(page.height * scale)))
    page = page.resize(size, Image.Resampling.LANCZOS) if size != page.size else page
    out = Image.new("RGB", (W, H), (0, 0, 0))
    out.paste(page, ((W - size[0]) // 2, (H - size[1]) // 2))
    return out


def reader_view(png):
    """A PDF page in a reader at fit-width: the top of the page on a grey background."""
    from PIL import Image

    with Image.open(png) as im:
        page = im.convert("RGB")
    out = Image.new("RGB", (W, H), (82, 82, 82))
    top = 14
    out.paste(page.crop((0, 0, page.width, min(page.height, H - top))), ((W - page.width) // 2, top))
    return out


def presenter_view(cur, nxt, total, i):
    """A presenter console (LibreOffice's layout): current slide, next slide, notes, timer."""
    from PIL import Image, ImageDraw, ImageFont

    out = Image.new("RGB", (W, H), (28, 28, 30) if i % 3 else (46, 52, 54))
    draw = ImageDraw.Draw(out)
    big = ImageFont.truetype(FONT, 15)
    small = ImageFont.truetype(FONT, 13)
    timer = ImageFont.truetype(FONT_BOLD, 30)

    def put(png, box):
        with Image.open(png) as im:
            page = im.convert("RGB")
        page.thumbnail((box[2], box[3]), Image.Resampling.LANCZOS)
        out.paste(page, (box[0], box[1]))
        return page.size

    cw, ch = put(cur["png"], (24, 60, 760, 440))
    draw.text((24, 28), "Current Slide (end of presentation)" if cur["page"] == total else "Current Slide",
              fill=(220, 220, 220), font=big)
    put(nxt["png"], (820, 60, 430, 250))
    draw.text((820, 28), "Next Slide", fill=(220, 220, 220), font=big)
    notes = [ln.strip() for ln in cur.get("text", "").splitlines() if ln.strip()][:9]
    y = 340
    for ln in notes:
        draw.text((820, y), ln[:52], fill=(200, 200, 200), font=small)
        y += 20
    minutes, seconds = 3 + 2 * i, (17 * i) % 60
    draw.text((24, 60 + ch + 30), f"0:{minutes:02d}:{seconds:02d}", fill=(240, 240, 240), font=timer)
    draw.text((260, 60 + ch + 40), f"Slide {cur['page']} of {total}", fill=(200, 200, 200), font=big)
    for k, label in enumerate(["Previous", "Next", "Notes", "Slide Sorter", "Exit"]):
        draw.rounded_rectangle((24 + 118 * k, H - 52, 130 + 118 * k, H - 22), 6, fill=(70, 70, 74))
        draw.text((36 + 118 * k, H - 45), label, fill=(230, 230, 230), font=small)
    return out


def no_signal(i, seed, background=None, variant=None):
    """A monitor's "No Signal" screen: a message box on black or blue."""
    from PIL import Image, ImageDraw, ImageFont

    rng = random.Random(f"{seed}:nosignal:{i}:{background}")
    bg = {"black": (0, 0, 0), "blue": (0, 0, 170)}.get(background) or rng.choice(
        [(0, 0, 0), (0, 0, 0), (0, 0, 168), (0, 32, 160), (16, 16, 16)])
    out = Image.new("RGB", (W, H), bg)
    draw = ImageDraw.Draw(out)
    text = NO_SIGNAL[(variant if variant is not None else i) % len(NO_SIGNAL)]
    size = rng.choice([30, 36, 44, 56])
    font = ImageFont.truetype(FONT_BOLD if rng.random() < 0.5 else FONT, size)
    box = draw.multiline_textbbox((0, 0), text, font=font, align="center", spacing=10)
    tw, th = box[2] - box[0], box[3] - box[1]
    x = (W - tw) // 2 + rng.randint(-60, 60)
    y = (H - th) // 2 + rng.randint(-40, 40)
    style = rng.randrange(3)
    if style == 0:
        draw.rectangle((x - 40, y - 30, x + tw + 40, y + th + 36), fill=(40, 40, 40), outline=(200, 200, 200), width=2)
    elif style == 1:
        draw.rectangle((x - 30, y - 24, x + tw + 30, y + th + 30), fill=(0, 90, 180))
    draw.multiline_text((x, y), text, fill=(235, 235, 235), font=font, align="center", spacing=10)
    return out


def flat_frame(i, seed):
    """A black or blue frame as a capture card records it: a flat colour with faint noise."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed * 1000 + i)
    colour = np.array([(0, 0, 0), (0, 0, 170)][i % 2] if i % 4 != 2 else (4, 4, 6), dtype=np.int16)
    noise = rng.integers(-2, 3, size=(H, W, 1), dtype=np.int16)
    return Image.fromarray(np.clip(colour + noise, 0, 255).astype(np.uint8))


def solid(i, kind, seed):
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed * 7919 + i + (0 if kind == "navy" else 100))
    colour = {"navy": [(0, 0, 64), (8, 16, 72), (0, 0, 96), (10, 20, 50), (0, 0, 80), (16, 24, 64)],
              "blue": [(0, 0, 170), (0, 0, 200), (0, 32, 160), (0, 0, 255), (0, 60, 190), (0, 0, 140)]}[kind][i % 6]
    noise = rng.integers(-2, 3, size=(H, W, 1), dtype=np.int16)
    return Image.fromarray(np.clip(np.array(colour, np.int16) + noise, 0, 255).astype(np.uint8))


def dimmed(png, level):
    """A wallpaper at ``level`` brightness: a screen fading to black, a dark striped desktop."""
    import numpy as np
    from PIL import Image

    with Image.open(png) as im:
        arr = np.asarray(im.convert("RGB").resize((W, H)), dtype=np.float32)
    return Image.fromarray(np.clip(arr * level, 0, 255).astype(np.uint8))


_CURSOR = None


def cursor_image():
    """The Adwaita theme's left_ptr cursor (Xcursor file), 24 px nominal size, as RGBA."""
    global _CURSOR
    if _CURSOR is None:
        _CURSOR = read_xcursor(CURSORS / "left_ptr", 24)
    return _CURSOR


def read_xcursor(path: Path, nominal: int):
    from PIL import Image

    data = path.read_bytes()
    if data[:4] != b"Xcur":
        raise ValueError(f"{path}: not an Xcursor file")
    header, _, ntoc = struct.unpack_from("<III", data, 4)
    best = None
    for k in range(ntoc):
        kind, subtype, pos = struct.unpack_from("<III", data, header + 12 * k)
        if kind == 0xFFFD0002 and (best is None or abs(subtype - nominal) < abs(best[0] - nominal)):
            best = (subtype, pos)
    if best is None:
        raise ValueError(f"{path}: no cursor image")
    pos = best[1]
    _, _, _, _, width, height, xhot, yhot, _ = struct.unpack_from("<IIIIIIIII", data, pos)
    pixels = data[pos + 36:pos + 36 + 4 * width * height]
    img = Image.frombuffer("RGBA", (width, height), pixels, "raw", "BGRA", 0, 1)
    return img.copy(), (xhot, yhot)


def toast(img, rng):
    """A desktop notification (GNOME's banner shape) at the top or a corner."""
    from PIL import Image, ImageDraw, ImageFont

    out = img.copy()
    W, H = out.size  # noqa: N806 (the frame's size: 1280x720 in the set)
    title, body = rng.choice(TOASTS)
    tw, th = rng.choice([(340, 72), (360, 80), (380, 76)])
    where = rng.choice(["top", "top-right", "bottom-right"])
    x = {"top": (W - tw) // 2, "top-right": W - tw - 14, "bottom-right": W - tw - 14}[where]
    y = 12 if where.startswith("top") else H - th - 52
    dark = rng.random() < 0.6
    layer = Image.new("RGBA", out.size, (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    d.rounded_rectangle((x, y, x + tw, y + th), 12, fill=(48, 48, 48, 245) if dark else (250, 250, 250, 245),
                        outline=(90, 90, 90, 255) if dark else (200, 200, 200, 255))
    out = Image.alpha_composite(out.convert("RGBA"), layer)
    icons = sorted(p for p in (ICONS / "status").glob("*.png"))[:40] or sorted(ICONS.rglob("*.png"))[:40]
    if icons:
        with Image.open(rng.choice(icons)) as ic:
            icon = ic.convert("RGBA").resize((40, 40))
        out.alpha_composite(icon, (x + 14, y + (th - 40) // 2))
    d = ImageDraw.Draw(out)
    fg = (240, 240, 240) if dark else (30, 30, 30)
    d.text((x + 68, y + 14), title, fill=fg, font=ImageFont.truetype(FONT_BOLD, 15))
    d.text((x + 68, y + 40), body, fill=fg, font=ImageFont.truetype(FONT, 14))
    return out.convert("RGB")


def recorded_copy(img, kind: str, rng: random.Random):
    """``img`` as a later frame of the same recording: each part of ``kind`` ("+"-joined) applied."""
    from PIL import Image

    out = img
    for part in kind.split("+"):
        if part == "shift":
            dx = rng.choice([-3, -2, -1, 1, 2, 3])
            dy = rng.choice([-3, -2, -1, 0, 1, 2, 3])
            shifted = Image.new("RGB", out.size)
            shifted.paste(out, (dx, dy))
            # the uncovered edge repeats the border, as a re-captured frame shows it
            if dx > 0:
                shifted.paste(out.crop((0, 0, 1, out.height)).resize((dx, out.height)), (0, dy))
            elif dx < 0:
                shifted.paste(out.crop((out.width - 1, 0, out.width, out.height)).resize((-dx, out.height)),
                              (out.width + dx, dy))
            if dy > 0:
                shifted.paste(shifted.crop((0, dy, out.width, dy + 1)).resize((out.width, dy)), (0, 0))
            elif dy < 0:
                shifted.paste(shifted.crop((0, out.height + dy - 1, out.width, out.height + dy)).resize((out.width, -dy)),
                              (0, out.height + dy))
            out = shifted
        elif part == "cursor":
            cur, (hx, hy) = cursor_image()
            out = out.convert("RGBA")
            out.alpha_composite(cur, (rng.randrange(40, out.width - 60) - hx, rng.randrange(40, out.height - 60) - hy))
            out = out.convert("RGB")
        elif part == "toast":
            out = toast(out, rng)
        elif part == "jpeg":
            pass  # applied when saving
        else:
            raise ValueError(part)
    return out


def _save(img, path: Path, kind: str, rng: random.Random) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if "jpeg" in kind:
        img.save(path, "JPEG", quality=rng.randint(60, 85))
    else:
        img.save(path, "PNG", compress_level=1)


def _write(path: Path, img) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, "PNG", compress_level=1)


def words_differ(a: str, b: str) -> int:
    """How many words (letters only) one page has that the other has not, both ways: 1 for a
    changed word, more for a changed title or line."""
    from collections import Counter

    wa, wb = Counter(re.findall(r"[^\W\d_]+", a)), Counter(re.findall(r"[^\W\d_]+", b))
    return max(sum((wa - wb).values()), sum((wb - wa).values()))


def visibly_not_black(png: Path, level: float) -> bool:
    import numpy as np

    grey = np.asarray(dimmed(png, level).convert("L"), dtype=np.float32)
    return float(grey.mean()) >= 12 or float(grey.std()) >= 8


def _overlay(a: str, b: str) -> bool:
    """Two pages of one beamer frame (overlay steps): one's words contain the other's."""
    wa, wb = set(a.split()), set(b.split())
    return wa <= wb or wb <= wa


def _beamer_source(text: str, theme: str, aspect: str) -> str:
    text = re.sub(r"\\documentclass(\[[^\]]*\])?\{beamer\}", r"\\documentclass[aspectratio=%s]{beamer}" % aspect, text,
                  count=1)
    text = re.sub(r"\\usetheme\{[^}]*\}", r"\\usetheme{%s}" % theme, text)
    text = re.sub(r"\\usepackage\[[a-z]+\]\{babel\}", "", text)  # only English hyphenation is installed
    text = text.replace(r"\usepackage[T1]{fontenc}", r"\usepackage[T1]{fontenc}\usepackage{lmodern}")
    end = "\\begin{frame}\n  \\centering\\Huge The End\n\\end{frame}\n\\end{document}"
    return text.replace(r"\end{document}", end)


def _slug(path: Path) -> str:
    if "desktop-base" in path.parts:
        return path.parts[path.parts.index("desktop-base") + 1].replace("-theme", "")
    return path.stem


def wallpapers() -> list[Path]:
    gnome = sorted(p for p in Path("/usr/share/backgrounds/gnome").glob("*") if p.suffix in (".svg", ".webp", ".png",
                                                                                              ".jpg"))
    base = sorted(Path("/usr/share/desktop-base").glob("*-theme/wallpaper/contents/images/1920x1080.svg"))
    return gnome + base


def _loadable(wall: Path, folder: Path) -> Path:
    """``wall``, or a PNG copy of it where pcmanfm cannot read the format (no WebP loader in Debian 12's
    gdk-pixbuf: it would silently show a black desktop)."""
    if wall.suffix != ".webp":
        return wall
    from PIL import Image

    png = folder / f"{wall.stem}.png"
    if not png.exists():
        with Image.open(wall) as im:
            im.convert("RGB").save(png, compress_level=1)
    return png


def _load_shots(folder: Path) -> list[dict]:
    return [{**s, "png": Path(s["png"])} for s in json.loads((folder / "done.json").read_text())]


# -- test fixtures ------------------------------------------------------------------------------
FIXTURE_SIZE = (640, 360)


def write_fixtures(out: Path, target: Path, seed: int) -> list[Path]:
    """Small real-content images for tests/data/test_real_near_duplicates.py (640x360 PNGs, from
    the built set's sources): frames that look alike but are not the same frame, and one frame
    with a recorded copy (shifted 2 px, the Adwaita cursor drawn on)."""
    from PIL import Image

    pages_dir = out / "sources" / "pages"
    deck = sorted(d for d in pages_dir.iterdir() if d.name.startswith("generic-en-"))[0]
    pngs = sorted(deck.glob("p-*.png"))
    texts = json.loads((deck / "text.json").read_text())

    def norm(t: str) -> str:
        return re.sub(r"[\d\s/]+", " ", t).strip()

    # two adjacent pages that are different frames (not overlay steps of one frame)
    k = next(i for i in range(1, len(pngs) - 1) if norm(texts[i]) and norm(texts[i + 1])
             and not _overlay(norm(texts[i]), norm(texts[i + 1])))
    manual = sorted((out / "sources" / "manuals").glob("*-1.png"))[0]
    walls = out / "sources" / "walls"
    lo_page = sorted((pages_dir / "lo-Candy").glob("p-*.png"))[0]
    frames = {  # noisy captures and photos as JPEG (as recordings store them), drawn pages as PNG
        "black.jpg": flat_frame(0, seed),
        "oceans_dark.png": dimmed(walls / "oceans.png", 0.3),
        "deck_page_a.png": fullscreen(pngs[k]),
        "deck_page_b.png": fullscreen(pngs[k + 1]),
        "deck_title.png": fullscreen(pngs[0]),
        "deck_the_end.png": fullscreen(pngs[-1]),
        "manual_title.png": reader_view(manual),
        "blue.jpg": solid(0, "blue", seed),
        "no_signal_blue.png": no_signal(0, seed, background="blue", variant=0),
        "frame.jpg": fullscreen(lo_page),
    }
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, img in frames.items():
        small = img.resize(FIXTURE_SIZE, Image.Resampling.LANCZOS)
        small.save(target / name, optimize=True, **({"quality": 85} if name.endswith(".jpg") else {}))
        written.append(target / name)
        if name == "frame.jpg":
            rng = random.Random(f"{seed}:fixture")
            copy = recorded_copy(small, "shift+cursor", rng)
            copy.save(target / "frame_shifted_cursor.jpg", optimize=True, quality=80)
            written.append(target / "frame_shifted_cursor.jpg")
    (target / "SOURCES.txt").write_text(
        "Made by benchmarks/real_screens.py --fixtures from real Debian-shipped content (640x360):\n"
        f"  deck_*: pages of the beamer solution template {deck.name} (texlive-latex-recommended-doc, pdflatex)\n"
        f"  manual_title.png: page 1 of {manual.stem[:-2]}.pdf (texlive documentation), as a reader shows it\n"
        "  oceans_dark.png: gnome-backgrounds' oceans.svg (striped) at 30% brightness\n"
        "  frame.jpg: page 1 of LibreOffice's Candy Impress template; frame_shifted_cursor.jpg: it shifted\n"
        "    1-3 px with the Adwaita left_ptr cursor drawn on, saved again as JPEG\n"
        "  black.jpg, blue.jpg, no_signal_blue.png: capture-card frames (flat colour, DejaVu 'No Signal')\n")
    return written


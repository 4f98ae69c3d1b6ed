"""Build a real-content screenshot set: seven screen classes at 1280x720, plus labelled pairs.

Everything comes from programs and documents that Debian packages ship, run or rendered on this
machine — nothing is drawn by tk:

* **slides**: the beamer solution templates and example talks of ``texlive-latex-recommended-doc``
  (compiled with pdflatex in several beamer themes, 4:3 and 16:9, each ending on a "The End"
  frame) and the sample decks of LibreOffice's 23 Impress templates (converted with
  ``soffice --convert-to pdf``); pages rendered with poppler's ``pdftoppm`` and shown full screen
  (4:3 pages pillar-boxed in black, as a projector shows them);
* **PowerPoint edit mode**: LibreOffice Impress itself, editing those decks, under Xvfb;
* **presenter side screen**: a presenter view put together from the same renders (current
  slide, next slide, the page's own text as notes, a timer) — no Debian program shows one on a
  single virtual screen, so this class is composed, from real slide renders;
* **desktop**: pcmanfm's desktop (icons of real launchers and files) under openbox with a tint2
  panel, on the wallpapers of ``gnome-backgrounds`` and ``desktop-base``;
* **others**: Chromium (headless) on the HTML documentation under /usr/share/doc, xterm showing
  man pages, mousepad editing real files, pcmanfm browsing /usr/share/doc, and PDF manuals of
  the texlive documentation as a reader shows them (fit to width);
* **no signal** and **black or blue**: monitor screens — a "No Signal" box in DejaVu fonts on
  black or blue, black and blue frames with capture noise (composed: no program makes them).

Counts follow the reference workload's imbalance (slide far ahead of the rest), scaled down to
what two cores build in minutes. A quarter of each class's images get a recorded copy inside
the class folder (named ``copy-<kind>-of-<original>``), as consecutive recording frames do.

Pairs (``pairs.csv``: a, b, label, kind): **same** — one frame and a copy of it re-encoded as
JPEG (quality 60-85), shifted 1-3 px, with the Adwaita mouse cursor drawn on, with a
notification toast, and mixes of those; **distinct** — other pages of one deck (adjacent,
other, the same page in another language), a deck's title page against its "The End" page and
a manual's title page, black frames against dimmed striped wallpapers, black against dark
blue, a blue screen against a "No Signal" screen on the same blue, LibreOffice's editor on one
slide against the next. Overlay steps of one beamer frame (pages whose text is the same) are
neither and left out.

    python benchmarks/real_screens.py --install     # once on a fresh Debian 12 machine (root): apt-get
    python benchmarks/real_screens.py               # builds ~/.cache/tk/real_screens (minutes)
    python benchmarks/real_screens.py --force       # build again from nothing

Repeatable: inputs are sorted, every random choice comes from ``--seed``, the virtual screen,
fonts and tools are fixed; ``manifest.json`` records each file's SHA-256 and the seconds each
stage took.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from real_screens_common import (BEAMER, CURSORS, DEFAULT_OUT, FONT, LO_TEMPLATES, PACKAGES, TOOLS, VERSION, W, H)
from real_screens_assemble import Assembly
from real_screens_frames import (COPY_KINDS, PAIR_KINDS, _open, fullscreen, reader_view, presenter_view, no_signal, flat_frame, solid, dimmed, _CURSOR, cursor_image, read_xcursor, toast, recorded_copy, _save, _write, words_differ, visibly_not_black, _overlay, _beamer_source, _slug, wallpapers, _loadable, _load_shots, FIXTURE_SIZE, write_fixtures)  # noqa: F401 - near_duplicates.py imports recorded_copy from here
from real_screens_sources import Sources
from real_screens_x import XSession  # noqa: F401


class Builder(Sources, Assembly):
    def __init__(self, out: Path, seed: int, jobs: int, scale: float):
        self.out, self.seed, self.jobs, self.scale = out, seed, jobs, scale
        self.src = out / "sources"
        self.stages: dict[str, float] = {}
        self.log = print

    # -- helpers ------------------------------------------------------------------------------
    def rng(self, name: str) -> random.Random:
        return random.Random(f"{self.seed}:{name}")

    def stage(self, name: str, fn, *args):
        t = time.perf_counter()
        self.log(f"[{time.strftime('%H:%M:%S')}] {name} ...", flush=True)
        result = fn(*args)
        self.stages[name] = round(time.perf_counter() - t, 1)
        self.log(f"    {name}: {self.stages[name]:.1f} s", flush=True)
        return result

    def pmap(self, fn, items):
        with ThreadPoolExecutor(self.jobs) as pool:
            return list(pool.map(fn, items))

    # -- decks --------------------------------------------------------------------------------


# -- main ---------------------------------------------------------------------------------------
def install() -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", *PACKAGES], check=True, env=env)


def missing_tools() -> list[str]:
    gone = [t for t in TOOLS if shutil.which(t) is None]
    for path in (BEAMER, LO_TEMPLATES, Path("/usr/share/backgrounds/gnome"), Path(FONT), CURSORS / "left_ptr"):
        if not path.exists():
            gone.append(str(path))
    return gone


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--install", action="store_true", help="apt-get the Debian packages first (root)")
    parser.add_argument("--force", action="store_true", help="delete the set (and its sources) and build anew")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the class counts")
    parser.add_argument("--fixtures", type=Path, help="after building, write the small test images to this folder")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    install_s = 0.0
    if args.install:
        t = time.perf_counter()
        install()
        install_s = time.perf_counter() - t
    gone = missing_tools()
    if gone:
        print(f"missing: {', '.join(gone)}; run with --install (as root, Debian 12) first", file=sys.stderr)
        return 1
    out = args.out.expanduser()
    manifest_path = out / "manifest.json"
    if manifest_path.exists() and not args.force:
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("version") == VERSION and manifest.get("seed") == args.seed and manifest.get("scale") == args.scale:
            print(f"{out}: already built ({manifest['images']} images, {manifest['pairs']['same']} same and "
                  f"{manifest['pairs']['distinct']} distinct pairs, took {manifest['build_seconds']:.0f} s); --force to rebuild")
            if args.fixtures:
                print("\n".join(str(p) for p in write_fixtures(out, args.fixtures, args.seed)))
            return 0
    if args.force:
        shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    b = Builder(out, args.seed, args.jobs, args.scale)
    beamer = b.stage("compile beamer decks", b.beamer_decks)
    lo = b.stage("LibreOffice templates to PDF", b.lo_decks)
    pages = b.stage("render deck pages", b.render_pages, beamer + lo)
    manuals = b.stage("render PDF manuals", b.manual_pages)
    edit = b.stage("LibreOffice Impress edit mode (Xvfb)", b.edit_mode_shots, beamer + lo, pages)
    desktop, apps = b.stage("desktops and programs (Xvfb)", b.desktop_and_app_shots)
    web = b.stage("Chromium on HTML docs", b.browser_shots)
    walls = b.stage("wallpapers as frames", b.wallpaper_frames)
    records, copies = b.stage("assemble the class folders", b.assemble, pages, manuals, edit, desktop, apps, web, walls)
    rows = b.stage("labelled pairs", b.pairs, records, pages, edit, walls, desktop, web)
    files = sorted(p for p in (out / "classes").rglob("*") if p.is_file()) + sorted((out / "pairs").rglob("*.*"))
    counts: dict[str, int] = {}
    for p in sorted((out / "classes").rglob("*.*")):
        counts[p.parent.name] = counts.get(p.parent.name, 0) + 1
    kinds: dict[str, int] = {}
    for r in rows:
        kinds[f"{r['label']}:{r['kind']}"] = kinds.get(f"{r['label']}:{r['kind']}", 0) + 1
    build_s = time.perf_counter() - started - install_s
    manifest = {
        "version": VERSION, "seed": args.seed, "scale": args.scale, "size": [W, H], "counts": counts,
        "images": sum(counts.values()), "copies_in_classes": copies, "originals": records,
        "pairs": {"same": sum(r["label"] == "same" for r in rows), "distinct": sum(r["label"] == "distinct" for r in rows),
                  "kinds": kinds},
        "stages_seconds": b.stages, "build_seconds": round(build_s, 1), "install_seconds": round(install_s, 1),
        "cpus": os.cpu_count(), "sha256": {str(p.relative_to(out)): sha256(p) for p in files},
    }
    manifest_path.write_text(json.dumps(manifest, indent=1))
    print(f"{out}: {manifest['images']} images in {len(counts)} classes "
          f"({', '.join(f'{k} {v}' for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))}); "
          f"{manifest['pairs']['same']} same-frame and {manifest['pairs']['distinct']} distinct pairs; "
          f"built in {build_s:.0f} s" + (f" (+{install_s:.0f} s apt-get)" if install_s else ""))
    if args.fixtures:
        print("\n".join(str(p) for p in write_fixtures(out, args.fixtures, args.seed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

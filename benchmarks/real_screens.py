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
import csv
import gzip
import hashlib
import json
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

W, H = 1280, 720
DEFAULT_OUT = Path(os.environ.get("TK_CACHE_DIR") or Path.home() / ".cache" / "tk") / "real_screens"
VERSION = 1

PACKAGES = ["xvfb", "xdotool", "x11-utils", "xterm", "openbox", "tint2", "pcmanfm", "mousepad", "poppler-utils",
            "libreoffice-impress", "chromium", "desktop-base", "gnome-backgrounds", "fonts-dejavu-core",
            "texlive-latex-recommended-doc", "texlive-latex-recommended", "texlive-latex-base", "texlive-pictures",
            "texlive-fonts-recommended", "lmodern", "adwaita-icon-theme"]
TOOLS = ["Xvfb", "xdotool", "openbox", "tint2", "pcmanfm", "mousepad", "xterm", "pdftoppm", "pdftotext", "soffice",
         "chromium", "pdflatex"]

#: images per class (copies included), the reference's order of sizes (slide 2530 ... black/blue 4)
COUNTS = {"slide": 300, "not_slide_others": 96, "not_slide_desktop": 36, "may_be_slide_powerpoint_edit_mode": 28,
          "not_slide_no_signal": 20, "may_be_slide_powerpoint_side_screen": 14, "not_slide_black_or_blue_screen": 10}

BEAMER = Path("/usr/share/doc/texlive-doc/latex/beamer")
SOLUTIONS = [("conference", "solutions/conference-talks/conference-ornate-20min.{}.tex.gz"),
             ("generic", "solutions/generic-talks/generic-ornate-15min-45min.{}.tex.gz"),
             ("speaker", "solutions/short-talks/speaker_introduction-ornate-2min.{}.tex")]
LANGS = ["en", "de", "fr"]
THEMES = ["Madrid", "Warsaw", "Berlin", "CambridgeUS", "Copenhagen", "AnnArbor", "Singapore", "Frankfurt",
          "Malmoe", "PaloAlto", "Goettingen", "Boadilla", "Antibes", "Rochester", "Szeged", "Ilmenau",
          "Montpellier", "Darmstadt"]
LO_TEMPLATES = Path("/usr/lib/libreoffice/share/template/common/presnt")
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
FONT_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
CURSORS = Path("/usr/share/icons/Adwaita/cursors")
ICONS = Path("/usr/share/icons/Adwaita/48x48")

TOASTS = [("Software Updates", "4 updates are ready to install"), ("Battery low", "12% remaining"),
          ("Network connected", "Wired connection 1"), ("Download complete", "report-2023.pdf"),
          ("Calendar", "Team meeting in 5 minutes"), ("Screenshot taken", "Saved to Pictures"),
          ("New message", "Can you send the slides?"), ("Recording", "Screen recording started")]
NO_SIGNAL = ["No Signal", "NO SIGNAL", "No Input Signal", "HDMI 1\nNo Signal", "No Source Found",
             "Check signal cable", "DP  No Signal", "Input: HDMI 2\nNo signal detected"]


class Builder:
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
    def beamer_decks(self) -> list[Path]:
        """Compile the beamer solution templates (3 talks x 3 languages) in themes, 4:3 and 16:9."""
        folder = self.src / "beamer"
        folder.mkdir(parents=True, exist_ok=True)
        jobs = []
        k = 0
        for name, pattern in SOLUTIONS:
            for variant in range(2 if name != "speaker" else 1):
                theme = THEMES[k % len(THEMES)]  # one theme for the three languages: same layout, other words
                aspect = "169" if variant % 2 else "43"
                k += 1
                for lang in LANGS:
                    path = BEAMER / pattern.format(lang)
                    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
                    jobs.append((f"{name}-{lang}-{theme}-{aspect}", _beamer_source(raw.decode("latin-1"), theme, aspect)))

        def compile_one(job):
            stem, source = job
            pdf = folder / f"{stem}.pdf"
            if pdf.exists():
                return pdf
            work = Path(tempfile.mkdtemp(prefix="tk-beamer-"))
            try:
                (work / "deck.tex").write_text(source, encoding="latin-1")
                for _ in range(2):  # twice: frame numbers and navigation need the second pass
                    subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "deck.tex"], cwd=work,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300,
                                   env={**os.environ, "SOURCE_DATE_EPOCH": "1700000000", "FORCE_SOURCE_DATE": "1"})
                if not (work / "deck.pdf").exists():
                    raise RuntimeError(f"pdflatex failed on {stem}: see {work / 'deck.log'}")
                shutil.move(work / "deck.pdf", pdf)
            finally:
                shutil.rmtree(work, ignore_errors=True)
            return pdf

        decks = self.pmap(compile_one, jobs)
        for shipped in ("beamerexample-conference-talk.pdf", "beamerexample-lecture-beamer-version.pdf"):
            target = folder / f"shipped-{shipped.split('-')[1]}.pdf"
            shutil.copyfile(BEAMER / shipped, target)
            decks.append(target)
        return sorted(decks)

    def lo_decks(self) -> list[Path]:
        """LibreOffice's Impress templates (their sample decks) as PDF."""
        folder = self.src / "impress"
        folder.mkdir(parents=True, exist_ok=True)
        templates = sorted(LO_TEMPLATES.glob("*.otp"))
        if not all((folder / f"{t.stem}.pdf").exists() for t in templates):
            profile = Path(tempfile.mkdtemp(prefix="tk-lo-"))
            try:
                subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{profile}", "--convert-to",
                                "pdf", "--outdir", str(folder), *map(str, templates)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, timeout=600, check=False)
            finally:
                shutil.rmtree(profile, ignore_errors=True)
        return sorted(folder / f"{t.stem}.pdf" for t in templates if (folder / f"{t.stem}.pdf").exists())

    def render_pages(self, decks: list[Path]) -> dict[str, list[dict]]:
        """Every page of every deck rendered to fit 1280x720, with its text (pdftotext)."""
        folder = self.src / "pages"
        folder.mkdir(parents=True, exist_ok=True)

        def render(pdf: Path):
            stem = ("lo-" if pdf.parent.name == "impress" else "") + pdf.stem
            target = folder / stem
            if not target.exists():
                tmp = folder / f".{stem}.tmp"
                shutil.rmtree(tmp, ignore_errors=True)
                tmp.mkdir()
                subprocess.run(["pdftoppm", "-scale-to-x", str(W), "-scale-to-y", "-1", "-png", str(pdf),
                                str(tmp / "p")], check=True, timeout=600)
                text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, timeout=300,
                                      check=True).stdout.decode("utf-8", "replace")
                (tmp / "text.json").write_text(json.dumps(text.split("\f")))
                tmp.rename(target)
            texts = json.loads((target / "text.json").read_text())
            pngs = sorted(target.glob("p-*.png"))
            return stem, [{"deck": stem, "page": i + 1, "png": p, "text": texts[i] if i < len(texts) else ""}
                          for i, p in enumerate(pngs)]

        return dict(self.pmap(render, decks))

    def manual_pages(self) -> list[dict]:
        """First pages of texlive package manuals (real PDF documentation)."""
        folder = self.src / "manuals"
        folder.mkdir(parents=True, exist_ok=True)
        pdfs = sorted(p for p in Path("/usr/share/doc/texlive-doc/latex").rglob("*.pdf")
                      if 40_000 < p.stat().st_size < 3_000_000 and "beamer" not in p.parts)
        picked = sorted(self.rng("manuals").sample(pdfs, min(len(pdfs), 14)))

        def render(pdf: Path):
            stem = pdf.stem
            out = []
            for page in (1, 2, 3):
                png = folder / f"{stem}-{page}.png"
                if not png.exists():
                    subprocess.run(["pdftoppm", "-f", str(page), "-l", str(page), "-singlefile", "-scale-to-x",
                                    str(W - 360), "-scale-to-y", "-1", "-png", str(pdf), str(png.with_suffix(""))],
                                   check=False, timeout=300, stderr=subprocess.DEVNULL)
                if png.exists():
                    out.append({"deck": f"manual-{stem}", "page": page, "png": png})
            return out

        return [p for group in self.pmap(render, picked) for p in group]

    # -- X programs ---------------------------------------------------------------------------
    def x_session(self):
        return XSession(self.src / "home")

    def edit_mode_shots(self, decks: list[Path], pages: dict[str, list[dict]]) -> list[dict]:
        """LibreOffice Impress editing decks (PDF imported into Impress, and Impress templates)."""
        folder = self.src / "editmode"
        if (folder / "done.json").exists():
            return _load_shots(folder)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        rng = self.rng("editmode")
        chosen = [d for d in decks if d.parent.name == "beamer" and len(pages.get(d.stem, [])) >= 5]
        chosen = sorted(rng.sample(chosen, min(4, len(chosen))))
        templates = [t for t in sorted(LO_TEMPLATES.glob("*.otp")) if len(pages.get(f"lo-{t.stem}", [])) >= 3]
        chosen += sorted(rng.sample(templates, min(3, len(templates))))
        shots = []
        with self.x_session() as x:
            for deck in chosen:
                key = deck.stem if deck.suffix == ".pdf" else f"lo-{deck.stem}"
                shots += [{**s, "pages": key}
                          for s in x.impress(deck, folder, pages=min(5 if deck.suffix == ".pdf" else 3, len(pages[key])))]
        (folder / "done.json").write_text(json.dumps([{**s, "png": str(s["png"])} for s in shots]))
        return shots

    def desktop_and_app_shots(self) -> tuple[list[dict], list[dict]]:
        folder = self.src / "xshots"
        if (folder / "done.json").exists():
            data = json.loads((folder / "done.json").read_text())
            return ([{**s, "png": Path(s["png"])} for s in data["desktop"]],
                    [{**s, "png": Path(s["png"])} for s in data["apps"]])
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        rng = self.rng("desktop")
        walls = [_loadable(w, folder) for w in wallpapers()]
        desktop, apps = [], []
        with self.x_session() as x:
            x.desktop_start()
            for i, wall in enumerate(walls):
                mode = ["crop", "stretch", "fit"][i % 3] if not wall.name.startswith("oceans") else "crop"
                desktop.append(x.desktop_shot(wall, mode, folder / f"desktop-{i:02d}-{_slug(wall)}.png",
                                              f"wall-{_slug(wall)}"))
            # a few desktops with a small window open (still a desktop)
            for i, wall in enumerate(sorted(rng.sample(walls, 6))):
                desktop.append(x.desktop_shot(wall, "crop", folder / f"desktop-win-{i:02d}-{_slug(wall)}.png",
                                              f"wall-{_slug(wall)}", window=i % 2 == 0))
            # programs on the desktop
            mans = ["ls", "grep", "tar", "ssh", "find", "bash", "python3", "cp", "chmod", "date", "less", "sort"]
            for i, page in enumerate(mans):
                apps.append(x.app_shot(["xterm", "-fa", "DejaVu Sans Mono", "-fs", str(10 + i % 4), "-geometry",
                                        f"{100 + 10 * (i % 3)}x{36 + i % 5}+{20 + 30 * (i % 4)}+{10 + 15 * (i % 3)}",
                                        "-e", "man", page],
                                       folder / f"xterm-man-{page}.png", f"xterm-{page}", wait=1.5,
                                       env={"MANWIDTH": "96", "PAGER": "less"}))
            texts = sorted(p for p in Path("/usr/share/doc").glob("*/README*") if p.suffix in ("", ".md", ".txt"))
            texts += sorted(Path("/etc").glob("*.conf"))[:20]
            for i, path in enumerate(sorted(rng.sample(texts, min(8, len(texts))))):
                apps.append(x.app_shot(["mousepad", str(path)], folder / f"mousepad-{i:02d}.png", f"mousepad-{i:02d}",
                                       wait=2.0, maximize=i % 2 == 0))
            docs = ["/usr/share/doc", "/usr/share/doc/texlive-doc/latex", "/usr/share/backgrounds/gnome",
                    "/usr/share/icons/Adwaita/48x48", "/etc", "/usr/bin", "/usr/share/fonts/truetype/dejavu",
                    "/usr/lib/libreoffice/share/template/common/presnt"]
            for i, d in enumerate(docs):
                apps.append(x.app_shot(["pcmanfm", "--new-win", d], folder / f"pcmanfm-{i:02d}.png",
                                       f"pcmanfm-{i:02d}", wait=2.0, maximize=i % 2 == 1))
        (folder / "done.json").write_text(json.dumps({"desktop": [{**s, "png": str(s["png"])} for s in desktop],
                                                      "apps": [{**s, "png": str(s["png"])} for s in apps]}))
        return desktop, apps

    def browser_shots(self) -> list[dict]:
        """Chromium (headless) on HTML documentation that Debian ships."""
        folder = self.src / "browser"
        folder.mkdir(parents=True, exist_ok=True)
        pages = sorted(p for p in Path("/usr/share/doc").rglob("*.html") if p.stat().st_size > 2000)
        picked = sorted(self.rng("browser").sample(pages, min(40, len(pages))))
        profile_root = Path(tempfile.mkdtemp(prefix="tk-chromium-"))

        def shot(item):
            i, page = item
            png = folder / f"web-{i:02d}.png"
            if not png.exists():
                profile = profile_root / str(i)
                subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                                "--no-first-run", f"--user-data-dir={profile}", f"--window-size={W},{H}",
                                f"--screenshot={png}", page.as_uri()], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, timeout=120, check=False)
            return {"name": f"web-{i:02d}", "deck": f"web-{i:02d}", "page": 1, "png": png, "source": str(page)}

        try:
            shots = self.pmap(shot, list(enumerate(picked)))
        finally:
            shutil.rmtree(profile_root, ignore_errors=True)
        return [s for s in shots if s["png"].exists()]

    def wallpaper_frames(self) -> dict[str, Path]:
        """Each wallpaper as a full 1280x720 frame (SVGs drawn by Chromium), for the distinct pairs."""
        folder = self.src / "walls"
        folder.mkdir(parents=True, exist_ok=True)
        out = {}

        def one(wall: Path):
            png = folder / f"{_slug(wall)}.png"
            if not png.exists():
                if wall.suffix == ".svg":
                    html = folder / f".{_slug(wall)}.html"
                    html.write_text(f"<html><body style='margin:0'><img src='{wall.as_uri()}' "
                                    f"style='width:{W}px;height:{H}px;object-fit:cover'></body></html>")
                    profile = Path(tempfile.mkdtemp(prefix="tk-chromium-"))
                    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                                    f"--user-data-dir={profile}", f"--window-size={W},{H}", f"--screenshot={png}",
                                    html.as_uri()], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   timeout=120, check=False)
                    shutil.rmtree(profile, ignore_errors=True)
                    html.unlink(missing_ok=True)
                else:
                    from PIL import Image, ImageOps

                    with Image.open(wall) as im:
                        ImageOps.fit(im.convert("RGB"), (W, H), Image.Resampling.LANCZOS).save(png)
            return _slug(wall), png

        dark = [w for w in wallpapers() if _slug(w).endswith("-d") or _slug(w).startswith("oceans")]
        for slug, png in self.pmap(one, dark):
            if png.exists():
                out[slug] = png
        return out

    # -- the set ------------------------------------------------------------------------------
    def assemble(self, pages, manuals, edit, desktop, apps, web, walls) -> tuple[list[dict], list[dict]]:
        from PIL import Image

        rng = self.rng("assemble")
        classes = self.out / "classes"
        shutil.rmtree(classes, ignore_errors=True)
        counts = {k: max(2, round(v * self.scale)) for k, v in COUNTS.items()}
        records: list[dict] = []
        jobs: list[tuple[Path, object]] = []

        def add(cls: str, name: str, make, meta: dict):
            path = classes / cls / f"{name}.png"
            records.append({"class": cls, "path": str(path.relative_to(self.out)), **meta})
            jobs.append((path, make))

        originals = {c: max(1, counts[c] - counts[c] // 4) for c in counts}  # a quarter are copies
        # slides: deck pages shown full screen
        all_pages = [p for deck in sorted(pages) for p in pages[deck]]
        slides = sorted(rng.sample(all_pages, min(originals["slide"], len(all_pages))),
                        key=lambda p: (p["deck"], p["page"]))
        for p in slides:
            add("slide", f"deck-{p['deck']}_p{p['page']:02d}", lambda p=p: fullscreen(p["png"]),
                {"deck": p["deck"], "page": p["page"]})
        # edit mode: LibreOffice Impress
        for s in sorted(rng.sample(edit, min(originals["may_be_slide_powerpoint_edit_mode"], len(edit))),
                        key=lambda s: s["name"]):
            add("may_be_slide_powerpoint_edit_mode", s["name"], lambda s=s: _open(s["png"]), {"deck": s["deck"]})
        # presenter view
        by_deck = {d: ps for d, ps in sorted(pages.items()) if len(ps) > 2}
        for i in range(originals["may_be_slide_powerpoint_side_screen"]):
            deck = rng.choice(sorted(by_deck))
            k = rng.randrange(len(by_deck[deck]) - 1)
            cur, nxt = by_deck[deck][k], by_deck[deck][k + 1]
            add("may_be_slide_powerpoint_side_screen", f"presenter-{deck}_p{cur['page']:02d}",
                lambda cur=cur, nxt=nxt, i=i: presenter_view(cur, nxt, len(by_deck[cur["deck"]]), i),
                {"deck": deck, "page": cur["page"]})
        # desktops
        for s in sorted(rng.sample(desktop, min(originals["not_slide_desktop"], len(desktop))), key=lambda s: s["name"]):
            add("not_slide_desktop", s["name"], lambda s=s: _open(s["png"]), {"deck": s["deck"]})
        # others: browser, xterm, mousepad, pcmanfm, manuals
        others = [(s["name"], s) for s in apps + web]
        man = [(f"manual-{m['deck'][7:]}-{m['page']}", m) for m in manuals]
        pool = others + man
        picked = sorted(rng.sample(pool, min(originals["not_slide_others"], len(pool))), key=lambda t: t[0])
        for name, s in picked:
            if name.startswith("manual-"):
                add("not_slide_others", name, lambda s=s: reader_view(s["png"]), {"deck": s["deck"]})
            else:
                add("not_slide_others", name, lambda s=s: _open(s["png"]), {"deck": s["deck"]})
        # no signal, black or blue
        for i in range(originals["not_slide_no_signal"]):
            add("not_slide_no_signal", f"nosignal-{i:02d}", lambda i=i: no_signal(i, self.seed), {"deck": "nosignal"})
        for i in range(originals["not_slide_black_or_blue_screen"]):
            add("not_slide_black_or_blue_screen", f"{'black' if i % 2 == 0 else 'blue'}-{i:02d}",
                lambda i=i: flat_frame(i, self.seed), {"deck": "flat"})

        # recorded copies inside the class folders
        copy_jobs = []
        for cls in counts:
            mine = [r for r in records if r["class"] == cls]
            n_copies = counts[cls] - len(mine)
            for j, r in enumerate(sorted(rng.sample(mine, min(n_copies, len(mine))), key=lambda r: r["path"])):
                kind = COPY_KINDS[j % len(COPY_KINDS)]
                name = f"copy-{kind}-of-{Path(r['path']).stem}"
                ext = ".jpg" if "jpeg" in kind else ".png"
                copy_jobs.append((r, kind, classes / cls / (name + ext), j))
        self.pmap(lambda job: _write(job[0], job[1]()), jobs)
        copies = []
        for r, kind, path, j in copy_jobs:
            copies.append({"class": r["class"], "path": str(path.relative_to(self.out)), "copy_of": r["path"],
                           "kind": kind, "deck": r.get("deck")})

        def write_copy(job):
            r, kind, path, j = job
            with Image.open(self.out / r["path"]) as im:
                img = recorded_copy(im.convert("RGB"), kind, random.Random(f"{self.seed}:copy:{r['path']}"))
            _save(img, path, kind, random.Random(f"{self.seed}:q:{r['path']}"))

        self.pmap(write_copy, copy_jobs)
        return records, copies

    def pairs(self, records, pages, edit, walls, desktop, web) -> list[dict]:
        """pairs/: labelled same-frame and distinct-but-similar pairs."""
        from PIL import Image

        rng = self.rng("pairs")
        folder = self.out / "pairs"
        shutil.rmtree(folder, ignore_errors=True)
        (folder / "img").mkdir(parents=True)
        rows: list[dict] = []
        writes: list[tuple[Path, object]] = []
        made: dict[str, str] = {}

        def frame(key: str, make) -> str:
            if key not in made:
                path = folder / "img" / f"{len(made):04d}-{key}.png"
                made[key] = str(path.relative_to(self.out))
                writes.append((path, make))
            return made[key]

        # -- same frame: every class, several distortions of one frame
        bases = []
        for cls in COUNTS:
            mine = sorted((r for r in records if r["class"] == cls), key=lambda r: r["path"])
            bases += rng.sample(mine, min(len(mine), {"slide": 30, "not_slide_others": 16}.get(cls, 8)))
        same_jobs = []
        for b in sorted(bases, key=lambda r: r["path"]):
            for kind in PAIR_KINDS:
                a = b["path"]
                name = f"same-{kind}-{Path(a).stem}"
                ext = ".jpg" if "jpeg" in kind else ".png"
                path = folder / "img" / (name + ext)
                rows.append({"a": a, "b": str(path.relative_to(self.out)), "label": "same", "kind": kind})
                same_jobs.append((a, kind, path))

        # -- distinct: other pages of one deck
        def page_frame(p):
            return frame(f"deck-{p['deck']}_p{p['page']:02d}", lambda p=p: fullscreen(p["png"]))

        def norm(text: str) -> str:
            return re.sub(r"[\d\s/]+", " ", text).strip()

        def deck_pair(pa: dict, pb: dict, kind: str) -> None:
            rows.append({"a": page_frame(pa), "b": page_frame(pb), "label": "distinct", "kind": kind,
                         "words_differ": words_differ(pa["text"], pb["text"])})

        decks = sorted(d for d, ps in pages.items() if len(ps) >= 3)
        for deck in decks:
            ps = pages[deck]
            texts = [norm(p["text"]) for p in ps]
            usable = [i for i in range(len(ps)) if texts[i]]
            adj = [(i, j) for i, j in zip(usable, usable[1:]) if texts[i] != texts[j] and not _overlay(texts[i], texts[j])]
            for i, j in rng.sample(adj, min(5, len(adj))):
                deck_pair(ps[i], ps[j], "deck_adjacent")
            other = [(i, j) for i in usable for j in usable if j > i + 1 and texts[i] != texts[j]
                     and not _overlay(texts[i], texts[j])]
            for i, j in rng.sample(other, min(5, len(other))):
                deck_pair(ps[i], ps[j], "deck_other")
            if not deck.startswith(("lo-", "shipped")) and "The End" in ps[-1]["text"]:
                deck_pair(ps[0], ps[-1], "title_vs_end")
        # the same page of one talk in another language (same theme and layout, other words)
        for name, _ in SOLUTIONS:
            for lang_a, lang_b in (("en", "de"), ("en", "fr")):
                for deck_a in [d for d in decks if d.startswith(f"{name}-{lang_a}-")]:
                    deck_b = [d for d in decks if d.startswith(f"{name}-{lang_b}-")
                              and d.split("-")[2:] == deck_a.split("-")[2:]]
                    if not deck_b:
                        continue
                    pa, pb = pages[deck_a], pages[deck_b[0]]
                    for k in rng.sample(range(min(len(pa), len(pb))), min(4, len(pa), len(pb))):
                        if norm(pa[k]["text"]) != norm(pb[k]["text"]):
                            deck_pair(pa[k], pb[k], "deck_language")
        # a PDF manual's title page against "The End" slides
        ends = [pages[d][-1] for d in decks if "The End" in pages[d][-1]["text"]]
        manual_titles = sorted(Path(self.src / "manuals").glob("*-1.png"))
        for m in rng.sample(manual_titles, min(6, len(manual_titles))):
            e = rng.choice(ends)
            rows.append({"a": frame(f"manual-{m.stem}", lambda m=m: reader_view(m)), "b": page_frame(e),
                         "label": "distinct", "kind": "manual_title_vs_end"})
        # one colour: black frames against dimmed wallpapers (striped oceans first), black vs dark blue,
        # blue screen vs "No Signal" on that blue
        dark = sorted(w for w in walls if w.endswith("-d") or w.startswith("oceans"))
        for i, w in enumerate(dark):
            for level in (0.5, 1.0):
                if not visibly_not_black(walls[w], level):
                    continue  # a wallpaper this dark at this level is a black frame: not a distinct pair
                rows.append({"a": frame(f"black-{i}-{level}", lambda i=i: flat_frame(2 * i, self.seed + 7)),
                             "b": frame(f"dim-{w}-{level}", lambda w=w, level=level: dimmed(walls[w], level)),
                             "label": "distinct", "kind": "black_vs_dark_wallpaper"})
        for i in range(6):
            rows.append({"a": frame(f"black-n{i}", lambda i=i: flat_frame(2 * i, self.seed + 11)),
                         "b": frame(f"navy-{i}", lambda i=i: solid(i, "navy", self.seed)), "label": "distinct",
                         "kind": "black_vs_dark_blue"})
            rows.append({"a": frame(f"blue-{i}", lambda i=i: solid(i, "blue", self.seed)),
                         "b": frame(f"blue-nosignal-{i}", lambda i=i: no_signal(i, self.seed, background="blue", variant=i)),
                         "label": "distinct", "kind": "blue_vs_no_signal"})
            rows.append({"a": frame(f"black-s{i}", lambda i=i: flat_frame(2 * i, self.seed + 13)),
                         "b": frame(f"black-nosignal-{i}", lambda i=i: no_signal(i, self.seed, background="black", variant=i)),
                         "label": "distinct", "kind": "black_vs_no_signal"})
        # the editor on one slide against the next
        by_deck: dict[str, list[dict]] = {}
        for s in edit:
            by_deck.setdefault(s["deck"], []).append(s)
        for deck, shots in sorted(by_deck.items()):
            shots = sorted(shots, key=lambda s: s["name"])
            texts = [norm(p["text"]) for p in pages.get(shots[0].get("pages", ""), [])]
            for s, t in zip(shots, shots[1:]):
                ta = texts[s["page"] - 1] if s["page"] <= len(texts) else ""
                tb = texts[t["page"] - 1] if t["page"] <= len(texts) else ""
                if not ta or not tb or ta == tb or _overlay(ta, tb):
                    continue  # overlay steps of one frame: neither same nor distinct
                rows.append({"a": frame(s["name"], lambda s=s: _open(s["png"])), "b": frame(t["name"], lambda t=t: _open(t["png"])),
                             "label": "distinct", "kind": "editor_next_slide"})

        # one desktop (same icons and panel) on two dark wallpapers; two pages of one HTML manual
        desk = sorted((s for s in desktop if s["name"].startswith("desktop-") and "-win-" not in s["name"]
                       and s["deck"].endswith("-d")), key=lambda s: s["name"])
        for s, t in rng.sample(combos := [(s, t) for s in desk for t in desk if s["name"] < t["name"]], min(15, len(combos))):
            rows.append({"a": frame(s["name"], lambda s=s: _open(s["png"])), "b": frame(t["name"], lambda t=t: _open(t["png"])),
                         "label": "distinct", "kind": "desktop_other_wallpaper"})
        site: dict[str, list[dict]] = {}
        for s in web:
            site.setdefault(str(Path(s["source"]).parent), []).append(s)
        for _, shots in sorted(site.items()):
            shots = sorted(shots, key=lambda s: s["name"])
            for s, t in zip(shots, shots[1:]):
                rows.append({"a": frame(s["name"], lambda s=s: _open(s["png"])),
                             "b": frame(t["name"], lambda t=t: _open(t["png"])), "label": "distinct",
                             "kind": "web_same_site"})

        self.pmap(lambda job: _write(job[0], job[1]()), writes)

        def write_same(job):
            a, kind, path = job
            with Image.open(self.out / a) as im:
                img = recorded_copy(im.convert("RGB"), kind, random.Random(f"{self.seed}:pair:{a}:{kind}"))
            _save(img, path, kind, random.Random(f"{self.seed}:pq:{a}:{kind}"))

        self.pmap(write_same, same_jobs)
        with open(self.out / "pairs.csv", "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=["a", "b", "label", "kind", "words_differ"])
            writer.writeheader()
            writer.writerows(rows)
        return rows


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


# -- X ------------------------------------------------------------------------------------------
class XSession:
    """Xvfb at 1280x720 with openbox, for as long as the ``with`` lasts; every process it starts
    is ended by its own id at the end."""

    def __init__(self, home: Path):
        self.home = home
        self.procs: list[subprocess.Popen] = []

    def __enter__(self):
        self.display = next(f":{n}" for n in range(90, 200) if not Path(f"/tmp/.X11-unix/X{n}").exists()
                            and not Path(f"/tmp/.X{n}-lock").exists())
        shutil.rmtree(self.home, ignore_errors=True)
        (self.home / "Desktop").mkdir(parents=True)
        self.env = {**os.environ, "DISPLAY": self.display, "HOME": str(self.home), "LANG": "C.UTF-8",
                    "XDG_CONFIG_HOME": str(self.home / ".config"), "XDG_RUNTIME_DIR": str(self.home / "run"),
                    "NO_AT_BRIDGE": "1", "GTK_THEME": "Adwaita"}
        (self.home / "run").mkdir(mode=0o700)
        self.start(["Xvfb", self.display, "-screen", "0", f"{W}x{H}x24", "-nolisten", "tcp", "-dpi", "96"])
        for _ in range(100):
            if Path(f"/tmp/.X11-unix/X{self.display[1:]}").exists():
                break
            time.sleep(0.1)
        self.start(["openbox"])
        time.sleep(0.5)
        return self

    def __exit__(self, *exc):
        for p in reversed(list(self.procs)):
            self.stop(p)

    def start(self, argv, env=None):
        p = subprocess.Popen(argv, env={**self.env, **(env or {})}, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
        self.procs.append(p)
        return p

    def stop(self, p):
        """End ``p`` and what it started (its own process group: started with a new session)."""
        import signal

        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                break
            try:
                p.wait(timeout=10)
                time.sleep(0.2)
                os.killpg(p.pid, 0)  # children still there?
            except subprocess.TimeoutExpired:
                continue
            except ProcessLookupError:
                break
        if p in self.procs:
            self.procs.remove(p)

    def grab(self, path: Path):
        from PIL import ImageGrab

        img = ImageGrab.grab(xdisplay=self.display).convert("RGB")
        path.parent.mkdir(parents=True, exist_ok=True)
        img.save(path)
        return path

    def xdotool(self, *args, check=False):
        return subprocess.run(["xdotool", *args], env=self.env, capture_output=True, timeout=60, check=check)

    def wait_window(self, pattern: str, timeout: float = 90.0) -> str | None:
        end = time.time() + timeout
        while time.time() < end:
            r = self.xdotool("search", "--onlyvisible", "--name", pattern)
            ids = r.stdout.decode().split()
            if ids:
                return ids[-1]
            time.sleep(0.5)
        return None

    # desktop ---------------------------------------------------------------------------------
    def desktop_start(self):
        for app in ["debian-xterm", "org.xfce.mousepad", "pcmanfm", "libreoffice-impress", "chromium",
                    "libreoffice-startcenter", "libreoffice-draw", "vim"]:
            src = Path("/usr/share/applications") / f"{app}.desktop"
            if src.exists():
                shutil.copyfile(src, self.home / "Desktop" / src.name)
        for doc in ["README.md", "notes.txt"]:
            (self.home / "Desktop" / doc).write_text("notes\n")
        for sub in ["Documents", "Pictures", "Projects"]:
            (self.home / "Desktop" / sub).mkdir(exist_ok=True)
        cfg = self.home / ".config" / "tint2"
        cfg.mkdir(parents=True, exist_ok=True)
        rc = Path("/etc/xdg/tint2/tint2rc").read_text()
        (cfg / "tint2rc").write_text(re.sub(r"^panel_items = .*$", "panel_items = LTS", rc, flags=re.M))  # no clock
        pcfg = self.home / ".config" / "pcmanfm" / "default"
        pcfg.mkdir(parents=True, exist_ok=True)
        (pcfg / "desktop-items-0.conf").write_text("[*]\nwallpaper_mode=crop\nwallpaper_common=1\n"
                                                   "desktop_bg=#000000\ndesktop_fg=#ffffff\ndesktop_shadow=#000000\n"
                                                   "show_wm_menu=0\nshow_documents=0\nshow_trash=1\nshow_mounts=0\n")
        self.start(["pcmanfm", "--desktop"])
        self.start(["tint2"])
        time.sleep(3.0)

    def desktop_shot(self, wall: Path, mode: str, png: Path, deck: str, window: bool | None = None) -> dict:
        subprocess.run(["pcmanfm", f"--set-wallpaper={wall}", f"--wallpaper-mode={mode}"], env=self.env,
                       timeout=60, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        p = None
        before = set(self.xdotool("search", "--onlyvisible", "--name", ".").stdout.decode().split())
        if window is not None:
            argv = (["xterm", "-geometry", "80x20+300+180", "-e", "less", "/etc/services"] if window
                    else ["pcmanfm", "--new-win", "/usr/share/doc"])
            p = self.start(argv)
            time.sleep(2.0)
        time.sleep(0.8)
        self.grab(png)
        if p is not None:
            self.stop(p)
            self.close_new_windows(before)
        return {"name": png.stem, "deck": deck, "png": png}

    def app_shot(self, argv, png: Path, deck: str, wait: float, maximize: bool = False, env=None) -> dict:
        before = set(self.xdotool("search", "--onlyvisible", "--name", ".").stdout.decode().split())
        p = self.start(argv, env=env)
        time.sleep(wait)
        if maximize:
            self.xdotool("key", "super+Up")
            win = self.xdotool("getactivewindow").stdout.decode().strip()
            if win:
                self.xdotool("windowsize", win, "100%", "100%")
                self.xdotool("windowmove", win, "0", "0")
            time.sleep(0.8)
        self.grab(png)
        self.stop(p)
        self.close_new_windows(before)
        return {"name": png.stem, "deck": deck, "png": png}

    def close_new_windows(self, before: set[str]) -> None:
        """Close windows that appeared since ``before`` (pcmanfm opens them in its desktop process)."""
        time.sleep(0.3)
        for win in set(self.xdotool("search", "--onlyvisible", "--name", ".").stdout.decode().split()) - before:
            self.xdotool("windowactivate", "--sync", win)
            self.xdotool("key", "--window", win, "ctrl+w")
        time.sleep(0.5)

    # impress ---------------------------------------------------------------------------------
    def impress(self, deck: Path, folder: Path, pages: int) -> list[dict]:
        profile = self.home / "lo-profile"
        argv = ["soffice", "--norestore", "--nologo", "--nodefault", f"-env:UserInstallation=file://{profile}"]
        if deck.suffix == ".pdf":
            argv += ["--infilter=impress_pdf_import"]
        p = self.start(argv + [str(deck)])
        win = self.wait_window("LibreOffice Impress", timeout=120)
        shots = []
        if win is None:
            self.stop(p)
            return shots
        time.sleep(4.0)  # let it draw the slide pane and the properties
        self.xdotool("windowactivate", "--sync", win)
        self.xdotool("mousemove", "80", "400", "click", "1")
        time.sleep(0.5)
        self.xdotool("key", "Home")  # the first slide: shot k shows page k
        time.sleep(1.0)
        stem = deck.stem
        for k in range(pages):
            png = folder / f"impress-{stem}-{k + 1:02d}.png"
            self.xdotool("mousemove", "560", "130")  # the pointer out of the way (no tooltip there)
            time.sleep(1.5)
            self.grab(png)
            shots.append({"name": png.stem, "deck": f"impress-{stem}", "png": png, "page": k + 1})
            self.xdotool("mousemove", "80", "400")
            self.xdotool("key", "Next")
            time.sleep(0.5)
        self.stop(p)
        for _ in range(40):  # let the office process go before the next document
            if subprocess.run(["pgrep", "-f", f"UserInstallation=file://{profile}"], capture_output=True).returncode:
                break
            time.sleep(0.25)
        return shots


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

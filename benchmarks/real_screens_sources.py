"""Where `real_screens.py`'s pictures come from: beamer decks and LibreOffice templates rendered
to pages, PDF manuals, programs and a browser screenshotted under Xvfb, real wallpapers
(`Sources`, a part of `real_screens.Builder`)."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from real_screens_common import (BEAMER, LANGS, LO_TEMPLATES, SOLUTIONS, THEMES, W, H)
from real_screens_frames import (_beamer_source, _slug, wallpapers, _loadable, _load_shots)
from real_screens_x import XSession


class Sources:
    """The builder's sources: each method renders or screenshots one kind of picture."""

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

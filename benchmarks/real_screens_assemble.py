"""`real_screens.py`'s last steps: composing the class folders from the sources and listing
the labelled pairs (`Assembly`, a part of `real_screens.Builder`)."""

from __future__ import annotations

import csv
import random
import re
import shutil
from pathlib import Path

from real_screens_common import (COUNTS, SOLUTIONS)
from real_screens_frames import (COPY_KINDS, PAIR_KINDS, _open, fullscreen, reader_view, presenter_view, no_signal, flat_frame, solid, dimmed, recorded_copy, _save, _write, words_differ, visibly_not_black, _overlay)


class Assembly:
    """Class folders and pairs.csv from what the sources made."""

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


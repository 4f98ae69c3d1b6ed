"""Near-duplicate detection measured as a detector, on real screenshots: tk's former test against the new one.

The data is the set `benchmarks/real_screens.py` builds (~/.cache/tk/real_screens): its
``pairs.csv`` (frames and their recorded copies — JPEG, shifted, cursor, notification toast —
against distinct-but-similar frames: other pages of one deck, black frames against dark
wallpapers, a blue screen against "No Signal", ...) and its seven class folders (with recorded
copies inside).

* **former**: the 64-bit perceptual hash (`imagehash.phash`) of the pixels decoded at 64×64 (what
  `tk data check` and `tk data doctor` hashed; ``--baseline-size 128`` for what the quickstart
  recipe's run hashed), near-duplicates within 8 bits, groups as connected components;
* **new**: `toolkit.data.duplicates` — frame features from the file, candidate pairs, the
  same-frame test on each, complete linkage.

It prints, in one run: recall of the "same frame" pairs and the false-pair rate on distinct
pairs (with 95% Wilson intervals, and per kind of pair), then both detectors' groups on the
class folders (copies kept with their original, groups that join distinct originals, label
conflicts, the largest group), then the cost: features plus grouping against decoding the
same images to 128 px for training, one thread (CPU time and wall clock).

    python benchmarks/real_screens.py            # once (minutes)
    python benchmarks/near_duplicates.py --json benchmarks/results/near_duplicates.json

``--fixtures DIR`` writes the one-word fixtures of ``tests/data/test_one_word_slides.py`` from the
built set instead: two pages of one beamer deck that differ in one word, and recorded copies of
the first (shifted, with the cursor, with a toast; seeded), at the set's 1280x720.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

DEFAULT_SET = Path(os.environ.get("TK_CACHE_DIR") or Path.home() / ".cache" / "tk") / "real_screens"


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (max(0.0, c - h), min(1.0, c + h))


def former_hashes(paths: list[Path], size: int):
    """The former detector's hashes: phash of the decoded row at ``size`` (bicubic, squeezed)."""
    import numpy as np

    from toolkit.core.geometry import resize_image
    from toolkit.data.duplicates import image_hash
    from toolkit.data.images import load_rgb

    out = np.zeros(len(paths), np.uint64)
    for i, p in enumerate(paths):
        img = resize_image(load_rgb(str(p), reduce_for=(size, size)), (size, size), "bicubic")
        out[i] = image_hash(np.asarray(img, dtype=np.uint8).transpose(2, 0, 1))
    return out


def new_features(paths: list[Path]):
    import numpy as np

    from toolkit.data.duplicates import decode_features

    return np.stack([decode_features(str(p)) for p in paths])


def pair_level(root: Path, rows: list[dict], baseline_size: int) -> dict:
    import numpy as np

    from toolkit.data.duplicates import candidate_pairs, same_frame_pairs

    paths = sorted({r["a"] for r in rows} | {r["b"] for r in rows})
    index = {p: i for i, p in enumerate(paths)}
    files = [root / p for p in paths]
    hashes = former_hashes(files, baseline_size)
    features = new_features(files)
    ij = np.array([[index[r["a"]], index[r["b"]]] for r in rows])
    former = np.bitwise_count(hashes[ij[:, 0]] ^ hashes[ij[:, 1]]) <= 8
    same, changed = same_frame_pairs(features, ij)
    # the candidate stage must let the pair through too (it looks at the pair alone here)
    candidate = np.array([len(candidate_pairs(features[[i, j]])) == 1 for i, j in ij.tolist()])
    new = same & candidate
    labels = np.array([r["label"] for r in rows])
    kinds = np.array([r["kind"] for r in rows])
    result: dict = {"pairs": len(rows)}
    for name, said in (("former", former), ("new", new)):
        s, d = labels == "same", labels == "distinct"
        tp, fp = int(said[s].sum()), int(said[d].sum())
        result[name] = {
            "recall": tp / s.sum(), "recall_ci": wilson(tp, int(s.sum())), "same_pairs": int(s.sum()),
            "false_pair_rate": fp / d.sum(), "false_pair_rate_ci": wilson(fp, int(d.sum())),
            "distinct_pairs": int(d.sum()),
            "by_kind": {k: {"label": str(labels[kinds == k][0]), "pairs": int((kinds == k).sum()),
                            "said_same": int(said[kinds == k].sum())} for k in sorted(set(kinds.tolist()))},
            "misses": [rows[i]["b"] for i in np.nonzero(s & ~said)[0]][:20],
            "false_pairs": [[rows[i]["a"], rows[i]["b"]] for i in np.nonzero(d & said)[0]][:20],
        }
    return result


def group_level(root: Path, baseline_size: int) -> dict:
    from toolkit.data.duplicates import group_report, near_duplicate_groups, same_frame_groups

    manifest = json.loads((root / "manifest.json").read_text())
    copy_of = {c["path"]: c["copy_of"] for c in manifest["copies_in_classes"]}
    paths = sorted(str(p.relative_to(root)) for p in (root / "classes").rglob("*.*"))
    classes = sorted({p.split("/")[1] for p in paths})
    labels = [classes.index(p.split("/")[1]) for p in paths]
    index = {p: i for i, p in enumerate(paths)}
    files = [root / p for p in paths]
    out = {"images": len(paths), "copies": len(copy_of)}
    groups = {"former": near_duplicate_groups(former_hashes(files, baseline_size), 8),
              "new": same_frame_groups(new_features(files))}
    for name, g in groups.items():
        report = group_report(g, labels)
        kept = sum(g[index[c]] == g[index[o]] for c, o in copy_of.items())
        originals = [i for i, p in enumerate(paths) if p not in copy_of]
        per_group = Counter(g[i] for i in originals)
        joined = {k: v for k, v in per_group.items() if v > 1}
        out[name] = {"groups": len(report.groups), "images_in_groups": report.images_in_groups,
                     "largest": len(report.groups[0]) if report.groups else 0,
                     "label_conflicts": len(report.conflicts),
                     "conflicts": [[paths[i] for i in grp] for grp in report.conflicts][:10],
                     "copies_with_their_original": int(kept),
                     "groups_joining_distinct_originals": len(joined),
                     "most_distinct_originals_in_a_group": max(joined.values(), default=1),
                     "joined_examples": [[paths[i] for i in originals if g[i] == k][:8]
                                         for k, _ in sorted(joined.items(), key=lambda kv: -kv[1])[:6]]}
    return out


def cost(files: list[str]) -> dict:
    """Decoding ``files`` to 128 px (what training needs) against computing the frame features
    (from the decoded image where it is the decode they need) and grouping, one thread, the same
    images. Each step is timed by the wall clock and by this process's CPU time: on a shared
    machine the CPU time is what the step itself cost."""
    import numpy as np

    from toolkit.core.geometry import resize_image
    from toolkit.data.duplicates import decode_features, image_hash, same_frame_groups
    from toolkit.data.images import load_rgb

    hw = (128, 128)
    wall = {"decode": 0.0, "features": 0.0, "former": 0.0}
    cpu = dict(wall)

    def clocks() -> tuple[float, float]:
        return time.perf_counter(), time.process_time()

    def add(step: str, since: tuple[float, float]) -> None:
        w, c = clocks()
        wall[step] += w - since[0]
        cpu[step] += c - since[1]

    features = []
    for p in files:
        t = clocks()
        img = load_rgb(p, reduce_for=hw)
        row = np.asarray(resize_image(img, hw, "bicubic"), dtype=np.uint8)
        add("decode", t)
        t = clocks()
        features.append(decode_features(p, img, hw))
        add("features", t)
        t = clocks()
        image_hash(row.transpose(2, 0, 1))
        add("former", t)
    import scipy.ndimage  # noqa: F401  (imported once per process either way: not the grouping's cost)

    wall["grouping"] = cpu["grouping"] = 0.0
    t = clocks()
    groups = same_frame_groups(np.stack(features))
    add("grouping", t)
    return {"images": len(files), "groups": len(set(groups)), "decode_s": wall["decode"], "features_s": wall["features"],
            "grouping_s": wall["grouping"], "former_hash_s": wall["former"],
            "ratio": (wall["features"] + wall["grouping"]) / wall["decode"], "former_ratio": wall["former"] / wall["decode"],
            "cpu_s": cpu, "ratio_cpu": (cpu["features"] + cpu["grouping"]) / cpu["decode"],
            "features_ratio_cpu": cpu["features"] / cpu["decode"], "grouping_ratio_cpu": cpu["grouping"] / cpu["decode"]}


def recorded_runs(root: Path, work: Path, slides: int = 10, frames: int = 30, seed: int = 0) -> list[str]:
    """Runs of recorded frames, as a screen recording cut into screenshots gives them: ``frames``
    JPEG re-encodes (quality 60–90, seeded) of each of the first ``slides`` slides of the set,
    written to ``work`` — every pair within a run is the same frame, so each takes the whole
    test (the class folders' cost is dominated by distinct pages refused early instead)."""
    import random

    from PIL import Image

    rng = random.Random(seed)
    files = []
    for k, src in enumerate(sorted((root / "classes" / "slide").iterdir())[:slides]):
        with Image.open(src) as im:
            base = im.convert("RGB")
        for f in range(frames):
            path = work / f"run{k:02d}_frame{f:03d}.jpg"
            base.save(path, "JPEG", quality=rng.randint(60, 90))
            files.append(str(path))
    return files


#: Two adjacent pages of one beamer deck in the set that differ in one word ("super" / "génial").
ONE_WORD_PAGES = ("pairs/img/0057-deck-conference-fr-Madrid-43_p12.png", "pairs/img/0058-deck-conference-fr-Madrid-43_p13.png")


def write_fixtures(root: Path, target: Path) -> list[Path]:
    """The one-word fixtures (module docstring), made with `real_screens.recorded_copy`."""
    import random

    from PIL import Image

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from real_screens import recorded_copy

    target.mkdir(parents=True, exist_ok=True)
    with Image.open(root / ONE_WORD_PAGES[0]) as a, Image.open(root / ONE_WORD_PAGES[1]) as b:
        page_a, page_b = a.convert("RGB"), b.convert("RGB")
    images = {"page_a.png": page_a, "page_b.png": page_b}
    for kind in ("shift", "cursor", "toast", "shift+cursor"):
        images[f"page_a_{kind.replace('+', '_')}.png"] = recorded_copy(page_a, kind, random.Random(f"one-word:{kind}"))
    written = []
    for name, img in images.items():
        img.save(target / name, optimize=True)
        written.append(target / name)
    (target / "SOURCES.txt").write_text(
        "Made by benchmarks/near_duplicates.py --fixtures from the set benchmarks/real_screens.py builds (1280x720):\n"
        "  page_a.png, page_b.png: pages 12 and 13 of the beamer template conference-ornate-20min (fr, Madrid\n"
        "    theme, 4:3; texlive-latex-recommended-doc, pdflatex): they differ in one word, 'super' / 'genial'\n"
        "  page_a_shift.png, _cursor.png, _toast.png, _shift_cursor.png: page_a as a later frame of a recording\n"
        "    (real_screens.recorded_copy: shifted 1-3 px, the Adwaita left_ptr cursor, a notification toast)\n")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", dest="root", type=Path, default=DEFAULT_SET)
    parser.add_argument("--baseline-size", type=int, default=64)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--fixtures", type=Path, help="write the one-word test fixtures to this folder and stop")
    args = parser.parse_args(argv)
    root = args.root.expanduser()
    if not (root / "pairs.csv").exists():
        print(f"{root}: no pairs.csv; build the set first: python benchmarks/real_screens.py", file=sys.stderr)
        return 1
    if args.fixtures:
        for path in write_fixtures(root, args.fixtures):
            print(f"{path} ({path.stat().st_size} bytes)")
        return 0
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    started = time.perf_counter()
    rows = list(csv.DictReader(open(root / "pairs.csv", newline="")))
    pairs = pair_level(root, rows, args.baseline_size)
    groups = group_level(root, args.baseline_size)
    spent = cost(sorted(str(p) for p in (root / "classes").rglob("*.*")))
    with tempfile.TemporaryDirectory(prefix="tk-runs-") as work:
        runs = cost(recorded_runs(root, Path(work)))
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
                 platform.processor()) if os.path.exists("/proc/cpuinfo") else platform.processor()
    result = {"machine": f"{platform.machine()}, {model}, {os.cpu_count()} cpus, python {sys.version.split()[0]}",
              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "load_before": os.getloadavg()[0],
              "set": str(root), "baseline": f"phash at {args.baseline_size}x{args.baseline_size}, <= 8 bits",
              "pairs": pairs, "groups": groups, "cost": spent, "cost_recorded_runs": runs, "seconds": time.perf_counter() - started}

    def pct(x: float) -> str:
        return f"{100 * x:.1f}%"

    print(f"Pairs from {root} ({pairs['pairs']}): same-frame recall and false pairs on distinct frames")
    for name in ("former", "new"):
        r = pairs[name]
        lo, hi = r["recall_ci"]
        flo, fhi = r["false_pair_rate_ci"]
        print(f"  {name:7s} recall {pct(r['recall'])} [{pct(lo)}-{pct(hi)}] of {r['same_pairs']}   "
              f"false pairs {pct(r['false_pair_rate'])} [{pct(flo)}-{pct(fhi)}] of {r['distinct_pairs']}")
    print("  by kind (pairs called the same frame, former / new):")
    for kind, f in pairs["former"]["by_kind"].items():
        n = pairs["new"]["by_kind"][kind]
        print(f"    {f['label']:8s} {kind:26s} {f['said_same']:4d} / {n['said_same']:4d} of {f['pairs']}")
    print(f"Groups on the class folders ({groups['images']} images, {groups['copies']} recorded copies):")
    for name in ("former", "new"):
        g = groups[name]
        print(f"  {name:7s} {g['groups']} groups ({g['images_in_groups']} images, largest {g['largest']}), "
              f"{g['label_conflicts']} label conflicts; copies with their original {g['copies_with_their_original']}"
              f"/{groups['copies']}; groups joining distinct originals {g['groups_joining_distinct_originals']} "
              f"(at most {g['most_distinct_originals_in_a_group']} in one)")
    c, cc = spent, spent["cpu_s"]
    print(f"Cost, one thread, {c['images']} images (CPU seconds of this process; wall clock in brackets): decoding "
          f"to 128 px {cc['decode']:.1f} s [{c['decode_s']:.1f}]; frame features {cc['features']:.2f} s "
          f"[{c['features_s']:.2f}] + grouping {cc['grouping']:.2f} s [{c['grouping_s']:.2f}] = "
          f"{pct(c['ratio_cpu'])} of decoding [{pct(c['ratio'])}] (features {pct(c['features_ratio_cpu'])}, grouping "
          f"{pct(c['grouping_ratio_cpu'])}; former hash: {pct(c['former_ratio'])})")
    c, cc = runs, runs["cpu_s"]
    print(f"Runs of recorded frames ({c['images']} JPEGs: 10 slides x 30 re-encodes; {c['groups']} groups, 10 expected): "
          f"decoding {cc['decode']:.1f} s; features {cc['features']:.2f} s + grouping {cc['grouping']:.2f} s = "
          f"{pct(c['ratio_cpu'])} of decoding (features {pct(c['features_ratio_cpu'])}, grouping "
          f"{pct(c['grouping_ratio_cpu'])})")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

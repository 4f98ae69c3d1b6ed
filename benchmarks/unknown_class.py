"""Does a class left out of training come out ``unknown``? One `tk run` per left-out class.

The "unknown" answer (`[calibration] unknown = true`) is a threshold on the calibrated maximum
probability, chosen on the validation split; here for 90% coverage (``target_coverage = 0.9``:
10% of validation images answered ``unknown``). This measures, on generated 16:9 screens
(tk_screens, drawn at 448×256, trained at 64×112), how often images of a class the model never
saw get that answer, against new images of the classes it knows:

* for each class L of the reference workload, train on the other classes, **without L and
  without the catch-all class** ``not_slide_others`` ("anything else": by its label a screen
  of no known kind belongs to it, so leaving it out makes ``unknown`` the only right answer
  for L; ``--with-catch-all`` keeps it in, and measures how often L is still refused);
* draw new images (another seed) of L and of the known classes, run ``tk predict`` on best.pt,
  and count the ``unknown`` answers;
* report, from metrics.json, how well each score separates L's images from the validation
  images (AUROC of the calibrated maximum probability and of the energy score,
  ``data.unknown_root`` pointing at a third sample of L: 100 images drawn with another seed
  than the ones counted, which leave a threshold chosen for coverage where validation puts
  it, up to the gap between two neighbouring validation scores).

    python benchmarks/unknown_class.py                                   # about 25 minutes on 2 cores
    python benchmarks/unknown_class.py --json benchmarks/results/unknown_class.json
    python benchmarks/unknown_class.py --left-out may_be_slide_powerpoint_edit_mode   # one class
    python benchmarks/unknown_class.py --with-catch-all     # not_slide_others in training too

It also records, per left-out class, which known class was the likeliest for its images
(``left_out_likeliest``).
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

CATCH_ALL = "not_slide_others"

RECIPE = """\
[data]
source = "screens"
counts = {counts}
size = [448, 256]
image_size = [64, 112]
val_fraction = 0.2
seed = 0
unknown_root = "{unknown_root}"

[model]
backbone = "{backbone}"
pretrained = false

[[augment.ops]]
name = "hflip"

[[augment.ops]]
name = "color_jitter"
brightness = 0.2
contrast = 0.2
saturation = 0.2

[optim]
name = "adamw"
lr = 0.002
weight_decay = 0.05

[schedule]
name = "cosine"
warmup_epochs = 1

[train]
epochs = {epochs}
batch_size = 64
device = "cpu"
threads = {threads}
early_stopping = false

[calibration]
unknown = true
target_coverage = {coverage}
"""


def predict(model: Path, images: Path, out: Path) -> tuple[float, dict[str, int]]:
    """`tk predict` on a folder: the share of ``unknown`` answers, and how many images each
    class was the likeliest for (``best_class``, whether answered or not)."""
    subprocess.run([sys.executable, "-m", "toolkit.cli", "predict", str(model), str(images), "--out", str(out)],
                   check=True, stdout=subprocess.DEVNULL)
    with out.open(newline="") as f:
        rows = list(csv.DictReader(f))
    return sum(r["class"] == "unknown" for r in rows) / len(rows), dict(Counter(r["best_class"] for r in rows))


def main(argv: list[str] | None = None) -> int:
    from tk_screens import CLASSES, generate_dataset

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--left-out", nargs="+", default=[c for c in CLASSES if c != CATCH_ALL], choices=CLASSES)
    parser.add_argument("--per-class", type=int, default=375, help="generated images per known class (default 375)")
    parser.add_argument("--test", type=int, default=200, help="new images of the left-out and of the known classes")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--coverage", type=float, default=0.9)
    parser.add_argument("--backbone", default="resnet10t")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--with-catch-all", action="store_true",
                        help=f"train with {CATCH_ALL} too (where do left-out screens go then?)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    from toolkit.engine.train import run_recipe
    from toolkit.recipe.load import load_recipe

    rows = {}
    with tempfile.TemporaryDirectory(prefix="tk-unknown-") as tmp:
        work = Path(tmp)
        for left in args.left_out:
            known = [c for c in CLASSES if c != left and (args.with_catch_all or c != CATCH_ALL)]
            counts = "{ " + ", ".join(f"{c} = {args.per_class}" for c in known) + " }"
            here = work / left
            held = generate_dataset(here / "left_out", counts={left: args.test}, size=(448, 256), seed=1)
            new = generate_dataset(here / "known", counts={c: args.test // len(known) for c in known},
                                   size=(448, 256), seed=1)
            scored = generate_dataset(here / "unknown_root", counts={left: 100}, size=(448, 256), seed=2)
            recipe = here / "recipe.toml"
            recipe.write_text(RECIPE.format(counts=counts, unknown_root=scored, backbone=args.backbone,
                                            epochs=args.epochs, threads=args.threads, coverage=args.coverage))
            start = time.perf_counter()
            result = run_recipe(load_recipe(recipe), out=here / "run", quiet=True)
            seconds = time.perf_counter() - start
            cal = result.metrics["calibration"]
            left_out_unknown, likeliest = predict(here / "run" / "best.pt", held, here / "left_out.csv")
            known_unknown, _ = predict(here / "run" / "best.pt", new, here / "known.csv")
            r = rows[left] = {
                "known_classes": known, "val_accuracy": result.metrics["accuracy"],
                "threshold": cal["unknown"]["threshold"], "val_coverage": cal["unknown"]["coverage"],
                "left_out_unknown": left_out_unknown, "known_unknown": known_unknown,
                "left_out_likeliest": likeliest,
                "auroc_max_probability": cal["separation"]["auroc_max_probability"],
                "auroc_energy": cal["separation"]["auroc_energy"], "train_seconds": seconds}
            print(f"{left:<38} unknown: left-out {r['left_out_unknown']:.0%}, known {r['known_unknown']:.0%}  "
                  f"(val accuracy {r['val_accuracy']:.3f}; AUROC max-probability {r['auroc_max_probability']:.3f}, "
                  f"energy {r['auroc_energy']:.3f}; {seconds:.0f} s)", flush=True)
    report = {"machine": f"{platform.machine()}, python {sys.version.split()[0]}", "backbone": args.backbone,
              "epochs": args.epochs, "per_class": args.per_class, "test_images": args.test,
              "target_coverage": args.coverage, "with_catch_all": args.with_catch_all, "rows": rows}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

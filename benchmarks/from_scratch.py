"""From scratch on real screenshots: today's default recipe against the candidate, in one run.

Trains two recipes without pretrained weights on the real-content set that
``benchmarks/real_screens.py`` builds (504 screenshots of real programs at 1280×720, seven
classes, ``~/.cache/tk/real_screens/classes``), each with the real CLI (``tk run`` in a
subprocess), on the same split (same ``data.seed`` and ``data.val_fraction``; each frame kept on
one side with its recorded copies by ``data.group_by`` on the set's file names, so that the split
is the same whatever each recipe's input size), one after the other:

* **today**: the settings of ``recipes/quickstart.toml``, what the README told a user without
  hub access to train (ResNet-10-T at 128×128 squeezed, inverse-frequency class weights,
  15 epochs), with its ``[data]`` pointed at the folder;
* **candidate**: ``recipes/slides_scratch.toml`` (``--candidate`` for another recipe file).

For each it prints validation accuracy, macro-F1 and per-class F1 with their 95% intervals (from
the run's ``metrics.json``: Wilson intervals and a seeded bootstrap, `toolkit.engine.metrics`),
the worst classes, the training time, then ``tk compare`` of the two runs (McNemar's exact test
on the images only one of them gets right). The runs stay under ``--out`` (their
``report.html`` shows the confusion matrix and the misclassified images).

    python benchmarks/real_screens.py                     # the set, once (about 10 minutes)
    python benchmarks/from_scratch.py                     # about 15 minutes on a 2-vCPU VM
    python benchmarks/from_scratch.py --json              # also benchmarks/results/from_scratch.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
RECIPES = HERE.parent / "recipes"
DEFAULT_DATA = Path(os.environ.get("TK_CACHE_DIR") or Path.home() / ".cache" / "tk") / "real_screens" / "classes"
DEFAULT_JSON = HERE / "results" / "from_scratch.json"
WORST = 3
#: one group per frame and its recorded copies (``copy-<kind>-of-<original>``, a JPEG copy as .jpg): the
#: split then depends on the file names and the seed alone, the same for every input size and recipe
GROUP_BY = r"^[^/]+/(?:copy-[a-z+]+-of-)?(.+)\.[a-z]+$"


def tk_command() -> list[str]:
    """The installed ``tk`` beside this interpreter, as a user runs it (else ``python -m toolkit.cli``)."""
    script = Path(sys.executable).with_name("tk")
    return [str(script)] if script.exists() else [sys.executable, "-m", "toolkit.cli"]


def today_recipe(path: Path, data: Path) -> Path:
    """``recipes/quickstart.toml``'s settings with its generated dataset replaced by the folder ``data``."""
    from toolkit.recipe.load import dumps_toml

    sections = tomllib.loads((RECIPES / "quickstart.toml").read_text(encoding="utf-8"))
    quick = sections["data"]
    sections["data"] = {"source": "folder", "root": str(data), "image_size": quick["image_size"],
                        "val_fraction": quick.get("val_fraction", 0.2), "seed": quick.get("seed", 0)}
    path.write_text("# recipes/quickstart.toml's settings on a folder of real screenshots (benchmarks/from_scratch.py)\n"
                    + dumps_toml(sections), encoding="utf-8")
    return path


def next_folder(root: Path) -> Path:
    """``root/1``, ``root/2`` …: the first that does not exist, so earlier results stay."""
    n = 1
    while (root / str(n)).exists():
        n += 1
    return root / str(n)


def train(name: str, recipe: Path, out: Path, sets: list[str], log: Path) -> float:
    """``tk run RECIPE --out OUT --set …`` with its output shown and logged; the wall seconds it took."""
    cmd = [*tk_command(), "run", str(recipe), "--out", str(out)]
    for s in sets:
        cmd += ["--set", s]
    print(f"\n== {name}: {' '.join(cmd)}", flush=True)
    start = time.monotonic()
    with log.open("w", encoding="utf-8") as fh:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        assert proc.stdout is not None
        for line in proc.stdout:
            fh.write(line)
            if line.startswith(("Run ", "Data:", "Split:", "Threads:", "From scratch", "Best:", "epoch ", "Error")):
                print("  " + line.rstrip(), flush=True)
        if proc.wait() != 0:
            raise SystemExit(f"{name}: tk run failed (exit {proc.returncode}); see {log}")
    return time.monotonic() - start


def summary(run_dir: Path, seconds: float) -> dict:
    """What the report shows of one run, from its ``metrics.json`` and ``recipe.toml``."""
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    recipe = tomllib.loads((run_dir / "recipe.toml").read_text(encoding="utf-8"))
    per_class = {name: {k: row[k] for k in ("f1", "f1_ci", "precision", "recall", "support")}
                 for name, row in metrics["per_class"].items()}
    ranked = sorted((c for c in per_class if per_class[c]["support"]), key=lambda c: (per_class[c]["f1"], c))
    history = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines() if line.strip()]
    return {"run_dir": str(run_dir), "seconds": round(seconds, 1), "epochs": len(history),
            "best_epoch": metrics.get("best_epoch"), "backbone": recipe["model"]["backbone"],
            "image_size": recipe["data"]["image_size"], "resize": recipe["data"].get("resize"),
            "threads": recipe["train"].get("threads"), "val_images": metrics["num_samples"],
            "accuracy": metrics["accuracy"], "accuracy_ci": metrics["accuracy_ci"],
            "macro_f1": metrics["macro_f1"], "macro_f1_ci": metrics["macro_f1_ci"],
            "per_class": per_class, "worst": ranked[:WORST], "confusion_matrix": metrics["confusion_matrix"],
            "class_names": metrics["class_names"]}


def size_text(size) -> str:
    return f"{size[0]}×{size[1]}" if isinstance(size, list) else f"{size}×{size}"


def report(rows: dict[str, dict]) -> None:
    """The side-by-side table: overall figures, then F1 per class with intervals."""
    from toolkit.engine.metrics import ci_text

    names = list(rows)
    first = rows[names[0]]
    width, left = 30, 4 + max(len(f"F1 {c} ({first['per_class'][c]['support']})") for c in first["class_names"])
    print("\n" + " " * left + "".join(f"{n:<{width}}" for n in names))

    def line(label: str, cells: list[str]) -> None:
        print(f"{label:<{left}}" + "".join(f"{c:<{width}}" for c in cells))

    line("input (h×w), backbone", [f"{size_text(r['image_size'])} {r['backbone']}" for r in rows.values()])
    line("epochs (best), training time",
         [f"{r['epochs']} ({r['best_epoch']}), {r['seconds'] / 60:.1f} min" for r in rows.values()])
    line("accuracy", [f"{r['accuracy']:.3f}{ci_text(r['accuracy_ci'])}" for r in rows.values()])
    line("macro-F1", [f"{r['macro_f1']:.3f}{ci_text(r['macro_f1_ci'])}" for r in rows.values()])
    for c in first["class_names"]:
        line(f"F1 {c} ({first['per_class'][c]['support']})",
             [f"{r['per_class'][c]['f1']:.3f}{ci_text(r['per_class'][c]['f1_ci'])}" for r in rows.values()])
    for n, r in rows.items():
        worst = ", ".join(f"{c} {r['per_class'][c]['f1']:.2f}" for c in r["worst"])
        print(f"worst classes, {n}: {worst}")
    print(f"({first['val_images']} validation images, the same for both; 95% intervals)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help=f"class folders (default {DEFAULT_DATA})")
    parser.add_argument("--candidate", type=Path, default=RECIPES / "slides_scratch.toml",
                        help="the recipe to compare with today's (default recipes/slides_scratch.toml)")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                        help="a --set for the candidate only (repeatable), to try a variant")
    parser.add_argument("--seed", type=int, default=0, help="data.seed of both runs: one split (default 0)")
    parser.add_argument("--val-fraction", type=float, default=0.2, help="data.val_fraction of both (default 0.2)")
    parser.add_argument("--out", type=Path, default=Path("runs/from_scratch"),
                        help="runs go to OUT/<n>/{today,candidate} (default runs/from_scratch)")
    parser.add_argument("--json", nargs="?", type=Path, const=DEFAULT_JSON, default=None,
                        help=f"write the results as JSON (default {DEFAULT_JSON.relative_to(HERE.parent)})")
    args = parser.parse_args(argv)

    data = args.data.expanduser().resolve()
    if not data.is_dir():
        raise SystemExit(f"{data}: no such folder; build the real screenshots first: python benchmarks/real_screens.py")
    images = sum(1 for p in data.rglob("*") if p.is_file())
    work = next_folder(args.out)
    work.mkdir(parents=True)
    split = [f"data.seed={args.seed}", f"data.val_fraction={args.val_fraction}", f"data.group_by={json.dumps(GROUP_BY)}"]
    plan = {
        "today": (today_recipe(work / "today.toml", data), split),
        "candidate": (args.candidate, [f"data.root={json.dumps(str(data))}", *split, *args.sets]),
    }
    print(f"{images} images in {data}; runs in {work}; {os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    load_before = os.getloadavg()
    started = time.monotonic()
    rows = {}
    for name, (recipe, sets) in plan.items():
        seconds = train(name, recipe, work / name, sets, work / f"{name}.log")
        rows[name] = {"recipe": str(recipe), "sets": sets, **summary(work / name, seconds)}
    report(rows)

    compare = subprocess.run([*tk_command(), "compare", str(work / "today"), str(work / "candidate"),
                              "--png", str(work / "compare.png")], capture_output=True, text=True,
                             env={**os.environ, "COLUMNS": "200"})
    print("\n$ tk compare today candidate\n" + compare.stdout.rstrip())
    from toolkit.assess.compare import compare_runs, paired_tests

    paired = paired_tests(compare_runs([work / "today", work / "candidate"]))
    total = time.monotonic() - started
    print(f"\nTotal {total / 60:.1f} min wall (load average {' '.join(f'{v:.1f}' for v in load_before)} at the start, "
          f"{' '.join(f'{v:.1f}' for v in os.getloadavg())} at the end).")
    if args.json:
        result = {"benchmark": "from_scratch", "data": str(data), "images": images, "seed": args.seed,
                  "val_fraction": args.val_fraction, "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
                  f"python {sys.version.split()[0]}", "load_average_start": load_before,
                  "load_average_end": os.getloadavg(), "total_seconds": round(total, 1), "runs": rows,
                  "paired": [{k: v for k, v in p.items() if k != "significant"} | {"significant": bool(p.get("significant"))}
                             for p in paired]}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        print(f"Wrote {args.json}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

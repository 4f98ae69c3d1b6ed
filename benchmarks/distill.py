"""Does distillation pay? The same small student, trained alone and taught by a bigger teacher.

On the generated screen-state dataset (`tk_screens`, all seven classes), in one run:

1. a teacher (ResNet-18 by default) is trained from scratch with `tk`'s engine (`run_recipe`);
2. the student (MobileNetV3-Small 0.5 by default) is trained alone with cross-entropy, once per
   seed;
3. the same student, same seeds, same epochs, same augmentation and optimiser, is trained with
   ``[loss] name = "distill"`` and ``teacher = <the teacher's best.pt>``.

Both students are scored on the held-out test split with the weights of their best validation
epoch. Everything runs offline and from scratch (no hub weights); the recipes are written
next to the results, so any row can be re-run with `tk run`. Results: ``<out>/distill.json``
and a Markdown table on stdout.

    python benchmarks/distill.py                      # the defaults of the README figures
    python benchmarks/distill.py --seeds 0 1 --student-epochs 10   # quicker
    python benchmarks/distill.py --teacher-checkpoint runs/bench-distill/runs/teacher/best.pt   # reuse a teacher
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=REPO / "runs" / "bench-distill", help="working folder")
    p.add_argument("--per-class", type=int, default=60, help="generated screens per class (7 classes)")
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--teacher", default="resnet18")
    p.add_argument("--student", default="mobilenetv3_small_050")
    p.add_argument("--teacher-epochs", type=int, default=25)
    p.add_argument("--student-epochs", type=int, default=25)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--temperature", type=float, default=4.0)
    p.add_argument("--alpha", type=float, default=0.7)
    p.add_argument("--device", default="auto")
    p.add_argument("--teacher-checkpoint", type=Path, default=None,
                   help="reuse this teacher run's best.pt (its run folder holds metrics.json) instead of training one")
    return p.parse_args(argv)


def recipe_text(args: argparse.Namespace, root: Path, backbone: str, epochs: int, seed: int, loss: str) -> str:
    """One recipe for every run; only the backbone, epochs, seed and [loss] differ."""
    return f"""# distillation benchmark: {backbone}, seed {seed}
[data]
root = "{root}"
image_size = {args.image_size}
val_fraction = 0.2
test_fraction = 0.3
seed = 0

[model]
backbone = "{backbone}"
pretrained = false

[[augment.ops]]
name = "color_jitter"

[optim]
name = "adamw"
lr = 2e-3
weight_decay = 1e-4

[schedule]
name = "cosine"
warmup_epochs = 1

[train]
epochs = {epochs}
batch_size = 32
seed = {seed}
device = "{args.device}"
early_stopping = false
best_metric = "val_accuracy"

{loss}
"""


def train(args: argparse.Namespace, name: str, text: str) -> dict:
    """Write the recipe, train it with the engine, return its test scores."""
    from toolkit.engine.train import run_recipe
    from toolkit.recipe.load import load_recipe

    path = args.out / "recipes" / f"{name}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    run_dir = args.out / "runs" / name
    shutil.rmtree(run_dir, ignore_errors=True)  # a benchmark re-run starts every run afresh
    started = time.perf_counter()
    result = run_recipe(load_recipe(path), out=run_dir, fresh=True, quiet=True)
    seconds = time.perf_counter() - started
    if result.status != "finished":
        raise SystemExit(f"{name}: run ended '{result.status}'")
    row = scores(name, result.run_dir, seconds)
    print(f"  {name:<24} test acc {row['test_accuracy']:.3f}  macro-F1 {row['test_macro_f1']:.3f}  ({seconds:.0f}s)",
          file=sys.stderr, flush=True)
    return row


def scores(name: str, run_dir: Path, seconds: float) -> dict:
    """The best-epoch validation accuracy and the test scores a run wrote to metrics.json."""
    metrics = json.loads((Path(run_dir) / "metrics.json").read_text())
    test = metrics["test"]
    return {"run": name, "run_dir": str(run_dir), "seconds": round(seconds, 1), "val_accuracy": metrics["accuracy"],
            "test_accuracy": test["accuracy"], "test_macro_f1": test["macro_f1"], "test_images": test["num_samples"]}


def summarise(rows: list[dict], key: str) -> str:
    values = [r[key] for r in rows]
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} ± {sd:.3f}"


def main(argv: list[str] | None = None) -> int:
    import torch
    from tk_screens import generate_dataset

    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    root = generate_dataset(args.out / "screens", per_class=args.per_class, size=(160, 90), seed=0)
    print(f"dataset: {root} ({7 * args.per_class} screens)", file=sys.stderr)

    if args.teacher_checkpoint:
        teacher = scores("teacher", args.teacher_checkpoint.parent, 0.0)
    else:
        teacher = train(args, "teacher", recipe_text(args, root, args.teacher, args.teacher_epochs, 0,
                                                     '[loss]\nname = "cross_entropy"'))
    teacher_ckpt = Path(teacher["run_dir"]) / "best.pt"
    alone, taught = [], []
    for seed in args.seeds:
        alone.append(train(args, f"student-alone-s{seed}", recipe_text(
            args, root, args.student, args.student_epochs, seed, '[loss]\nname = "cross_entropy"')))
        taught.append(train(args, f"student-distilled-s{seed}", recipe_text(
            args, root, args.student, args.student_epochs, seed,
            f'[loss]\nname = "distill"\nteacher = "{teacher_ckpt}"\n'
            f"temperature = {args.temperature}\nalpha = {args.alpha}")))

    result = {"settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
              "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
              "teacher": teacher, "student_alone": alone, "student_distilled": taught}
    (args.out / "distill.json").write_text(json.dumps(result, indent=1))

    print(f"| model | runs | test accuracy | test macro-F1 |\n|---|---|---|---|")
    print(f"| teacher {args.teacher} | 1 | {teacher['test_accuracy']:.3f} | {teacher['test_macro_f1']:.3f} |")
    print(f"| student {args.student} alone | {len(alone)} | {summarise(alone, 'test_accuracy')} | "
          f"{summarise(alone, 'test_macro_f1')} |")
    print(f"| student {args.student} + distill (T={args.temperature}, α={args.alpha}) | {len(taught)} | "
          f"{summarise(taught, 'test_accuracy')} | {summarise(taught, 'test_macro_f1')} |")
    wins = sum(t["test_accuracy"] >= a["test_accuracy"] for a, t in zip(alone, taught))
    print(f"\ndistilled ≥ alone on test accuracy in {wins} of {len(alone)} seeds; "
          f"{7 * args.per_class} screens, {teacher['test_images']} test images; results in {args.out / 'distill.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

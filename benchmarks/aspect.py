"""Square-squeezed against 16:9 input, at (about) equal compute, on generated 16:9 screens.

Screens are 16:9; a square input squeezes text and layout 1.78× sideways. This trains the
same recipe twice on the same generated screenshots (tk_screens, 640×360, the seven classes of
the reference workload), one `tk run` each, in one process after the other:

* **square**: ``image_size = S`` (squeezed, tk's former only choice);
* **16:9, equal compute**: ``image_size = [H, W]`` with H×W ≈ S² pixels (the same compute per
  image for a convolutional network), ``resize = "squeeze"`` (16:9 into 16:9: nothing is
  distorted or padded);
* **16:9, same height**: ``[S, 16/9·S]``: the square's vertical detail without its distortion,
  at 1.75× the pixels.

It reports validation accuracy and macro-F1 with their 95% intervals (from metrics.json), the
pixel count, and the median batch-1 CPU latency of each ``best.pt`` (PyTorch, 1 thread,
200 calls after 20 warm-up), in one table, and the ratios.

    python benchmarks/aspect.py                                  # about 10 minutes on 2 cores
    python benchmarks/aspect.py --json benchmarks/results/aspect.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

RECIPE = """\
[data]
source = "screens"
per_class = {per_class}
size = [640, 360]
image_size = {image_size}
val_fraction = 0.25
seed = 0

[model]
backbone = "{backbone}"
pretrained = false

[[augment.ops]]
name = "color_jitter"
brightness = 0.1
contrast = 0.1

[loss]
name = "cross_entropy"
class_weights = "inverse_frequency"

[optim]
lr = 0.002

[train]
epochs = {epochs}
batch_size = 32
device = "cpu"
threads = 2
early_stopping = false
"""


def latency_ms(run_dir: Path, hw: tuple[int, int]) -> float:
    import torch

    from toolkit.engine.checkpoint import load_model

    model, _ = load_model(run_dir / "best.pt")
    model.eval()
    torch.set_num_threads(1)
    x = torch.rand(1, 3, *hw)
    times = []
    with torch.inference_mode():
        for i in range(220):
            t = time.perf_counter()
            model(x)
            if i >= 20:
                times.append(time.perf_counter() - t)
    torch.set_num_threads(2)
    return 1000 * statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--side", type=int, default=128, help="square side S (default 128)")
    parser.add_argument("--wide", default="96x168", help="16:9 input HxW with about S² pixels (default 96x168)")
    parser.add_argument("--tall", default="128x224", help="16:9 input with the square's height (default 128x224)")
    parser.add_argument("--per-class", type=int, default=60)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--backbone", default="resnet10t")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    from toolkit.engine.train import run_recipe
    from toolkit.recipe.load import load_recipe

    h, w = (int(v) for v in args.wide.lower().split("x"))
    th, tw = (int(v) for v in args.tall.lower().split("x"))
    settings = {"square (squeezed)": (args.side, (args.side, args.side)), "16:9": (f"[{h}, {w}]", (h, w)),
                "16:9, same height": (f"[{th}, {tw}]", (th, tw))}
    rows = {}
    with tempfile.TemporaryDirectory(prefix="tk-aspect-") as work:
        for name, (size, hw) in settings.items():
            path = Path(work) / f"setting{len(rows)}.toml"
            path.write_text(RECIPE.format(per_class=args.per_class, image_size=size, backbone=args.backbone,
                                          epochs=args.epochs))
            result = run_recipe(load_recipe(path), out=Path(work) / path.stem, quiet=True)
            m = result.metrics
            rows[name] = {"input (h×w)": f"{hw[0]}×{hw[1]}", "pixels": hw[0] * hw[1], "accuracy": m["accuracy"],
                          "accuracy_ci": m["accuracy_ci"], "macro_f1": m["macro_f1"], "macro_f1_ci": m["macro_f1_ci"],
                          "latency_ms": latency_ms(result.run_dir, hw), "val_images": m["num_samples"]}
    sq, wide, tall = rows["square (squeezed)"], rows["16:9"], rows["16:9, same height"]
    report = {"machine": f"{platform.machine()}, python {sys.version.split()[0]}", "backbone": args.backbone,
              "epochs": args.epochs, "images": args.per_class * 7, "rows": rows,
              "accuracy_difference": wide["accuracy"] - sq["accuracy"],
              "latency_ratio_wide_over_square": wide["latency_ms"] / sq["latency_ms"],
              "accuracy_difference_same_height": tall["accuracy"] - sq["accuracy"],
              "latency_ratio_same_height_over_square": tall["latency_ms"] / sq["latency_ms"]}
    print(f"{args.backbone}, {args.epochs} epochs, {args.per_class * 7} generated 640×360 screens "
          f"({sq['val_images']} validation images):")
    for name, r in rows.items():
        print(f"  {name:<18} {r['input (h×w)']:>8} ({r['pixels']} px)  accuracy {r['accuracy']:.3f} "
              f"[{r['accuracy_ci'][0]:.3f}–{r['accuracy_ci'][1]:.3f}]  macro-F1 {r['macro_f1']:.3f}  "
              f"batch-1 CPU {r['latency_ms']:.2f} ms")
    print(f"16:9 (equal compute) − square accuracy: {100 * report['accuracy_difference']:+.1f} points; "
          f"latency ratio {report['latency_ratio_wide_over_square']:.2f}x")
    print(f"16:9 (same height) − square accuracy: {100 * report['accuracy_difference_same_height']:+.1f} points; "
          f"latency ratio {report['latency_ratio_same_height_over_square']:.2f}x")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

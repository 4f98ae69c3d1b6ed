"""How fast screenshots decode to the model's input: PNG and JPEG, 1280×720 and 1920×1080.

For each format and size, the same generated screens (tk_screens) are decoded and resized to
256×256 (bicubic, as training does) by `toolkit.data.load_rgb` + `toolkit.core.geometry.resize_image`
on one thread: JPEGs once with full decoding (the baseline, what tk did before) and once with
reduced-scale decoding (`load_rgb(..., reduce_for=...)`, PIL's draft mode, what tk does now).
Rounds alternate; medians; images/s and the speed-up.

    python benchmarks/decode_speed.py                 # about a minute
    python benchmarks/decode_speed.py --json benchmarks/results/decode_speed.json
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    from tk_screens import CLASSES, draw_screen

    from toolkit.core.geometry import resize_image
    from toolkit.data.images import load_rgb

    target = (256, 256)
    results = {}
    with tempfile.TemporaryDirectory(prefix="tk-decode-") as work:
        for w, h in ((1280, 720), (1920, 1080)):
            rng = random.Random(0)
            shots = [draw_screen(CLASSES[i % len(CLASSES)], rng, (w, h)) for i in range(args.images)]
            for fmt in ("png", "jpeg"):
                paths = []
                for i, img in enumerate(shots):
                    p = Path(work) / f"{w}x{h}_{i}.{ 'png' if fmt == 'png' else 'jpg'}"
                    img.save(p, quality=90) if fmt == "jpeg" else img.save(p)
                    paths.append(p)
                modes = {"full decode": None, "reduced decode": target} if fmt == "jpeg" else {"full decode": None}
                times: dict[str, list[float]] = {m: [] for m in modes}
                for _ in range(args.rounds):
                    for mode, reduce in modes.items():
                        t = time.perf_counter()
                        for p in paths:
                            resize_image(load_rgb(p, reduce_for=reduce), target, "bicubic")
                        times[mode].append(time.perf_counter() - t)
                for mode in modes:
                    results[f"{fmt.upper()} {w}x{h}, {mode}"] = len(paths) / statistics.median(times[mode])
    speedups = {f"JPEG {s}": results[f"JPEG {s}, reduced decode"] / results[f"JPEG {s}, full decode"]
                for s in ("1280x720", "1920x1080")}
    print(f"decode + resize to 256x256 on one thread, {args.images} generated screenshots, median of {args.rounds}:")
    for k, v in results.items():
        print(f"  {k:<34} {v:7.1f} images/s")
    for k, v in speedups.items():
        print(f"  {k}: reduced decoding {v:.2f}x faster")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"machine": f"{platform.machine()}, python {sys.version.split()[0]}",
                                         "images_per_second": results, "speedup": speedups}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Decode speed with and without the perceptual hash that keeps near-duplicates together.

`toolkit.data.decode_images` hashes every image it decodes (`imagehash.phash` of the resized
pixels) and keeps the hash in the decode cache. This measures, in one run on the same files:

* **first decode** (no cache): PNG → 256×256 uint8, with ``hashes=False`` (the baseline, what
  decoding cost before hashing) and ``hashes=True``;
* **cached read** (the second and later runs): hashes come back from the cache entry, so the
  two settings do the same work, and the benchmark shows that.

Screens are generated at 1280×720 (tk_screens, PNG) and decoded with 2 threads, as `tk run`
does by default. Settings take turns, 5 rounds, medians reported, ratio hashed/baseline.

    python benchmarks/decode_hash.py                     # about a minute
    python benchmarks/decode_hash.py --json benchmarks/results/decode_hash.json
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=140)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    from tk_screens import generate_dataset

    from toolkit.data import decode_images, scan_folder

    work = Path(tempfile.mkdtemp(prefix="tk-decode-hash-"))
    try:
        per_class = max(1, args.images // 7)
        generate_dataset(work / "screens", per_class=per_class, size=(1280, 720), seed=0)
        paths = scan_folder(work / "screens").paths
        times: dict[str, list[float]] = {"first, no hash": [], "first, hash": [], "cached, no hash": [],
                                         "cached, hash": []}
        for r in range(args.rounds):
            for hashes in (False, True):
                label = "hash" if hashes else "no hash"
                cache = work / f"cache-{r}-{label}"
                t = time.perf_counter()
                decode_images(paths, args.size, cache_dir=None, workers=2, hashes=hashes)
                times[f"first, {label}"].append(time.perf_counter() - t)
                decode_images(paths, args.size, cache_dir=cache, workers=2, hashes=hashes)  # fill
                t = time.perf_counter()
                decode_images(paths, args.size, cache_dir=cache, workers=2, hashes=hashes)
                times[f"cached, {label}"].append(time.perf_counter() - t)
                shutil.rmtree(cache)
        med = {k: statistics.median(v) for k, v in times.items()}
        result = {
            "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, python {sys.version.split()[0]}",
            "images": len(paths), "source": "1280x720 PNG", "size": args.size, "rounds": args.rounds,
            "images_per_second": {k: len(paths) / v for k, v in med.items()},
            "ratio_first_decode": med["first, hash"] / med["first, no hash"],
            "ratio_cached_read": med["cached, hash"] / med["cached, no hash"],
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{result['images']} screenshots 1280x720 PNG -> {args.size} px, 2 threads, median of {args.rounds}:")
    for k, v in result["images_per_second"].items():
        print(f"  {k:<16} {v:8.1f} images/s")
    print(f"time with hashing / without: first decode {result['ratio_first_decode']:.3f}x, "
          f"cached read {result['ratio_cached_read']:.3f}x")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

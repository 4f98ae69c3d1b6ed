"""tk_screens: a deterministic generator of synthetic presentation-screen screenshots.

The reference workload of tk classifies screenshots of a presentation screen into 7 states
(`CLASSES`: a slide shown full screen, PowerPoint's editor, its presenter view, a desktop,
a "no signal" screen, a black or blue screen, anything else). The real screenshots cannot be
shipped, so the quickstart recipe, the tests and the benchmarks train on screens drawn here in
pure PIL/numpy: plausible layouts with a lot of variation inside each class (themes, layouts,
content, zoom, colour drift, grain, JPEG artefacts) and deliberate overlaps between classes,
so a model has to learn layout rather than memorise colours.

- `draw_screen(class_name, rng, size)` draws one RGB image from a `random.Random`.
- `generate_dataset(out_dir, per_class=... | counts=..., size=..., seed=...)` writes an
  ImageFolder-style tree, byte-identical for the same parameters, atomically, and returns at
  once when the folder already holds exactly that dataset.
- `REFERENCE_COUNTS` is the real class imbalance (3,152 images), for benchmarks.
- `python -m tk_screens OUT_DIR --per-class 50` does the same from a shell.
"""

from .draw import CLASSES, draw_screen
from .generate import REFERENCE_COUNTS, generate_dataset

__all__ = ["CLASSES", "REFERENCE_COUNTS", "draw_screen", "generate_dataset"]

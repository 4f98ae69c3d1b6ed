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
- `recorded_copy` / `write_with_copies`: near-duplicate frames (JPEG, shift, cursor), as
  recordings produce them, for tests and benchmarks of near-duplicate handling.
"""

from typing import Any

__all__ = ["CLASSES", "REFERENCE_COUNTS", "draw_screen", "generate_dataset", "recorded_copy", "write_with_copies"]

_LAZY = {"CLASSES": ".draw", "draw_screen": ".draw", "REFERENCE_COUNTS": ".generate", "generate_dataset": ".generate",
         "recorded_copy": ".copies", "write_with_copies": ".copies"}


def __getattr__(name: str) -> Any:
    """The drawing code (numpy, PIL) loads on first use: listing plugins (`tk --help`) must stay cheap."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'tk_screens' has no attribute {name!r}")



# -- the `screens` dataset source (`[data] source = "screens"`), registered for tk ------------
from toolkit import RecipeError, hookimpl  # noqa: E402  (light: no torch)


def screens(cache_dir=None, root=None, seed: int = 0, per_class: int = 0, counts: dict = {},
            size: list = [320, 180], reference: bool = False):
    """Generated screen-state screenshots (7 classes), drawn once into the cache and reused.

    ``per_class`` images of every class, or ``counts`` per class name, or ``reference = true``
    for the real imbalance (3,152 images); ``size`` is [width, height]. The images go to
    ``data.root`` when the recipe sets it, else to ``<cache>/screens/<hash of the parameters>``.
    """
    import hashlib
    import json
    from pathlib import Path

    from toolkit import scan_folder

    from .draw import CLASSES
    from .generate import REFERENCE_COUNTS, generate_dataset

    if counts:
        unknown = sorted(set(counts) - set(CLASSES))
        if unknown:
            raise RecipeError(f"data.counts: unknown class {unknown[0]!r}; the classes are {', '.join(CLASSES)}.")
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in counts.values()):
            raise RecipeError("data.counts: every count must be a whole number >= 0.")
        chosen = {c: int(counts.get(c, 0)) for c in CLASSES}
    elif reference:
        chosen = dict(REFERENCE_COUNTS)
    else:
        n = per_class or 50
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise RecipeError(f"data.per_class: must be a whole number >= 1, not {per_class!r}.")
        chosen = {c: n for c in CLASSES}
    if (not isinstance(size, (list, tuple)) or len(size) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and 16 <= v <= 4096 for v in size)):
        raise RecipeError(f"data.size: must be [width, height] in pixels (16-4096), not {size!r}.")
    if root is not None:
        out = Path(root)
    else:
        key = json.dumps({"counts": chosen, "size": list(size), "seed": seed}, sort_keys=True)
        base = Path(cache_dir) if cache_dir is not None else Path.home() / ".cache" / "tk"
        out = base / "screens" / hashlib.sha1(key.encode()).hexdigest()[:12]
    try:
        generate_dataset(out, counts=chosen, size=(size[0], size[1]), seed=seed)
    except FileExistsError:
        raise RecipeError(f"data.root: {out} holds other files; the screens source writes its own images there. "
                          f"Choose an empty folder or leave data.root unset (the cache is used).") from None
    return scan_folder(out)


@hookimpl
def tk_register_datasets(register):
    register("screens", screens, description="generated screen-state screenshots (the quickstart data)")

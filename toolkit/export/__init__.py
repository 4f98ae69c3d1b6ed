"""Export a trained model to deployable formats, check it still answers the same, and load it back.

The core drives exporter plugins through the ``exporters`` registry and never imports one:
``tk export`` (and ``tk run`` with ``export.after_train = true``) calls `export_run`, which
rebuilds the `Classifier` from the checkpoint, asks each exporter to write its file, runs the
exported model on the run's validation images next to the PyTorch model (*parity*), and
writes a ``manifest.json`` beside the model. ``tk predict``, ``tk eval`` and ``tk bench`` load
any model (checkpoint, ``.onnx``, ``.mlpackage`` …) through `load_predictor`, which picks
the exporter by file suffix.

Writing an exporter
===================

Register a factory with ``tk_register_exporters``; the factory (called with no recipe
parameters, only the ``name`` context) returns an object with:

``name: str`` and ``suffix: str``
    The format name (``"onnx"``) and the file suffix it writes (``".onnx"``,
    ``".mlpackage"``); `load_predictor` uses the suffix to find the exporter of a file.

``available() -> tuple[bool, str]``
    Whether the exporter can *write* here; when not, a short reason naming what is missing
    (``"needs the onnx package: pip install onnx"``). tk turns it into a one-line error.

``can_run() -> tuple[bool, str]``
    Whether models of this format can *run* here (Core ML needs macOS). Parity, predict and
    bench use it; ``(False, "needs macOS")`` makes them report the model as spec-checked only.

``export(model, path, *, image_size, class_names, metadata, options) -> Path``
    Write the model to ``path`` (suffix already applied; write atomically) and return it.
    ``model`` is the trained `Classifier` in eval mode on the CPU: float RGB ``N×3×S×S`` in
    0–1 in, logits out, normalisation inside. Use `deployable_model` to wrap it with the input
    scale (0–255) and softmax every tk model ships with. ``metadata`` is a flat ``dict[str,
    str]`` (class names, image size, resize rule, mean/std, input range, recipe, accuracy …,
    keys starting ``tk.``) to store in the model so that `load` can read it back;
    ``options`` holds the command-line options (``precision``, ``int8``, ``onnx_uint8``,
    ``coreml_quantize`` …): read the ones you know, ignore the others.

``describe(path) -> dict``
    Facts about a written model for the manifest: ``input`` (``name``, ``shape``, ``dtype``,
    ``range``), ``outputs``, and anything format-specific. Raising `ExportError` here means
    the written file is wrong (Core ML on Linux: the spec check).

``load(path, *, device=None) -> Predictor``
    A `Predictor` for a written model. ``device`` is one of ``devices()`` (``None``: the
    default). Raise `ExportError` with the reason when it cannot run here. A ``threads``
    keyword, when accepted, fixes the CPU thread count (`tk bench --threads`).

``devices() -> list[tuple[str, bool, str]]``
    The runtime settings `tk bench` makes rows for: ``(device, usable here, why not)`` —
    e.g. ONNX Runtime execution providers, Core ML compute units.

``tolerance(options) -> Tolerance``
    How close the exported model must be to PyTorch (see `Tolerance`); an export beyond it
    fails loudly.

Optional: ``quantize(path, out_path, calibration) -> Path`` (``--int8``: ``calibration`` is
a uint8 ``N×3×S×S`` array of training images; tk then measures accuracy and size against
the float model), and ``compute_plan(path, device) -> dict[str, int]`` (operations per compute
device, shown by `tk bench`).

A `Predictor` has ``class_names``, ``image_size``, ``resize``, ``runtime``, ``device`` and
``predict(images) -> probabilities`` where ``images`` is uint8 (or float in 0–255)
``N×3×S×S`` RGB already resized by the model's rule, and the result is float ``N×K``.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "ExportError",
    "ExportResult",
    "Predictor",
    "Tolerance",
    "deployable_model",
    "export_run",
    "load_predictor",
    "exporter_for_path",
    "resolve_source",
    "ModelSource",
]

_LAZY = {
    "ExportError": "toolkit.export.protocol",
    "ExportResult": "toolkit.export.protocol",
    "Predictor": "toolkit.export.protocol",
    "Tolerance": "toolkit.export.protocol",
    "deployable_model": "toolkit.export.wrapper",
    "export_run": "toolkit.export.run",
    "load_predictor": "toolkit.export.loading",
    "exporter_for_path": "toolkit.export.loading",
    "resolve_source": "toolkit.export.source",
    "ModelSource": "toolkit.export.source",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'toolkit.export' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value

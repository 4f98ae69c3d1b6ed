"""Core ML exporter: an ML Program (``.mlpackage``) that Xcode and Vision treat as an image classifier.

What the package holds:

* input ``image``: an `ImageType` (RGB, ``S×S``); Core ML scales its 0–255 pixels by 1/255,
  so the network inside sees the 0–1 range it was trained on, and the mean/std normalisation
  stays inside the network. Resize the photo to ``S×S`` with the training rule (bicubic, no
  crop; ``tk.resize`` in the metadata) or let Vision scale it (``.scaleFill`` matches "no crop").
* outputs ``classLabel`` and ``classLabel_probs`` from a `ClassifierConfig` with the class names,
  so Xcode's preview and ``VNClassificationObservation`` show labels and probabilities.
* fp16 compute by default (``precision = "fp32"`` to opt out); optional weight compression
  (``coreml_quantize``: ``int8`` linear, ``palettize6``/``palettize4`` k-means palettes) with
  `coremltools.optimize.coreml`.
* metadata: author, short description, version, licence, and ``user_defined_metadata`` with
  the class names, resize rule, mean/std, validation accuracy and the recipe (``tk.*`` keys).
* minimum deployment target macOS 14 / iOS 17 (`DEFAULT_TARGET`) — the oldest that runs
  everything above on an Apple-silicon Mac and on the macos-14 CI runner; ``coreml_target``
  picks a newer one (``macOS15``, ``iOS18``, ``macOS26`` …).

The network is traced with ``torch.jit.trace``, the path coremltools documents as stable
for PyTorch models. On Linux the package is written and its spec checked (`coreml_spec`), but
Core ML itself only runs on macOS, so numeric parity and prediction need a Mac.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

from toolkit import ExportError, Tolerance, deployable_model

from .coreml_runtime import COMPUTE_UNITS, CoreMLPredictor, coreml_runtime_available, quiet_coremltools

DEFAULT_TARGET = "macOS14"
QUANTIZE_CHOICES = ("int8", "palettize6", "palettize4")


def _target(name: str) -> Any:
    import coremltools as ct

    target = getattr(ct.target, name, None)
    if target is None:
        known = ", ".join(sorted({t.name for t in ct.target} | {n for n in dir(ct.target) if n.startswith("macOS")}))
        raise ExportError(f"Unknown Core ML deployment target '{name}'; coremltools offers: {known}.")
    return target


class CoreMLExporter:
    """``tk export --coreml``: see the module docstring for what the package contains."""

    name = "coreml"
    suffix = ".mlpackage"
    runtime = "Core ML"

    def __init__(self, precision: str = "fp16", quantize: str = "none", target: str = DEFAULT_TARGET):
        # the factory's options ([export.coreml]); the command-line flags win over them
        self.options = {"precision": precision, "coreml_quantize": None if quantize == "none" else quantize,
                        "coreml_target": target}

    def _opt(self, options: dict[str, Any], key: str) -> Any:
        return options.get(key) or self.options.get(key)

    def available(self) -> tuple[bool, str]:
        try:
            with quiet_coremltools():
                import coremltools  # noqa: F401
        except ImportError:
            return False, "missing dependency: the 'coremltools' package is not installed (pip install coremltools)"
        return True, ""

    def can_run(self) -> tuple[bool, str]:
        return coreml_runtime_available()

    def tolerance(self, options: dict[str, Any]) -> Tolerance:
        if self._opt(options, "coreml_quantize"):
            return Tolerance(min_agreement=0.95, max_prob_diff=0.25)
        if self._opt(options, "precision") == "fp32":
            return Tolerance(min_agreement=1.0, max_prob_diff=1e-3)
        return Tolerance(min_agreement=0.98, max_prob_diff=0.05)  # fp16 compute

    def devices(self) -> list[tuple[str, bool, str]]:
        ok, why = coreml_runtime_available()
        return [(unit, ok, why) for unit in COMPUTE_UNITS]

    # -- writing -----------------------------------------------------------------------------
    def export(self, model: Any, path: Path, *, image_size: Any, class_names: list[str], metadata: dict[str, str],
               options: dict[str, Any]) -> Path:
        import torch

        from toolkit import InputSpec

        height, width = InputSpec.of(image_size).hw
        with quiet_coremltools():
            import coremltools as ct

        options = {**options, **{k: self._opt(options, k) for k in self.options}}
        precision = options.get("precision") or "fp16"
        if precision not in ("fp16", "fp32"):
            raise ExportError(f"--precision must be fp16 or fp32, not '{precision}'.")
        compress = options.get("coreml_quantize")
        if compress and compress not in QUANTIZE_CHOICES:
            raise ExportError(f"--coreml-quantize must be one of {', '.join(QUANTIZE_CHOICES)}, not '{compress}'.")
        target = _target(options.get("coreml_target") or DEFAULT_TARGET)

        wrapped = deployable_model(model, input_scale=1.0, unknown="column")  # ImageType does the 1/255
        labels = list(class_names) + ([metadata.get("tk.unknown_label", "unknown")] if wrapped.unknown == "column" else [])
        example = torch.rand(1, 3, height, width)
        with warnings.catch_warnings(), quiet_coremltools():
            warnings.simplefilter("ignore")
            with torch.no_grad():
                traced = torch.jit.trace(wrapped, example)
            try:
                mlmodel = ct.convert(
                    traced,
                    inputs=[ct.ImageType(name="image", shape=(1, 3, height, width), scale=1.0 / 255.0,
                                         color_layout=ct.colorlayout.RGB)],
                    classifier_config=ct.ClassifierConfig(labels),
                    convert_to="mlprogram",
                    compute_precision=ct.precision.FLOAT16 if precision == "fp16" else ct.precision.FLOAT32,
                    minimum_deployment_target=target,
                )
            except Exception as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise ExportError(f"Core ML conversion failed in coremltools.convert: {first[:300]}") from exc
            asked = mlmodel.get_spec().specificationVersion
            if compress:
                mlmodel = _compress(mlmodel, compress)
        got = mlmodel.get_spec().specificationVersion
        if got > asked:  # coremltools raises the target where compressed weights need newer ops: say so
            from .coreml_spec import SPEC_VERSION_OS

            metadata = {**metadata, "tk.minimum_os_raised": f"from {SPEC_VERSION_OS.get(asked, asked)} (the target asked for, "
                                                            f"{options.get('coreml_target') or DEFAULT_TARGET}): "
                                                            f"--coreml-quantize {compress} needs it"}
        _describe_model(mlmodel, (height, width), class_names, metadata, options, precision)
        _save_package(mlmodel, Path(path))
        return Path(path)

    # -- reading -----------------------------------------------------------------------------
    def describe(self, path: Path) -> dict[str, Any]:
        from .coreml_spec import check_spec

        return check_spec(Path(path))

    def load(self, path: Path, *, device: str | None = None, threads: int | None = None) -> CoreMLPredictor:
        return CoreMLPredictor(Path(path), compute_units=device or "ALL")

    def compute_plan(self, path: Path, device: str) -> dict[str, int]:
        from .coreml_runtime import compute_plan_counts

        return compute_plan_counts(Path(path), device)


def _compress(mlmodel: Any, how: str) -> Any:
    """Weight compression after conversion (coremltools.optimize.coreml, data-free)."""
    import coremltools.optimize.coreml as cto

    try:
        if how == "int8":
            config = cto.OptimizationConfig(global_config=cto.OpLinearQuantizerConfig(mode="linear_symmetric", dtype="int8"))
            return cto.linear_quantize_weights(mlmodel, config)
        nbits = int(how.removeprefix("palettize"))
        config = cto.OptimizationConfig(global_config=cto.OpPalettizerConfig(mode="kmeans", nbits=nbits))
        return cto.palettize_weights(mlmodel, config)
    except Exception as exc:
        raise ExportError(f"Core ML compression '{how}' failed: {str(exc).splitlines()[0][:300]}") from exc


def _describe_model(mlmodel: Any, hw: tuple[int, int], class_names: list[str], metadata: dict[str, str],
                    options: dict[str, Any], precision: str) -> None:
    """Metadata Xcode shows (author, description, version, licence) and tk's own keys."""
    from toolkit import __version__

    height, width = hw
    from toolkit import InputSpec

    spec = InputSpec.of(hw, metadata.get("tk.resize"))
    rule = spec.resize
    how = ("scaled to fit, aspect ratio kept, padded black (letterbox; Vision: .scaleFit)"
           if spec.letterbox else "the whole image resized, no crop (Vision: .scaleFill)")
    accuracy = metadata.get("tk.val_accuracy")
    acc_text = f", validation accuracy {float(accuracy):.1%}" if accuracy else ""
    mlmodel.author = str(options.get("author") or f"tk {__version__}")
    mlmodel.license = str(options.get("license") or "unspecified (set with tk export --license)")
    mlmodel.version = f"{metadata.get('tk.source', 'model')} epoch {metadata.get('tk.epoch', '?')}"
    mlmodel.short_description = (
        f"{metadata.get('tk.backbone') or 'image'} classifier of {len(class_names)} classes "
        f"({', '.join(class_names[:8])}{' …' if len(class_names) > 8 else ''}){acc_text}. Trained with tk; "
        f"input {width}×{height} (width×height) RGB, {how}.")
    mlmodel.input_description["image"] = f"RGB image {width}×{height} (width×height): {how}; rule {rule}"
    mlmodel.output_description["classLabel"] = "most likely class"
    mlmodel.output_description["classLabel_probs"] = "probability of every class"
    user = mlmodel.user_defined_metadata
    for key, value in metadata.items():
        user[key] = str(value)
    user["tk.precision"] = precision
    user["tk.compression"] = str(options.get("coreml_quantize") or "none")
    user["tk.input_range"] = "[0, 255] image pixels (scaled by 1/255 in the ImageType)"
    user["com.apple.coreml.model.preview.type"] = "imageClassifier"  # Xcode's preview tab


def _save_package(mlmodel: Any, path: Path) -> None:
    """Write the package folder next to its destination, then swap it in (a killed export leaves the old one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        with quiet_coremltools():
            mlmodel.save(str(staging / path.name))
        old = None
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, old)
        os.replace(staging / path.name, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)

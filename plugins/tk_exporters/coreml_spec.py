"""Check a written ``.mlpackage`` without running it: the closest thing to parity on Linux.

`check_spec` opens the package with ``MLModel(path, skip_model_load=True)`` (which works on
any OS) and verifies what a Core ML user depends on: an ML Program, one RGB image input of
the training size, the classifier outputs with exactly the class names in order, weights
stored at the requested precision (fp16 by default; int8 or palette indices when
compressed), the deployment target, and the metadata. A mismatch is an `ExportError`; the
facts go into the manifest.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from toolkit import ExportError, InputSpec, TkError, unknown_rule

from .coreml_runtime import quiet_coremltools

# Core ML specification version → the oldest OS that runs it (coremltools' `_SPEC_VERSION` table).
SPEC_VERSION_OS = {6: "macOS 12 / iOS 15", 7: "macOS 13 / iOS 16", 8: "macOS 14 / iOS 17", 9: "macOS 15 / iOS 18",
                   10: "macOS 26 / iOS 26"}


def _class_labels(function: Any, opset: str) -> list[str]:
    """The ``classes`` operand of the program's ``classify`` op (where an ML Program keeps labels)."""
    for op in function.block_specializations[opset].operations:
        if op.type != "classify":
            continue
        value = op.inputs["classes"].arguments[0].value.immediateValue
        labels = []
        for item in value.list.values:
            strings = item.immediateValue.tensor.strings.values
            labels.extend(str(s) for s in strings)
        if not labels and value.tensor.strings.values:
            labels = [str(s) for s in value.tensor.strings.values]
        return labels
    return []


def weight_dtypes(function: Any, opset: str) -> dict[str, int]:
    """Elements of stored weights (blob-file tensors) per data type: ``{"FLOAT16": 1234567}``."""
    from coremltools.proto import MIL_pb2

    counts: dict[str, int] = {}

    def tally(value: Any) -> None:
        if value.WhichOneof("value") != "blobFileValue":
            return
        tensor = value.type.tensorType
        size = 1
        for dim in tensor.dimensions:
            size *= dim.constant.size
        name = MIL_pb2.DataType.Name(tensor.dataType)
        counts[name] = counts.get(name, 0) + size

    def visit(block: Any) -> None:
        for op in block.operations:
            for attr in op.attributes.values():
                tally(attr)
            for arg in op.inputs.values():
                for binding in arg.arguments:
                    if binding.WhichOneof("binding") == "value":
                        tally(binding.value)
            for inner in op.blocks:
                visit(inner)

    visit(function.block_specializations[opset])
    return counts


def check_spec(path: Path) -> dict[str, Any]:
    """Facts of the package for the manifest, after checking them (see the module docstring)."""
    with quiet_coremltools():
        import coremltools as ct

        try:
            model = ct.models.MLModel(str(path), skip_model_load=True)
        except Exception as exc:
            raise ExportError(f"{path}: not a readable Core ML package ({str(exc).splitlines()[0][:200]}).") from exc
    spec = model.get_spec()
    where = str(path)
    if spec.WhichOneof("Type") != "mlProgram":
        raise ExportError(f"{where}: expected an ML Program, found a '{spec.WhichOneof('Type')}' model.")
    meta = dict(spec.description.metadata.userDefined)
    class_names = json.loads(meta.get("tk.class_names", "[]"))
    try:
        height, width = InputSpec.from_metadata(meta, where).hw
    except TkError as exc:
        raise ExportError(str(exc)) from None

    inputs = spec.description.input
    if len(inputs) != 1 or inputs[0].type.WhichOneof("Type") != "imageType":
        raise ExportError(f"{where}: expected one image input, found {[i.name for i in inputs]}.")
    image = inputs[0].type.imageType
    color = ct.proto.FeatureTypes_pb2.ImageFeatureType.ColorSpace.Name(image.colorSpace)
    if color != "RGB" or (image.width, image.height) != (width, height):
        raise ExportError(f"{where}: image input is {color} {image.width}×{image.height}, expected RGB "
                          f"{width}×{height} (width×height).")

    function = spec.mlProgram.functions["main"]
    opset = function.opset
    labels = _class_labels(function, opset)
    threshold, unknown_label = unknown_rule(meta)
    expected = class_names + ([unknown_label] if threshold > 0 else [])
    if labels != expected:
        raise ExportError(f"{where}: class labels in the model {labels} differ from the run's {expected}.")
    if not spec.description.predictedFeatureName or not spec.description.predictedProbabilitiesName:
        raise ExportError(f"{where}: the model is not a classifier (no predicted label/probabilities outputs).")

    weights = weight_dtypes(function, opset)
    precision = meta.get("tk.precision", "fp16")
    compression = meta.get("tk.compression", "none")
    floats = {k: v for k, v in weights.items() if k.startswith("FLOAT")}
    if compression == "none":
        expected = "FLOAT16" if precision == "fp16" else "FLOAT32"
        dominant = max(floats, key=floats.get) if floats else None
        if dominant != expected:
            raise ExportError(f"{where}: weights are stored as {weights}, expected {expected} for --precision {precision}.")
    elif not any(not k.startswith("FLOAT") for k in weights):
        raise ExportError(f"{where}: --coreml-quantize {compression} left no compressed weights ({weights}).")

    description = spec.description.metadata
    missing = [name for name, value in (("author", description.author), ("short description", description.shortDescription),
                                         ("version", description.versionString), ("license", description.license))
               if not value]
    if missing:
        raise ExportError(f"{where}: metadata lacks {', '.join(missing)}.")

    minimum_os = SPEC_VERSION_OS.get(spec.specificationVersion, f"specification {spec.specificationVersion}")
    raised = meta.get("tk.minimum_os_raised")
    checks = ["ML Program", f"RGB image input {width}×{height}" + (" (width×height)" if width != height else ""), f"{len(labels)} class labels in order",
              f"weights {', '.join(f'{k}: {v:,}' for k, v in sorted(weights.items()))}", "metadata"]
    if raised:  # the export asked for an older OS than the compressed weights run on
        checks.append(f"runs on {minimum_os} and newer, raised {raised}")
    return {
        "input": {"name": inputs[0].name, "shape": [1, 3, height, width], "dtype": "image (RGB)", "range": [0, 255],
                  "scale": "1/255 inside the ImageType", "color": color},
        "outputs": [{"name": o.name, "type": o.type.WhichOneof("Type")} for o in spec.description.output],
        "specification_version": spec.specificationVersion,
        "minimum_os": minimum_os,
        **({"minimum_os_raised": raised} if raised else {}),
        "ml_program_opset": opset,
        "compute_precision": precision,
        "compression": compression,
        "weight_elements_by_dtype": weights,
        "metadata": {"author": description.author, "short_description": description.shortDescription,
                     "version": description.versionString, "license": description.license,
                     "user_defined_keys": sorted(meta)},
        "spec_checks": checks,
    }

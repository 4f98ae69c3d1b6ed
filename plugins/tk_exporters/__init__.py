"""Exporters: ONNX (runs everywhere through ONNX Runtime) and Core ML (Apple devices).

Each exporter is an object following the protocol in `toolkit.export` (``export``,
``describe``, ``load``, ``devices``, ``tolerance`` …). The heavy libraries (torch, onnx,
coremltools) are imported by the factories' modules, only when an exporter is used, so
`tk --help` stays instant. A third-party exporter is registered the same way::

    @hookimpl
    def tk_register_exporters(register):
        register("tflite", make_tflite_exporter)

    # pyproject.toml
    [project.entry-points.tk]
    my_exporters = "tk_my_exporters"
"""

from __future__ import annotations

from toolkit import RecipeError, hookimpl


ONNX_OPSETS = (18, 23)
COREML_PRECISIONS = ("fp16", "fp32")
COREML_QUANTIZE = ("none", "int8", "palettize6", "palettize4")


def check_onnx(opset: int = 23, uint8_input: bool = False) -> None:
    """The ONNX exporter's option checks (registered as ``check``: `tk recipes check` runs them)."""
    if isinstance(opset, bool) or not isinstance(opset, int) or not ONNX_OPSETS[0] <= opset <= ONNX_OPSETS[1]:
        raise RecipeError(f"export.onnx.opset (--opset): must be an opset from {ONNX_OPSETS[0]} to {ONNX_OPSETS[1]}, "
                          f"not {opset!r}.")
    if not isinstance(uint8_input, bool):
        raise RecipeError(f"export.onnx.uint8_input: must be true or false, not {uint8_input!r}.")


def check_coreml(precision: str = "fp16", quantize: str = "none", target: str = "macOS14") -> None:
    """The Core ML exporter's option checks (registered as ``check``)."""
    if precision not in COREML_PRECISIONS:
        raise RecipeError(f"export.coreml.precision: must be fp16 or fp32, not {precision!r}.")
    if quantize not in COREML_QUANTIZE:
        raise RecipeError(f"export.coreml.quantize: must be one of {', '.join(COREML_QUANTIZE)}, not {quantize!r}.")
    if not isinstance(target, str) or not target.strip():
        raise RecipeError(f"export.coreml.target: must be an OS name such as macOS14, not {target!r}.")


def make_onnx_exporter(opset: int = 23, uint8_input: bool = False):
    """ONNX model (.onnx): pixels in, probabilities out, checked against the checkpoint.

    opset: ONNX opset (18–23). uint8_input: the input is uint8 pixels instead of float32 0–255.
    Set in a recipe's [export.onnx] table, with --set export.onnx.opset=18, or the --opset and
    --onnx-uint8 shorthands of `tk export`.
    """
    check_onnx(opset, uint8_input)
    from .onnx_exporter import OnnxExporter

    return OnnxExporter(opset=opset, uint8_input=uint8_input)


def make_coreml_exporter(precision: str = "fp16", quantize: str = "none", target: str = "macOS14"):
    """Core ML ML Program (.mlpackage) with an image input and class labels.

    precision: compute precision (fp16, fp32). quantize: weight compression (none, int8,
    palettize6, palettize4). target: minimum deployment target (macOS14, iOS18 …). Shorthands:
    --precision, --coreml-quantize, --coreml-target.
    """
    check_coreml(precision, quantize, target)
    from .coreml_exporter import CoreMLExporter

    return CoreMLExporter(precision=precision, quantize=quantize, target=target)


def make_hf_exporter(push: str = ""):
    """A timm/Hugging Face model folder (.hf/): config.json, model.safetensors, a model card.

    push: a Hub repository (USER/NAME) to upload the folder to after a passing export.
    """
    if not isinstance(push, str):
        raise RecipeError(f"export.hf.push: must be a repository name such as user/name, not {push!r}.")
    from .hf_exporter import HFExporter

    return HFExporter(push=push)


@hookimpl
def tk_register_exporters(register):
    # The factories must not share a name with a submodule: importing the submodule would
    # replace the package attribute the registry holds.
    register("onnx", make_onnx_exporter, check=check_onnx)
    register("coreml", make_coreml_exporter, check=check_coreml)
    register("hf", make_hf_exporter)

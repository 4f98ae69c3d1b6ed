"""Static int8 quantisation of a tk ``.onnx`` model with ``onnxruntime.quantization``.

Static (not dynamic) because convolutions dominate these models and only static
quantisation quantises their activations; the activation ranges come from calibration
images — real training images decoded by the training rule, never random noise. The format is
QDQ (QuantizeLinear/DequantizeLinear pairs around each op), which every ONNX Runtime
execution provider reads, with per-channel int8 weights and uint8 activations. The final
softmax stays in float so probabilities keep their resolution. The float model's metadata is
copied over, plus ``tk.quantized``.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from toolkit import ExportError


class _Images:
    """Feeds calibration images one at a time (ONNX Runtime's `CalibrationDataReader` protocol)."""

    def __init__(self, name: str, images: Any, dtype: Any):
        self._items = iter([{name: images[i:i + 1].astype(dtype)} for i in range(len(images))])

    def get_next(self) -> dict[str, Any] | None:
        return next(self._items, None)


def quantize_int8(path: Path, calibration: Any) -> Any:
    """``path`` quantised to int8, calibrated on ``calibration`` (uint8 ``N×3×S×S``): a checked ONNX model.

    The exporter writes it (`OnnxExporter.quantize`): this module only transforms, so it needs
    nothing from the exporter that imports it.
    """
    import numpy as np
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if len(calibration) == 0:
        raise ExportError("int8 quantisation needs at least one calibration image.")
    source = onnx.load(str(path))
    inp = source.graph.input[0]
    dtype = np.uint8 if inp.type.tensor_type.elem_type == onnx.TensorProto.UINT8 else np.float32
    softmax = [node.name for node in source.graph.node if node.op_type == "Softmax"]
    with tempfile.TemporaryDirectory(prefix="tk-int8-") as tmp:
        prepared, quantized = Path(tmp) / "prepared.onnx", Path(tmp) / "int8.onnx"
        try:
            quant_pre_process(str(path), str(prepared), skip_symbolic_shape=False)
            quantize_static(
                str(prepared), str(quantized), _Images(inp.name, calibration, dtype),
                quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax, nodes_to_exclude=softmax,
            )
        except Exception as exc:
            raise ExportError(f"{path}: int8 quantisation failed: {str(exc).splitlines()[0][:300]}") from exc
        model = onnx.load(str(quantized))
    meta = {p.key: p.value for p in source.metadata_props}
    meta["tk.quantized"] = json.dumps(True)
    meta["tk.quantization"] = (f"static int8 (QDQ, per-channel int8 weights, uint8 activations, MinMax), "
                               f"calibrated on {len(calibration)} training images")
    del model.metadata_props[:]
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    model.doc_string = source.doc_string + " Quantised to int8."
    onnx.checker.check_model(model, full_check=True)
    return model

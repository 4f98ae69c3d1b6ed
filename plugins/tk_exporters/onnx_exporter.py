"""ONNX exporter: one self-contained ``.onnx`` file that takes pixels and returns probabilities.

The model's input is ``image``: float32 ``N×3×S×S``, RGB, values 0–255, already resized to
``S×S`` by the training rule (bicubic, no crop); with ``onnx_uint8`` it is uint8 instead (the
cast happens inside, so a camera frame goes in as is). Scaling, mean/std normalisation and the
softmax are inside the graph; the output ``probabilities`` is float32 ``N×K``. The batch
dimension is dynamic. Class names, the resize rule, mean/std and the recipe are stored in
``metadata_props`` (keys ``tk.*``), which `tk predict` reads back.

Exported with PyTorch's ``torch.export``-based exporter (``dynamo=True``, the default since
torch 2.9) at `DEFAULT_OPSET`, weights embedded (no external-data file), then checked with
``onnx.checker`` (full check, with shape inference) before it is written.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

from toolkit import atomic_write
from toolkit import ExportError, Tolerance, deployable_model

from .onnx_runtime import OnnxPredictor, onnx_devices

DEFAULT_OPSET = 23
"""Newest opset both the torch exporter and the onnxruntime this project pins handle."""

INPUT_NAME = "image"
OUTPUT_NAME = "probabilities"
UNKNOWN_NAME = "unknown"  # bool per image, only in models with an unknown threshold


def _missing(module: str) -> str | None:
    """``module`` when it cannot be imported here, else None."""
    import importlib

    try:
        importlib.import_module(module)
    except ImportError:
        return module
    return None


class OnnxExporter:
    """``tk export --onnx``: see the module docstring for what the file contains."""

    name = "onnx"
    suffix = ".onnx"
    runtime = "ONNX Runtime"

    def __init__(self, opset: int = DEFAULT_OPSET, uint8_input: bool = False):
        self.options = {"opset": int(opset), "onnx_uint8": bool(uint8_input)}  # command-line flags win

    # -- availability ------------------------------------------------------------------------
    def available(self) -> tuple[bool, str]:
        for module in ("onnx", "onnxscript"):
            if _missing(module):
                return False, f"missing dependency: the '{module}' package is not installed (pip install {module})"
        return True, ""

    def can_run(self) -> tuple[bool, str]:
        if _missing("onnxruntime"):
            return False, "needs the 'onnxruntime' package (pip install onnxruntime)"
        return True, ""

    def tolerance(self, options: dict[str, Any]) -> Tolerance:
        return Tolerance(min_agreement=1.0, max_prob_diff=1e-4)

    def devices(self) -> list[tuple[str, bool, str]]:
        return onnx_devices()

    # -- writing -----------------------------------------------------------------------------
    def export(self, model: Any, path: Path, *, image_size: Any, class_names: list[str], metadata: dict[str, str],
               options: dict[str, Any]) -> Path:
        import onnx
        import torch

        from toolkit import InputSpec

        height, width = InputSpec.of(image_size).hw
        uint8 = bool(options.get("onnx_uint8") or self.options["onnx_uint8"])
        opset = self.options["opset"]  # export.onnx.opset (or --opset), range-checked by `check_onnx`
        wrapped = deployable_model(model, input_scale=1.0 / 255.0, uint8_input=uint8, unknown="output")
        outputs = [OUTPUT_NAME, UNKNOWN_NAME] if wrapped.unknown == "output" else [OUTPUT_NAME]
        dtype = torch.uint8 if uint8 else torch.float32
        example = (torch.rand(2, 3, height, width) * 255).to(dtype)
        batch = torch.export.Dim("batch", min=1, max=4096)
        quiet = io.StringIO()
        try:
            with contextlib.redirect_stdout(quiet), torch.inference_mode(False), torch.no_grad():
                program = torch.onnx.export(
                    wrapped, (example,), None, input_names=[INPUT_NAME], output_names=outputs,
                    dynamic_shapes={"image": {0: batch}}, dynamo=True, opset_version=opset,
                    external_data=False, verbose=False,
                )
        except Exception as exc:  # the exporter's own errors are long; keep the gist
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ExportError(f"ONNX export of this model failed in torch.onnx.export: {first[:300]}") from exc
        proto = program.model_proto
        written = file_opset(proto)
        if written != opset:  # torch falls back to its own opset when it cannot convert, and only logs it
            raise ExportError(f"ONNX export at opset {opset} failed: torch's exporter could not convert this model to "
                              f"opset {opset} and would have written opset {written}; choose --opset {written}.")
        self._annotate(proto, (height, width), metadata, uint8)
        try:
            onnx.checker.check_model(proto, full_check=True)
        except onnx.checker.ValidationError as exc:
            raise ExportError(f"The exported ONNX model fails onnx.checker: {str(exc).splitlines()[0]}") from exc
        save_model(proto, path)
        return path

    @staticmethod
    def _annotate(proto: Any, hw: tuple[int, int], metadata: dict[str, str], uint8: bool) -> None:
        """Metadata, a doc string and input/output descriptions a model viewer (Netron) shows."""
        from toolkit import InputSpec, __version__

        height, width = hw
        rule = InputSpec.of(hw, metadata.get("tk.resize")).resize
        kind = "uint8" if uint8 else "float32"
        del proto.metadata_props[:]
        for key, value in {**metadata, "tk.input_dtype": kind}.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, str(value)
        proto.producer_name = "tk"
        proto.producer_version = __version__
        proto.doc_string = (f"Image classifier exported by tk. Input '{INPUT_NAME}': {kind} N×3×{height}×{width} RGB "
                            f"in 0–255, resized with {rule} (no crop); normalisation inside. "
                            f"Output '{OUTPUT_NAME}': class probabilities N×K; class names in metadata 'tk.class_names'.")
        proto.graph.input[0].doc_string = f"{kind} RGB pixels 0–255, NCHW, height×width {height}×{width}"
        proto.graph.output[0].doc_string = "class probabilities (calibrated softmax), order of tk.class_names"
        if len(proto.graph.output) > 1:
            proto.graph.output[1].doc_string = (f"true where no class reaches the unknown threshold "
                                                f"{metadata.get('tk.unknown_threshold')}: answer "
                                                f"'{metadata.get('tk.unknown_label', 'unknown')}'")

    def quantize(self, path: Path, out_path: Path, calibration: Any) -> Path:
        from .onnx_quantize import quantize_int8

        save_model(quantize_int8(Path(path), calibration), Path(out_path))
        return Path(out_path)

    # -- reading -----------------------------------------------------------------------------
    def describe(self, path: Path) -> dict[str, Any]:
        import onnx

        proto = onnx.load(str(path))
        onnx.checker.check_model(proto, full_check=True)
        meta = {p.key: p.value for p in proto.metadata_props}

        def shape(value: Any) -> list[Any]:
            return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]

        def dtype(value: Any) -> str:
            return onnx.helper.tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type).name

        inp, outs = proto.graph.input[0], proto.graph.output
        return {
            "input": {"name": inp.name, "shape": shape(inp), "dtype": dtype(inp), "range": [0, 255], "layout": "NCHW",
                      "color": "RGB"},
            "outputs": [{"name": o.name, "shape": shape(o), "dtype": dtype(o)} for o in outs],
            "opset": file_opset(proto),
            "ir_version": proto.ir_version,
            "checker": "passed (onnx.checker, full_check)",
            "metadata_keys": sorted(meta),
            "spec_checks": ["onnx.checker", "dynamic batch" if isinstance(shape(inp)[0], str) else "fixed batch"],
        }

    def load(self, path: Path, *, device: str | None = None, threads: int | None = None) -> OnnxPredictor:
        return OnnxPredictor(Path(path), device=device or "cpu", threads=threads)


def file_opset(proto: Any) -> int:
    """The default-domain opset a model proto declares: the opset actually in the file."""
    return max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))


def save_model(proto: Any, path: Path) -> None:
    """Serialise ``proto`` into one file, atomically (the 2 GB protobuf limit is a clear error)."""
    try:
        data = proto.SerializeToString()
    except ValueError as exc:
        raise ExportError(f"{path}: the model is too large for a single ONNX file ({exc}).") from exc
    atomic_write(Path(path), lambda fh: fh.write(data))

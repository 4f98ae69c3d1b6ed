"""Running a tk ``.onnx`` model with ONNX Runtime: sessions per execution provider, metadata read back.

The session uses full graph optimisation (``ORT_ENABLE_ALL``: constant folding, conv+BN
fusion, layout transforms), which is where most of ONNX Runtime's advantage over PyTorch
eager on a CPU comes from. ``threads`` fixes the intra-op thread count (benchmarks compare
runtimes at equal threads); by default ONNX Runtime picks one thread per physical core. Its
pool's threads spin while they wait unless ``OMP_WAIT_POLICY=PASSIVE`` is set — by the user, or
by `tk predict` and `tk bench` when the machine was busy as they started — and then sleep, as
tk's own threads do.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from toolkit import ExportError, Predictor

PROVIDERS = {
    "cpu": ("CPUExecutionProvider", ""),
    "cuda": ("CUDAExecutionProvider", "no CUDA execution provider in this onnxruntime"),
    "coreml": ("CoreMLExecutionProvider", "needs macOS"),
}
"""tk device name → (ONNX Runtime execution provider, why it may be missing)."""


def onnx_devices() -> list[tuple[str, bool, str]]:
    """Every execution provider tk knows, and whether this onnxruntime has it."""
    try:
        import onnxruntime as ort
    except ImportError:
        return [(name, False, "needs the 'onnxruntime' package") for name in PROVIDERS]
    present = set(ort.get_available_providers())
    return [(name, provider in present, "" if provider in present else why) for name, (provider, why) in PROVIDERS.items()]


def session_options(threads: int | None = None) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3  # warnings about unused initialisers etc. are not the user's business
    if threads:
        opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
    if os.environ.get("OMP_WAIT_POLICY", "").strip().upper() == "PASSIVE":
        # the wait policy tk chose at the start (a busy machine) or the user set: ONNX Runtime's own
        # pool spins whatever OpenMP does, and a spinning thread on a shared core stalls every region
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return opts


class OnnxPredictor(Predictor):
    """One ONNX Runtime session on one execution provider."""

    runtime = "ONNX Runtime"

    def __init__(self, path: Path, device: str = "cpu", threads: int | None = None):
        import json

        import onnxruntime as ort

        from toolkit import InputSpec, check_class_count, metadata_list, unknown_rule

        if device not in PROVIDERS:
            raise ExportError(f"Unknown ONNX Runtime device '{device}'; known: {', '.join(PROVIDERS)}.")
        provider, why = PROVIDERS[device]
        if provider not in ort.get_available_providers():
            raise ExportError(f"ONNX Runtime device '{device}' is not available here: {why}.")
        try:
            self.session = ort.InferenceSession(str(path), session_options(threads), providers=[provider])
        except Exception as exc:  # onnxruntime raises its own exception types for bad files
            raise ExportError(f"{path}: ONNX Runtime cannot load this model: {str(exc).splitlines()[0][:300]}") from exc
        meta = self.session.get_modelmeta().custom_metadata_map
        where = str(path)
        self.class_names = [str(c) for c in metadata_list(meta, "tk.class_names", where)]
        self.set_input_spec(InputSpec.from_metadata(meta, where))
        out_shape = self.session.get_outputs()[0].shape or [None]
        check_class_count(self.class_names, out_shape[-1], where)
        self.unknown_threshold, self.unknown_label = unknown_rule(meta)
        self.metadata = dict(meta)
        self.device = device
        self.path = Path(path)
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.input_dtype = "uint8" if inp.type == "tensor(uint8)" else "float32"
        self.precision = "int8" if json.loads(meta.get("tk.quantized", "false")) else "fp32"
        batch_dim = inp.shape[0] if inp.shape else None
        self.max_batch = batch_dim if isinstance(batch_dim, int) else None

    def predict(self, images: Any) -> Any:
        import numpy as np

        batch = np.ascontiguousarray(images, dtype=np.uint8 if self.input_dtype == "uint8" else np.float32)
        return self.session.run(None, {self.input_name: batch})[0]

    def close(self) -> None:
        self.session = None

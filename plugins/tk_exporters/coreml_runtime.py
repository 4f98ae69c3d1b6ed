"""Running a tk ``.mlpackage`` with Core ML (macOS only): predictions and the compute plan.

Core ML's runtime lives in macOS; coremltools reaches it through a native extension that
exists only in its macOS wheels. Elsewhere `coreml_runtime_available` says why not, and the
rest of tk checks the package's spec instead. Everything here uses coremltools' documented
API: ``MLModel(path, compute_units=...)``, ``MLModel.predict`` with PIL images (a list of
inputs is one batched call), and ``MLComputePlan`` for which device each operation would use.
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys
from pathlib import Path
from typing import Any, Iterator

from toolkit import ExportError, Predictor

COMPUTE_UNITS = ("CPU_ONLY", "CPU_AND_GPU", "CPU_AND_NE", "ALL")
"""`coremltools.ComputeUnit` names, the rows `tk bench` makes for a Core ML model."""


@contextlib.contextmanager
def quiet_coremltools() -> Iterator[None]:
    """Silence coremltools' import-time warnings (missing native proxies on Linux, untested
    torch/scikit-learn versions) and its conversion progress bars; errors still raise."""
    log = logging.getLogger("coremltools")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        log.setLevel(level)


def coreml_runtime_available() -> tuple[bool, str]:
    """Whether Core ML models can be run here (macOS with coremltools' native extension)."""
    if sys.platform != "darwin":
        return False, "needs macOS"
    try:
        with quiet_coremltools():
            from coremltools.models.model import _MLModelProxy
    except ImportError:
        return False, "needs the 'coremltools' package (pip install coremltools)"
    if _MLModelProxy is None:
        return False, "coremltools has no native Core ML extension here (install the macOS wheel)"
    return True, ""


def _unit(name: str) -> Any:
    import coremltools as ct

    if name not in COMPUTE_UNITS:
        raise ExportError(f"Unknown Core ML compute units '{name}'; known: {', '.join(COMPUTE_UNITS)}.")
    return getattr(ct.ComputeUnit, name)


class CoreMLPredictor(Predictor):
    """An ``.mlpackage`` loaded by Core ML with one compute-unit setting."""

    runtime = "Core ML"
    max_batch = None

    def __init__(self, path: Path, compute_units: str = "ALL"):
        from toolkit import InputSpec, metadata_list, unknown_rule

        ok, why = coreml_runtime_available()
        if not ok:
            raise ExportError(f"{path}: Core ML models cannot run on this machine ({why}).")
        with quiet_coremltools():
            import coremltools as ct

            try:
                self.model = ct.models.MLModel(str(path), compute_units=_unit(compute_units))
            except Exception as exc:
                raise ExportError(f"{path}: Core ML cannot load this package: {str(exc).splitlines()[0][:300]}") from exc
        meta = dict(self.model.user_defined_metadata)
        self.class_names = [str(c) for c in metadata_list(meta, "tk.class_names", str(path))]
        self.set_input_spec(InputSpec.from_metadata(meta, str(path)))
        self.unknown_threshold, self.unknown_label = unknown_rule(meta)
        self.metadata = meta
        self.device = compute_units
        self.path = Path(path)
        self.precision = meta.get("tk.precision", "fp16")
        spec = self.model.get_spec()
        self.input_name = spec.description.input[0].name
        self.probs_name = spec.description.predictedProbabilitiesName

    def predict(self, images: Any) -> Any:
        import numpy as np
        from PIL import Image

        batch = np.asarray(images)
        inputs = [{self.input_name: Image.fromarray(np.clip(img, 0, 255).astype(np.uint8).transpose(1, 2, 0), "RGB")}
                  for img in batch]
        outputs = self.model.predict(inputs)
        if isinstance(outputs, dict):
            outputs = [outputs]
        return np.asarray([[float(out[self.probs_name][name]) for name in self.class_names] for out in outputs],
                          dtype=np.float32)

    def close(self) -> None:
        self.model = None


def compute_plan_counts(path: Path, compute_units: str) -> dict[str, int]:
    """How many of the program's operations each device would run (``MLComputePlan``), e.g.
    ``{"NeuralEngine": 61, "CPU": 3}``; ``const`` operations, which run nowhere, are left out."""
    ok, why = coreml_runtime_available()
    if not ok:
        raise ExportError(f"The Core ML compute plan {why}.")
    with quiet_coremltools():
        import coremltools as ct
        from coremltools.models.compute_device import (MLCPUComputeDevice, MLGPUComputeDevice,
                                                       MLNeuralEngineComputeDevice)
        from coremltools.models.compute_plan import MLComputePlan

        compiled = ct.models.MLModel(str(path), compute_units=_unit(compute_units)).get_compiled_model_path()
        plan = MLComputePlan.load_from_path(path=compiled, compute_units=_unit(compute_units))
    program = plan.model_structure.program
    if program is None:
        raise ExportError(f"{path}: not an ML Program; no per-operation compute plan.")
    names = {MLCPUComputeDevice: "CPU", MLGPUComputeDevice: "GPU", MLNeuralEngineComputeDevice: "NeuralEngine"}
    counts: dict[str, int] = {}

    def visit(block: Any) -> None:
        for op in block.operations:
            for inner in op.blocks:
                visit(inner)
            if op.operator_name == "const":
                continue
            usage = plan.get_compute_device_usage_for_mlprogram_operation(op)
            device = "unknown" if usage is None else names.get(type(usage.preferred_compute_device), "other")
            counts[device] = counts.get(device, 0) + 1

    visit(program.functions["main"].block)
    return counts

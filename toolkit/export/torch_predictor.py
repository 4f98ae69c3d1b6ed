"""The trained model itself as a `Predictor`: the reference every exported model is held to.

A checkpoint is predicted the way training evaluated it — uint8 pixels / 255 into the
`Classifier`, softmax out — under ``torch.inference_mode`` (no autograd bookkeeping, which is
also what makes PyTorch eager a fair baseline in `tk bench`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .protocol import ExportError, Predictor

if TYPE_CHECKING:
    import numpy as np

__all__ = ["TorchPredictor", "torch_devices"]


def torch_devices() -> list[tuple[str, bool, str]]:
    """PyTorch eager devices for `tk bench`: CPU always; CUDA and MPS when present."""
    import torch

    out: list[tuple[str, bool, str]] = [("cpu", True, "")]
    if torch.cuda.is_available():
        out.append(("cuda", True, ""))
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        out.append(("mps", True, ""))
    return out


class TorchPredictor(Predictor):
    """A `Classifier` from a checkpoint on one device."""

    runtime = "PyTorch eager"

    def __init__(self, model: Any, ckpt: dict[str, Any], device: str = "cpu"):
        import torch

        from ..core.geometry import InputSpec

        self.class_names = list(ckpt["class_names"])
        self.set_input_spec(InputSpec.from_model_info(ckpt.get("model_info"), (ckpt.get("recipe") or {}).get("data")))
        unknown = (ckpt.get("calibration") or {}).get("unknown") or {}
        self.unknown_threshold = float(unknown.get("threshold") or 0.0)
        self.unknown_label = str(unknown.get("label") or "unknown")
        self.device = device
        self._torch_device = torch.device(device)
        self.model = model.to(self._torch_device).eval()

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "cpu") -> "TorchPredictor":
        from .source import ModelSource

        if device not in {d for d, ok, _ in torch_devices() if ok}:
            raise ExportError(f"PyTorch device '{device}' is not available on this machine.")
        model, ckpt = ModelSource(checkpoint=Path(path)).load_model()
        return cls(model, ckpt, device)

    def predict(self, images: np.ndarray) -> np.ndarray:
        import numpy as np
        import torch

        batch = torch.from_numpy(np.ascontiguousarray(images)).to(self._torch_device)
        with torch.inference_mode():
            x = batch.to(torch.float32) / 255.0
            probs = torch.softmax(self.model(x).float(), dim=1)
        if self._torch_device.type == "cuda":
            torch.cuda.synchronize()
        return probs.cpu().numpy()

    def close(self) -> None:
        self.model = None  # type: ignore[assignment]

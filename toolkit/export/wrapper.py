"""The module every exporter converts: the trained `Classifier` with its input scale and softmax.

A trained `Classifier` takes RGB in 0–1 and returns logits. What ships takes the image as a
device hands it over — 0–255, float or uint8 — and returns probabilities, so no user ever
re-implements the scaling, the mean/std normalisation (already inside the `Classifier`) or the
softmax. Core ML scales in its `ImageType` input instead, so it asks for ``input_scale=1``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["deployable_model", "unknown_threshold"]


def unknown_threshold(model: Any) -> float:
    """The model's "unknown" threshold on the calibrated maximum probability (0.0: none)."""
    value = getattr(model, "unknown_threshold", None)
    return float(value) if value is not None else 0.0


def deployable_model(model: Any, *, input_scale: float = 1.0 / 255.0, uint8_input: bool = False, softmax: bool = True,
                     unknown: str = "none"):
    """Wrap ``model`` (a `Classifier`, eval mode) as ``image → probabilities``.

    ``input_scale`` multiplies the input first (1/255 for 0–255 pixels, 1 when the runtime
    scales); ``uint8_input`` makes the module accept uint8 and cast it to float32 itself.
    The probabilities are calibrated: the model divides its logits by its temperature.
    ``unknown`` says how a model with an unknown threshold (`unknown_threshold`) answers
    "unknown": ``"output"`` adds a second output, a bool per image, true below the threshold
    (ONNX); ``"column"`` appends one column holding the threshold itself, so the largest of the
    K+1 values is that column exactly when no class reaches the threshold (a classifier whose
    last label is "unknown": Core ML); ``"none"`` leaves the output as it is.
    """
    import torch
    from torch import nn

    class Deployable(nn.Module):
        def __init__(self, inner: nn.Module):
            super().__init__()
            self.inner = inner
            self.input_scale = float(input_scale)
            self.uint8_input = bool(uint8_input)
            self.softmax = bool(softmax)
            self.unknown = unknown if unknown_threshold(inner) > 0 else "none"
            self.threshold = unknown_threshold(inner)

        def forward(self, image: torch.Tensor):
            x = image.to(torch.float32) if self.uint8_input else image
            if self.input_scale != 1.0:
                x = x * self.input_scale
            out = self.inner(x)
            if not self.softmax:
                return out
            probs = torch.softmax(out, dim=1)
            if self.unknown == "output":
                return probs, probs.amax(dim=1) < self.threshold
            if self.unknown == "column":
                column = torch.full_like(probs[:, :1], self.threshold)
                return torch.cat([probs, column], dim=1)
            return probs

    wrapped = Deployable(model)
    wrapped.eval()
    return wrapped

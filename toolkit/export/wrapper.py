"""The module every exporter converts: the trained `Classifier` with its input scale and softmax.

A trained `Classifier` takes RGB in 0–1 and returns logits. What ships takes the image as a
device hands it over — 0–255, float or uint8 — and returns probabilities, so no user ever
re-implements the scaling, the mean/std normalisation (already inside the `Classifier`) or the
softmax. Core ML scales in its `ImageType` input instead, so it asks for ``input_scale=1``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["deployable_model"]


def deployable_model(model: Any, *, input_scale: float = 1.0 / 255.0, uint8_input: bool = False, softmax: bool = True):
    """Wrap ``model`` (a `Classifier`, eval mode) as ``image → probabilities``.

    ``input_scale`` multiplies the input first (1/255 for 0–255 pixels, 1 when the runtime
    scales); ``uint8_input`` makes the module accept uint8 and cast it to float32 itself.
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

        def forward(self, image: torch.Tensor) -> torch.Tensor:
            x = image.to(torch.float32) if self.uint8_input else image
            if self.input_scale != 1.0:
                x = x * self.input_scale
            out = self.inner(x)
            return torch.softmax(out, dim=1) if self.softmax else out

    wrapped = Deployable(model)
    wrapped.eval()
    return wrapped

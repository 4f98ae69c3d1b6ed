"""Colour jitter on a whole batch: brightness, contrast, saturation and hue, per sample.

The slide workload's only augmentation: it must not move pixels (slides keep their layout).
Factors are drawn per image from torch's global generator, like torchvision's ColorJitter draws
them per image, but the arithmetic runs once on the batch on the training device.
"""

from __future__ import annotations

from ._batch import check_prob, check_range


def _factors(n, amount, like):
    import torch

    return 1.0 + (torch.rand(n, 1, 1, 1, device=like.device, dtype=like.dtype) * 2 - 1) * amount


def _gray(x):
    r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    return 0.299 * r + 0.587 * g + 0.114 * b


def rgb_to_hsv(x):
    """RGB → HSV on a batch (N×3×H×W, values 0–1); hue in [0, 1)."""
    import torch

    r, g, b = x.unbind(1)
    maxc, which = x.max(1)  # ties resolve to the first channel: red, then green, as colorsys does
    minc = x.amin(1)
    delta = maxc - minc
    s = delta / maxc.clamp_min(1e-8)  # 0 where maxc is 0, since delta is 0 there too
    safe = delta.clamp_min(1e-8)
    h = torch.where(which == 0, (g - b) / safe, torch.where(which == 1, 2.0 + (b - r) / safe, 4.0 + (r - g) / safe))
    h = ((h / 6.0) % 1.0) * (delta > 0)
    return torch.stack((h, s, maxc), 1)


def hsv_to_rgb(x):
    """HSV → RGB on a batch: ``c = v - v·s·clamp(min(k, 4 - k), 0, 1)`` with ``k = (n + 6h) mod 6``
    and n = 5, 3, 1 for R, G, B — the closed form of the six-sector rule, a few element-wise
    operations instead of six stacked candidates (the colour jitter's main cost on a CPU)."""
    import torch

    h, s, v = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    n = torch.tensor([5.0, 3.0, 1.0], device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    k = (n + h * 6.0) % 6.0
    return v - v * s * torch.minimum(k, 4.0 - k).clamp(0.0, 1.0)


def color_jitter(brightness: float = 0.1, contrast: float = 0.1, saturation: float = 0.1, hue: float = 0.05,
                 p: float = 1.0):
    """Random brightness/contrast/saturation (factor in [1-a, 1+a]) and hue shift (in [-h, h])."""
    brightness, contrast, saturation = (check_range(k, v, 0.0, 1.0) for k, v in
                                        (("brightness", brightness), ("contrast", contrast), ("saturation", saturation)))
    hue = check_range("hue", hue, 0.0, 0.5)
    p = check_prob("p", p)

    def op(images, targets):
        import torch

        n = images.shape[0]
        x = images
        apply = (torch.rand(n, 1, 1, 1, device=x.device) < p).to(x.dtype)
        y = x
        if brightness:
            y = (y * _factors(n, brightness, y)).clamp(0, 1)
        if contrast:
            mean = _gray(y).mean(dim=(1, 2, 3), keepdim=True)
            y = ((y - mean) * _factors(n, contrast, y) + mean).clamp(0, 1)
        if saturation:
            g = _gray(y)
            y = ((y - g) * _factors(n, saturation, y) + g).clamp(0, 1)
        if hue:
            hsv = rgb_to_hsv(y)
            shift = (torch.rand(n, 1, 1, device=y.device, dtype=y.dtype) * 2 - 1) * hue
            hsv = torch.stack(((hsv[:, 0] + shift) % 1.0, hsv[:, 1], hsv[:, 2]), 1)
            y = hsv_to_rgb(hsv).clamp(0, 1)
        return apply * y + (1 - apply) * x, targets

    return op

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
    import torch

    r, g, b = x.unbind(1)
    maxc, _ = x.max(1)
    minc, _ = x.min(1)
    v = maxc
    delta = maxc - minc
    s = torch.where(maxc > 0, delta / maxc.clamp_min(1e-8), torch.zeros_like(maxc))
    safe = delta.clamp_min(1e-8)
    rc, gc, bc = (maxc - r) / safe, (maxc - g) / safe, (maxc - b) / safe
    h = torch.where(maxc == r, bc - gc, torch.where(maxc == g, 2.0 + rc - bc, 4.0 + gc - rc))
    h = torch.where(delta > 0, (h / 6.0) % 1.0, torch.zeros_like(h))
    return torch.stack((h, s, v), 1)


def hsv_to_rgb(x):
    import torch

    h, s, v = x.unbind(1)
    i = torch.floor(h * 6.0)
    f = h * 6.0 - i
    i = i.to(torch.int64) % 6
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    choices = [
        torch.stack((v, t, p), 1), torch.stack((q, v, p), 1), torch.stack((p, v, t), 1),
        torch.stack((p, q, v), 1), torch.stack((t, p, v), 1), torch.stack((v, p, q), 1),
    ]
    out = torch.zeros_like(x)
    for k, c in enumerate(choices):
        out = torch.where((i == k).unsqueeze(1), c, out)
    return out


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

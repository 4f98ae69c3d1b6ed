"""Pixel-level batch augmentations: Gaussian blur and random erasing.

The blur builds one kernel per sample (its own sigma) and runs a single grouped convolution
over the batch; erasing draws one box per sample and fills it through a mask. No Python loop
over images.
"""

from __future__ import annotations

from typing import Any

from ._batch import blend, box_masks, check_pair, check_prob, check_range, chosen, log_uniform, uniform


def gaussian_blur(kernel_size: int = 5, sigma: list = [0.1, 2.0], p: float = 0.5):  # noqa: B006
    """Gaussian blur with a per-sample sigma drawn from the sigma range (pixels), with probability p."""
    if isinstance(kernel_size, bool) or not isinstance(kernel_size, int) or kernel_size < 3 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be an odd integer >= 3, not {kernel_size!r}")
    smin, smax = check_pair("sigma", sigma, 1e-3, 50.0)
    p = check_prob("p", p)
    radius = kernel_size // 2

    def op(images, targets):
        import torch
        import torch.nn.functional as F

        n, c, h, w = images.shape
        device = images.device
        s = uniform(n, smin, smax, device).to(images.dtype)
        x = torch.arange(-radius, radius + 1, device=device, dtype=images.dtype)
        k = torch.exp(-(x.view(1, -1) ** 2) / (2 * s.view(-1, 1) ** 2))
        k = (k / k.sum(1, keepdim=True)).repeat_interleave(c, 0)  # (N*C) × K, one kernel per channel
        mode = "reflect" if radius < min(h, w) else "replicate"
        flat = images.reshape(1, n * c, h, w)
        flat = F.conv2d(F.pad(flat, (radius, radius, 0, 0), mode=mode), k.view(n * c, 1, 1, -1), groups=n * c)
        flat = F.conv2d(F.pad(flat, (0, 0, radius, radius), mode=mode), k.view(n * c, 1, -1, 1), groups=n * c)
        return blend(chosen(n, p, device), flat.view(n, c, h, w), images), targets

    return op


def random_erasing(p: float = 0.25, scale: list = [0.02, 0.33], ratio: list = [0.3, 3.3],  # noqa: B006
                   value: Any = "random"):
    """Erase one random box per sample (area fraction in scale, aspect in ratio) with probability p.

    value: a grey level in [0, 1], or "random" for uniform noise (as in the paper).
    """
    p = check_prob("p", p)
    smin, smax = check_pair("scale", scale, 1e-4, 1.0)
    rmin, rmax = check_pair("ratio", ratio, 1e-2, 100.0)
    if value != "random":
        value = check_range("value", value, 0.0, 1.0)

    def op(images, targets):
        import torch

        n, _, h, w = images.shape
        device = images.device
        area = uniform(n, smin, smax, device) * h * w
        aspect = log_uniform(n, rmin, rmax, device)
        mask = box_masks(n, h, w, torch.sqrt(area / aspect), torch.sqrt(area * aspect), device)
        mask &= chosen(n, p, device).view(n, 1, 1, 1)
        fill = torch.rand_like(images) if value == "random" else torch.full_like(images, value)
        return torch.where(mask, fill, images), targets

    return op

"""Shared pieces of the batch augmentations: parameter checks, per-sample draws, affine warps.

Every random number is drawn from torch's global generator on the batch's device (one draw per
sample, never per pixel loop), which tk seeds and checkpoints, so a resumed run repeats the
same augmentations. Geometric ops build one 3×3 matrix per sample in pixel units and warp the
whole batch with a single ``grid_sample``.
"""

from __future__ import annotations

import math
from typing import Any

PADDING_MODES = ("zeros", "border", "reflection")


# -- parameter checks (ValueError: the registry turns it into a RecipeError naming augment.ops[i]) --
def check_prob(key: str, value: Any) -> float:
    """A probability in [0, 1]."""
    return check_range(key, value, 0.0, 1.0)


def check_range(key: str, value: Any, lo: float, hi: float | None = None) -> float:
    """A number in [lo, hi] (hi None: no upper bound)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < lo or (hi is not None and value > hi):
        bound = f"in [{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise ValueError(f"{key} must be a number {bound}, not {value!r}")
    return float(value)


def check_pair(key: str, value: Any, lo: float, hi: float | None = None) -> tuple[float, float]:
    """A ``[min, max]`` list of two numbers in [lo, hi] with min <= max."""
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(f"{key} must be a [min, max] pair, not {value!r}")
    a, b = (check_range(key, v, lo, hi) for v in value)
    if a > b:
        raise ValueError(f"{key} must be [min, max] with min <= max, not {list(value)!r}")
    return a, b


def check_choice(key: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{key} must be one of {', '.join(map(repr, choices))}, not {value!r}")
    return value


# -- per-sample draws ------------------------------------------------------------------------------
def chosen(n: int, p: float, device: Any):
    """Bool mask: which of ``n`` samples get the op (each with probability ``p``)."""
    import torch

    return torch.rand(n, device=device) < p


def uniform(n: int, lo: float, hi: float, device: Any):
    """``n`` draws uniform in [lo, hi]."""
    import torch

    return lo + (hi - lo) * torch.rand(n, device=device)


def signed(values):
    """``values`` with a random sign per sample."""
    import torch

    return values * (torch.randint(0, 2, values.shape, device=values.device) * 2 - 1).to(values.dtype)


def blend(mask, new, old):
    """Per-sample choice between two batches: ``new`` where ``mask`` (N) is true."""
    return new.where(mask.view(-1, *([1] * (new.dim() - 1))), old)


# -- geometry ----------------------------------------------------------------------------------------
def affine_matrices(n: int, device: Any, *, angle=None, translate_x=None, translate_y=None, scale=None,
                    shear_x=None, shear_y=None):
    """Per-sample forward transforms (input → output), 3×3, in pixel units about the centre.

    ``angle`` and shears in degrees, translations in pixels, ``scale`` a factor; each a tensor
    of ``n`` values or None. The order is torchvision's: T · R · Sh · S.
    """
    import torch

    eye = torch.eye(3, device=device).expand(n, 3, 3).clone()
    m = eye.clone()
    if scale is not None:
        s = eye.clone()
        s[:, 0, 0] = scale
        s[:, 1, 1] = scale
        m = s @ m
    if shear_x is not None or shear_y is not None:
        sh = eye.clone()
        if shear_x is not None:
            sh[:, 0, 1] = torch.tan(torch.deg2rad(shear_x))
        if shear_y is not None:
            sh[:, 1, 0] = torch.tan(torch.deg2rad(shear_y))
        m = sh @ m
    if angle is not None:
        a = torch.deg2rad(angle)
        r = eye.clone()
        r[:, 0, 0], r[:, 0, 1] = torch.cos(a), -torch.sin(a)
        r[:, 1, 0], r[:, 1, 1] = torch.sin(a), torch.cos(a)
        m = r @ m
    if translate_x is not None or translate_y is not None:
        t = eye.clone()
        if translate_x is not None:
            t[:, 0, 2] = translate_x
        if translate_y is not None:
            t[:, 1, 2] = translate_y
        m = t @ m
    return m


def warp(images, forward, padding_mode: str = "zeros"):
    """Apply per-sample pixel-space ``forward`` transforms (N×3×3) to ``images`` (N×C×H×W)."""
    import torch
    import torch.nn.functional as F

    n, _, h, w = images.shape
    # grid_sample maps output → input in coordinates normalised to [-1, 1] per axis.
    to_px = torch.diag(torch.tensor([w / 2.0, h / 2.0, 1.0], device=images.device, dtype=forward.dtype))
    to_norm = torch.diag(torch.tensor([2.0 / w, 2.0 / h, 1.0], device=images.device, dtype=forward.dtype))
    inverse = to_norm @ torch.linalg.inv(forward) @ to_px
    grid = F.affine_grid(inverse[:, :2, :].to(images.dtype), [n, images.shape[1], h, w], align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode=padding_mode, align_corners=False)


def box_masks(n: int, h: int, w: int, box_h, box_w, device: Any):
    """Bool masks N×1×H×W of one box per sample, sized ``box_h``×``box_w`` pixels (tensors),
    placed uniformly at random inside the image."""
    import torch

    box_h = box_h.round().clamp(0, h)
    box_w = box_w.round().clamp(0, w)
    top = (torch.rand(n, device=device) * (h - box_h + 1)).floor()
    left = (torch.rand(n, device=device) * (w - box_w + 1)).floor()
    rows = torch.arange(h, device=device).view(1, h, 1)
    cols = torch.arange(w, device=device).view(1, 1, w)
    inside = ((rows >= top.view(n, 1, 1)) & (rows < (top + box_h).view(n, 1, 1))
              & (cols >= left.view(n, 1, 1)) & (cols < (left + box_w).view(n, 1, 1)))
    return inside.unsqueeze(1)


def log_uniform(n: int, lo: float, hi: float, device: Any):
    """``n`` draws whose logarithm is uniform in [log lo, log hi] (aspect ratios)."""
    import torch

    return torch.exp(uniform(n, math.log(lo), math.log(hi), device))

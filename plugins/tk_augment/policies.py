"""RandAugment and TrivialAugment, batched: each sample picks its own ops, each op runs once on
the sub-batch that picked it.

The op list and magnitude ranges are torchvision's (``RandAugment``: 31 magnitude bins,
``TrivialAugmentWide``: the wide ranges), on float images in 0–1. Differences from
torchvision's per-image versions, all documented here: an op is applied to every sample that
drew it in one vectorised call (so ~14 calls a round, whatever the batch size); a pixel op on
float images quantises to 8 bits only where the op is defined on 8-bit values (posterize,
equalize); rotations, shears and translations fill with black, like torchvision's default.
"""

from __future__ import annotations

from typing import Callable

from ._batch import affine_matrices, check_prob, check_range, chosen, signed, warp

BINS = 31


def _gray(x):
    return 0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]


def _per(v, x):
    return v.view(-1, *([1] * (x.dim() - 1))).to(x.dtype)


def _blend(degenerate, x, factor):
    """torchvision's ``_blend``: ``factor`` 1 keeps ``x``, 0 gives ``degenerate``."""
    return (degenerate + (x - degenerate) * _per(factor, x)).clamp(0, 1)


def _sharp_degenerate(x):
    """The image smoothed with PIL's SMOOTH kernel; border pixels unchanged (as PIL and torchvision)."""
    import torch
    import torch.nn.functional as F

    c = x.shape[1]
    k = torch.ones(3, 3, device=x.device, dtype=x.dtype)
    k[1, 1] = 5.0
    k = (k / k.sum()).expand(c, 1, 3, 3)
    smooth = F.conv2d(x, k, groups=c)
    out = x.clone()
    out[..., 1:-1, 1:-1] = smooth
    return out


def _to_u8(x):
    import torch

    return (x * 255.0).round().clamp(0, 255).to(torch.int64)


def _posterize(x, bits):
    import torch

    shift = (8 - bits).clamp(0, 8).to(torch.int64).view(-1, 1, 1, 1)
    return ((_to_u8(x) >> shift) << shift).to(x.dtype) / 255.0


def _autocontrast(x):
    lo = x.amin(dim=(2, 3), keepdim=True)
    hi = x.amax(dim=(2, 3), keepdim=True)
    span = hi - lo
    return ((x - lo) / span.clamp_min(1e-6)).where(span > 1e-6, x).clamp(0, 1)


def _equalize(x):
    """PIL's ImageOps.equalize per channel, for all images of the batch at once."""
    import torch

    n, c, h, w = x.shape
    q = _to_u8(x).view(n * c, h * w)
    hist = torch.zeros(n * c, 256, device=x.device, dtype=torch.int64).scatter_add_(1, q, torch.ones_like(q))
    last = hist.gather(1, q.max(1, keepdim=True).values)  # count of the brightest occupied level
    step = (hist.sum(1, keepdim=True) - last) // 255
    lut = ((hist.cumsum(1) - hist + step // 2) // step.clamp_min(1)).clamp(0, 255)
    out = lut.gather(1, q)
    out = torch.where(step > 0, out, q)  # a flat channel is left as it is
    return (out.to(x.dtype) / 255.0).view(n, c, h, w)


def _geo(**which: str) -> Callable:
    def apply(x, m):
        kwargs = {key: m for key in which}
        h, w = x.shape[-2:]
        if "translate_x" in kwargs:
            kwargs["translate_x"] = m * w
        if "translate_y" in kwargs:
            kwargs["translate_y"] = m * h
        return warp(x, affine_matrices(x.shape[0], x.device, **kwargs), "zeros")
    return apply


# name → (apply(images, magnitudes), signed, (max for RandAugment, max for TrivialAugmentWide)).
# Magnitudes run 0 → max over the bins; posterize counts bits removed; solarize is a threshold 1 → 0.
OPS: dict[str, tuple[Callable, bool, tuple[float, float]]] = {
    "identity": (lambda x, m: x, False, (0.0, 0.0)),
    "shear_x": (lambda x, m: _geo(shear_x="")(x, _deg_from_shear(m)), True, (0.3, 0.99)),
    "shear_y": (lambda x, m: _geo(shear_y="")(x, _deg_from_shear(m)), True, (0.3, 0.99)),
    "translate_x": (_geo(translate_x=""), True, (150 / 331, 32 / 224)),  # fraction of the side (32 px at 224)
    "translate_y": (_geo(translate_y=""), True, (150 / 331, 32 / 224)),
    "rotate": (_geo(angle=""), True, (30.0, 135.0)),
    "brightness": (lambda x, m: (x * _per(1 + m, x)).clamp(0, 1), True, (0.9, 0.99)),
    "color": (lambda x, m: _blend(_gray(x), x, 1 + m), True, (0.9, 0.99)),
    "contrast": (lambda x, m: _blend(_gray(x).mean(dim=(1, 2, 3), keepdim=True), x, 1 + m), True, (0.9, 0.99)),
    "sharpness": (lambda x, m: _blend(_sharp_degenerate(x), x, 1 + m), True, (0.9, 0.99)),
    "posterize": (lambda x, m: _posterize(x, 8 - m.round()), False, (4.0, 6.0)),
    "solarize": (lambda x, m: x.where(x < _per(1 - m, x), 1 - x), False, (1.0, 1.0)),
    "autocontrast": (lambda x, m: _autocontrast(x), False, (0.0, 0.0)),
    "equalize": (lambda x, m: _equalize(x), False, (0.0, 0.0)),
}
GEOMETRIC = ("shear_x", "shear_y", "translate_x", "translate_y", "rotate")


def _deg_from_shear(m):
    import torch

    return torch.rad2deg(torch.atan(m))


def apply_policy(images, op_index, level, names: list[str], wide: bool):
    """Apply ``names[op_index[i]]`` at ``level[i]`` (0–1 of the op's range) to sample ``i``."""

    out = images.clone()
    for k, name in enumerate(names):
        picked = (op_index == k).nonzero().flatten()
        if picked.numel() == 0 or name == "identity":
            continue
        fn, is_signed, ranges = OPS[name]
        m = level[picked] * ranges[1 if wide else 0]
        if is_signed:
            m = signed(m)
        out[picked] = fn(images[picked], m).to(out.dtype)
    return out


def _names(geometric: bool) -> list[str]:
    return [n for n in OPS if geometric or n not in GEOMETRIC]


def randaugment(num_ops: int = 2, magnitude: int = 9, p: float = 1.0, geometric: bool = True):
    """RandAugment: num_ops random ops per sample at one magnitude (0–30); geometric=false keeps layouts.

    ``geometric = false`` leaves out shear, translate and rotate (for slides and documents).
    """
    if isinstance(num_ops, bool) or not isinstance(num_ops, int) or not 1 <= num_ops <= 10:
        raise ValueError(f"num_ops must be an integer in [1, 10], not {num_ops!r}")
    level = check_range("magnitude", magnitude, 0, BINS - 1) / (BINS - 1)
    p = check_prob("p", p)
    names = _names(bool(geometric))

    def op(images, targets):
        import torch

        n, device = images.shape[0], images.device
        x = images
        for _ in range(num_ops):
            idx = torch.randint(0, len(names), (n,), device=device)
            idx = torch.where(chosen(n, p, device), idx, torch.zeros_like(idx))  # 0 is identity
            x = apply_policy(x, idx, torch.full((n,), level, device=device), names, wide=False)
        return x, targets

    return op


def trivialaugment(p: float = 1.0, geometric: bool = True):
    """TrivialAugment (wide): one random op at a random magnitude per sample; geometric=false keeps layouts."""
    p = check_prob("p", p)
    names = _names(bool(geometric))

    def op(images, targets):
        import torch

        n, device = images.shape[0], images.device
        idx = torch.randint(0, len(names), (n,), device=device)
        idx = torch.where(chosen(n, p, device), idx, torch.zeros_like(idx))
        level = torch.randint(0, BINS, (n,), device=device).to(images.dtype) / (BINS - 1)
        return apply_policy(images, idx, level, names, wide=True), targets

    return op


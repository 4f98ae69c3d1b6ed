"""Batch-level mixing: mixup and cutmix, with their label mixing to soft targets.

Each sample is paired with another of the same batch (a random permutation) and gets its own
mixing weight λ (timm's "elem" mode: per-sample randomness, like every other tk op). The
targets become soft ``N×num_classes`` rows ``λ·y_i + (1-λ)·y_j``; the cross-entropy, focal and
distillation losses accept them. Incoming targets may already be soft (a mixup after a cutmix).
"""

from __future__ import annotations

from ._batch import box_masks, check_prob, check_range, chosen


def soft_targets(targets, num_classes: int, dtype):
    """Class indices (N) → one-hot rows (N×K); soft rows pass through."""
    import torch.nn.functional as F

    if targets.dim() == 2:
        return targets.to(dtype)
    return F.one_hot(targets.long(), num_classes).to(dtype)


def _beta(alpha: float, n: int, device):
    """λ ~ Beta(α, α) per sample; drawn on the CPU generator (Dirichlet sampling is not on every
    device), then moved, so the draw is seeded like everything else."""
    import torch

    a = torch.full((n,), float(alpha))
    return torch.distributions.Beta(a, a).sample().to(device)


def mixup(num_classes: int, alpha: float = 0.2, p: float = 1.0):
    """Blend pairs of images, λ ~ Beta(alpha, alpha) per sample; labels mixed the same way."""
    alpha = check_range("alpha", alpha, 1e-3, 100.0)
    p = check_prob("p", p)

    def op(images, targets):
        import torch

        n = images.shape[0]
        soft = soft_targets(targets, num_classes, images.dtype)
        perm = torch.randperm(n, device=images.device)
        lam = torch.where(chosen(n, p, images.device), _beta(alpha, n, images.device).to(images.dtype),
                          torch.ones(n, device=images.device, dtype=images.dtype))
        li = lam.view(n, 1, 1, 1)
        mixed = li * images + (1 - li) * images[perm]
        return mixed, lam.view(n, 1) * soft + (1 - lam.view(n, 1)) * soft[perm]

    return op


def cutmix(num_classes: int, alpha: float = 1.0, p: float = 1.0):
    """Paste a box (area 1-λ, λ ~ Beta(alpha, alpha)) from a paired image; labels mixed by area.

    The label weight is the share of the image each source really covers after the box is
    clipped to the image.
    """
    alpha = check_range("alpha", alpha, 1e-3, 100.0)
    p = check_prob("p", p)

    def op(images, targets):
        import torch

        n, _, h, w = images.shape
        device = images.device
        soft = soft_targets(targets, num_classes, images.dtype)
        perm = torch.randperm(n, device=device)
        cut = torch.sqrt(1 - _beta(alpha, n, device))  # box side as a fraction of the image side
        mask = box_masks(n, h, w, cut * h, cut * w, device) & chosen(n, p, device).view(n, 1, 1, 1)
        pasted = images[perm]
        mixed = torch.where(mask, pasted, images)
        lam = 1 - mask.flatten(1).to(images.dtype).mean(1)  # share of the image that is still its own
        return mixed, lam.view(n, 1) * soft + (1 - lam.view(n, 1)) * soft[perm]

    return op

"""Geometric batch augmentations: flips, rotation, affine warps and random resized crops.

Each factory checks its parameters and returns ``op(images, targets)``; transforms are drawn per
sample and applied to the whole batch at once (one ``grid_sample``), so the cost is the same
for 8 or 256 images. Output size equals input size: images already have the model's size.
Not for the slide workload, whose layouts must stay put.
"""

from __future__ import annotations

from ._batch import (PADDING_MODES, affine_matrices, blend, check_choice, check_pair, check_prob, check_range,
                     chosen, log_uniform, uniform, warp)


def hflip(p: float = 0.5):
    """Mirror left-right with probability p."""
    p = check_prob("p", p)

    def op(images, targets):
        return blend(chosen(images.shape[0], p, images.device), images.flip(-1), images), targets

    return op


def vflip(p: float = 0.5):
    """Mirror top-bottom with probability p (aerial or microscope images, not photos of scenes)."""
    p = check_prob("p", p)

    def op(images, targets):
        return blend(chosen(images.shape[0], p, images.device), images.flip(-2), images), targets

    return op


def rotate(degrees: float = 15.0, p: float = 1.0, padding_mode: str = "zeros"):
    """Rotate by an angle uniform in [-degrees, degrees]; corners filled per padding_mode."""
    degrees = check_range("degrees", degrees, 0.0, 180.0)
    p = check_prob("p", p)
    padding_mode = check_choice("padding_mode", padding_mode, PADDING_MODES)

    def op(images, targets):
        n, device = images.shape[0], images.device
        angle = uniform(n, -degrees, degrees, device) * chosen(n, p, device)
        return warp(images, affine_matrices(n, device, angle=angle), padding_mode), targets

    return op


def affine(degrees: float = 0.0, translate: float = 0.1, scale: list = [0.9, 1.1], shear: float = 0.0,  # noqa: B006
           p: float = 1.0, padding_mode: str = "zeros"):
    """Random rotation, translation (fraction of the side), scale and shear (degrees), per sample."""
    degrees = check_range("degrees", degrees, 0.0, 180.0)
    translate = check_range("translate", translate, 0.0, 1.0)
    smin, smax = check_pair("scale", scale, 0.05, 10.0)
    shear = check_range("shear", shear, 0.0, 60.0)
    p = check_prob("p", p)
    padding_mode = check_choice("padding_mode", padding_mode, PADDING_MODES)

    def op(images, targets):
        import torch

        n, _, h, w = images.shape
        device = images.device
        on = chosen(n, p, device).to(images.dtype)
        m = affine_matrices(
            n, device,
            angle=uniform(n, -degrees, degrees, device) * on,
            translate_x=uniform(n, -translate, translate, device) * w * on,
            translate_y=uniform(n, -translate, translate, device) * h * on,
            scale=torch.lerp(torch.ones(n, device=device), uniform(n, smin, smax, device), on),
            shear_x=uniform(n, -shear, shear, device) * on,
            shear_y=uniform(n, -shear, shear, device) * on,
        )
        return warp(images, m, padding_mode), targets

    return op


def random_resized_crop(scale: list = [0.08, 1.0], ratio: list = [0.75, 1.3333333], p: float = 1.0):  # noqa: B006
    """Crop a random area (fraction of the image in scale, aspect in ratio) and resize it back.

    Like torchvision's RandomResizedCrop, except that a drawn crop larger than the image is
    clipped to it instead of re-drawn up to ten times (which would need a per-image loop).
    """
    smin, smax = check_pair("scale", scale, 1e-4, 1.0)
    rmin, rmax = check_pair("ratio", ratio, 1e-2, 100.0)
    p = check_prob("p", p)

    def op(images, targets):
        import torch
        import torch.nn.functional as F

        n, c, h, w = images.shape
        device = images.device
        area = uniform(n, smin, smax, device)
        aspect = log_uniform(n, rmin, rmax, device) * (h / w)  # ratio is width/height in pixels
        cw = torch.sqrt(area * aspect).clamp(max=1.0)  # crop width as a fraction of the width
        ch = torch.sqrt(area / aspect).clamp(max=1.0)
        on = chosen(n, p, device)
        cw = torch.where(on, cw, torch.ones_like(cw))
        ch = torch.where(on, ch, torch.ones_like(ch))
        cx = (torch.rand(n, device=device) * 2 - 1) * (1 - cw)  # centre, normalised to [-1, 1]
        cy = (torch.rand(n, device=device) * 2 - 1) * (1 - ch)
        theta = torch.zeros(n, 2, 3, device=device, dtype=images.dtype)
        theta[:, 0, 0], theta[:, 0, 2] = cw, cx
        theta[:, 1, 1], theta[:, 1, 2] = ch, cy
        grid = F.affine_grid(theta, [n, c, h, w], align_corners=False)
        return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False), targets

    return op

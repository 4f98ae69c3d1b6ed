"""Batch augmentations that run on the training device, with per-sample randomness.

Every op takes a whole batch (float ``N×3×H×W`` in 0–1, on the training device) and its targets
and returns both; random choices are drawn per sample from torch's global generator, so a
resumed run repeats them. Recipes list them in order::

    [[augment.ops]]
    name = "hflip"
    [[augment.ops]]
    name = "mixup"
    alpha = 0.2

Modules: `color` (colour jitter), `geometric` (flips, rotation, affine, random resized crop),
`filters` (blur, erasing), `policies` (RandAugment, TrivialAugment), `mix` (mixup, cutmix).
`tk augment preview RECIPE` shows what they do to your images.
"""

from __future__ import annotations

from toolkit import hookimpl

from .color import color_jitter
from .filters import gaussian_blur, random_erasing
from .geometric import affine, hflip, random_resized_crop, rotate, vflip
from .mix import cutmix, mixup
from .policies import randaugment, trivialaugment

AUGMENTATIONS = {
    "color_jitter": color_jitter,
    "hflip": hflip,
    "vflip": vflip,
    "rotate": rotate,
    "affine": affine,
    "random_resized_crop": random_resized_crop,
    "gaussian_blur": gaussian_blur,
    "random_erasing": random_erasing,
    "randaugment": randaugment,
    "trivialaugment": trivialaugment,
    "mixup": mixup,
    "cutmix": cutmix,
}


@hookimpl
def tk_register_augmentations(register):
    for name, factory in AUGMENTATIONS.items():
        register(name, factory)

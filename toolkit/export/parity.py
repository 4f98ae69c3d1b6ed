"""Does the exported model answer like the trained one? Images to check on, and the comparison.

Parity is measured on the run's validation images (what the user judged the model on), fed
through the trained `InputSpec` (`toolkit.data.pixels.decode`) to both the PyTorch model and the exported one. A checkpoint
outside a run folder has no split; then a fixed set of random images stands in, and the
manifest says so. Calibration for int8 quantisation draws from the training split the same
way.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from ..core.errors import TkError
from .inputs import load_inputs
from .protocol import Parity
from .source import ModelSource

if TYPE_CHECKING:
    import numpy as np

    from ..core.geometry import InputSpec

__all__ = ["check_images", "calibration_images", "calibration_split", "compare", "labelled_images"]

RANDOM_IMAGES = 16


def labelled_images(source: ModelSource, split: str, spec: InputSpec) -> tuple[np.ndarray, list[int], list[str]]:
    """Images and labels of one split of the run, decoded for the model's `InputSpec`.

    Returns ``(images, labels, paths)`` for the readable files; an unreadable file (moved or
    deleted since training) is an error naming it, since accuracy over a silently shrunken
    split would mislead.
    """
    samples = source.samples(split)
    images, failed = load_inputs([p for p, _ in samples], spec)
    if failed:
        path, reason = failed[0]
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        kind = {"val": "validation", "train": "training"}.get(split, split)
        raise TkError(f"{path}: {kind} image of the run cannot be read: {reason}{more}; "
                      f"the run's split.json points at files that changed.")
    return images, [label for _, label in samples], [p for p, _ in samples]


def check_images(source: ModelSource, spec: InputSpec) -> tuple[np.ndarray, list[int] | None, str]:
    """``(images, labels or None, what they are)`` to measure parity on."""
    import numpy as np

    for split, name in (("val", "validation split"), ("test", "test split"), ("train", "training split")):
        if source.samples(split):
            images, labels, _ = labelled_images(source, split, spec)
            return images, labels, name
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(RANDOM_IMAGES, 3, *spec.hw), dtype=np.uint8)
    return images, None, "random images (no split.json next to the checkpoint)"


def calibration_split(source: ModelSource) -> str:
    """The split int8 calibration draws from (training, else validation), or a `TkError` when there is none."""
    for split in ("train", "val"):
        if source.samples(split):
            return split
    raise TkError(f"{source.checkpoint}: int8 quantisation needs training images to calibrate on, and this "
                  f"checkpoint has no split.json beside it; export it from its run folder.")


def calibration_images(source: ModelSource, spec: InputSpec, count: int = 64) -> np.ndarray:
    """Up to ``count`` images of the `calibration_split` (a fixed random choice), decoded for the model."""
    samples = source.samples(calibration_split(source))
    chosen = random.Random(0).sample(samples, min(count, len(samples)))
    images, _ = load_inputs([p for p, _ in chosen], spec)
    if not len(images):
        raise TkError(f"{source.checkpoint}: none of the {len(chosen)} calibration images could be read.")
    return images


def compare(reference: np.ndarray, candidate: np.ndarray, source: str) -> Parity:
    """Top-1 agreement and probability differences between two ``N×K`` probability arrays."""
    import numpy as np

    if reference.shape != candidate.shape:
        raise TkError(f"The exported model returned shape {candidate.shape}, the trained one {reference.shape}.")
    if len(reference) == 0:
        return Parity(0, 1.0, 0.0, 0.0, source)
    diff = np.abs(reference.astype(np.float64) - candidate.astype(np.float64))
    agreement = float(np.mean(reference.argmax(1) == candidate.argmax(1)))
    return Parity(len(reference), agreement, float(diff.max()), float(diff.mean()), source)

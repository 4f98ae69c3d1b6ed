"""Decode once, reuse: images as uint8 ``N x 3 x H x W`` arrays at the model's input size.

The usual ImageFolder loop decodes and resizes every PNG every epoch; for 3k screenshots that
costs more than a small model's forward pass. Here each image is decoded and resized once,
to `size` with the rule below, and kept as uint8 (196 KB an image at 256 px); augmentation
then runs batched on the training device. Decoded images are kept in one memory-mapped store
per image set (`toolkit.data.store`), so the next run over the same files decodes nothing,
an edited image is decoded again, and processes share one copy. `decode_images` copies
images out of the store (or decodes them without one) for the commands that want them in
memory: `tk data check`, `tk data doctor`, calibration; training reads the store in place.

The resize rule is part of the model's `toolkit.core.geometry.InputSpec`: exported models document
it and predictors apply it through the same `toolkit.data.pixels.decode`, and it never changes
silently (`toolkit.data.store.STORE_VERSION` is bumped when it does, which invalidates old stores).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from toolkit.core.geometry import DEFAULT_RESIZE, InputSpec, input_hw
from toolkit.data.duplicates import FEATURE_BYTES, decode_features, features_hash
from toolkit.data.pixels import decode_rows

if TYPE_CHECKING:
    import numpy as np
    import torch

__all__ = ["RESIZE", "DecodedImages", "decode_images", "resize_rgb"]

#: The default resize rule's stored name (`toolkit.core.geometry.DEFAULT_RESIZE`: squeeze, PIL's
#: antialiased BICUBIC).
RESIZE = DEFAULT_RESIZE

ProgressFn = Callable[[int, int], None]


@dataclass
class DecodedImages:
    """`images[i]` is image `i`, except the rows listed in `failed`, which are zero."""

    images: torch.Tensor  # uint8, N x 3 x H x W, contiguous
    hashes: np.ndarray | None = None  # uint64 perceptual hash per row (0 for failed rows)
    failed: list[tuple[int, str]] = field(default_factory=list)  # (index, reason)
    decoded: int = 0  # images decoded in this call
    cached: int = 0  # images read back from the disk cache
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)  # e.g. a cache file that could not be written
    #: frame features per row (N×`toolkit.data.duplicates.FEATURE_BYTES` uint8; zero for failed rows):
    #: what near-duplicates are found from, the same whatever `size`
    features: np.ndarray | None = None

    @property
    def ok(self) -> list[int]:
        """Indices of the rows that hold a real image."""
        bad = {i for i, _ in self.failed}
        return [i for i in range(self.images.shape[0]) if i not in bad]


def resize_rgb(img, size: tuple[int, int], rule: str = RESIZE):  # PIL.Image.Image -> PIL.Image.Image
    """Resize to (height, width) by ``rule`` (`toolkit.core.geometry`): ``bicubic`` squeezes the whole
    image (`RESIZE`, no crop), ``letterbox-bicubic`` keeps its aspect ratio and pads."""
    return InputSpec.of(size, rule).resize_image(img)


def decode_images(
    paths: Sequence[str | os.PathLike[str]],
    size: int | tuple[int, int] | InputSpec,
    *,
    cache_dir: str | os.PathLike[str] | None,
    workers: int = 0,
    on_progress: ProgressFn | None = None,
    hashes: bool = True,
    rule: str = RESIZE,
) -> DecodedImages:
    """Decode `paths` to a uint8 `N x 3 x H x W` tensor in this process's memory.

    `size` is the model's `InputSpec`, or `S` (square) or `(height, width)` with `rule` the
    resize rule (`toolkit.core.geometry`: ``bicubic`` squeezes, ``letterbox-bicubic`` pads). With
    `cache_dir` the images go through
    the shared image store under ``cache_dir/stores`` (`toolkit.data.store`: decoded once,
    reused, checked), and are then copied out of it; without, they are decoded here. A file
    that cannot be decoded does not stop anything: its row stays zero and `(index, reason)`
    goes to `failed`, for the caller to drop and report. `workers > 0` decodes with that many
    threads (PIL releases the GIL while it decodes and resizes). With ``hashes`` (the default)
    each image's frame features and their perceptual hash (`toolkit.data.duplicates`) come back
    too, computed from the file, not from the resized pixels.
    """
    import numpy as np
    import torch

    spec = InputSpec.of(_check_size(size), rule) if not isinstance(size, InputSpec) else size
    hw = spec.hw
    started = time.perf_counter()
    if cache_dir is not None:
        from toolkit.data.store import open_store

        res = open_store([os.fspath(p) for p in paths], hw, cache_dir=Path(os.fspath(cache_dir)), rule=spec.resize,
                         workers=workers, on_progress=on_progress)
        images = res.store.gather(res.rows) if paths else torch.zeros((0, 3, *hw), dtype=torch.uint8)
        failed = list(res.failed)
        for i, _ in failed:
            images[i] = 0
        notes = list(res.notes)
        if res.store.notes:
            notes.append(f"{len(res.store.notes)} row(s) of the image store {res.store.path.name} did not match "
                         f"their checksum: decoded again from their files; the store is rebuilt next time")
        phash = res.store.hashes[res.rows].copy() if paths else np.zeros(0, np.uint64)
        feats = res.store.features(res.rows) if hashes else None
        for i, _ in failed:
            phash[i] = 0
            if feats is not None:
                feats[i] = 0
        return DecodedImages(images.contiguous(), phash if hashes else None, failed, res.decoded, res.reused,
                             time.perf_counter() - started, notes, features=feats)

    out = np.zeros((len(paths), 3, *hw), dtype=np.uint8)
    phash = np.zeros(len(paths), dtype=np.uint64)
    feats = np.zeros((len(paths), FEATURE_BYTES), dtype=np.uint8)
    result = DecodedImages(images=torch.from_numpy(out), hashes=phash if hashes else None,
                           features=feats if hashes else None)
    also = (lambda path, original: decode_features(os.fspath(path), original, hw)) if hashes else None
    for i, pixels, features, reason in decode_rows(list(paths), spec, workers=workers, also=also):
        if pixels is None:
            result.failed.append((i, reason or "cannot decode"))
        else:
            out[i] = pixels
            if hashes:
                feats[i] = features
                phash[i] = features_hash(features)
            result.decoded += 1
        if on_progress is not None:
            on_progress(i + 1, len(paths))
    result.seconds = time.perf_counter() - started
    return result


def _check_size(size: int | tuple[int, int]) -> tuple[int, int]:
    try:
        hw = input_hw(size)
    except ValueError:
        hw = (0, 0)
    if min(hw) <= 0:
        raise ValueError(f"size must be a positive int or (height, width), not {size!r}")
    return hw

"""toolkit.data.cache: decode once, reuse from disk, decode again only what changed."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from toolkit.data import cache as cache_mod
from toolkit.data import decode_images


@pytest.fixture
def counted_loads(monkeypatch):
    """Counts real decodes: `load_rgb` of `toolkit.data.pixels` (the one decode), wrapped."""
    import toolkit.data.pixels as pixels_mod

    calls: list[str] = []
    real = pixels_mod.load_rgb

    def counting(path, **kwargs):
        calls.append(os.fspath(path))
        return real(path, **kwargs)

    monkeypatch.setattr(pixels_mod, "load_rgb", counting)
    return calls


def _images(tmp_path, n=4, size=(40, 24)):
    paths = []
    for i in range(n):
        arr = np.full((size[1], size[0], 3), (i * 50, 100, 200 - i * 40), dtype=np.uint8)
        path = tmp_path / "src" / f"{i}.png"
        path.parent.mkdir(exist_ok=True)
        Image.fromarray(arr).save(path)
        paths.append(str(path))
    return paths


def test_shape_dtype_and_resize_rule(tmp_path):
    paths = _images(tmp_path, n=2)
    result = decode_images(paths, (12, 20), cache_dir=None)
    assert result.images.shape == (2, 3, 12, 20) and result.images.dtype == torch.uint8
    assert result.images.is_contiguous() and result.failed == [] and result.decoded == 2
    expected = np.asarray(Image.open(paths[1]).convert("RGB").resize((20, 12), Image.BICUBIC))
    assert np.array_equal(result.images[1].permute(1, 2, 0).numpy(), expected)
    assert cache_mod.RESIZE == "bicubic"


def test_cache_is_reused_then_invalidated(tmp_path, counted_loads):
    paths = _images(tmp_path)
    cache_dir = tmp_path / "cache"
    first = decode_images(paths, 16, cache_dir=cache_dir)
    assert (first.decoded, first.cached) == (4, 0) and len(counted_loads) == 4
    assert len(list(cache_dir.rglob("*.tkstore"))) == 1  # one store for the set, not a file per image

    second = decode_images(paths, 16, cache_dir=cache_dir, workers=2)
    assert (second.decoded, second.cached) == (0, 4) and len(counted_loads) == 4
    assert torch.equal(first.images, second.images)

    Image.new("RGB", (40, 24), (0, 0, 0)).save(paths[2])  # an edited image
    st = os.stat(paths[2])
    os.utime(paths[2], ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    third = decode_images(paths, 16, cache_dir=cache_dir)
    assert (third.decoded, third.cached) == (1, 3) and counted_loads[-1] == paths[2]
    assert int(third.images[2].max()) == 0 and torch.equal(third.images[0], first.images[0])

    other_size = decode_images(paths, 8, cache_dir=cache_dir)  # a new size is a new key
    assert other_size.decoded == 4


def test_damaged_cache_file_is_a_miss(tmp_path):
    paths = _images(tmp_path, n=1)
    cache_dir = tmp_path / "cache"
    first = decode_images(paths, 16, cache_dir=cache_dir)
    (cached,) = cache_dir.rglob("*.tkstore")
    cached.write_bytes(cached.read_bytes()[:-10])
    again = decode_images(paths, 16, cache_dir=cache_dir)
    assert again.decoded == 1 and torch.equal(again.images, first.images)
    assert any("is damaged" in n for n in again.notes)
    assert not list(cache_dir.rglob(".build-*"))  # no temp files left behind


def test_failures_become_zero_rows(tmp_path):
    paths = _images(tmp_path, n=3)
    data = Path(paths[1]).read_bytes()
    with open(paths[1], "wb") as fh:
        fh.write(data[: len(data) // 2])
    paths.append(str(tmp_path / "gone.png"))
    result = decode_images(paths, 16, cache_dir=tmp_path / "cache", workers=2)
    reasons = dict(result.failed)
    assert sorted(reasons) == [1, 3] and result.ok == [0, 2]
    assert reasons[1].startswith("truncated or corrupt image")
    assert reasons[3] == "unreadable: no such file or directory"
    assert int(result.images[1].abs().sum()) == 0 and int(result.images[0].sum()) > 0


def test_progress_and_bad_size(tmp_path):
    paths = _images(tmp_path, n=3)
    seen = []
    decode_images(paths, 8, cache_dir=None, workers=2, on_progress=lambda d, t: seen.append((d, t)))
    assert seen == [(1, 3), (2, 3), (3, 3)]
    with pytest.raises(ValueError):
        decode_images(paths, 0, cache_dir=None)


def test_empty_input(tmp_path):
    result = decode_images([], 8, cache_dir=tmp_path / "c")
    assert result.images.shape == (0, 3, 8, 8) and result.failed == []

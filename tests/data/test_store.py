"""The shared image store: built once, reused, extended, opened lazily, never trusted blindly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from toolkit.data.store import ImageStore, open_store

HW = (40, 72)


def _images(root: Path, n: int, start: int = 0, size=(160, 90)) -> list[str]:
    rng = np.random.default_rng(start)
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(start, start + n):
        p = root / f"img_{i:04d}.png"
        Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(p)
        paths.append(str(p))
    return paths


def _fresh(paths: list[str], rule: str = "bicubic") -> np.ndarray:
    from toolkit.data.store import _decode_row

    return np.stack([_decode_row(p, HW, rule) for p in paths])


def test_built_once_reused_and_the_rows_are_the_decoded_pixels(tmp_path):
    paths = _images(tmp_path / "img", 12)
    first = open_store(paths, HW, cache_dir=tmp_path / "cache", workers=2)
    assert first.decoded == 12 and first.reused == 0 and not first.failed
    assert np.array_equal(first.store.gather(first.rows).numpy(), _fresh(paths))
    again = open_store(paths, HW, cache_dir=tmp_path / "cache")
    assert again.decoded == 0 and again.reused == 12 and again.store.path == first.store.path
    assert np.array_equal(again.store.hashes[again.rows], first.store.hashes[first.rows])
    assert len(list((tmp_path / "cache" / "stores").iterdir())) == 1  # one file, not one per image


def test_added_images_extend_the_store_and_an_edited_one_is_decoded_again(tmp_path):
    paths = _images(tmp_path / "img", 10)
    old = open_store(paths, HW, cache_dir=tmp_path / "cache")
    more = paths + _images(tmp_path / "img", 4, start=10)
    Image.new("RGB", (160, 90), (10, 200, 30)).save(paths[3])  # edited in place
    grown = open_store(more, HW, cache_dir=tmp_path / "cache")
    assert grown.decoded == 5 and grown.reused == 9  # 4 new + 1 edited decoded; 9 rows copied
    assert np.array_equal(grown.store.gather(grown.rows).numpy(), _fresh(more))
    assert not old.store.path.exists()  # the old store's rows all live in the new one
    assert len(list((tmp_path / "cache" / "stores").glob("*.tkstore"))) == 1


def test_unreadable_images_are_reported_not_stored(tmp_path):
    paths = _images(tmp_path / "img", 3)
    bad = tmp_path / "img" / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    res = open_store([*paths, str(bad)], HW, cache_dir=tmp_path / "cache")
    assert [i for i, _ in res.failed] == [3]
    again = open_store([*paths, str(bad)], HW, cache_dir=tmp_path / "cache")
    assert [i for i, _ in again.failed] == [3] and again.decoded == 0


def test_opening_a_store_reads_almost_nothing(tmp_path):
    """Resident memory grows with the rows touched, not with the size of the store."""
    paths = _images(tmp_path / "img", 300, size=(64, 36))
    big = (200, 360)  # 216 KB a row: 65 MB for 300 rows
    res = open_store(paths, big, cache_dir=tmp_path / "cache")
    store_path = res.store.path
    script = textwrap.dedent(f"""
        import torch, numpy
        from toolkit.data.store import ImageStore
        def store_rss():  # kB of the store file's pages resident in this process (its own mapping)
            total, inside = 0, False
            for line in open("/proc/self/smaps"):
                head = line.split()
                if head and "-" in head[0] and len(head) >= 5:
                    inside = line.rstrip().endswith(".tkstore")
                elif inside and line.startswith("Rss:"):
                    total += int(head[1])
            return total
        store = ImageStore({str(store_path)!r})
        opened = store_rss()
        store.gather(list(range(10)))
        ten = store_rss()
        store.gather(list(range(300)))
        every = store_rss()
        print(opened, ten - opened, every)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    opened, ten, every = (int(v) for v in out.stdout.split())
    row_kb = 3 * big[0] * big[1] / 1024
    assert opened < 0.02 * 300 * row_kb, out.stdout  # the 65 MB store: opening touches no rows
    assert ten < 40 * row_kb  # ten rows touched: about ten rows' worth
    assert every > 250 * row_kb  # every row touched: the whole store


def test_a_truncated_store_is_rebuilt_with_a_note(tmp_path):
    paths = _images(tmp_path / "img", 6)
    res = open_store(paths, HW, cache_dir=tmp_path / "cache")
    path = res.store.path
    with open(path, "r+b") as fh:
        fh.truncate(path.stat().st_size - 100)
    again = open_store(paths, HW, cache_dir=tmp_path / "cache")
    assert again.decoded == 6 and any("is damaged" in n and "rebuilt" in n for n in again.notes)
    assert np.array_equal(again.store.gather(again.rows).numpy(), _fresh(paths))


def test_a_corrupted_row_is_never_trained_on(tmp_path):
    paths = _images(tmp_path / "img", 6)
    res = open_store(paths, HW, cache_dir=tmp_path / "cache")
    store = res.store
    offset = store.header["data_offset"] + res.rows[2] * 3 * HW[0] * HW[1] + 100
    with open(store.path, "r+b") as fh:  # flip bytes inside row 2, same length: only its checksum can tell
        fh.seek(offset)
        fh.write(bytes(255 - b for b in fh.read(16)))
        fh.seek(offset)
    reopened = ImageStore(store.path)
    got = reopened.gather(res.rows).numpy()
    assert np.array_equal(got, _fresh(paths))  # the damaged row was decoded again from its file
    assert any("did not match its checksum" in n for n in reopened.notes)
    rebuilt = open_store(paths, HW, cache_dir=tmp_path / "cache")  # the next run builds a clean store
    assert rebuilt.decoded == 6 and np.array_equal(rebuilt.store.gather(rebuilt.rows).numpy(), _fresh(paths))


BUILD = """
import sys
from toolkit.data.store import open_store
paths = sys.argv[3:]
print("start", flush=True)
open_store(paths, ({h}, {w}), cache_dir=sys.argv[1], workers=int(sys.argv[2]))
print("done", flush=True)
"""


@pytest.mark.parametrize("delay", [0.0, 0.15, 0.4, 0.8, 1.5])
def test_a_killed_build_never_leaves_a_store_with_wrong_pixels(tmp_path, delay):
    paths = _images(tmp_path / "img", 120, size=(320, 180))
    cache = tmp_path / "cache"
    proc = subprocess.Popen([sys.executable, "-c", BUILD.format(h=HW[0], w=HW[1]), str(cache), "1", *paths],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "start"
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stores = list((cache / "stores").glob("*.tkstore")) if (cache / "stores").exists() else []
    for path in stores:  # whatever the kill left that reads as a store is complete and right
        store = ImageStore(path)
        assert store.n == 120
    res = open_store(paths, HW, cache_dir=cache)
    assert np.array_equal(res.store.gather(res.rows).numpy(), _fresh(paths))
    assert res.decoded + res.reused == 120
    assert not list((cache / "stores").glob(".build-*.tmp"))  # the killed build's file is gone (it can be GBs)


def test_a_build_still_running_keeps_its_file_while_stale_ones_are_cleared(tmp_path):
    """A build holds an exclusive flock on its file while it runs (the kernel drops it when the
    process ends, killed or not): a file whose lock can be taken is a dead build's and goes; one
    held, as a running build holds it, stays."""
    import fcntl
    import os

    from toolkit.data.store_file import clear_stale_builds

    stores = tmp_path / "stores"
    stores.mkdir()
    orphan, live = stores / ".build-killed.tmp", stores / ".build-running.tmp"
    orphan.write_bytes(b"\0" * 4096)
    live.write_bytes(b"\0" * 4096)
    held = os.open(live, os.O_RDONLY)
    fcntl.flock(held, fcntl.LOCK_EX)  # what write_store holds while it builds
    try:
        clear_stale_builds(stores)
        assert not orphan.exists() and live.exists()
    finally:
        os.close(held)
    clear_stale_builds(stores)  # its process gone: no one's
    assert not live.exists()


def test_the_old_per_image_cache_is_ignored_with_a_note(tmp_path, monkeypatch):
    from toolkit.testing import make_image_folder, make_recipe, run_cli

    monkeypatch.chdir(tmp_path)
    cache = tmp_path / "tkcache"
    (cache / "images" / "ab").mkdir(parents=True)
    (cache / "images" / "ab" / "abcdef.tkimg").write_bytes(b"an entry of tk 0.1")
    monkeypatch.setenv("TK_CACHE_DIR", str(cache))
    root = make_image_folder(tmp_path / "i", {"a": 6, "b": 6})
    result = run_cli("run", make_recipe(tmp_path / "r.toml", root, epochs=1), "--out", "run")
    assert result.exit_code == 0, result.output
    assert "per-image decode cache" in result.output and "is no longer read" in result.output
    assert list((cache / "stores").glob("*.tkstore"))


@pytest.mark.parametrize("spare_core", [True, False], ids=["reading-thread", "kernel-readahead"])
def test_prefetched_batches_are_the_batches_in_order(tmp_path, monkeypatch, spare_core):
    """With a core free a thread reads ahead; without one the batch is gathered in place and the
    kernel is asked for the next batch's rows. Either way the batches are the same, in order."""
    import torch

    from toolkit.engine.batches import Batches, StoreRows
    from toolkit.engine.data_pipeline import Part

    paths = _images(tmp_path / "img", 20)
    res = open_store(paths, HW, cache_dir=tmp_path / "cache")
    part = Part(paths, [i % 3 for i in range(20)], StoreRows(res.store, res.rows))
    batches = Batches(part, torch.device("cpu"))
    monkeypatch.setattr(Batches, "_spare_core", staticmethod(lambda: spare_core))
    advised: list[list[int]] = []
    will_need = res.store.will_need
    monkeypatch.setattr(res.store, "will_need", lambda rows: (advised.append(list(rows)), will_need(rows)))
    chunks = [[3, 1, 4], [15, 9], [2, 6, 5, 13], [19]]
    streamed = list(batches.iterate(chunks, ahead=2))
    if spare_core:
        assert advised == []
    else:  # before each batch, the next one's store rows
        assert advised == [[res.rows[i] for i in ids] for ids in chunks[1:]]
    for ids, (x, y) in zip(chunks, streamed):
        bx, by = batches.batch(ids)
        assert torch.equal(x, bx) and torch.equal(y, by)
    assert torch.equal(streamed[0][0][0], torch.from_numpy(_fresh([paths[3]])[0]).float() / 255)
    # a consumer that stops early leaves no thread behind
    stream = batches.iterate(chunks * 20, ahead=2)
    next(stream)
    stream.close()
    import threading

    assert not [t for t in threading.enumerate() if t.name == "tk-prefetch" and t.is_alive()]


def test_a_store_of_many_long_paths_opens(tmp_path):
    """The header lists every path: a set whose paths add up to megabytes still opens."""
    deep = tmp_path / ("d" * 200) / ("e" * 200)
    paths = _images(deep, 3)
    links = []
    for i in range(6000):  # 6,000 names of ~450 characters: a 2.7 MB header
        link = deep / f"{'x' * 20}_{i:05d}.png"
        os.link(paths[i % 3], link)
        links.append(str(link))
    res = open_store(links, (8, 8), cache_dir=tmp_path / "cache", workers=2)
    assert res.decoded == 6000 and ImageStore(res.store.path).n == 6000

"""Faults an outside probe found on a fresh clone, each driven the way the probe met it: runs
against the machine and the file system.

Lone last batches, two runs into one folder, a disk that fills half-way through a checkpoint,
names that are not UTF-8, a decode cache whose entries were tampered with, a class folder that is
a link to another, and a new ``--out`` on a read-only mount. The probe's other findings (absurd
recipe values, hostile ONNX metadata, exports, noise) are in test_probe_findings.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from toolkit.core.checkpoint import load_checkpoint
from toolkit.engine.loop import batch_chunks, batch_count
from toolkit.engine.train import run_recipe
from toolkit.recipe.load import load_recipe
from toolkit.testing import make_image_folder, run_cli

from .conftest import TK, one_error_line, record_figure, subprocess_env, tk, write_recipe


def _presplit(root: Path, n_train_per_class: tuple[int, int]) -> Path:
    """A pre-split folder: exact training-set sizes (2 validation images per class)."""
    a, b = n_train_per_class
    make_image_folder(root / "train", {"a": a, "b": b}, size=32)
    make_image_folder(root / "val", {"a": 2, "b": 2}, size=32, seed=1)
    return root


# -- 2. a lone last batch ----------------------------------------------------------------------
@pytest.mark.parametrize("batch", [1, 2, 3, 4, 20])
def test_batches_cover_every_image_once_and_none_is_alone(batch):
    for n in range(0, 4 * batch + 3):
        chunks = batch_chunks(list(range(n)), batch)
        assert sorted(i for c in chunks for i in c) == list(range(n))
        assert len(chunks) == batch_count(n, batch)
        assert batch == 1 or n <= 1 or all(len(c) > 1 for c in chunks), (n, batch, chunks)


@pytest.mark.parametrize("batch", [2, 3, 4])
def test_every_remainder_of_the_last_batch_trains(batch, tmp_path):
    """n_train = k·batch + r for every r in 0…batch−1 (k = 1, 2): each trains and resumes."""
    tried = 0
    for k in (1, 2):
        for r in range(batch):
            n = k * batch + r
            if n < 2:
                continue
            root = _presplit(tmp_path / f"d{k}-{r}", (n // 2, n - n // 2))
            recipe = write_recipe(tmp_path / f"r{k}-{r}.toml", root, epochs=1, batch_size=batch)
            out = tmp_path / f"run{k}-{r}"
            result = run_cli("run", recipe, "--out", out, "--quiet")
            assert result.exit_code == 0, (n, batch, result.output)
            resumed = run_cli("run", recipe, "--resume", out, "--set", "train.epochs=2", "--quiet")
            assert resumed.exit_code == 0, (n, batch, resumed.output)
            assert load_checkpoint(out / "last.pt")["epoch"] == 2
            tried += 1
    record_figure("probe findings", f"last batch of one image: batch {batch}, every remainder, trained and resumed",
                  tried, tried)


@pytest.mark.slow
def test_a_lone_last_batch_per_process_trains_with_nproc_2(tmp_path):
    """21 images per process (42 in all), batch 20: each rank's last batch would hold one image."""
    root = _presplit(tmp_path / "d", (21, 21))
    recipe = write_recipe(tmp_path / "r.toml", root, epochs=1, batch_size=20)
    done = tk("run", recipe, "--out", tmp_path / "run", "--nproc", "2", "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    record_figure("probe findings", "last batch of one image per process, --nproc 2", 1, 1)


# -- 3. one run per folder ---------------------------------------------------------------------
def test_a_second_run_into_a_busy_folder_is_refused(tmp_path, images, in_tmp):
    from toolkit.engine.lock import FolderLock

    recipe = write_recipe(tmp_path / "r.toml", images, epochs=1)
    out = tmp_path / "run"
    with FolderLock(out):  # what a first run holds while it trains
        result = run_cli("run", recipe, "--out", out, "--quiet")
    assert result.exit_code == 1
    line = one_error_line(result.stderr)
    assert str(out) in line and "in use by another tk run" in line and f"process {os.getpid()}" in line
    assert not out.exists()
    # released: the same command now runs, and leaves no lock file behind
    assert run_cli("run", recipe, "--out", out, "--quiet").exit_code == 0
    assert not FolderLock(out).path.exists()


def test_a_lock_left_by_a_killed_run_is_stale(tmp_path, images, in_tmp):
    recipe = write_recipe(tmp_path / "r.toml", images, epochs=1)
    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pathlib import Path; from toolkit.engine.lock import FolderLock\n"
        f"FolderLock(Path({str(out)!r})).acquire(); print('held', flush=True); time.sleep(600)")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        busy = run_cli("run", recipe, "--out", out, "--quiet")
        assert busy.exit_code == 1 and "in use by another tk run" in busy.stderr
        holder.kill()  # SIGKILL: no release, the lock file stays behind
        holder.wait()
        from toolkit.engine.lock import FolderLock

        assert FolderLock(out).path.exists()
        assert run_cli("run", recipe, "--out", out, "--quiet").exit_code == 0
    finally:
        holder.kill()
    record_figure("probe findings", "second run into a busy --out refused; lock of a SIGKILLed run is stale", 2, 2)


def test_two_runs_started_together_into_one_folder(tmp_path, images):
    """The probe's case: two `tk run --out X` at once. One trains; the other is refused, and the
    folder holds one run's files only."""
    recipe = write_recipe(tmp_path / "r.toml", images, epochs=2)
    out = tmp_path / "run"
    args = [str(TK), "run", str(recipe), "--out", str(out), "--quiet"]
    procs = [subprocess.Popen(args, cwd=tmp_path, env=subprocess_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 1], results
    refused = next(err for code, err in results if code == 1)
    assert "in use by another tk run" in refused or "already holds a finished run" in refused, refused
    best = load_checkpoint(out / "best.pt")
    assert (out / "recipe.toml").read_text().split("\n", 1)[1].strip()  # written once, by the run that trained
    assert json.loads((out / "split.json").read_text())["class_names"] == best["class_names"]
    record_figure("probe findings", "two tk run into one --out at once: one trains, one refused", 1, 1)


# -- 4. a checkpoint write that fills the disk half-way -----------------------------------------
def test_disk_full_in_the_middle_of_a_checkpoint_is_one_line(tmp_path, images, in_tmp):
    from .disks import tmpfs

    plugin = Path(__file__).parent / "plugins" / "fill_disk_half.py"
    shutil.copy(plugin, tmp_path / plugin.name)
    recipe = write_recipe(tmp_path / "half.toml", images, epochs=4,
                          extra=f'[plugins]\nmodules = ["{plugin.name}"]\n')
    with tmpfs(tmp_path / "disk") as disk:
        run_dir = disk / "run"
        result = run_cli("run", recipe, "--out", run_dir, "--quiet")
        assert result.exit_code == 1
        line = one_error_line(result.stderr)
        assert "No space left on device" in line and str(run_dir) in line and "unchanged" in line
        assert load_checkpoint(run_dir / "last.pt")["epoch"] == 2
    record_figure("probe findings", "disk full half-way through a checkpoint write (real ENOSPC)", 1, 1)


# -- 5. names that are not UTF-8 -----------------------------------------------------------------
@pytest.mark.skipif(sys.platform == "darwin", reason="APFS refuses names that are not UTF-8")
def test_a_class_folder_named_in_latin1_trains_reports_resumes_and_predicts(tmp_path, in_tmp):
    root = tmp_path / "images"
    make_image_folder(root, {"plain": 8, "cafe": 8}, size=32)
    latin = os.fsdecode(b"caf\xe9")
    os.rename(root / "cafe", root / latin)
    image = next((root / latin).iterdir())
    odd = image.with_name(os.fsdecode(b"\xff\xfe-frame.png"))
    os.rename(image, odd)
    recipe = write_recipe(tmp_path / "latin.toml", root, epochs=1)
    out = tmp_path / "run"
    result = run_cli("run", recipe, "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    assert "caf\\xe9" in (out / "report.html").read_text(encoding="utf-8")
    resumed = run_cli("run", recipe, "--resume", out, "--set", "train.epochs=2", "--quiet")
    assert resumed.exit_code == 0, resumed.output
    csv = tmp_path / "predictions.csv"
    predicted = run_cli("predict", out, odd, "--out", csv)
    assert predicted.exit_code == 0, predicted.output
    text = csv.read_text(encoding="utf-8")
    assert "\\xff\\xfe-frame.png" in text
    record_figure("probe findings", "class folder and file named in Latin-1: trained, reported, resumed, predicted",
                  1, 1)


# -- 6. the decode cache serves only the pixels it was given ------------------------------------
def test_tampered_store_rows_are_decoded_again_with_one_note(tmp_path):
    import torch

    from toolkit.data.cache import decode_images
    from toolkit.data.store import ImageStore

    images = make_image_folder(tmp_path / "images", {"a": 3, "b": 3}, size=32)
    paths = sorted(str(p) for p in images.rglob("*.png"))
    cache = tmp_path / "cache"
    first = decode_images(paths, 16, cache_dir=cache)
    (store_path,) = cache.rglob("*.tkstore")
    store = ImageStore(store_path)
    row = 3 * 16 * 16
    data = bytearray(store_path.read_bytes())
    base = store.header["data_offset"]
    data[base + 200] ^= 0xFF  # bits changed at the same length
    data[base + row:base + 2 * row] = data[base + 2 * row:base + 3 * row]  # one row copied over another
    store_path.write_bytes(bytes(data))
    again = decode_images(paths, 16, cache_dir=cache)
    assert torch.equal(again.images, first.images)
    assert len(again.notes) == 1 and "2 row(s) of the image store" in again.notes[0] and "checksum" in again.notes[0]
    rebuilt = decode_images(paths, 16, cache_dir=cache)  # the next call builds a clean store
    assert rebuilt.decoded == 6 and torch.equal(rebuilt.images, first.images) and not rebuilt.notes

    # an image rewritten in place with its size and modification time put back
    target = Path(paths[3])
    st = target.stat()
    from PIL import Image

    with Image.open(target) as im:
        flipped = im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    flipped.save(target)
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    third = decode_images(paths, 16, cache_dir=cache)
    expected = np.asarray(flipped.convert("RGB").resize((16, 16), Image.Resampling.BICUBIC)).transpose(2, 0, 1)
    assert np.array_equal(third.images[3].numpy(), expected)
    record_figure("probe findings", "image store: row changed at the same length, row copied over another, "
                  "image rewritten with mtime restored: decoded again", 3, 3)


# -- 7. a class folder that is a symlink to another -------------------------------------------
def test_a_class_folder_linked_to_another_is_skipped_with_a_reason(tmp_path):
    from toolkit.data import scan_folder

    root = make_image_folder(tmp_path / "images", {"a": 4, "b": 4}, size=32)
    os.symlink(root / "a", root / "c")
    index = scan_folder(root)
    assert index.class_names == ["a", "b"] and len(index.samples) == 8
    reasons = dict(index.skipped)
    assert "symlink to the class folder" in reasons[str(root / "c")]
    result = run_cli("data", "check", root)
    assert "symlink to the class folder" in result.output
    record_figure("probe findings", "class folder that is a symlink to another: skipped with a reason", 1, 1)


# -- 9. a new --out folder on a read-only file system ----------------------------------------
def test_run_and_export_onto_a_read_only_mount_are_one_line(tmp_path, images, in_tmp):
    from .disks import remount_read_only, tmpfs

    recipe = write_recipe(tmp_path / "r.toml", images, epochs=1)
    run = run_recipe(load_recipe(recipe), out=tmp_path / "trained", quiet=True).run_dir
    with tmpfs(tmp_path / "disk") as disk:
        remount_read_only(disk)
        ran = run_cli("run", recipe, "--out", disk / "new" / "run", "--quiet")
        assert ran.exit_code == 1
        assert "Read-only file system" in one_error_line(ran.stderr)
        exported = run_cli("export", run, "--onnx", "--out", disk / "exports")
        assert exported.exit_code == 1
        assert "Read-only file system" in one_error_line(exported.stderr)
    record_figure("probe findings", "new --out on a read-only mount: tk run and tk export, one line", 2, 2)

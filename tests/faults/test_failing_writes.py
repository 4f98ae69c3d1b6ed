"""Full disk and failing writes: the previous file stays intact and tk stops with one clear line.

Real failures first: a tmpfs filled to the last byte while a run trains (ENOSPC from the
kernel), a run folder and an export folder on a read-only mount (EROFS). Then the same paths
with the error injected at `atomic_write`'s boundary (``os.replace`` refusing with EACCES,
``os.fsync`` reporting ENOSPC), which needs no privileges and so runs everywhere.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
from pathlib import Path

import pytest

from toolkit.core.checkpoint import load_checkpoint
from toolkit.engine.train import run_recipe
from toolkit.recipe.load import load_recipe
from toolkit.testing import run_cli

from .conftest import one_error_line, record_figure, write_recipe
from .disks import fill, remount_read_only, tmpfs
from .killing import differences, temp_target

PLUGIN = Path(__file__).parent / "plugins" / "fill_disk.py"


def digest(path: Path) -> str:
    """Content hash of a file, or of every file under a folder."""
    if path.is_dir():
        return hashlib.sha256(b"".join(digest(p).encode() for p in sorted(path.rglob("*")) if p.is_file())).hexdigest()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def temp_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob(".*.tmp"))


def _recipe_with_plugin(tmp_path: Path, images: Path, epochs: int = 4) -> Path:
    shutil.copy(PLUGIN, tmp_path / PLUGIN.name)
    return write_recipe(tmp_path / "fills.toml", images, epochs=epochs,
                        extra=f'[plugins]\nmodules = ["{PLUGIN.name}"]\n')


def test_disk_full_during_training_keeps_the_last_checkpoint_and_resumes_exactly(tmp_path, images, in_tmp):
    """The disk fills after epoch 2; epoch 3's checkpoint cannot be written. Free it, resume: nothing lost."""
    recipe = _recipe_with_plugin(tmp_path, images)
    with tmpfs(tmp_path / "disk") as disk:
        run_dir = disk / "run"
        result = run_cli("run", recipe, "--out", run_dir, "--quiet")
        assert result.exit_code == 1
        line = one_error_line(result.stderr)
        assert "No space left on device" in line and "unchanged" in line and str(run_dir) in line
        last = load_checkpoint(run_dir / "last.pt")
        assert last["epoch"] == 2 and len(last["history"]) == 2
        assert load_checkpoint(run_dir / "best.pt")["epoch"] <= 2
        assert temp_files(disk) == []
        assert len((run_dir / "history.jsonl").read_text().splitlines()) == 2

        (disk / "filler.bin").unlink()
        resumed = run_cli("run", recipe, "--resume", run_dir, "--quiet")
        assert resumed.exit_code == 0, resumed.output
        reference = run_recipe(load_recipe(recipe), out=tmp_path / "reference", quiet=True)
        problems = differences(reference.run_dir, run_dir)
        record_figure("failing writes", "disk full (real ENOSPC on a tmpfs) during training, then resumed", 1,
                      int(not problems), lost=0 if not problems else 1, method="tmpfs filled to the last byte")
        assert problems == []


def test_read_only_run_folder_fails_cleanly_and_changes_nothing(tmp_path, images, in_tmp):
    recipe = write_recipe(tmp_path / "ro.toml", images, epochs=1)
    with tmpfs(tmp_path / "disk") as disk:
        run_dir = disk / "run"
        assert run_cli("run", recipe, "--out", run_dir, "--quiet").exit_code == 0
        before = {p.name: digest(p) for p in run_dir.iterdir()}
        remount_read_only(disk)
        result = run_cli("run", recipe, "--resume", run_dir, "--set", "train.epochs=2", "--quiet")
        assert result.exit_code == 1
        line = one_error_line(result.stderr)
        assert "Read-only file system" in line and str(run_dir) in line
        assert {p.name: digest(p) for p in run_dir.iterdir()} == before
        record_figure("failing writes", "run folder on a read-only mount (real EROFS), resumed", 1, 1,
                      lost=0, method="tmpfs remounted read-only")


@pytest.fixture
def trained_run(tmp_path, images, in_tmp) -> Path:
    recipe = write_recipe(tmp_path / "small.toml", images, epochs=1)
    return run_recipe(load_recipe(recipe), out=tmp_path / "run", quiet=True).run_dir


def test_export_to_a_full_disk_keeps_the_previous_model(tmp_path, trained_run):
    with tmpfs(tmp_path / "disk", "8m") as disk:
        out = disk / "exports"
        assert run_cli("export", trained_run, "--onnx", "--out", out).exit_code == 0
        (model,) = (out / "onnx").glob("*.onnx")
        before = digest(out)
        fill(disk)
        result = run_cli("export", trained_run, "--onnx", "--out", out)
        assert result.exit_code == 1
        line = one_error_line(result.stderr)
        assert "No space left on device" in line and str(model) in line
        assert digest(out) == before and temp_files(disk) == []
        record_figure("failing writes", "ONNX export onto a full disk (real ENOSPC)", 1, 1, lost=0,
                      method="tmpfs filled to the last byte")


def test_predictions_into_a_read_only_folder_keep_the_previous_csv(tmp_path, trained_run, images):
    image = next((images / "circle").iterdir())
    with tmpfs(tmp_path / "disk", "4m") as disk:
        csv = disk / "predictions.csv"
        assert run_cli("predict", trained_run, image, "--out", csv).exit_code == 0
        before = csv.read_bytes()
        remount_read_only(disk)
        result = run_cli("predict", trained_run, image, "--out", csv)
        assert result.exit_code == 1
        line = one_error_line(result.stderr)
        assert "Read-only file system" in line and str(csv) in line
        assert csv.read_bytes() == before
        record_figure("failing writes", "predictions CSV into a read-only folder (real EROFS)", 1, 1, lost=0,
                      method="tmpfs remounted read-only")


# -- the same failures injected at atomic_write's boundary (no privileges needed) -------------
def _fail_on(monkeypatch, call: str, target: str, after: int, err: int):
    """Make ``os.<call>`` fail with ``err`` from the ``after``-th write of a file named ``target`` on."""
    real = getattr(os, call)
    seen = {"n": 0}

    def name_of(args) -> str:
        if call == "replace":
            return Path(args[1]).name
        return temp_target(os.path.basename(os.readlink(f"/proc/self/fd/{args[0]}"))) or ""

    def failing(*args, **kwargs):
        if call == "fsync" and not os.path.exists(f"/proc/self/fd/{args[0]}"):
            return real(*args, **kwargs)
        try:
            name = name_of(args)
        except (OSError, IndexError):
            return real(*args, **kwargs)
        if name == target:
            seen["n"] += 1
            if seen["n"] >= after:
                raise OSError(err, os.strerror(err), str(args[1] if call == "replace" else target))
        return real(*args, **kwargs)

    monkeypatch.setattr(os, call, failing)


@pytest.mark.parametrize(("call", "target", "err"), [
    ("replace", "last.pt", errno.EACCES),
    ("fsync", "last.pt", errno.ENOSPC),
    ("fsync", "best.pt", errno.ENOSPC),
], ids=["rename-refused", "fsync-enospc", "fsync-enospc-first-best"])
def test_injected_write_failure_keeps_the_previous_checkpoint(tmp_path, images, in_tmp, monkeypatch, call, target, err):
    if call == "fsync" and not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc to name the file behind a descriptor")
    recipe = write_recipe(tmp_path / "inject.toml", images, epochs=4)
    run_dir = tmp_path / "run"
    with monkeypatch.context() as patch:
        # Only writes that are certain: last.pt is written before epoch 1 and after each epoch, so
        # its 3rd write is epoch 2's; best.pt's 1st write is epoch 1's (the first epoch is always
        # the best so far). A later best.pt write depends on the learning going one way.
        _fail_on(patch, call, target, 3 if target == "last.pt" else 1, err)
        result = run_cli("run", recipe, "--out", run_dir, "--quiet")
    assert result.exit_code == 1
    line = one_error_line(result.stderr)
    assert os.strerror(err) in line and "unchanged" in line
    if target == "last.pt":  # epoch 1 was saved whole before epoch 2's write failed
        assert load_checkpoint(run_dir / "last.pt")["epoch"] == 1
        assert load_checkpoint(run_dir / "best.pt")["epoch"] >= 1
    else:  # best.pt never got written; last.pt is still the whole checkpoint written before it
        assert not (run_dir / "best.pt").exists()
        assert load_checkpoint(run_dir / "last.pt")["epoch"] in (0, 1)
    assert temp_files(run_dir) == []
    record_figure("failing writes", f"injected {errno.errorcode[err]} at os.{call} of {target}", 1, 1, lost=0,
                  method="OSError injected at atomic_write's boundary")

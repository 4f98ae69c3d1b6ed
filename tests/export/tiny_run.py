"""One real tiny trained run, exported to ONNX (+ int8) and Core ML, shared by the export and bench tests.

Training and Core ML conversion are the slow parts of these tests, so they happen once per
test session (once across pytest-xdist workers, behind a file lock) in a shared folder laid
out as a user's working directory::

    images/<class>/*.png       real PNGs (tk's test-image helper)
    tiny.toml                  the recipe (test_efficientnet, 32 px, 2 epochs, val + test splits)
    runs/tiny/1/               written by `tk run tiny.toml`
    exports/tiny-1/onnx/       written by `tk export --onnx --coreml --int8`
    exports/tiny-1/coreml/
    run.out, export.out        what those two commands printed

Tests that only read use the folder in place; tests that write copy it first (`copy_shared`).
"""

from __future__ import annotations

import fcntl
import shutil
from pathlib import Path

RECIPE = """\
# tiny: the export tests' run
[data]
root = "images"
image_size = 32
val_fraction = 0.25
test_fraction = 0.25
workers = 0

[model]
backbone = "test_efficientnet"

[optim]
lr = 0.01

[train]
epochs = 2
batch_size = 8
device = "cpu"

[export]
formats = ["onnx", "coreml"]

[bench]
batches = [1, 4]
iters = 3
warmup = 1
runtimes = ["pytorch", "onnx", "coreml"]
"""

CLASSES = {"circle": 12, "square": 12, "stripes": 12}


def _build(root: Path) -> None:
    import os

    from toolkit.testing import make_image_folder, run_cli

    make_image_folder(root / "images", CLASSES, size=40)
    (root / "tiny.toml").write_text(RECIPE, encoding="utf-8")
    # Session fixtures run before the per-test environment fixture: isolate the cache here.
    saved = {k: os.environ.get(k) for k in ("TK_CACHE_DIR", "HF_HUB_OFFLINE")}
    os.environ.update(TK_CACHE_DIR=str(root / "cache"), HF_HUB_OFFLINE="1")
    here = os.getcwd()
    os.chdir(root)
    try:
        for name, args in (("run", ["run", "tiny.toml"]),
                           # any int8 accuracy loss is accepted here: the tests look at the files, not at how
                           # well a one-epoch model survives quantisation (which depends on the training)
                           ("export", ["export", "runs/tiny/1", "--onnx", "--coreml", "--int8",
                                       "--int8-tolerance", "100"])):
            result = run_cli(*args)
            (root / f"{name}.out").write_text(result.output, encoding="utf-8")
            assert result.exit_code == 0, result.output
    finally:
        os.chdir(here)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def shared_run(tmp_path_factory, worker_id: str) -> Path:
    """The shared folder (see the module docstring), built on first use."""
    base = tmp_path_factory.getbasetemp()
    if worker_id not in ("master", ""):
        base = base.parent  # shared by the workers of this session only
    root = base / "tk-export-shared"
    with open(base / "tk-export-shared.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not (root / "done").exists():
                shutil.rmtree(root, ignore_errors=True)
                root.mkdir(parents=True)
                _build(root)
                (root / "done").write_text("ok")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return root


def copy_shared(shared: Path, dest: Path) -> Path:
    """A private copy of the shared folder whose split.json points at the copy's own images."""
    shutil.copytree(shared, dest, symlinks=True)
    split = dest / "runs" / "tiny" / "1" / "split.json"
    split.write_text(split.read_text(encoding="utf-8").replace(str(shared), str(dest)), encoding="utf-8")
    return dest


def train_and_export(work: Path, recipe: str | Path) -> Path:
    """`tk run RECIPE --out run` then `tk export run --onnx --coreml --out exports` inside ``work``;
    the export's output is kept in ``work/export.out``."""
    import os

    from toolkit.testing import run_cli

    old = os.getcwd()
    os.chdir(work)
    try:
        result = run_cli("run", recipe, "--out", "run", "--quiet")
        assert result.exit_code == 0, result.output
        exported = run_cli("export", "run", "--onnx", "--coreml", "--out", "exports")
        assert exported.exit_code == 0, exported.output
        (work / "export.out").write_text(exported.output)
    finally:
        os.chdir(old)
    return work

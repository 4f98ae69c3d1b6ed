"""Faults an outside probe found on a fresh clone, each driven the way the probe met it: values
and files tk must refuse, clean up or name.

Absurd recipe values, hostile ONNX metadata, export litter and a manifest left beside a newer
model, settings stored in a checkpoint (a NUL byte, an unknown format), and noise: files
`tk predict` leaves out, PIL's warning, factory internals offered as parameters, ignored files
counted differently. The probe's findings about runs and the file system (lone last batches, two
runs into one folder, a full disk, names that are not UTF-8, a tampered decode cache, linked class
folders, read-only mounts) are in test_probe_findings_runs.py.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from toolkit.core.checkpoint import load_checkpoint, save_checkpoint
from toolkit.engine.train import run_recipe
from toolkit.recipe.load import load_recipe
from toolkit.testing import make_image_folder, run_cli

from .conftest import one_error_line, record_figure, write_recipe


# -- 8. absurd values fail in `tk recipes check`, as in `tk run` ---------------------------------
ABSURD = [
    "data.val_fraction=nan", "train.min_delta=nan", "train.ema_decay=nan", "train.seed=18446744073709551616",
    "data.seed=-1", "train.grad_clip=inf", "schedule.warmup_epochs=1e300", "schedule.warmup_epochs=nan",
    "model.freeze=1.5", "model.freeze=2", 'model.freeze="yes"', "optim.lr=nan", "loss.label_smoothing=inf",
]


@pytest.mark.parametrize("setting", ABSURD)
def test_absurd_values_are_refused_by_recipes_check_and_run(setting, tmp_path, images, in_tmp):
    recipe = write_recipe(tmp_path / "r.toml", images, epochs=1)
    checked = run_cli("recipes", "check", recipe, "--set", setting)
    assert checked.exit_code == 1, (setting, checked.output)
    key = setting.split("=")[0]
    line = one_error_line(checked.stderr)
    assert key in line, (setting, line)
    ran = run_cli("run", recipe, "--set", setting, "--out", tmp_path / "run", "--dry-run")
    assert ran.exit_code == 1 and one_error_line(ran.stderr) == line, (setting, ran.output)


def test_absurd_values_are_counted():
    record_figure("probe findings", "non-finite and out-of-range values refused by tk recipes check (same line as "
                  "tk run)", len(ABSURD), len(ABSURD), kinds=len(ABSURD))


# -- 10-12. hostile ONNX metadata, export litter, stale manifests, NUL bytes ---------------------
@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("exported")
    images = make_image_folder(root / "images", {"a": 6, "b": 6}, size=32)
    recipe = write_recipe(root / "r.toml", images, epochs=1)
    run = run_recipe(load_recipe(recipe), out=root / "run", quiet=True).run_dir
    result = run_cli("export", run, "--onnx", "--out", root / "exports")
    assert result.exit_code == 0, result.output
    (model,) = (root / "exports" / "onnx").glob("*.onnx")
    return {"root": root, "run": run, "model": model, "image": sorted((images / "a").iterdir())[0]}


@pytest.mark.parametrize(("key", "value", "says"), [
    ("tk.class_names", '["a"]', "class"),
    ("tk.class_names", '["a", "b", "c"]', "outputs 2"),
    ("tk.image_size", "0", "outside"),
    ("tk.image_size", "-5", "outside"),
    ("tk.image_size", "200000", "outside"),
])
def test_hostile_onnx_metadata_is_one_line(key, value, says, exported, tmp_path):
    import onnx

    model = onnx.load(str(exported["model"]))
    for prop in model.metadata_props:
        if prop.key == key:
            prop.value = value
    path = tmp_path / "hostile.onnx"
    onnx.save(model, str(path))
    for args in (["predict", path, exported["image"]], ["eval", path, "--run", exported["run"]]):
        result = run_cli(*args)
        assert result.exit_code == 1, (key, value, result.output)
        line = one_error_line(result.stderr)
        assert str(path) in line and says in line, (key, value, line)
    record_figure("probe findings", f"ONNX metadata {key} = {value}: predict and eval refuse in one line", 2, 2)


def test_export_clears_litter_and_never_leaves_a_stale_manifest(exported, tmp_path, monkeypatch):
    out = tmp_path / "exports"
    shutil.copytree(exported["root"] / "exports", out)
    folder = out / "onnx"
    model = next(folder.glob("*.onnx"))
    litter = [folder / f".{model.name}.abc123.tmp", folder / f".{model.name}.staging"]
    litter[0].write_bytes(b"half a model")
    litter[1].mkdir()
    (litter[1] / "x").write_bytes(b"x")
    manifest_seen: list[dict] = []

    from tk_exporters import onnx_exporter

    real = onnx_exporter.atomic_write

    def spy(path, write):  # the moment the new model replaces the old one
        if Path(path).suffix == ".onnx":
            manifest = folder / "manifest.json"
            manifest_seen.append(json.loads(manifest.read_text()) if manifest.exists() else {})
        return real(path, write)

    monkeypatch.setattr(onnx_exporter, "atomic_write", spy)
    result = run_cli("export", exported["run"], "--onnx", "--out", out)
    assert result.exit_code == 0, result.output
    # The manifest there then says the export is under way and vouches for nothing (#25, 22).
    assert len(manifest_seen) == 1 and "parity" not in manifest_seen[0], \
        "the old manifest was still there when the new model went in"
    assert manifest_seen[0].get("status") == "exporting"
    assert not any(p.exists() for p in litter)
    assert json.loads((folder / "manifest.json").read_text())["parity"]["passed"] is True
    record_figure("probe findings", "export: old manifest gone before the model is replaced; earlier litter removed",
                  2, 2)


def test_stored_export_settings_are_worded_as_the_checkpoints(exported, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ckpt = load_checkpoint(exported["run"] / "best.pt")
    ckpt.pop("format"), ckpt.pop("version")
    ckpt["recipe"]["export"]["out"] = "exp\0orts"
    nul = save_checkpoint(tmp_path / "nul.pt", ckpt)
    result = run_cli("export", nul, "--onnx")
    assert result.exit_code == 1 and "NUL" in one_error_line(result.stderr)
    ckpt["recipe"]["export"]["out"] = "exports"
    ckpt["recipe"]["export"]["formats"] = ["onnxx"]
    odd = save_checkpoint(tmp_path / "formats.pt", ckpt)
    result = run_cli("export", odd)
    line = one_error_line(result.stderr)
    assert "export.formats" in line and "--format" not in line.split(":")[0] and str(odd) in line
    record_figure("probe findings", "checkpoint's export.out with a NUL byte; its export.formats worded as its own",
                  2, 2)


# -- 13. noise ---------------------------------------------------------------------------------
def test_predict_names_every_file_it_leaves_out(exported, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(exported["image"], folder / "ok.png")
    os.symlink(folder / "missing.png", folder / "broken.png")
    os.symlink(folder / "loop.png", folder / "loop.png")
    os.mkfifo(folder / "fifo.png")
    (folder / "empty.png").write_bytes(b"")
    result = run_cli("predict", exported["run"], folder)
    assert result.exit_code == 0, result.output
    for name, why in (("broken.png", "broken symlink"), ("loop.png", "symlink loop"),
                      ("fifo.png", "not a regular file"), ("empty.png", "empty file (0 bytes)")):
        assert f"Skipped {folder / name}: {why}" in result.stderr, (name, result.stderr)
    record_figure("probe findings", "tk predict names broken links, loops, FIFOs and empty files it leaves out", 4, 4)


def test_the_same_empty_file_has_the_same_reason_everywhere(exported, tmp_path, images):
    empty = images / "circle" / "empty.png"
    empty.write_bytes(b"")
    checked = run_cli("data", "check", images)
    predicted = run_cli("predict", exported["run"], empty)
    assert "empty file (0 bytes)" in checked.output
    assert "empty file (0 bytes)" in predicted.stderr


def test_a_large_image_gives_no_pil_warning(exported, tmp_path, monkeypatch):
    from PIL import Image

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # this image then triggers PIL's warning
    big = tmp_path / "big.png"
    Image.new("RGB", (40, 40), (10, 20, 30)).save(big)
    result = run_cli("predict", exported["run"], big)
    assert result.exit_code == 0, result.output
    assert "DecompressionBombWarning" not in result.output + result.stderr


def test_factory_internals_are_not_offered_as_parameters():
    result = run_cli("plugins", "--kind", "datasets", "-v")
    assert "on_progress" not in result.output


def test_run_and_data_check_count_the_same_ignored_files(tmp_path, images, in_tmp):
    (images / "notes.txt").write_text("x")
    (images / ".DS_Store").write_bytes(b"x")
    (images / "circle" / "readme.md").write_text("x")
    (images / "circle" / "._circle.png").write_bytes(b"x")
    checked = run_cli("data", "check", images)
    listed = int(checked.output.split(" other file(s) ignored")[0].split()[-1])
    recipe = write_recipe(tmp_path / "r.toml", images, epochs=1)
    ran = run_cli("run", recipe, "--out", tmp_path / "run")
    assert ran.exit_code == 0, ran.output
    assert f"{listed} other file(s) ignored" in ran.output, (listed, ran.output)

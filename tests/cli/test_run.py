"""`tk run` as a user drives it: dry run, validation before data, option errors."""

from __future__ import annotations

import re
from pathlib import Path

from toolkit.testing import make_image_folder, run_cli


def _recipe(tmp_path: Path, root: Path, extra: str = "") -> Path:
    path = tmp_path / "r.toml"
    path.write_text(f"""\
[data]
root = "{root.as_posix()}"
image_size = 32
workers = 0
[model]
backbone = "test_efficientnet"
[train]
epochs = 3
batch_size = 8
device = "cpu"
{extra}""")
    return path


def test_dry_run_reports_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    root = make_image_folder(tmp_path / "images", {"a": 12, "b": 6}, size=40)
    result = run_cli("run", _recipe(tmp_path, root), "--dry-run")
    assert result.exit_code == 0, result.output
    out = result.output
    assert re.search(r"^  a\s+9\s+3$", out, re.M) and re.search(r"^  b\s+5\s+1$", out, re.M)
    assert "Input batch: 8 x 3 x 32 x 32 (float 0-1)" in out
    loss = float(re.search(r"Loss of one batch: ([0-9.]+); gradient norm: ([0-9.]+)", out).group(1))
    assert 0 < loss < 10
    assert re.search(r"Peak memory: \d+ MiB \(peak resident memory of the process\)", out)
    assert re.search(r"Estimated time: about \S+ per epoch \(\S+–\S+\), about \S+ for 3 epochs", out)
    assert "test_efficientnet" in out
    assert not (tmp_path / "runs").exists()


def test_recipe_is_validated_before_any_data_is_read(tmp_path):
    recipe = _recipe(tmp_path, tmp_path / "does-not-exist", extra='[loss]\nname = "cross_entropyy"\n')
    result = run_cli("run", recipe)
    assert result.exit_code == 1
    assert "unknown loss 'cross_entropyy'" in result.output and "Did you mean 'cross_entropy'" in result.output
    assert "does-not-exist" not in result.output


def test_unknown_metric_and_missing_data_are_one_line_errors(tmp_path):
    recipe = _recipe(tmp_path, tmp_path / "nope", extra='best_metric = "val_acc"\n')
    result = run_cli("run", recipe)
    assert result.exit_code == 1 and "train.best_metric: unknown metric 'val_acc'" in result.output
    missing = run_cli("run", _recipe(tmp_path, tmp_path / "nope"))
    assert missing.exit_code == 1
    assert missing.output.strip() == (f"Error: {tmp_path / 'r.toml'}:2: data.root: dataset folder {tmp_path / 'nope'} "
                                      f"does not exist: check the path")
    assert not (tmp_path / "runs").exists()


def test_unavailable_device_and_precision_say_what_to_choose(tmp_path):
    root = make_image_folder(tmp_path / "images", {"a": 4, "b": 4}, size=32)
    fp16 = run_cli("run", _recipe(tmp_path, root), "--set", 'train.amp="fp16"')
    assert fp16.exit_code == 1 and "train.amp = 'fp16' is not available on the CPU; use train.amp = 'bf16' or 'off'" in fp16.output
    mps = run_cli("run", _recipe(tmp_path, root), "--set", 'train.device="mps"')
    assert mps.exit_code == 1 and "train.device = 'mps' but Apple's MPS is not available" in mps.output


def test_bundled_recipe_by_name_and_help():
    result = run_cli("run", "--help")
    assert result.exit_code == 0
    for option in ("--set", "--out", "--resume", "--fresh", "--quiet", "--dry-run"):
        assert option in result.output
    missing = run_cli("run", "no_such_recipe")
    assert missing.exit_code == 1 and "no such recipe file" in missing.output


def test_run_out_naming_a_file_is_one_line(tmp_path, monkeypatch):
    from toolkit.testing import make_image_folder, make_recipe, run_cli

    monkeypatch.chdir(tmp_path)
    recipe = make_recipe(tmp_path / "r.toml", make_image_folder(tmp_path / "img", {"a": 4, "b": 4}, size=32), epochs=1)
    (tmp_path / "afile").write_text("x")
    result = run_cli("run", recipe, "--out", tmp_path / "afile")
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (f"Error: --out {tmp_path / 'afile'}: that is a file; give a "
                                                      f"folder for the run (it is created if missing).")


def test_run_header_says_a_rectangular_size_as_a_person_reads_it(tmp_path, monkeypatch):
    from toolkit.testing import make_image_folder, make_recipe, run_cli

    monkeypatch.chdir(tmp_path)
    recipe = make_recipe(tmp_path / "r.toml", make_image_folder(tmp_path / "img", {"a": 4, "b": 4}, size=48), epochs=1)
    recipe.write_text(recipe.read_text().replace("image_size = 32", "image_size = [24, 40]"))
    result = run_cli("run", recipe, "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    assert "test_efficientnet at 24×40 px (height×width) on " in result.output, result.output
    assert "[24, 40] px" not in result.output
    # what calibration did is said, in one line, even when it did not help (few validation images)
    import json

    section = json.loads((tmp_path / "run" / "metrics.json").read_text())["calibration"]
    line = next(x for x in result.output.splitlines() if x.startswith("Calibration on "))
    assert line.startswith(f"Calibration on {section['images']} validation images: temperature "), line
    assert f"ECE {section['ece_before']:.3f} → {section['ece_after']:.3f}" in line
    assert ("(worse: " in line) == (section["ece_after"] > section["ece_before"])


def test_a_label_conflict_note_shows_images_of_both_labels(tmp_path, monkeypatch):
    import shutil

    from toolkit.testing import make_image_folder, make_recipe, run_cli

    monkeypatch.chdir(tmp_path)
    root = make_image_folder(tmp_path / "img", {"a": 6, "b": 6}, size=32)
    src = sorted((root / "a").glob("*.png"))[0]
    for k in range(3):  # three copies in its own class first, then one filed under the other class
        shutil.copyfile(src, root / "a" / f"{src.stem}_copy{k}.png")
    shutil.copyfile(src, root / "b" / "zz_misfiled.png")
    result = run_cli("run", make_recipe(tmp_path / "r.toml", root, epochs=1), "--dry-run")
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "1 group(s) of near-duplicate images carry different labels (first: " in out, out
    assert f"a/{src.name}, b/zz_misfiled.png)" in out, out


def test_bad_threads_is_the_same_one_line_for_run_and_bench(tmp_path):
    from toolkit.testing import run_cli

    for command in (["run", "quickstart", "--dry-run"], ["bench", str(tmp_path)]):
        for value in ("abc", "0"):
            result = run_cli(*command, "--threads", value)
            assert result.exit_code != 0
            assert result.output.strip() == (f"Error: --threads {value}: give the number of CPU threads, a whole "
                                             f"number of at least 1."), result.output

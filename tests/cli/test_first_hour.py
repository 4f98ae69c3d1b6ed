"""What tripped a new user following the README (issue: the first hour), driven the way they did."""

from __future__ import annotations

import re
from pathlib import Path

from toolkit.core.checkpoint import load_checkpoint, save_checkpoint
from toolkit.testing import make_image_folder, make_recipe, run_cli

ROOT = Path(__file__).resolve().parents[2]


def _two_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    images = make_image_folder(tmp_path / "images", {"a": 6, "b": 6}, size=32)
    recipe = make_recipe(tmp_path / "x.toml", images, epochs=1)
    assert run_cli("run", recipe, "--quiet").exit_code == 0
    return recipe


def test_repeating_a_run_from_its_recipe_lands_beside_it(tmp_path, monkeypatch):
    _two_runs(tmp_path, monkeypatch)
    again = run_cli("run", "runs/x/1/recipe.toml", "--quiet")
    assert again.exit_code == 0, again.output
    assert (tmp_path / "runs/x/2/best.pt").is_file() and not (tmp_path / "runs/recipe").exists()


def test_export_and_bench_without_a_path_prefer_a_finished_run_and_say_which(tmp_path, monkeypatch):
    recipe = _two_runs(tmp_path, monkeypatch)
    assert run_cli("run", recipe, "--quiet", "--fresh").exit_code == 0
    last = tmp_path / "runs/x/2/last.pt"
    ckpt = load_checkpoint(last)  # the newer run looks interrupted, as after Ctrl-C
    ckpt.pop("format"), ckpt.pop("version")
    save_checkpoint(last, {**ckpt, "status": "interrupted"})
    exported = run_cli("export", "--onnx")
    assert exported.exit_code == 0, exported.output
    assert "Using runs/x/1 (finished, 1 of 1 epochs): the most recent finished run" in exported.output
    assert (tmp_path / "exports/x-1/onnx").is_dir() and not (tmp_path / "exports/x-2").exists()
    benched = run_cli("bench", "--runtime", "pytorch", "--iters", "1", "--warmup", "0", "--batch", "1")
    assert benched.exit_code == 0, benched.output
    assert "Using runs/x/1 (finished" in benched.output


def test_bundled_recipes_point_to_docs_in_the_repository():
    for path in [*(ROOT / "recipes").glob("*.toml"), *(ROOT / "toolkit").rglob("*.py")]:
        assert "DESIGN.md" not in path.read_text(encoding="utf-8"), path
    assert (ROOT / "docs" / "reference-workload.md").is_file()
    listed = run_cli("recipes", "list")
    assert "DESIGN.md" not in listed.output


def test_best_pt_holds_the_weights_without_training_state(tmp_path, monkeypatch):
    _two_runs(tmp_path, monkeypatch)
    best, last = load_checkpoint(tmp_path / "runs/x/1/best.pt"), load_checkpoint(tmp_path / "runs/x/1/last.pt")
    assert best["optimizer"] is None and best["scheduler"] is None and best["rng"] is None
    assert last["optimizer"] is not None and last["rng"] is not None
    assert (tmp_path / "runs/x/1/best.pt").stat().st_size < (tmp_path / "runs/x/1/last.pt").stat().st_size
    assert run_cli("predict", "runs/x/1", next((tmp_path / "images/a").iterdir())).exit_code == 0


def test_compare_shows_how_the_recipes_differ(tmp_path, monkeypatch):
    recipe = _two_runs(tmp_path, monkeypatch)
    assert run_cli("run", recipe, "--quiet", "--fresh", "--set", "optim.lr=0.05").exit_code == 0
    result = run_cli("compare", "runs/x/1", "runs/x/2", "--png", tmp_path / "c.png")
    assert result.exit_code == 0, result.output
    assert "How the recipes differ" in result.output
    line = next(line for line in result.output.splitlines() if "optim.lr" in line)
    assert "0.01" in line and "0.05" in line
    assert "train.epochs" not in result.output.split("How the recipes differ")[1]


def test_int8_losing_more_than_the_tolerance_fails_loudly(tmp_path, monkeypatch):
    """The loss is injected (a certain event) on top of a real int8 export: the real one may or may
    not lose accuracy, depending on how training went."""
    import toolkit.export.run as export_run

    _two_runs(tmp_path, monkeypatch)
    real = export_run._quantize

    def losing(*args, **kwargs):
        section = real(*args, **kwargs)
        return {**section, "fp32_accuracy": 0.9583, "accuracy": 0.6667, "accuracy_change": 0.6667 - 0.9583}

    monkeypatch.setattr(export_run, "_quantize", losing)
    result = run_cli("export", "runs/x/1", "--onnx", "--int8")
    assert result.exit_code == 1
    assert "WARNING: the int8 model loses 29.2 accuracy points (66.67% vs 95.83% fp32)" in result.output
    assert "more than the --int8-tolerance of 2" in result.stderr
    allowed = run_cli("export", "runs/x/1", "--onnx", "--int8", "--int8-tolerance", "30")
    assert allowed.exit_code == 0, allowed.output


def test_a_balanced_folder_is_called_balanced(tmp_path):
    images = make_image_folder(tmp_path / "images", {"china": 3, "cups": 3}, size=32)
    out = run_cli("data", "check", images).output
    assert "Balanced: every class has 3 images." in out and "Imbalance" not in out


def test_top5_accuracy_with_more_than_five_classes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    images = make_image_folder(tmp_path / "images", {c: 4 for c in "abcdefg"}, size=32)
    recipe = make_recipe(tmp_path / "seven.toml", images, epochs=1)
    ran = run_cli("run", recipe, "--out", tmp_path / "run")
    assert ran.exit_code == 0, ran.output
    import json

    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["accuracy"] <= metrics["top5_accuracy"] <= 1.0 and ", top-5 " in ran.output
    evaluated = run_cli("eval", tmp_path / "run", "--split", "val")
    assert "top-5 accuracy" in evaluated.output
    (tmp_path / "two").mkdir()
    _two_runs(tmp_path / "two", monkeypatch)  # two classes: no top-5
    assert "top5_accuracy" not in json.loads((tmp_path / "two/runs/x/1/metrics.json").read_text())


def test_eval_any_model_on_any_labelled_folder(tmp_path, monkeypatch):
    _two_runs(tmp_path, monkeypatch)
    assert run_cli("export", "runs/x/1", "--onnx").exit_code == 0
    other = make_image_folder(tmp_path / "other", {"a": 3, "b": 2}, size=48, seed=7)
    (other / "b" / "empty.png").write_bytes(b"")
    import json

    for model in ("runs/x/1", "exports/x-1/onnx/x.onnx"):
        result = run_cli("eval", model, "--data", other, "--json", tmp_path / "e.json")
        assert result.exit_code == 0, result.output
        assert re.search(r"/5\) \[[0-9.]+–[0-9.]+\], macro-F1", result.output)  # scored on the 5 readable images of the folder
        assert f"Skipped {other / 'b' / 'empty.png'}: empty file (0 bytes)" in result.stderr
        report = json.loads((tmp_path / "e.json").read_text())
        assert report["num_samples"] == 5 and report["data"] == str(other.resolve())
    (other / "c").mkdir()
    make_image_folder(other, {"c": 2}, size=48)
    refused = run_cli("eval", "runs/x/1", "--data", other)
    assert refused.exit_code == 1 and "class folder 'c' is not one of the model's classes" in refused.stderr


def test_recipes_list_columns_line_up():
    out = run_cli("recipes", "list").output.splitlines()
    starts = {line.index("recipes/") for line in out if "recipes/" in line and not line.startswith(" ")}
    assert len(starts) == 1, out


def test_the_report_shows_the_test_split_settings_and_time(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    images = make_image_folder(tmp_path / "images", {"a": 8, "b": 8}, size=32)
    recipe = make_recipe(tmp_path / "t.toml", images, epochs=1)
    assert run_cli("run", recipe, "--out", tmp_path / "run", "--quiet", "--set", "data.test_fraction=0.25").exit_code == 0
    page = (tmp_path / "run" / "report.html").read_text()
    assert "<h2>Test: accuracy" in page and "training time" in page
    assert "t.toml: 1 epoch, batch 8, adamw lr 0.01" in page
    assert 'width:200px' in page  # small inputs get readable thumbnails


def test_augment_preview_keeps_class_names_whole_and_has_a_title():
    import torch

    from toolkit.cli.augment_cmd import render_grid

    images = torch.rand(2, 3, 32, 32)
    names = ["may_be_slide_powerpoint_edit_mode", "may_be_slide_powerpoint_side_screen"]
    with_title = render_grid(images, images, names, names, title="quickstart: before | after color_jitter")
    without = render_grid(images, images, ["a", "b"], ["a", "b"])
    assert with_title.height > without.height  # the title and the wrapped full names take room, nothing is cut


def test_help_lists_every_command_without_cutting_its_description():
    result = run_cli("--help")
    assert result.exit_code == 0
    commands = result.output.split("Commands:")[1]
    assert "..." not in commands, commands

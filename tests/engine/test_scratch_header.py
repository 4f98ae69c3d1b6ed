"""`tk run` says in its header what training from scratch costs — and only when it trains from scratch."""

from __future__ import annotations

from pathlib import Path

from toolkit.engine.model import FROM_SCRATCH_NOTE, trains_from_scratch
from toolkit.testing import make_image_folder, make_recipe, run_cli

README = Path(__file__).resolve().parents[2] / "README.md"


def _scratch_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("From scratch")]


def test_the_header_says_what_from_scratch_costs_and_a_run_from_weights_does_not(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    images = make_image_folder(tmp_path / "images", {"a": 6, "b": 6}, size=32)
    recipe = make_recipe(tmp_path / "r.toml", images, epochs=1, backbone="test_resnet")  # pretrained = false

    scratch = run_cli("run", recipe, "--set", "train.threads=1", "--out", tmp_path / "scratch")
    assert scratch.exit_code == 0, scratch.output
    assert _scratch_lines(scratch.output) == [FROM_SCRATCH_NOTE]
    header = scratch.output.splitlines()
    assert header.index(FROM_SCRATCH_NOTE) == 1 + next(i for i, line in enumerate(header) if line.startswith("Run "))

    # Weights from a local file (an earlier run's best.pt, as an offline user copies them over): not from scratch.
    weights = tmp_path / "scratch" / "best.pt"
    tuned = run_cli("run", recipe, "--set", "train.threads=1", "--set", f'model.pretrained_path="{weights}"',
                    "--out", tmp_path / "tuned")
    assert tuned.exit_code == 0, tuned.output
    assert _scratch_lines(tuned.output) == []
    assert any(line.startswith("Run ") for line in tuned.output.splitlines())  # the header itself is there


def test_a_dry_run_says_it_too(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    images = make_image_folder(tmp_path / "images", {"a": 6, "b": 6}, size=32)
    recipe = make_recipe(tmp_path / "r.toml", images, epochs=1, backbone="test_resnet")  # pretrained = false
    dry = run_cli("run", recipe, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert _scratch_lines(dry.output) == [FROM_SCRATCH_NOTE]


def test_what_counts_as_from_scratch():
    assert trains_from_scratch({"backbone": "resnet10t", "pretrained": False})
    assert trains_from_scratch({"backbone": "my_net"})  # a backbone with no weights to load
    assert not trains_from_scratch({"backbone": "resnet10t", "pretrained": True})
    assert not trains_from_scratch({"backbone": "resnet10t", "pretrained": False, "pretrained_path": "w.safetensors"})


def test_the_readme_quotes_the_figures_the_header_prints():
    text = README.read_text(encoding="utf-8")
    assert "From scratch on real screens" in text
    assert "slides_scratch" in text and "python benchmarks/from_scratch.py" in text
    for figure in FROM_SCRATCH_NOTE.split("macro-F1 ")[1:]:
        assert figure.split(" ")[0] in text  # each macro-F1 the line quotes, as the README gives it

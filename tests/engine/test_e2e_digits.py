"""End to end on real images shipped with scikit-learn: the 8x8 digits, upscaled to 32 px PNGs.

1,797 handwritten digits in 10 classes, written as class folders of PNG files, trained through
the real `tk run` command: the run must learn (far above chance, its training loss falling),
keep the best epoch by its metric, and leave every file of a run folder behind.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from toolkit.core.checkpoint import load_checkpoint
from toolkit.testing import run_cli

from .conftest import recipe_file

RUN_FILES = ["best.pt", "confusion_matrix.png", "curves.png", "history.jsonl", "last.pt", "metrics.json",
             "predictions.csv", "recipe.toml", "report.html", "split.json"]


@pytest.fixture(scope="module")
def digits_folder(tmp_path_factory) -> Path:
    from sklearn.datasets import load_digits

    root = tmp_path_factory.mktemp("digits")
    digits = load_digits()
    for i, (image, target) in enumerate(zip(digits.images, digits.target)):
        folder = root / f"digit_{target}"
        folder.mkdir(exist_ok=True)
        pixels = (image / 16.0 * 255).astype(np.uint8)
        Image.fromarray(pixels).resize((32, 32), Image.Resampling.BICUBIC).save(folder / f"{i:04d}.png")
    return root


def test_digits_learn_and_leave_a_whole_run_folder(tmp_path, monkeypatch, digits_folder):
    monkeypatch.chdir(tmp_path)
    recipe = recipe_file(tmp_path / "digits.toml", digits_folder, epochs=3, backbone="test_resnet", lr=0.003,
                         batch_size=32)
    result = run_cli("run", recipe, "--quiet")
    assert result.exit_code == 0, result.output

    lines = result.output.strip().splitlines()
    assert [bool(re.match(r"epoch \d/3  train loss", line)) for line in lines[:3]] == [True] * 3
    assert lines[-1] == "Run folder: runs/digits/1"
    run_dir = tmp_path / "runs" / "digits" / "1"
    assert sorted(p.name for p in run_dir.iterdir()) == RUN_FILES

    metrics = json.loads((run_dir / "metrics.json").read_text())
    # it learns: far above chance (0.1 for ten classes; three epochs of a working loop reach about
    # 0.95, the margin is for other torch builds and CPUs), and the training loss falls
    assert metrics["accuracy"] >= 0.5, metrics["accuracy"]
    history = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
    assert history[-1]["train_loss"] < history[0]["train_loss"], history
    # best.pt is the best epoch by the metric it was chosen on, and metrics.json says which
    chosen = [h[metrics["best_metric"]] for h in history]
    best_value = min(chosen) if metrics["best_metric"].endswith("loss") else max(chosen)
    assert metrics["best_value"] == best_value and history[metrics["best_epoch"] - 1][metrics["best_metric"]] == best_value
    assert metrics["split"] == "val" and metrics["class_names"] == [f"digit_{d}" for d in range(10)]
    # val_fraction 0.25 of 1,797, give or take the near-duplicate digits kept on one side
    val = len(json.loads((run_dir / "split.json").read_text())["val"])
    assert 400 <= val <= 500 and sum(m["support"] for m in metrics["per_class"].values()) == val
    assert len(metrics["confusion_matrix"]) == 10 and sum(map(sum, metrics["confusion_matrix"])) == val
    assert metrics["accuracy"] == pytest.approx(sum(metrics["confusion_matrix"][i][i] for i in range(10)) / val)
    assert f"val accuracy {metrics['accuracy']:.4f}" in result.output

    assert [h["epoch"] for h in history] == [1, 2, 3]
    best = load_checkpoint(run_dir / "best.pt")
    assert best["kind"] == "best" and best["epoch"] == metrics["best_epoch"]
    assert best["model_info"]["image_size"] == 32 and best["model_info"]["num_classes"] == 10
    assert best["model_info"]["resize"] == "bicubic" and best["model_info"]["input_range"] == [0, 1]
    for key in ("optimizer", "scheduler", "callbacks", "rng", "history", "class_names", "recipe", "recipe_path",
                "metrics", "status", "global_step"):
        assert key in best
    assert best["callbacks"] == {}  # training state (callbacks' too) lives in last.pt, which runs resume from
    assert best["metrics"]["best_metric"] == metrics["best_metric"]  # what chose it, recorded in it
    split = json.loads((run_dir / "split.json").read_text())
    assert len(split["train"]) + len(split["val"]) == 1797 and len(split["val"]) == val and split["seed"] == 0
    assert split["grouping"]["group_by"] == "near_duplicates"
    report = (run_dir / "report.html").read_text()
    assert report.count("data:image/png;base64,") >= 3  # curves, confusion matrix, mistake thumbnails
    assert "digit_9" in report and "Worst misclassified" in report
    assert (run_dir / "curves.png").read_bytes()[:4] == b"\x89PNG"

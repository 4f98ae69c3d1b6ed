"""`tk data doctor RUN`'s likely label errors say how far to trust them (#30 item 8): the accuracy
and macro-F1, with 95% intervals, of the model whose held-out predictions flagged them, and one
Caution: line when that model is weak or judged on too few images — on screen and on the page.

The run is trained once for the module; the weak and strong models are its predictions.csv
rewritten, so what is asserted does not depend on how training went.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import pytest

from toolkit.testing import make_image_folder, run_cli

RECIPE = """\
[data]
root = "images"
image_size = 16
val_fraction = 0.5
workers = 0
[model]
backbone = "test_efficientnet"
[train]
epochs = 1
batch_size = 16
device = "cpu"
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("doctor-trust")
    make_image_folder(root / "images", {"a": 30, "b": 30, "c": 30}, size=24)
    (root / "r.toml").write_text(RECIPE)
    with pytest.MonkeyPatch.context() as mp:  # module fixtures run before the per-test environment
        mp.setenv("TK_CACHE_DIR", str(root / "cache"))
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.chdir(root)
        result = run_cli("run", "r.toml", "--out", "run", "--quiet")
    assert result.exit_code == 0, result.output
    return root


def _copy_with_predictions(trained: Path, dest: Path, right: float | None) -> Path:
    """A copy of the run whose validation predictions are right on the first ``right`` share of
    images (confidently), or the trained model's own (None)."""
    shutil.copytree(trained / "run", dest)
    if right is None:
        return dest
    path = dest / "predictions.csv"
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    names = [h[2:] for h in header if h.startswith("p:")]
    val = [r for r in body if r[0] == "val"]
    cut = round(right * len(val))
    out = []
    for i, row in enumerate(val):
        given = names.index(row[2])
        said = given if i < cut else (given + 1) % len(names)
        probs = [0.9 if k == said else 0.1 / (len(names) - 1) for k in range(len(names))]
        out.append(row[:3] + [names[said], f"{max(probs):.6f}"] + [f"{p:.6f}" for p in probs])
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows([header, *out])
    return dest


def _doctor(run: Path):
    result = run_cli("data", "doctor", run)
    assert result.exit_code == 0, result.output
    doc = json.loads((run / "doctor" / "doctor.json").read_text())["label_issues"]
    page = (run / "doctor" / "doctor.html").read_text()
    return result.output, doc, page


def test_a_weak_model_s_label_errors_come_with_its_accuracy_and_a_caution(trained, tmp_path, monkeypatch):
    monkeypatch.chdir(trained)
    run = _copy_with_predictions(trained, tmp_path / "weak", right=0.6)
    out, doc, page = _doctor(run)
    n = doc["trust"]["images"]
    shown = f"{round(0.6 * n) / n:.1%}"
    assert re.search(rf"^  how much to trust them: the model is right on {re.escape(shown)} \[[\d.]+%–[\d.]+%\] of "
                     rf"{n} held-out images \(macro-F1 [\d.]+ \[[\d.]+–[\d.]+\]\), 95% intervals$", out, re.M), out
    cautions = [line for line in out.splitlines() if line.startswith("Caution:")]
    assert len(cautions) == 1 and f"right on only {shown}" in cautions[0] and "its own mistakes" in cautions[0]
    assert doc["caution"] == cautions[0] and doc["trust"]["accuracy"] == pytest.approx(round(0.6 * n) / n)
    low, high = doc["trust"]["accuracy_ci"]
    assert low <= doc["trust"]["accuracy"] <= high
    assert "How much to trust them" in page and "its own mistakes" in page


def test_a_strong_model_on_enough_images_gets_no_caution(trained, tmp_path, monkeypatch):
    monkeypatch.chdir(trained)
    run = _copy_with_predictions(trained, tmp_path / "strong", right=1.0)
    out, doc, page = _doctor(run)
    assert doc["trust"]["accuracy"] == 1.0 and doc["trust"]["images"] >= 30
    assert f"the model is right on 100.0% [" in out
    assert not [line for line in out.splitlines() if line.startswith("Caution:")] and doc["caution"] is None
    assert "How much to trust them" in page and "Caution" not in page


def test_the_trained_run_s_figure_is_its_validation_accuracy_and_the_caution_follows_the_rule(trained, tmp_path,
                                                                                            monkeypatch):
    monkeypatch.chdir(trained)
    run = _copy_with_predictions(trained, tmp_path / "own", right=None)
    out, doc, _page = _doctor(run)
    metrics = json.loads((run / "metrics.json").read_text())
    assert doc["trust"]["accuracy"] == pytest.approx(metrics["accuracy"])
    assert doc["trust"]["accuracy_ci"] == pytest.approx(metrics["accuracy_ci"])
    low, high = doc["trust"]["accuracy_ci"]
    weak = doc["trust"]["accuracy"] < 0.9 or high - low > 0.2
    assert (doc["caution"] is not None) == weak
    assert any(line.startswith("Caution:") for line in out.splitlines()) == weak

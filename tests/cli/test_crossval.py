"""`tk run --folds K`: every fold an ordinary run, a summary, out-of-fold predictions, label errors."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from toolkit.testing import make_image_folder, make_recipe, run_cli


@pytest.fixture
def misfiled(tmp_path: Path) -> tuple[Path, list[str]]:
    """Three easy classes of 14 images; 3 images of class 'a' copied into 'b' (a wrong label)."""
    root = make_image_folder(tmp_path / "images", {"a": 14, "b": 14, "c": 14}, size=32)
    planted = []
    for i in (1, 5, 9):
        target = root / "b" / f"misfiled_{i}.png"
        shutil.copy(root / "a" / f"a_{i:03d}.png", target)
        planted.append(str(target))
    return root, planted


def test_folds_write_runs_summary_and_rank_planted_label_errors_first(tmp_path, misfiled, monkeypatch):
    root, planted = misfiled
    monkeypatch.chdir(tmp_path)
    recipe = make_recipe(tmp_path / "r.toml", root, epochs=4, lr=0.01, backbone="test_efficientnet",
                         train_extra="threads = 1")  # one thread: bit-for-bit repeatable
    result = run_cli("run", recipe, "--folds", "3", "--out", "cv", "--quiet")
    assert result.exit_code == 0, result.output
    cv = tmp_path / "cv"
    assert sorted(p.name for p in cv.iterdir()) == ["crossval.json", "fold-1", "fold-2", "fold-3", "label_issues.csv",
                                                    "oof_predictions.csv", "summary.json"]
    # every image is held out exactly once, and no near-duplicate group is split between folds
    held = [p for f in (1, 2, 3) for p, _ in json.loads((cv / f"fold-{f}" / "split.json").read_text())["val"]]
    assert len(held) == len(set(held)) == 45
    fold_of = {p: f for f in (1, 2, 3) for p, _ in json.loads((cv / f"fold-{f}" / "split.json").read_text())["val"]}
    for i, path in zip((1, 5, 9), planted):  # a misfiled copy is held out with its original
        assert fold_of[path] == fold_of[str(root / "a" / f"a_{i:03d}.png")]
    summary = json.loads((cv / "summary.json").read_text())
    accs = [f["accuracy"] for f in summary["per_fold"]]
    assert summary["accuracy"]["mean"] == pytest.approx(sum(accs) / 3)
    assert summary["out_of_fold"]["images"] == 45
    assert "Cross-validation over 3 folds (mean ± standard deviation):" in result.output
    assert f"accuracy {summary['accuracy']['mean']:.4f} ± {summary['accuracy']['std']:.4f}" in result.output
    with open(cv / "oof_predictions.csv", newline="") as fh:
        oof = list(csv.DictReader(fh))
    assert len(oof) == 45 and {r["fold"] for r in oof} == {"1", "2", "3"}
    with open(cv / "label_issues.csv", newline="") as fh:
        ranked = list(csv.DictReader(fh))
    top = [r["path"] for r in ranked[:6]]
    assert all(p in top for p in planted), ranked[:6]
    # A planted copy and its original are held out together, so one model scores both: identical
    # pixels, identical out-of-fold probabilities, and the suggestion for the copy is the class that
    # model gives the original (what it is, "a", when it learnt the class; that depends on training).
    probs = {r["path"]: [r[k] for k in r if k.startswith("p:")] for r in oof}
    suggested = {r["path"]: r["suggested"] for r in ranked}
    predicted = {r["path"]: r["predicted"] for r in oof}
    for i, path in zip((1, 5, 9), planted):
        original = str(root / "a" / f"a_{i:03d}.png")
        assert probs[path] == probs[original] and suggested[path] == predicted[original]

    # tk data doctor on the cross-validation folder: the planted images are flagged, to move back to 'a'
    doctor = run_cli("data", "doctor", cv)
    assert doctor.exit_code == 0, doctor.output
    assert "(from the out-of-fold predictions of every image)" in doctor.output
    with open(cv / "doctor" / "fixes.csv", newline="") as fh:
        fixes = {r["file"]: r["suggestion"] for r in csv.DictReader(fh)}
    for path in planted:  # flagged: moved where the out-of-fold model puts it, or to review (its original is in a)
        assert fixes[str(Path(path).relative_to(root))] in (f"move to {suggested[path]}", "review")
    page = (cv / "doctor" / "doctor.html").read_text()
    assert "Likely label errors" in page and "b/misfiled_1.png" in page

    # a stopped cross-validation goes on where it stopped
    (cv / "fold-2" / "report.html").unlink()  # killed while writing its report
    shutil.rmtree(cv / "fold-3")  # never started
    again = run_cli("run", recipe, "--folds", "3", "--out", "cv", "--quiet")
    assert again.exit_code == 0, again.output
    assert "Fold 1 of 3: already trained" in again.output
    assert "Fold 2 of 3: resuming" in again.output and "Fold 3 of 3: training" in again.output
    assert (cv / "fold-3" / "report.html").is_file()
    refused = run_cli("run", recipe, "--folds", "4", "--out", "cv")
    assert refused.exit_code == 1 and "holds a 3-fold cross-validation" in refused.output


def test_folds_without_cleanlab_still_write_everything_else(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_cleanlab(name, *args, **kwargs):
        if name.startswith("cleanlab"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_cleanlab)
    monkeypatch.chdir(tmp_path)
    root = make_image_folder(tmp_path / "images", {"a": 6, "b": 6}, size=32)
    recipe = make_recipe(tmp_path / "r.toml", root, epochs=1, backbone="test_resnet")
    result = run_cli("run", recipe, "--folds", "2", "--quiet")
    assert result.exit_code == 0, result.output
    assert "Finding likely label errors needs the 'cleanlab' package: pip install 'tk-train[quality]'" in result.output
    cv = tmp_path / "runs" / "r-cv2" / "1"
    assert (cv / "summary.json").is_file() and not (cv / "label_issues.csv").exists()

"""`tk eval MODEL --data FOLDER` on a folder holding the model's own training images (#30 item 7):
one Note: line says how many, and that the figures are optimistic; none for images it never saw."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from toolkit.testing import make_image_folder, run_cli


def _notes(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("Note:")]


def _split(shared: Path) -> dict:
    return json.loads((shared / "runs/tiny/1/split.json").read_text())


def test_eval_on_the_training_folder_says_how_many_images_trained_the_model(in_shared, tmp_path):
    split = _split(in_shared)
    trained, validated = len(split["train"]), len(split["val"])
    total = trained + validated + len(split["test"])
    for model in ("exports/tiny-1/onnx/tiny.onnx", "runs/tiny/1"):  # found through the manifest, or the run
        result = run_cli("eval", model, "--data", "images", "--json", tmp_path / "e.json")
        assert result.exit_code == 0, result.output
        note, = _notes(result.output)
        assert note.startswith(f"Note: {trained} of these {total} images trained this model (")
        assert f"and {validated} more were its validation images, so these figures are optimistic" in note
        seen = json.loads((tmp_path / "e.json").read_text())["seen_in_training"]
        assert seen == {"train": trained, "val": validated, "test": len(split["test"])}


def test_a_copy_of_some_training_images_is_recognised_and_unseen_images_get_no_note(in_shared, tmp_path):
    split = _split(in_shared)
    mixed = tmp_path / "mixed"
    def per_class(part: str, n: int) -> list[Path]:  # n images of each class, so the folder has every class
        return [Path(p) for c in range(len(split["class_names"])) for p in [p for p, y in split[part] if y == c][:n]]

    train, test = per_class("train", 2), per_class("test", 1)
    assert len(train) == 6 and len(test) == 3
    for path in train + test:  # copies elsewhere, the class folders kept
        (mixed / path.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, mixed / path.parent.name / path.name)
    result = run_cli("eval", "exports/tiny-1/onnx/tiny.onnx", "--data", mixed)
    assert result.exit_code == 0, result.output
    assert _notes(result.output) == [
        f"Note: 6 of these 9 images trained this model ({in_shared / 'runs/tiny/1/split.json'}), so these figures "
        f"are optimistic; evaluate on images it never saw."]

    fresh = make_image_folder(tmp_path / "fresh", {"circle": 3, "square": 3, "stripes": 3}, size=40, seed=7)
    result = run_cli("eval", "exports/tiny-1/onnx/tiny.onnx", "--data", fresh)
    assert result.exit_code == 0, result.output
    assert _notes(result.output) == []


def test_a_folder_of_runs_says_which_run_it_means_and_keeps_the_note(in_shared, tmp_path):
    """`tk eval runs/cv --data …` on a cross-validation folder: a line says which fold's model it
    took, and that model's own training images are still noticed (the note was lost before)."""
    split = _split(in_shared)
    cv = tmp_path / "cv"
    for fold in ("fold-1", "fold-2"):
        shutil.copytree(in_shared / "runs/tiny/1", cv / fold)
    result = run_cli("eval", cv, "--data", "images", "--json", tmp_path / "e.json")
    assert result.exit_code == 0, result.output
    using = [line for line in result.output.splitlines() if line.startswith("Using ")]
    assert len(using) == 1 and "one fold's model of the 2-fold cross-validation" in using[0], result.output
    note, = _notes(result.output)
    assert note.startswith(f"Note: {len(split['train'])} of these ")
    assert json.loads((tmp_path / "e.json").read_text())["seen_in_training"]["train"] == len(split["train"])
    predicted = run_cli("predict", cv, *[p for p, _ in split["val"][:1]], "--out", tmp_path / "p.csv")
    assert predicted.exit_code == 0, predicted.output
    assert "one fold's model of the 2-fold cross-validation" in predicted.stderr

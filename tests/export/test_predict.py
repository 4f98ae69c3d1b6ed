"""`tk predict`: the same answers from the checkpoint and the ONNX model, by the trained resize rule."""

from __future__ import annotations

import csv
import json
import sys

import numpy as np
import pytest

from toolkit.testing import run_cli


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _val_images(root):
    return [p for p, _ in json.loads((root / "runs/tiny/1/split.json").read_text())["val"]]


def test_onnx_answers_match_checkpoint_on_every_validation_image(in_shared, tmp_path):
    images = _val_images(in_shared)
    a, b = tmp_path / "ckpt.csv", tmp_path / "onnx.csv"
    ra = run_cli("predict", "runs/tiny/1/best.pt", *images, "--out", a)
    rb = run_cli("predict", "exports/tiny-1/onnx/tiny.onnx", *images, "--out", b)
    assert ra.exit_code == 0 and rb.exit_code == 0, ra.output + rb.output
    assert f"Wrote {len(images)} predictions to {a}" in ra.output
    assert "PyTorch eager (cpu)" in ra.output and "ONNX Runtime (cpu)" in rb.output
    ckpt, onnx = _rows(a), _rows(b)
    assert len(ckpt) == len(onnx) == len(images)
    assert list(ckpt[0]) == ["path", "class", "probability", "top2_class", "top2_probability", "top3_class",
                             "top3_probability"]
    for x, y in zip(ckpt, onnx):
        assert x["path"] == y["path"]
        assert x["class"] == y["class"] and x["top2_class"] == y["top2_class"]
        assert abs(float(x["probability"]) - float(y["probability"])) <= 1e-4
    assert {r["class"] for r in ckpt} <= {"circle", "square", "stripes"}


def test_int8_model_predicts_too(in_shared, tmp_path):
    images = _val_images(in_shared)
    result = run_cli("predict", "exports/tiny-1/onnx/tiny.int8.onnx", *images, "--out", tmp_path / "q.csv", "--top-k", "1")
    assert result.exit_code == 0, result.output
    rows = _rows(tmp_path / "q.csv")
    assert len(rows) == len(images) and list(rows[0]) == ["path", "class", "probability"]


def test_predict_applies_the_trained_resize_rule(in_shared, tmp_path):
    """A wide JPEG goes through load_rgb + bicubic to 32×32 (no crop) — the rule in the model's metadata."""
    from PIL import Image

    from toolkit.data import load_rgb
    from toolkit.data.cache import resize_rgb
    from toolkit.export import load_predictor

    img = Image.new("RGB", (90, 30), (20, 20, 20))
    for x in range(0, 90, 6):
        img.paste((230, 230, 230), (x, 0, x + 2, 30))
    path = tmp_path / "wide.jpg"
    img.save(path, quality=90)
    result = run_cli("predict", "exports/tiny-1/onnx/tiny.onnx", path, "--out", tmp_path / "p.csv")
    assert result.exit_code == 0, result.output
    assert "32 px bicubic" in result.output
    row = _rows(tmp_path / "p.csv")[0]
    expected_input = np.asarray(resize_rgb(load_rgb(path), (32, 32))).transpose(2, 0, 1)[None]
    probs = load_predictor("runs/tiny/1/best.pt").predict(expected_input)[0]
    names = ["circle", "square", "stripes"]
    assert row["class"] == names[int(probs.argmax())]
    assert float(row["probability"]) == pytest.approx(float(probs.max()), abs=1e-4)


def test_folder_argument_and_unreadable_file(in_shared, tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for p in _val_images(in_shared)[:3]:
        (folder / p.split("/")[-1]).write_bytes(open(p, "rb").read())
    (folder / "broken.png").write_bytes(b"not a png")
    result = run_cli("predict", "runs/tiny/1", folder, "--out", tmp_path / "p.csv")
    assert result.exit_code == 0, result.output
    assert f"Skipped {folder / 'broken.png'}" in result.output
    assert len(_rows(tmp_path / "p.csv")) == 3


def test_predict_errors_are_one_line(in_shared, tmp_path):
    result = run_cli("predict", "exports/tiny-1/onnx/tiny.onnx", tmp_path / "nope.png")
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {tmp_path / 'nope.png'}: no such image file or folder."
    result = run_cli("predict", "model.tflite", tmp_path)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.strip() == "Error: model.tflite: no such model file or run folder."


@pytest.mark.skipif(sys.platform == "darwin", reason="Core ML runs on macOS")
def test_mlpackage_needs_macos_here(in_shared):
    result = run_cli("predict", "exports/tiny-1/coreml/tiny.mlpackage", _val_images(in_shared)[0])
    assert result.exit_code == 1
    assert result.output.strip() == ("Error: exports/tiny-1/coreml/tiny.mlpackage: coreml models cannot run on this "
                                     "machine: needs macOS.")

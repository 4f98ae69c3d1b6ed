"""`tk export` as a user runs it: both formats from a trained run, manifests, parity, options."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from toolkit.testing import run_cli


def _manifest(root, fmt):
    return json.loads((root / "exports" / "tiny-1" / fmt / "manifest.json").read_text())


def test_trained_run_exports_to_both_formats(shared):
    out = (shared / "export.out").read_text()
    onnx_dir, coreml_dir = shared / "exports/tiny-1/onnx", shared / "exports/tiny-1/coreml"
    assert (onnx_dir / "tiny.onnx").is_file() and (onnx_dir / "tiny.int8.onnx").is_file()
    assert (coreml_dir / "tiny.mlpackage" / "Manifest.json").is_file()
    assert "onnx: parity ok: top-1 agreement 100.00%" in out
    assert "coreml: spec checked (ML Program, RGB image input 32×32, 3 class labels in order" in out
    assert "numeric parity needs macOS" in out or "coreml: parity ok" in out
    assert "manifests: exports/tiny-1/onnx/manifest.json, exports/tiny-1/coreml/manifest.json" in out


def test_onnx_manifest_says_what_the_model_needs(shared):
    m = _manifest(shared, "onnx")
    split = json.loads((shared / "runs/tiny/1/split.json").read_text())
    assert m["format"] == "onnx" and m["file"] == "tiny.onnx"
    assert m["size_bytes"] == (shared / "exports/tiny-1/onnx/tiny.onnx").stat().st_size
    assert m["input"] == {"name": "image", "shape": ["batch", 3, 32, 32], "dtype": "float32", "range": [0, 255],
                          "layout": "NCHW", "color": "RGB"}
    assert m["class_names"] == ["circle", "square", "stripes"]
    pre = m["preprocessing"]
    assert pre["resize"]["interpolation"] == "bicubic" and pre["resize"]["crop"] is None
    assert pre["resize"]["width"] == pre["resize"]["height"] == 32 and pre["input_range"] == [0, 255]
    assert len(pre["mean"]) == len(pre["std"]) == 3
    parity = m["parity"]
    assert parity["passed"] is True and parity["images"] == len(split["val"]) and parity["source"] == "validation split"
    assert parity["top1_agreement"] == 1.0 and parity["max_prob_diff"] <= 1e-4
    assert m["accuracy"]["pytorch"] == m["accuracy"]["exported"]
    assert {"tk", "torch", "onnx", "onnxruntime"} <= set(m["tools"])
    assert m["opset"] == 23 and m["checker"].startswith("passed")


def test_onnx_model_is_checker_clean_with_dynamic_batch_and_metadata(shared):
    import onnx
    import onnxruntime as ort

    path = shared / "exports/tiny-1/onnx/tiny.onnx"
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    meta = {p.key: p.value for p in model.metadata_props}
    assert json.loads(meta["tk.class_names"]) == ["circle", "square", "stripes"]
    assert meta["tk.resize"] == "bicubic" and meta["tk.image_size"] == "32" and meta["tk.input_range"] == "[0, 255]"
    assert "[model]" in meta["tk.recipe"] and "test_efficientnet" in meta["tk.recipe"]
    assert not list(path.parent.glob("*.data"))  # weights embedded, one file
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for n in (1, 5):
        probs = session.run(None, {"image": np.full((n, 3, 32, 32), 127.0, np.float32)})[0]
        assert probs.shape == (n, 3)
        np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)


def test_int8_manifest_reports_size_and_accuracy_against_fp32(shared):
    m = _manifest(shared, "onnx")
    q = m["int8"]
    assert q["file"] == "tiny.int8.onnx"
    assert q["size_bytes"] == (shared / "exports/tiny-1/onnx/tiny.int8.onnx").stat().st_size
    assert q["fp32_size_bytes"] == m["size_bytes"] and q["size_bytes"] < m["size_bytes"]
    assert q["size_ratio"] == pytest.approx(q["size_bytes"] / m["size_bytes"], abs=1e-4)
    assert 0.0 <= q["accuracy"] <= 1.0 and q["fp32_accuracy"] == m["accuracy"]["exported"]
    assert q["accuracy_change"] == pytest.approx(q["accuracy"] - q["fp32_accuracy"])
    assert q["calibration_source"] == "training split" and q["calibration_images"] > 0
    assert 0.0 <= q["agreement_with_fp32"] <= 1.0
    out = (shared / "export.out").read_text()
    assert "onnx: int8 tiny.int8.onnx (" in out and "of fp32), accuracy" in out


def test_export_with_no_path_takes_latest_run_and_recipe_formats(workdir):
    result = run_cli("export", "--out", "again")
    assert result.exit_code == 0, result.output
    assert "onnx: exporting runs/tiny/1/best.pt" in result.output
    assert "coreml: exporting runs/tiny/1/best.pt" in result.output  # recipe: formats = ["onnx", "coreml"]
    assert (workdir / "again/onnx/tiny.onnx").is_file() and (workdir / "again/coreml/tiny.mlpackage").is_dir()
    assert not (workdir / "again/onnx/tiny.int8.onnx").exists()


def test_uint8_input_option(workdir):
    result = run_cli("export", "runs/tiny/1", "--onnx", "--onnx-uint8", "--out", "u8")
    assert result.exit_code == 0, result.output
    m = json.loads((workdir / "u8/onnx/manifest.json").read_text())
    assert m["input"]["dtype"] == "uint8" and m["options"]["onnx_uint8"] is True
    assert m["exporter_options"]["onnx_uint8"] is True  # the option as the export used it, not the default
    assert m["parity"]["passed"] and m["parity"]["max_prob_diff"] <= 1e-4


def test_checkpoint_outside_a_run_is_checked_on_random_images(in_shared, tmp_path):
    lone = tmp_path / "lone.pt"
    lone.write_bytes((in_shared / "runs/tiny/1/best.pt").read_bytes())
    result = run_cli("export", lone, "--onnx", "--out", tmp_path / "o")
    assert result.exit_code == 0, result.output
    assert "16/16 random images (no split.json next to the checkpoint)" in result.output
    m = json.loads((tmp_path / "o/onnx/manifest.json").read_text())
    assert m["parity"]["passed"] and "accuracy" not in m and m["source"]["run"] is None
    result = run_cli("export", lone, "--onnx", "--int8", "--out", tmp_path / "q")
    assert result.exit_code == 1
    assert "int8 quantisation needs training images to calibrate on" in result.output


def test_exporting_a_run_that_is_still_training_says_so_and_bench_marks_the_export_stale(workdir):
    """While a run trains (its folder's lock held, as `tk run` holds it), `tk export` says the export
    is of its best.pt so far; once best.pt is another epoch's, `tk bench` marks that export's rows
    (they had read "ok" beside a 66.67% agreement)."""
    from toolkit.core.checkpoint import load_checkpoint, save_checkpoint
    from toolkit.engine.lock import FolderLock

    run = workdir / "runs/tiny/1"
    with FolderLock(run):
        result = run_cli("export", "runs/tiny/1", "--onnx", "--out", "during")
    assert result.exit_code == 0, result.output
    epoch = load_checkpoint(run / "best.pt")["epoch"]
    assert (f"Note: runs/tiny/1 is still training (process {os.getpid()}); this exports its best.pt so far (epoch "
            f"{epoch}): export again when the run has finished.") in " ".join(result.output.split())
    assert "still training" not in run_cli("export", "runs/tiny/1", "--onnx", "--out", "after").output

    best = load_checkpoint(run / "best.pt")  # the run went on: best.pt is now a later epoch's
    best["epoch"] = epoch + 3
    save_checkpoint(run / "best.pt", best)
    benched = run_cli("bench", "runs/tiny/1", "--runtime", "onnx", "--iters", "2", "--warmup", "0", "--batch", "1")
    assert benched.exit_code == 0, benched.output
    rows = json.loads((run / "bench.json").read_text())["rows"]
    onnx = [r for r in rows if r["format"] == "onnx" and r.get("file", "").endswith("tiny.onnx") and r["status"] == "ok"]
    assert onnx and all(f"exported from best.pt of epoch {epoch}, which is now epoch {epoch + 3}: tk export again"
                        in r.get("note", "") for r in onnx), onnx

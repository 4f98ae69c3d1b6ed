"""The Core ML package: its spec on any OS (skip_model_load), its predictions on macOS."""

from __future__ import annotations

import json
import logging
import re

import pytest

from toolkit.core.checkpoint import load_checkpoint
from toolkit.testing import run_cli


def _spec(path):
    logging.getLogger("coremltools").setLevel(logging.ERROR)
    import coremltools as ct

    model = ct.models.MLModel(str(path), skip_model_load=True)
    return model, model.get_spec()


def test_package_has_image_input_labels_fp16_weights_and_metadata(shared):
    from coremltools.proto import MIL_pb2

    model, spec = _spec(shared / "exports/tiny-1/coreml/tiny.mlpackage")
    assert spec.WhichOneof("Type") == "mlProgram"
    (inp,) = spec.description.input
    assert inp.name == "image" and inp.type.WhichOneof("Type") == "imageType"
    assert (inp.type.imageType.width, inp.type.imageType.height) == (32, 32)
    assert inp.type.imageType.colorSpace == inp.type.imageType.RGB
    assert spec.description.predictedFeatureName == "classLabel"
    assert spec.description.predictedProbabilitiesName == "classLabel_probs"
    main = spec.mlProgram.functions["main"]
    ops = main.block_specializations[main.opset].operations
    (classify,) = [op for op in ops if op.type == "classify"]
    labels = [v.immediateValue.tensor.strings.values[0]
              for v in classify.inputs["classes"].arguments[0].value.immediateValue.list.values]
    assert labels == ["circle", "square", "stripes"]
    weight_types = {MIL_pb2.DataType.Name(op.attributes["val"].type.tensorType.dataType)
                    for op in ops if op.type == "const" and op.attributes["val"].WhichOneof("value") == "blobFileValue"}
    assert weight_types == {"FLOAT16"}
    assert spec.specificationVersion >= 8  # macOS 14 / iOS 17
    assert model.author.startswith("tk ") and "classifier of 3 classes" in model.short_description
    assert re.fullmatch(r"tiny-1 epoch \d+", model.version) and model.license
    user = model.user_defined_metadata
    assert json.loads(user["tk.class_names"]) == labels and user["tk.resize"] == "bicubic"
    assert user["tk.image_size"] == "32" and "[model]" in user["tk.recipe"]
    # the exported checkpoint's own validation accuracy (best.pt, "exporting runs/tiny/1/best.pt"), to 6 places
    best = load_checkpoint(shared / "runs/tiny/1/best.pt")
    assert user["tk.val_accuracy"] == f"{best['metrics']['val_accuracy']:.6f}"
    assert model.version == f"tiny-1 epoch {best['epoch']}"
    assert user["com.apple.coreml.model.preview.type"] == "imageClassifier"


def test_manifest_records_the_spec_check(shared):
    m = json.loads((shared / "exports/tiny-1/coreml/manifest.json").read_text())
    assert m["format"] == "coreml" and m["file"] == "tiny.mlpackage" and m["compute_precision"] == "fp16"
    assert m["minimum_os"] == "macOS 14 / iOS 17" and m["input"]["name"] == "image"
    assert set(m["weight_elements_by_dtype"]) == {"FLOAT16"}
    if m["parity"]["checked"]:  # on macOS
        assert m["parity"]["passed"]
    else:
        assert m["parity"]["reason"] == "numeric parity needs macOS"
        assert "3 class labels in order" in m["parity"]["spec_checked"]


@pytest.mark.parametrize("args, weights", [
    (["--precision", "fp32"], {"FLOAT32"}),
    (["--coreml-quantize", "palettize4"], {"UINT8", "FLOAT16"}),
])
def test_precision_and_compression_options(workdir, args, weights):
    result = run_cli("export", "runs/tiny/1", "--coreml", "--out", "cm", *args)
    assert result.exit_code == 0, result.output
    m = json.loads((workdir / "cm/coreml/manifest.json").read_text())
    assert set(m["weight_elements_by_dtype"]) <= weights and set(m["weight_elements_by_dtype"]) & (weights - {"FLOAT16"})
    option, value = args[0].lstrip("-").replace("-", "_"), args[1]  # --coreml-quantize → coreml_quantize
    assert m["exporter_options"][option] == value, m["exporter_options"]  # as the export used it


def test_a_target_older_than_compressed_weights_need_is_raised_and_said(workdir):
    """Palettized weights need macOS 13 / iOS 16: asked for macOS 12, coremltools raises the target —
    the export says so and the manifest records from what, instead of a silently newer package."""
    result = run_cli("export", "runs/tiny/1", "--coreml", "--out", "cm", "--coreml-quantize", "palettize4",
                     "--coreml-target", "macOS12")
    assert result.exit_code == 0, result.output
    assert "runs on macOS 13 / iOS 16 and newer, raised from macOS 12 / iOS 15 (the target asked for, macOS12): " \
           "--coreml-quantize palettize4 needs it" in result.output
    m = json.loads((workdir / "cm/coreml/manifest.json").read_text())
    assert m["minimum_os"] == "macOS 13 / iOS 16" and "macOS 12" in m["minimum_os_raised"]
    plain = run_cli("export", "runs/tiny/1", "--coreml", "--out", "cm14", "--coreml-quantize", "palettize4")
    assert plain.exit_code == 0 and "raised" not in plain.output  # the default target needs no raise


# -- macOS only: Core ML itself ------------------------------------------------------------
@pytest.mark.macos
def test_coreml_predictions_match_checkpoint_on_macos(in_shared, tmp_path):
    split = json.loads((in_shared / "runs/tiny/1/split.json").read_text())
    images = [p for p, _ in split["val"]]
    a, b = tmp_path / "ckpt.csv", tmp_path / "coreml.csv"
    assert run_cli("predict", "runs/tiny/1", *images, "--out", a).exit_code == 0
    result = run_cli("predict", "exports/tiny-1/coreml/tiny.mlpackage", *images, "--out", b, "--device", "CPU_ONLY")
    assert result.exit_code == 0, result.output
    import csv

    ckpt, cm = list(csv.DictReader(open(a))), list(csv.DictReader(open(b)))
    agree = sum(x["class"] == y["class"] for x, y in zip(ckpt, cm)) / len(ckpt)
    assert agree >= 0.98
    assert max(abs(float(x["probability"]) - float(y["probability"])) for x, y in zip(ckpt, cm)) <= 0.05


@pytest.mark.macos
def test_coreml_parity_checked_at_export_on_macos(shared):
    m = json.loads((shared / "exports/tiny-1/coreml/manifest.json").read_text())
    assert m["parity"]["checked"] and m["parity"]["passed"]


@pytest.mark.macos
def test_compute_plan_counts_operations_per_device(shared):
    from toolkit.export.loading import exporter_for_path

    path = shared / "exports/tiny-1/coreml/tiny.mlpackage"
    _, exporter = exporter_for_path(path)
    counts = exporter.compute_plan(path, "CPU_ONLY")
    assert counts.get("CPU", 0) > 0 and set(counts) <= {"CPU", "unknown"}
    counts = exporter.compute_plan(path, "ALL")
    assert sum(counts.values()) > 0 and set(counts) <= {"CPU", "GPU", "NeuralEngine", "unknown", "other"}

"""16:9 inputs end to end: train at [height, width], export ONNX and Core ML with that input,
parity, and the same classes from the checkpoint and ONNX on the original 1280×720 frames."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from toolkit.testing import make_recipe, run_cli


@pytest.fixture(scope="module")
def wide_run(tmp_path_factory, train_and_export) -> Path:
    from tk_screens import write_with_copies

    work = tmp_path_factory.mktemp("wide")
    write_with_copies(work / "frames", {"slide": ("slide", 8, 0), "desktop": ("not_slide_desktop", 8, 0)},
                      seed=3, size=(1280, 720))
    recipe = make_recipe(work / "wide.toml", work / "frames", epochs=2, backbone="test_efficientnet")
    text = recipe.read_text().replace("image_size = 32", 'image_size = [32, 56]\nresize = "letterbox"')
    recipe.write_text(text)

    return train_and_export(work, recipe)


def test_a_16_9_run_exports_16_9_models_that_pass_parity(wide_run):
    import onnx

    out = (wide_run / "export.out").read_text()
    assert "onnx: parity ok: top-1 agreement 100.00%" in out
    assert "RGB image input 56×32" in out  # Core ML: width×height
    model = onnx.load(str(next((wide_run / "exports").rglob("*.onnx"))))
    dims = [d.dim_value or d.dim_param for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims[1:] == [3, 32, 56]
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["tk.image_size"] == "32x56" and meta["tk.resize"] == "letterbox-bicubic"
    manifest = json.loads((next((wide_run / "exports").rglob("onnx/manifest.json"))).read_text())
    assert manifest["input"]["shape"] == ["batch", 3, 32, 56]
    assert manifest["preprocessing"]["resize"] == {
        "width": 56, "height": 32, "rule": "letterbox-bicubic", "interpolation": "bicubic", "crop": None,
        "library": "PIL (Image.resize, antialiased)", "keep_aspect": True, "pad": [0, 0, 0], "position": "centred"}
    best = __import__("torch").load(wide_run / "run" / "best.pt", weights_only=True)
    assert best["model_info"]["image_size"] == [32, 56] and best["model_info"]["resize"] == "letterbox-bicubic"


def test_coreml_package_declares_the_16_9_image_input(wide_run):
    import coremltools as ct

    package = next((wide_run / "exports").rglob("*.mlpackage"))
    spec = ct.utils.load_spec(str(package))
    image = spec.description.input[0].type.imageType
    assert (image.width, image.height) == (56, 32)
    assert spec.description.metadata.userDefined["tk.image_size"] == "32x56"


def test_predict_on_original_frames_agrees_between_checkpoint_and_onnx(wide_run):
    frames = sorted(str(p) for p in (wide_run / "frames").rglob("*.png"))
    classes = {}
    for model in ("run/best.pt", str(next((wide_run / "exports").rglob("*.onnx")))):
        out = wide_run / f"pred-{len(classes)}.csv"
        result = run_cli("predict", str(wide_run / model) if not Path(model).is_absolute() else model, *frames,
                         "--out", out)
        assert result.exit_code == 0, result.output
        assert "32×56 px (height×width) letterbox-bicubic" in result.output
        with open(out, newline="") as fh:
            classes[model] = [(Path(r["path"]).name, r["class"]) for r in csv.DictReader(fh)]
    first, second = classes.values()
    assert len(first) == 16 and first == second


def test_letterbox_keeps_the_aspect_ratio_and_pads_black():
    from PIL import Image

    from toolkit.core.geometry import resize_image

    img = Image.new("RGB", (1280, 720), (200, 100, 50))
    out = np.asarray(resize_image(img, 64, "letterbox-bicubic"))  # square target: bars top and bottom
    assert out.shape == (64, 64, 3)
    assert (out[:14] == 0).all() and (out[-14:] == 0).all() and (out[32] == (200, 100, 50)).all()
    same = np.asarray(resize_image(img, [36, 64], "letterbox-bicubic"))  # 16:9 into 16:9: no bars
    assert (same == (200, 100, 50)).all()
    squeezed = np.asarray(resize_image(img, 64, "bicubic"))
    assert (squeezed == (200, 100, 50)).all()


def test_image_size_mistakes_are_one_line(tmp_path):
    from toolkit.testing import make_image_folder

    root = make_image_folder(tmp_path / "i", {"a": 3, "b": 3})
    recipe = make_recipe(tmp_path / "r.toml", root)
    for value, words in (("[32]", "must be a side in pixels (16–4096) or [height, width]"),
                         ("[32, 8]", "or [height, width] of two such sides"),
                         ('"wide"', "must be an integer or a list")):
        result = run_cli("recipes", "check", recipe, "--set", f"data.image_size={value}")
        assert result.exit_code == 1 and words in result.output, result.output
    result = run_cli("recipes", "check", recipe, "--set", 'data.resize="crop"')
    assert result.exit_code == 1 and "must be one of 'squeeze', 'letterbox'" in result.output

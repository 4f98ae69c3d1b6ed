"""One `InputSpec`, one `decode`: change the resize rule in one place and everything follows.

The squeeze rule is changed where it is defined (`toolkit.core.geometry.RESIZERS`: squeeze, then
mirror left-right); then a real `tk run`, `tk predict` (checkpoint, ONNX and a video),
`tk export --onnx` and `tk eval` run in-process through the CLI. Each must have fed the model
the new pixels: the run's image store holds them, predictions equal the model's on them,
export parity holds and the ONNX model answers as the checkpoint does. The conversions of the
spec to and from each of its forms round-trip, and the forms tk 0.2 wrote still read.
"""

from __future__ import annotations

import csv
import json
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from toolkit.core import geometry
from toolkit.core.geometry import DEFAULT_RESIZE, InputSpec
from toolkit.testing import make_image_folder, make_recipe, run_cli

ORIGINAL = geometry.RESIZERS[DEFAULT_RESIZE]


def _mirrored_squeeze(img, h, w):
    from PIL import ImageOps

    return ImageOps.mirror(ORIGINAL(img, h, w))


@contextmanager
def changed_rule():
    """The one change: what the squeeze rule does."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(geometry.RESIZERS, DEFAULT_RESIZE, _mirrored_squeeze)
        yield


@pytest.fixture(autouse=True)
def _changed():
    with changed_rule():
        yield


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """A run trained, exported to ONNX and checked under the changed rule."""
    import os

    work = tmp_path_factory.mktemp("spec")
    make_image_folder(work / "images", {"a": 8, "b": 8}, size=40)
    recipe = make_recipe(work / "spec.toml", work / "images", epochs=1)
    cache = f'cache = "disk"\ncache_dir = "{(work / "cache").as_posix()}"'
    recipe.write_text(recipe.read_text().replace("workers = 0", f"workers = 0\n{cache}"))
    old = os.getcwd()
    os.chdir(work)
    try:
        with changed_rule():
            result = run_cli("run", recipe, "--out", "run", "--quiet")
            assert result.exit_code == 0, result.output
            exported = run_cli("export", "run", "--onnx", "--out", "exports")
            assert exported.exit_code == 0, exported.output
        (work / "export.out").write_text(exported.output)
    finally:
        os.chdir(old)
    return work


def _images(work: Path) -> list[str]:
    return sorted(str(p) for p in (work / "images").rglob("*.png"))


def _spec() -> InputSpec:
    return InputSpec.of(32)


def _reference(work: Path, pixels: np.ndarray) -> np.ndarray:
    from toolkit.export.torch_predictor import TorchPredictor

    return TorchPredictor.from_checkpoint(work / "run" / "best.pt").predict_all(pixels)


def test_the_changed_rule_changes_every_decode(work):
    from PIL import Image

    from toolkit import decode
    from toolkit.data import load_rgb

    path = _images(work)[0]
    changed = decode(path, _spec())
    before = np.asarray(ORIGINAL(load_rgb(path, reduce_for=(32, 32)), 32, 32)).transpose(2, 0, 1)
    assert np.array_equal(changed, before[:, :, ::-1]) and not np.array_equal(changed, before)
    with Image.open(path) as img:  # a PIL image, and the file's bytes, decode as the file does
        assert np.array_equal(decode(img, _spec()), changed)
    assert np.array_equal(decode(Path(path).read_bytes(), _spec()), changed)


def test_training_stored_the_changed_pixels(work):
    from toolkit import decode
    from toolkit.data import decode_images

    paths = _images(work)
    stored = decode_images(paths, _spec(), cache_dir=work / "cache", hashes=False)
    assert stored.decoded == 0 and stored.cached == len(paths)  # read from the store the run built
    assert np.array_equal(stored.images.numpy(), np.stack([decode(p, _spec()) for p in paths]))


def test_export_parity_holds_and_metadata_names_the_rule(work):
    out = (work / "export.out").read_text()
    assert "onnx: parity ok: top-1 agreement 100.00%" in out
    manifest = json.loads(next((work / "exports").rglob("onnx/manifest.json")).read_text())
    assert manifest["parity"]["passed"] is True
    assert manifest["preprocessing"]["resize"]["rule"] == DEFAULT_RESIZE


def test_predict_with_the_checkpoint_and_onnx_follows(work):
    from toolkit import decode
    from toolkit.data import load_rgb

    paths = _images(work)
    expected = _reference(work, np.stack([decode(p, _spec()) for p in paths]))
    unchanged = _reference(work, np.stack([np.asarray(ORIGINAL(load_rgb(p, reduce_for=(32, 32)), 32, 32))
                                           .transpose(2, 0, 1) for p in paths]))
    assert np.abs(unchanged - expected).max() > 1e-4  # a command that ignored the change would be caught
    onnx = next((work / "exports").rglob("*.onnx"))
    for model, atol in ((work / "run" / "best.pt", 2e-6), (onnx, 1e-4)):
        out = work / f"pred-{model.suffix[1:]}.csv"
        result = run_cli("predict", model, *paths, "--out", out)
        assert result.exit_code == 0, result.output
        with open(out, newline="") as fh:
            rows = {r["path"]: r for r in csv.DictReader(fh)}
        for path, probs in zip(paths, expected):
            row = rows[path]
            assert row.get("best_class", row["class"]) == ["a", "b"][int(probs.argmax())]
            assert abs(float(row["probability"]) - float(probs.max())) <= atol


def test_eval_follows(work):
    from toolkit import decode
    from toolkit.export.source import resolve_source

    out = work / "eval.json"
    result = run_cli("eval", work / "run" / "best.pt", "--json", out)
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    samples = resolve_source(work / "run").samples(report["split"])
    assert samples
    probs = _reference(work, np.stack([decode(p, _spec()) for p, _ in samples]))
    accuracy = float(np.mean(probs.argmax(1) == np.asarray([y for _, y in samples])))
    assert report["accuracy"] == pytest.approx(accuracy)


def test_video_follows(work):
    av = pytest.importorskip("av", reason="PyAV (the video extra) is not installed")
    from PIL import Image

    from toolkit import decode
    from toolkit.assess.video import sample_frames

    clip = work / "clip.mp4"
    container = av.open(str(clip), "w")
    stream = container.add_stream("libx264", rate=4, options={"crf": "12"})
    stream.width, stream.height, stream.pix_fmt = 40, 40, "yuv444p"
    for path in _images(work)[:8]:
        frame = np.asarray(Image.open(path).convert("RGB"))
        for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    result = run_cli("predict", work / "run" / "best.pt", clip, "--every", "0.5", "--out", work / "video")
    assert result.exit_code == 0, result.output
    _, frames = sample_frames(str(clip), 0.5)
    expected = _reference(work, np.stack([decode(image, _spec()) for _, _, image in frames]))
    with open(next((work / "video").rglob("*.frames.csv")), newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(expected)
    for row, probs in zip(rows, expected):
        assert abs(float(row["probability"]) - float(probs.max())) <= 2e-6


# -- the forms of a spec ---------------------------------------------------------------------------

WIDE = InputSpec(32, 56, "letterbox-bicubic", mean=(0.5, 0.4, 0.3), std=(0.2, 0.25, 0.3))


def test_each_form_round_trips():
    assert InputSpec.from_recipe(WIDE.to_recipe(), mean=WIDE.mean, std=WIDE.std) == WIDE
    assert WIDE.to_recipe() == {"image_size": [32, 56], "resize": "letterbox"}
    assert InputSpec.from_model_info(WIDE.to_model_info()) == WIDE
    assert InputSpec.from_metadata(WIDE.to_metadata(), "m.onnx") == WIDE
    assert InputSpec.from_hf_config(WIDE.to_hf_config()) == WIDE
    assert WIDE.to_hf_config()["pretrained_cfg"]["crop_mode"] == "border"
    assert InputSpec.of(256).to_hf_config()["pretrained_cfg"]["crop_mode"] == "squash"


def test_what_tk_0_2_wrote_still_reads():
    old_info = {"backbone": "resnet18", "image_size": 224, "mean": [0.485, 0.456, 0.406],
                "std": [0.229, 0.224, 0.225], "resize": "bicubic", "input_range": [0, 1]}
    spec = InputSpec.from_model_info(old_info)
    assert (spec.hw, spec.resize, spec.size) == ((224, 224), "bicubic", 224)
    assert {k: old_info[k] for k in ("image_size", "mean", "std", "resize")} == spec.to_model_info()
    no_rule = InputSpec.from_model_info({}, {"image_size": [24, 40]})  # tk 0.1: the recipe's size, squeezed
    assert (no_rule.hw, no_rule.resize) == ((24, 40), "bicubic")
    meta = {"tk.image_size": "256x448", "tk.resize": "letterbox-bicubic", "tk.mean": "[0.5, 0.5, 0.5]"}
    spec = InputSpec.from_metadata(meta, "old.onnx")
    assert (spec.size, spec.resize, spec.mean, spec.std) == ((256, 448), "letterbox-bicubic", (0.5, 0.5, 0.5), ())
    assert spec.to_metadata()["tk.image_size"] == "256x448"


def test_an_unknown_rule_is_kept_and_refused_when_decoding(work):
    from toolkit import TkError, decode

    spec = InputSpec.from_metadata({"tk.image_size": "32", "tk.resize": "lanczos-crop"}, "new.onnx")
    assert spec.resize == "lanczos-crop" and not spec.known
    with pytest.raises(TkError, match="resize rule 'lanczos-crop'"):
        decode(_images(work)[0], spec)

"""An `unknown` answer shows the likeliest class (#30 item 11): on screen beside the answer, in the
image CSV's best_class, and in a video's frames.csv best_class column.

The model refuses a fixed share of its validation images (``target_coverage = 0.5``: the
threshold is chosen on them), so some answers are unknown and some are not however training went;
the video is those same images, losslessly encoded, so each frame gets its image's answer.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from toolkit.testing import make_image_folder, run_cli

RECIPE = """\
[data]
root = "images"
image_size = 32
val_fraction = 0.4
workers = 0

[model]
backbone = "test_efficientnet"
pretrained = false

[optim]
lr = 0.01

[train]
epochs = 2
batch_size = 8
device = "cpu"
threads = 1

[calibration]
unknown = true
target_coverage = 0.5    # half the validation images answered, half unknown, however training went
"""


@pytest.fixture(scope="module")
def refusing(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("unknown-shown")
    make_image_folder(work / "images", {"circle": 10, "square": 10, "stripes": 10}, size=40)
    (work / "r.toml").write_text(RECIPE)
    with pytest.MonkeyPatch.context() as mp:  # module fixtures run before the per-test environment
        mp.setenv("TK_CACHE_DIR", str(work / "cache"))
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.chdir(work)
        result = run_cli("run", "r.toml", "--out", "run", "--quiet")
    assert result.exit_code == 0, result.output
    return work


def _val_images(work: Path) -> list[str]:
    return [p for p, _ in json.loads((work / "run" / "split.json").read_text())["val"]]


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_an_unknown_answer_shows_its_likeliest_class_on_screen(refusing, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")  # the whole table on one line per image
    result = run_cli("predict", refusing / "run", *_val_images(refusing), "--out", tmp_path / "p.csv")
    assert result.exit_code == 0, result.output
    rows = _rows(tmp_path / "p.csv")
    unknown = [r for r in rows if r["class"] == "unknown"]
    assert unknown and len(unknown) < len(rows)  # some refused, some answered
    for row in rows:
        line, = [l for l in result.output.splitlines() if Path(row["path"]).name in l]
        if row["class"] == "unknown":
            assert f"unknown (likeliest: {row['best_class']} {float(row['probability']):.2f})" in line, line
        else:
            assert row["class"] == row["best_class"] and "likeliest" not in line, line
    assert result.output.count("(likeliest: ") == len(unknown)


def test_a_video_s_frames_csv_keeps_the_likeliest_class_of_each_frame(refusing, tmp_path, monkeypatch):
    av = pytest.importorskip("av", reason="PyAV (the video extra) is not installed")
    import numpy as np
    from PIL import Image

    images = _val_images(refusing)
    expected = run_cli("predict", refusing / "run", *images, "--out", tmp_path / "images.csv")
    assert expected.exit_code == 0, expected.output
    video = tmp_path / "screens.mkv"  # FFV1: lossless, so each frame is its image to the pixel
    container = av.open(str(video), "w")
    stream = container.add_stream("ffv1", rate=2)
    stream.width = stream.height = 40
    stream.pix_fmt = "bgr0"
    for path in images:
        frame = av.VideoFrame.from_ndarray(np.asarray(Image.open(path).convert("RGB")), format="rgb24")
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()

    result = run_cli("predict", refusing / "run", video, "--every", "0.5", "--smooth", "1", "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    frames = _rows(tmp_path / "out" / "screens.mkv.frames.csv")
    assert list(frames[0])[:5] == ["time", "frame", "class", "best_class", "probability"]
    want = _rows(tmp_path / "images.csv")
    assert [(f["class"], f["best_class"]) for f in frames] == [(w["class"], w["best_class"]) for w in want]
    assert any(f["class"] == "unknown" for f in frames)
    segment_lines = [line for line in result.output.splitlines() if line.strip().endswith(")") and " s  " in line]
    for line in segment_lines:
        assert ("  unknown (likeliest: " in line) == ("  unknown" in line), line
    assert any("  unknown (likeliest: " in line for line in segment_lines), result.output

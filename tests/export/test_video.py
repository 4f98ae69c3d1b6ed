"""`tk predict MODEL video.mp4`: sampled frames, one CSV row each, and the segments that were written."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest

from toolkit.testing import make_recipe, run_cli

av = pytest.importorskip("av", reason="PyAV (the video extra) is not installed")

SCRIPT = [("red", 0.0, 3.0), ("blue", 3.0, 5.5), ("green", 5.5, 8.0), ("red", 8.0, 10.0)]
COLOURS = {"red": (220, 40, 40), "green": (40, 200, 60), "blue": (40, 60, 220)}
FPS = 10


def write_video(path: Path, images: dict[str, np.ndarray], script=SCRIPT, fps: int = FPS, glitch_at: float | None = None):
    """Frames of each class for its stretch of time, as an H.264 MP4 (libx264, full chroma: small
    test frames lose their colours to 4:2:0 subsampling, which full-size screen recordings do not)."""
    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=fps, options={"crf": "12"})
    h, w = next(iter(images.values())).shape[:2]
    stream.width, stream.height, stream.pix_fmt = w, h, "yuv444p"
    for name, start, end in script:
        for i in range(round(start * fps), round(end * fps)):
            label = "green" if glitch_at is not None and i == round(glitch_at * fps) else name
            for packet in stream.encode(av.VideoFrame.from_ndarray(images[label], format="rgb24")):
                container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()


def screens(root: Path, per_class: int = 12) -> Path:
    """Three screen states anyone can tell apart (a dominant colour each), with a window drawn at
    a random place so no two images are alike."""
    import random

    from PIL import Image, ImageDraw

    rng = random.Random(0)
    for name, colour in COLOURS.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            img = Image.new("RGB", (64, 64), tuple(min(255, max(0, c + rng.randint(-25, 25))) for c in colour))
            x, y = rng.randrange(40), rng.randrange(40)
            ImageDraw.Draw(img).rectangle((x, y, x + 20, y + 16), fill=(240, 240, 240), outline=(30, 30, 30))
            img.save(root / name / f"{name}_{i:03d}.png")
    return root


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from PIL import Image

    work = tmp_path_factory.mktemp("video")
    root = screens(work / "images")
    recipe = make_recipe(work / "r.toml", root, epochs=6, lr=0.01, backbone="test_efficientnet",
                         train_extra="threads = 1")
    recipe.write_text(recipe.read_text().replace("workers = 0", "workers = 0\ngroup_by = \"none\""))
    old = os.getcwd()
    os.chdir(work)
    try:
        result = run_cli("run", recipe, "--out", "run", "--quiet")
        assert result.exit_code == 0, result.output
        assert run_cli("export", "run", "--onnx", "--out", "exports").exit_code == 0
    finally:
        os.chdir(old)
    # each class's frame: one of its training images
    images = {c: np.asarray(Image.open(root / c / f"{c}_000.png").convert("RGB")) for c in COLOURS}
    out = work / "check.csv"
    assert run_cli("predict", work / "run", *(root / c / f"{c}_000.png" for c in images), "--out", out).exit_code == 0
    with open(out, newline="") as fh:
        assert [r["class"] for r in csv.DictReader(fh)] == list(images)  # the model knows the three frames
    return work, images


def _segments(path: Path) -> list[tuple[float, float, str]]:
    with open(path, newline="") as fh:
        return [(float(r["start"]), float(r["end"]), r["class"]) for r in csv.DictReader(fh)]


@pytest.mark.parametrize("model", ["run", "onnx"])
def test_segments_of_a_generated_recording_come_back_within_one_step(trained, tmp_path, model):
    work, images = trained
    video = tmp_path / "talk.mp4"
    write_video(video, images, glitch_at=1.5)  # one odd frame inside the first stretch
    model_path = work / "run" if model == "run" else next((work / "exports").rglob("*.onnx"))
    every = 0.5
    result = run_cli("predict", model_path, video, "--every", str(every), "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    got = _segments(tmp_path / "out" / "talk.mp4.segments.csv")
    assert [s[2] for s in got] == [s[0] for s in SCRIPT], got  # the glitch is smoothed away
    for (start, end, _), (_, w_start, w_end) in zip(got, SCRIPT):
        assert abs(start - w_start) <= every + 1e-6 and abs(end - w_end) <= every + 1e-6, (got, SCRIPT)
    with open(tmp_path / "out" / "talk.mp4.frames.csv", newline="") as fh:
        frames = list(csv.DictReader(fh))
    assert len(frames) == 20 and [float(r["time"]) for r in frames[:3]] == [0.0, 0.5, 1.0]
    assert frames[3]["class"] == "green"  # the raw row keeps the odd frame at 1.5 s
    assert "4 segment(s)" in result.output and "20 frames sampled every 0.5 s, 4 segment(s)" in result.output
    # a step shorter than the video's frame interval (10 fps): each frame, and the line says the real step
    fine = run_cli("predict", model_path, video, "--every", "0.01", "--out", tmp_path / "fine")
    assert fine.exit_code == 0, fine.output
    assert ("100 frames sampled every 0.1 s (each frame of the video: --every 0.01 is shorter than its frame "
            "interval)") in " ".join(fine.output.split()), fine.output


def test_a_folder_of_videos_and_a_broken_one(trained, tmp_path):
    work, images = trained
    folder = tmp_path / "recordings"
    folder.mkdir()
    write_video(folder / "a.mp4", images, script=[("green", 0.0, 2.0)])
    (folder / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 not a real video")
    result = run_cli("predict", work / "run", folder, "--out", tmp_path / "out")
    assert result.exit_code == 1
    assert "broken.mp4: cannot open the video" in result.output
    assert (tmp_path / "out" / "a.mp4.segments.csv").is_file()
    assert _segments(tmp_path / "out" / "a.mp4.segments.csv")[0][2] == "green"
    single = run_cli("predict", work / "run", folder / "broken.mp4")
    assert single.exit_code == 1 and single.output.count("\n") <= 2 and "cannot open the video" in single.output


def test_smoothing_and_segments_rules():
    from toolkit.assess.video import segments, smooth

    labels = ["a", "a", "b", "a", "a", "c", "c", "c"]
    assert smooth(labels, 3) == ["a", "a", "a", "a", "a", "c", "c", "c"]
    assert smooth(labels, 1) == labels
    segs = segments([0.0, 0.5, 1.0, 1.5], ["a", "a", "b", "b"], [0.9, 0.7, 0.6, 0.8], end_time=2.0)
    assert [(s.start, s.end, s.label, s.frames) for s in segs] == [(0.0, 1.0, "a", 2), (1.0, 2.0, "b", 2)]
    assert segs[0].mean_probability == pytest.approx(0.8)

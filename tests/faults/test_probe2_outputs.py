"""Second outside probe (#25), what `tk predict`, `tk export`, `tk bench` and `tk compare` write
and read: every video keeps its own output files, a FIFO named like a video is refused rather
than waited on, `--every nan` is refused, `--opset` is checked as `export.onnx.opset` is, a
killed `tk export --int8` never passes for a checked export, and a hand-edited metrics.json is
one line.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from toolkit.testing import make_image_folder, run_cli

from .conftest import TK, final_error_line, one_error_line, record_figure, subprocess_env, write_recipe


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, Path]:
    """One tiny real run shared by the tests (two classes of 32 px images, one epoch)."""
    from toolkit.engine.train import run_recipe
    from toolkit.recipe.load import load_recipe

    root = tmp_path_factory.mktemp("probe2-outputs")
    images = make_image_folder(root / "images", {"a": 8, "b": 8}, size=32)
    recipe = write_recipe(root / "r.toml", images, epochs=1)
    run = run_recipe(load_recipe(recipe), out=root / "run", quiet=True).run_dir
    return {"root": root, "images": images, "run": run, "image": sorted((images / "a").iterdir())[0]}


def write_video(path: Path, shades: list[int], fps: int = 4) -> Path:
    """A tiny H.264 video, one flat grey frame per shade (as the video tests write theirs)."""
    av = pytest.importorskip("av", reason="PyAV (the video extra) is not installed")
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=fps)
    stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
    for shade in shades:
        frame = np.full((32, 32, 3), shade, dtype=np.uint8)
        for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path


def frame_count(path: Path) -> int:
    with open(path, newline="", encoding="utf-8") as fh:
        return len(list(csv.DictReader(fh)))


# -- 4. one pair of CSV files per video ---------------------------------------------------------
def test_videos_with_the_same_name_each_keep_their_results(trained, tmp_path):
    folder = tmp_path / "recordings"
    lengths = {"a/x.mp4": 4, "b/x.mp4": 8, "x.mov": 12}  # a different length each: whose file is whose shows
    for name, n in lengths.items():
        write_video(folder / name, [40 * (i % 4) for i in range(n)])
    out = tmp_path / "out"
    result = run_cli("predict", trained["run"], folder, "--every", "0.25", "--out", out)
    assert result.exit_code == 0, result.output
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*.csv"))
    assert written == sorted(f"{name}.{kind}.csv" for name in lengths for kind in ("frames", "segments")), written
    for name, n in lengths.items():
        assert frame_count(out / f"{name}.frames.csv") == n, name
        assert frame_count(out / f"{name}.segments.csv") >= 1, name
        assert f"Wrote {out / name}.frames.csv and {out / name}.segments.csv." in result.output

    alone = run_cli("predict", trained["run"], folder / "x.mov", "--every", "0.25", "--out", tmp_path / "alone")
    assert alone.exit_code == 0, alone.output
    assert frame_count(tmp_path / "alone" / "x.mov.frames.csv") == 12

    # two arguments whose videos would share a name: refused before any work, nothing written
    clash = run_cli("predict", trained["run"], folder / "a" / "x.mp4", folder / "b" / "x.mp4",
                    "--out", tmp_path / "clash")
    assert clash.exit_code == 1
    line = one_error_line(clash.stderr)
    assert "x.mp4.frames.csv" in line and str(folder / "a" / "x.mp4") in line and str(folder / "b" / "x.mp4") in line
    assert not (tmp_path / "clash").exists()
    record_figure("hostile files", "videos a/x.mp4, b/x.mp4, x.mov in one folder: a frames and segments CSV each; "
                  "two arguments that would share a name refused", 3, 3)


# -- 9. a FIFO named like a video ---------------------------------------------------------------
def test_a_fifo_named_like_a_video_is_refused_not_waited_on(trained, tmp_path):
    fifo = tmp_path / "v.mp4"
    os.mkfifo(fifo)
    # As the probe ran it: the tk binary, which hung on the FIFO (a timeout fails the test).
    done = subprocess.run([str(TK), "predict", str(trained["run"]), str(fifo), "--every", "1"], cwd=tmp_path,
                          env=subprocess_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "not a regular file" in one_error_line(done.stderr) and str(fifo) in done.stderr

    folder = tmp_path / "recordings"
    write_video(folder / "ok.mp4", [0, 80, 160, 240])
    os.mkfifo(folder / "pipe.mp4")
    inside = subprocess.run([str(TK), "predict", str(trained["run"]), str(folder), "--out", str(tmp_path / "out")],
                            cwd=tmp_path, env=subprocess_env(), capture_output=True, text=True, timeout=120)
    assert inside.returncode == 1, inside.stdout + inside.stderr
    assert f"Skipped: {folder / 'pipe.mp4'}: not a regular file" in inside.stderr, inside.stderr
    assert final_error_line(inside.stderr).startswith("Error: 1 of 2 videos could not be read")
    assert (tmp_path / "out" / "ok.mp4.frames.csv").is_file()  # the readable video is still written
    record_figure("hostile files", "FIFO named like a video: given alone (one line) and inside a folder (skipped "
                  "by name, the other video written)", 2, 2)


# -- 18. --every nan / inf ----------------------------------------------------------------------
@pytest.mark.parametrize("every", ["nan", "inf", "-inf", "0", "-1"])
def test_every_must_be_a_finite_positive_number_of_seconds(trained, tmp_path, every):
    video = write_video(tmp_path / "v.mp4", [0, 80, 160, 240])
    result = run_cli("predict", trained["run"], video, "--every", every, "--out", tmp_path / "out")
    assert result.exit_code == 1, result.output
    line = one_error_line(result.stderr)
    assert line.startswith("Error: --every ") and "finite" in line
    assert not (tmp_path / "out").exists()
    record_figure("bad recipes", f"tk predict VIDEO --every {every}: one line, nothing written", 1, 1)


# -- 13. --opset and export.onnx.opset: one range check -----------------------------------------
def test_opset_flag_and_setting_are_checked_alike_and_the_manifest_says_the_files(trained, tmp_path):
    import onnx

    run = trained["run"]
    lines = []
    for args in (["--opset", "7"], ["--set", "export.onnx.opset=7"], ["--opset", "24"]):
        result = run_cli("export", run, "--onnx", *args, "--out", tmp_path / "refused")
        assert result.exit_code == 1, (args, result.output)
        lines.append(one_error_line(result.stderr))
        assert not list((tmp_path / "refused").rglob("*.onnx")), args
    assert lines[0] == lines[1] and "from 18 to 23" in lines[0] and "not 7" in lines[0], lines

    result = run_cli("export", run, "--onnx", "--opset", "19", "--out", tmp_path / "exports")
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    folder = tmp_path / "exports" / "onnx"
    manifest = json.loads((folder / "manifest.json").read_text())
    proto = onnx.load(str(folder / manifest["file"]))
    in_file = max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    assert in_file == 19 and manifest["opset"] == 19 and manifest["exporter_options"]["opset"] == 19
    assert "opset" not in manifest["options"]  # no second, unchecked record of it
    record_figure("bad recipes", "tk export --opset 7 / 24 and --set export.onnx.opset=7: the same one line; "
                  "--opset 19 gives a file and a manifest at opset 19", 4, 4)


# -- 22. SIGKILL during tk export --int8 --------------------------------------------------------
def test_a_killed_int8_export_is_never_taken_for_a_checked_one(trained, tmp_path):
    """Kill `tk export --int8` the moment its model file is in place (parity and the int8 model,
    seconds of work, still to come), then ask bench and predict about what it left."""
    work = tmp_path / "work"
    shutil.copytree(trained["run"], work / "run")
    run = work / "run"
    env = subprocess_env()
    args = [str(TK), "export", str(run), "--onnx", "--int8", "--int8-tolerance", "100"]
    proc = subprocess.Popen(args, cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    folder = work / "exports" / "run" / "onnx"
    model = folder / "best.onnx"
    deadline = time.monotonic() + 240
    try:
        while not model.exists():
            assert proc.poll() is None, "tk export ended before writing its model"
            assert time.monotonic() < deadline, "tk export wrote no model within 240 s"
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    manifest_path = folder / "manifest.json"
    left = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    assert "parity" not in left, "the kill came after the export was checked"

    def run_tk(*argv: object) -> subprocess.CompletedProcess:
        return subprocess.run([str(TK), *map(str, argv)], cwd=work, env=env, capture_output=True, text=True,
                              timeout=300)

    quick = ("--iters", "2", "--warmup", "0", "--batch", "1")
    refused = []
    bench_file = run_tk("bench", model, *quick)
    assert bench_file.returncode == 1, bench_file.stdout + bench_file.stderr
    refused.append(one_error_line(bench_file.stderr))
    bench_run = run_tk("bench", run, "--runtime", "onnx", *quick)  # the run's exports: nothing else to measure
    assert bench_run.returncode == 1, bench_run.stdout + bench_run.stderr
    refused.append(final_error_line(bench_run.stderr))
    predicted = run_tk("predict", model, trained["image"])
    assert predicted.returncode == 1, predicted.stdout + predicted.stderr
    refused.append(one_error_line(predicted.stderr))
    for line in refused:
        assert str(Path("exports/run/onnx/best.onnx")) in line and "did not finish" in line \
               and "tk export again" in line, line
    assert not (run / "bench.json").exists() or "best.onnx" not in json.dumps(
        [r for r in json.loads((run / "bench.json").read_text())["rows"] if r.get("status") == "ok"])

    # exporting again heals it; a model file swapped afterwards is refused by its digest
    again = run_tk("export", run, "--onnx", "--int8", "--int8-tolerance", "100")
    assert again.returncode == 0, again.stdout + again.stderr
    benched = run_tk("bench", run, "--runtime", "onnx", *quick)
    assert benched.returncode == 0, benched.stdout + benched.stderr
    rows = json.loads((run / "bench.json").read_text())["rows"]
    assert {r["precision"] for r in rows if r["status"] == "ok"} == {"fp32", "int8"}, rows
    shutil.copy(folder / "best.int8.onnx", model)
    swapped = run_tk("predict", model, trained["image"])
    assert swapped.returncode == 1
    assert "not the model tk export checked" in one_error_line(swapped.stderr)
    record_figure("killed runs", "SIGKILL of tk export --int8 after the model, before its check: bench (file and "
                  "run) and predict refuse it, re-export heals; a swapped model file refused", 4, 4)


# -- 15. a hand-edited metrics.json or bench.json under tk compare ------------------------------
@pytest.mark.parametrize(("name", "edit", "key"), [
    ("metrics.json", {"per_class": 5}, "per_class"),
    ("metrics.json", {"per_class": {"a": {"f1": "high"}}}, "per_class"),
    ("metrics.json", {"accuracy": "0.9"}, "accuracy"),
    ("metrics.json", {"accuracy_ci": 3}, "accuracy_ci"),
    ("bench.json", {"rows": 5}, "rows"),
    ("bench.json", {"rows": [{"status": "ok", "format": "pytorch", "device": "cpu", "latency_ms": "fast"}]}, "rows"),
])
def test_compare_on_a_hand_edited_metrics_or_bench_file_is_one_line(trained, tmp_path, name, edit, key):
    run = tmp_path / "run"
    shutil.copytree(trained["run"], run)
    path = run / name
    data = json.loads(path.read_text()) if path.exists() else {}
    data.update(edit)
    path.write_text(json.dumps(data))
    result = run_cli("compare", run, "--png", tmp_path / "compare.png")
    assert result.exit_code == 1, result.output
    line = one_error_line(result.stderr)
    assert str(path) in line and ("edited or damaged" in line), line
    record_figure("hostile files", f"tk compare with a hand-edited {name} ({json.dumps(edit)[:40]})", 1, 1)

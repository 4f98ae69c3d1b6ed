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
    # --out naming a folder is refused before any image is classified: no table, one line
    result = run_cli("predict", "runs/tiny/1", *_val_images(in_shared)[:2], "--out", tmp_path)
    assert result.exit_code == 1 and result.output.strip().splitlines() == [
        f"Error: --out {tmp_path}: that is a folder; give the CSV file to write, e.g. --out {tmp_path / 'predictions.csv'}."]


@pytest.mark.skipif(sys.platform == "darwin", reason="Core ML runs on macOS")
def test_mlpackage_needs_macos_here(in_shared):
    result = run_cli("predict", "exports/tiny-1/coreml/tiny.mlpackage", _val_images(in_shared)[0])
    assert result.exit_code == 1
    assert result.output.strip() == ("Error: exports/tiny-1/coreml/tiny.mlpackage: coreml models cannot run on this "
                                     "machine: needs macOS.")


def _threads_line(output):
    lines = [line for line in output.splitlines() if line.startswith("Threads: ")]
    assert len(lines) == 1, output
    return lines[0]


@pytest.mark.parametrize("model", ["runs/tiny/1/best.pt", "exports/tiny-1/onnx/tiny.onnx"])
def test_threads_option_is_honoured_and_said_on_stderr(in_shared, tmp_path, model):
    """--threads N reaches the runtime (torch's pool; the ONNX Runtime session's intra-op threads),
    is said in one line on stderr, and stdout keeps only the table."""
    import torch

    from toolkit.export import load_predictor

    images = _val_images(in_shared)[:4]
    before = torch.get_num_threads()
    try:
        result = run_cli("predict", model, *images, "--threads", "2", "--out", tmp_path / "p.csv")
        assert result.exit_code == 0, result.output
        line = _threads_line(result.stderr)
        assert line.startswith("Threads: 2 (set with --threads) for "), line
        assert "Threads:" not in result.stdout
        if model.endswith(".pt"):
            assert torch.get_num_threads() == 2 and "PyTorch eager" in line
            predictor = load_predictor(model, threads=1)
            assert predictor.threads == 1 and torch.get_num_threads() == 1
        else:
            assert "ONNX Runtime, 1 inter-op" in line
            predictor = load_predictor(model, threads=1)
            assert predictor.threads == 1
            opts = predictor.session.get_session_options()
            assert opts.intra_op_num_threads == 1 and opts.inter_op_num_threads == 1
    finally:
        torch.set_num_threads(before)


def test_threads_default_is_the_count_tk_run_uses(in_shared, tmp_path, monkeypatch):
    from toolkit.core.threads import choose_threads

    import torch

    before = torch.get_num_threads()
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    try:
        result = run_cli("predict", "runs/tiny/1/best.pt", _val_images(in_shared)[0])
        assert result.exit_code == 0, result.output
        count, why, _ = choose_threads(0)
        assert _threads_line(result.stderr).startswith(f"Threads: {count} ({why.replace('; fixed for the run', '')})")
        assert torch.get_num_threads() == count
        monkeypatch.setenv("OMP_NUM_THREADS", "1")
        result = run_cli("predict", "runs/tiny/1/best.pt", _val_images(in_shared)[0])
        assert _threads_line(result.stderr).startswith("Threads: 1 (OMP_NUM_THREADS = 1) for PyTorch eager")
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5", ""])
def test_bad_threads_is_one_line(in_shared, value):
    result = run_cli("predict", "runs/tiny/1/best.pt", _val_images(in_shared)[0], "--threads", value)
    assert result.exit_code == 1, result.output
    assert result.output.strip() == (f"Error: --threads {value}: give the number of CPU threads, a whole number of "
                                     f"at least 1.")


@pytest.mark.parametrize("model", ["runs/tiny/1/best.pt", "exports/tiny-1/onnx/tiny.onnx"])
def test_outputs_match_with_one_and_two_threads(in_shared, tmp_path, model):
    """Threads change how sums are split, so at most the last digits of a probability."""
    import torch

    images = _val_images(in_shared)
    before = torch.get_num_threads()
    try:
        for n in ("1", "2"):
            result = run_cli("predict", model, *images, "--threads", n, "--out", tmp_path / f"{n}.csv")
            assert result.exit_code == 0, result.output
    finally:
        torch.set_num_threads(before)
    one, two = _rows(tmp_path / "1.csv"), _rows(tmp_path / "2.csv")
    assert len(one) == len(two) == len(images) and list(one[0]) == list(two[0])
    for x, y in zip(one, two):
        assert x["path"] == y["path"] and x["class"] == y["class"]
        for key in x:
            if key.endswith("probability"):
                assert float(x[key]) == pytest.approx(float(y[key]), abs=1e-5)


def test_predict_chooses_the_wait_policy_at_its_start_like_tk_run(monkeypatch):
    """Other processes busy on our cores when tk predict starts → its threads sleep while they
    wait (as `tk run`'s do); a quiet machine → OpenMP's default; a policy the user set stays."""
    import os

    from toolkit.core import threads

    for key in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(threads, "_WAIT_CHOICE", ["", ""])  # what the header says: this test's own
    monkeypatch.setattr(threads, "_others_cpus", lambda seconds=0.3: 1.0)
    threads.set_wait_policy("predict")
    assert os.environ.get("OMP_WAIT_POLICY") == "PASSIVE"
    assert "threads sleep while waiting" in threads.wait_policy_text()
    monkeypatch.delenv("OMP_WAIT_POLICY")
    monkeypatch.setattr(threads, "_others_cpus", lambda seconds=0.3: 0.0)
    threads.set_wait_policy("predict")
    assert "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ
    assert threads.wait_policy_text().startswith("threads spin while waiting")
    monkeypatch.setenv("GOMP_SPINCOUNT", "1234")
    threads.set_wait_policy("predict")
    assert threads.wait_policy_text() == "GOMP_SPINCOUNT=1234 from the environment"


def test_tk_predict_says_its_threads_and_wait_policy(in_shared, tmp_path):
    """The console script (as a user starts it): one Threads line on stderr, the CSV unchanged."""
    import os
    import subprocess

    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_NUM_THREADS")}
    code = "import sys; from toolkit.cli import main; sys.argv[0] = 'tk'; main()"
    images = _val_images(in_shared)[:2]
    done = subprocess.run([sys.executable, "-c", code, "predict", "runs/tiny/1/best.pt", *images, "--threads", "1",
                           "--out", str(tmp_path / "p.csv")], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    line = _threads_line(done.stderr)
    assert line.startswith("Threads: 1 (set with --threads) for PyTorch eager; threads s"), line
    assert "other processes used" in line and "Threads" not in done.stdout
    assert len(_rows(tmp_path / "p.csv")) == 2


def test_tk_predict_started_on_a_busy_machine_lets_onnx_runtime_threads_sleep(in_shared, tmp_path, monkeypatch):
    """Another process spinning on a core when `tk predict` starts: ONNX Runtime's own pool (which
    spins whatever OpenMP does) sleeps while it waits too, and the Threads line says so; with
    ``OMP_WAIT_POLICY=PASSIVE`` the session is built that way, without it ONNX Runtime spins."""
    import os
    import subprocess

    from toolkit.export import load_predictor

    model = "exports/tiny-1/onnx/tiny.onnx"
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_NUM_THREADS")}
    code = "import sys; from toolkit.cli import main; sys.argv[0] = 'tk'; main()"
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        done = subprocess.run([sys.executable, "-c", code, "predict", model, *_val_images(in_shared)[:2], "--threads", "1",
                               "--out", str(tmp_path / "p.csv")], env=env, capture_output=True, text=True, timeout=300)
    finally:
        spinner.kill()
        spinner.wait()
    assert done.returncode == 0, done.stderr
    line = _threads_line(done.stderr)
    assert line.startswith("Threads: 1 (set with --threads) for ONNX Runtime, 1 inter-op; threads sleep while waiting: "
                           "other processes used "), line
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    opts = load_predictor(model, threads=1).session.get_session_options()
    assert opts.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    monkeypatch.delenv("OMP_WAIT_POLICY")
    opts = load_predictor(model, threads=1).session.get_session_options()
    with pytest.raises(Exception, match="does not have configuration"):  # not set: ONNX Runtime's default, spinning
        opts.get_session_config_entry("session.intra_op.allow_spinning")

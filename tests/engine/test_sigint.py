"""Ctrl-C during training: last.pt is kept and marked, the exit status is 130, resume works."""

from __future__ import annotations

import signal
import subprocess
import time

from toolkit.core.checkpoint import load_checkpoint
from toolkit.testing import make_image_folder, run_cli

from .conftest import TK, recipe_file, subprocess_env


def test_sigint_saves_last_and_explains_how_to_resume(tmp_path, monkeypatch):
    root = make_image_folder(tmp_path / "images", {"a": 40, "b": 40}, size=32)
    recipe = recipe_file(tmp_path / "long.toml", root, epochs=500, batch_size=4)
    # SIGINT as from a terminal, even when the test run itself was started in the background
    proc = subprocess.Popen([str(TK), "run", str(recipe), "--quiet"], cwd=tmp_path, env=subprocess_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if line.startswith("epoch 2/500"):
                break
            assert line, "".join(lines)
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    output = "".join(lines) + rest
    assert proc.returncode == 130, output
    run_dir = tmp_path / "runs" / "long" / "1"
    last = load_checkpoint(run_dir / "last.pt")
    assert last["status"] == "interrupted"
    assert last["epoch"] >= 2 and len(last["history"]) == last["epoch"]
    assert f"resume with: tk run {recipe} --resume runs/long/1" in output
    assert "Traceback" not in output

    # The same run folder seen by the next commands (in-process: the subprocess start-up is paid once).
    monkeypatch.chdir(tmp_path)
    again = run_cli("run", recipe, "--quiet")
    assert again.exit_code == 1
    assert "runs/long/1" in again.output and "was interrupted" in again.output and "--fresh" in again.output

    resumed = run_cli("run", recipe, "--resume", "runs/long/1", "--quiet", "--set", f"train.epochs={last['epoch'] + 1}")
    assert resumed.exit_code == 0, resumed.output
    assert f"epoch {last['epoch'] + 1}/{last['epoch'] + 1}" in resumed.output
    assert load_checkpoint(run_dir / "last.pt")["status"] == "finished"

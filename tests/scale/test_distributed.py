"""`tk run --nproc 2`: data-parallel training on the CPU (gloo) through torchrun, on tiny images.

A recipe-local plugin records every event hook call with the rank of the process that made
it, so the tests see that only rank 0 emits events and saves checkpoints, while the run
knows it has two processes.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest
import torch
from click.testing import CliRunner

from toolkit.cli import cli

from .conftest import TK, run_tk, tk_env

RECORDER = '''
"""Records each event with the rank of the process that emitted it."""
import json, os
from toolkit import hookimpl

LOG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "events.jsonl")


def _write(**fields):
    fields.update(rank=int(os.environ.get("RANK", "0")), pid=os.getpid())
    with open(LOG, "a") as fh:
        fh.write(json.dumps(fields) + "\\n")


@hookimpl
def tk_run_start(run):
    _write(event="start", world_size=run.world_size, epoch=run.epoch)


@hookimpl
def tk_checkpoint_saved(run, path, kind):
    _write(event="saved", kind=kind)


@hookimpl
def tk_epoch_end(run, epoch, metrics):
    _write(event="epoch", epoch=epoch, val_accuracy=metrics["val_accuracy"])
'''

DISTRIBUTED = """
[sampler]
name = "class_balanced"

[plugins]
modules = ["recorder.py"]
"""


def _events(tmp_path):
    return [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]


@pytest.fixture
def dp_recipe(tmp_path, make_recipe):
    (tmp_path / "recorder.py").write_text(RECORDER, encoding="utf-8")
    return make_recipe("dp", epochs=2, extra=DISTRIBUTED)


def test_nproc_2_trains_one_run_folder_written_by_rank_0_and_resumes(tmp_path, dp_recipe):
    result = run_tk("run", str(dp_recipe), "--nproc", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert f"launching 2 processes per machine: torchrun --nproc-per-node=2 --standalone --max-restarts=0 " \
           f"-m toolkit.cli run {dp_recipe}" in out
    assert out.count("epoch 1/2 ") == 1 and out.count("epoch 2/2 ") == 1  # only rank 0 prints
    assert "Run finished after 2 epochs." in out and "Best: epoch" in out

    runs = tmp_path / "runs" / "dp"
    assert sorted(p.name for p in runs.iterdir()) == ["1"]
    run_dir = runs / "1"
    for name in ("recipe.toml", "split.json", "best.pt", "last.pt", "history.jsonl", "metrics.json", "report.html"):
        assert (run_dir / name).is_file(), name
    assert not [p.name for p in run_dir.iterdir() if p.name.endswith(".tmp")]
    history = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in history] == [1, 2]
    # validation counts every image of the whole val split once, though each process saw half of it:
    # an accuracy of one process's share, a mean of the two, or a padded sampler's repeats is no k/n_val
    n_val = len(json.loads((run_dir / "split.json").read_text())["val"])
    assert all(abs(h["val_accuracy"] * n_val - round(h["val_accuracy"] * n_val)) < 1e-6 for h in history)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    matrix = metrics["confusion_matrix"]
    assert sum(map(sum, matrix)) == n_val == metrics["data"]["val"]
    assert metrics["accuracy"] == pytest.approx(sum(matrix[i][i] for i in range(len(matrix))) / n_val)
    assert f"val accuracy {metrics['accuracy']:.4f}" in out

    events = _events(tmp_path)
    assert {e["rank"] for e in events} == {0} and len({e["pid"] for e in events}) == 1
    assert events[0] == {**events[0], "event": "start", "world_size": 2, "epoch": 0}
    assert [e["epoch"] for e in events if e["event"] == "epoch"] == [0, 1]
    saves = [e["kind"] for e in events if e["event"] == "saved"]
    assert "best" in saves and saves[-1] == "last"

    last = torch.load(run_dir / "last.pt", weights_only=True)
    assert (last["epoch"], last["status"]) == (2, "finished")

    (tmp_path / "events.jsonl").unlink()
    resumed = run_tk("run", str(dp_recipe), "--nproc", "2", "--resume", str(run_dir), "--set", "train.epochs=3",
                     cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"Resuming {run_dir.relative_to(tmp_path)} after epoch 2" in resumed.stdout or \
           f"Resuming {run_dir} after epoch 2" in resumed.stdout
    assert "epoch 3/3 " in resumed.stdout and "Run finished after 3 epochs." in resumed.stdout
    assert sorted(p.name for p in runs.iterdir()) == ["1"]
    history = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in history] == [1, 2, 3]
    last = torch.load(run_dir / "last.pt", weights_only=True)
    assert (last["epoch"], last["status"]) == (3, "finished")
    events = _events(tmp_path)
    assert {e["rank"] for e in events} == {0}
    assert events[0] == {**events[0], "event": "start", "world_size": 2, "epoch": 2}


SHARE_AND_CTRL_C = '''
"""Records what rank 0 shares with the launcher, then presses Ctrl-C in the launcher after epoch 1."""
import json, os, signal
from toolkit import hookimpl


@hookimpl
def tk_run_start(run):
    memory = {}
    with open("/proc/self/smaps_rollup") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("Pss", "Shared_Dirty"):
                memory[key] = int(value.split()[0]) // 1024
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "memory.json"), "w") as fh:
        json.dump(memory, fh)


@hookimpl
def tk_epoch_end(run, epoch, metrics):
    if epoch == 0:
        os.kill(os.getppid(), signal.SIGINT)  # the launcher passes it on to every worker, as with Ctrl-C
'''


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers are forked on Linux only")
@pytest.mark.parametrize("start", ["fork", "exec"])
def test_workers_share_the_launchers_memory_and_ctrl_c_saves_last_pt(tmp_path, make_recipe, start):
    """Forked workers (the default on Linux) share the launcher's loaded torch instead of loading
    their own; either way Ctrl-C reaches the workers as KeyboardInterrupt and last.pt is kept."""
    (tmp_path / "share.py").write_text(SHARE_AND_CTRL_C, encoding="utf-8")
    recipe = make_recipe("share", epochs=50, extra='[plugins]\nmodules = ["share.py"]\n')
    env = {**tk_env(), "TK_WORKER_START": start}
    proc = subprocess.run([str(TK), "run", str(recipe), "--nproc", "2"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 130, out
    assert "The distributed run was stopped by SIGINT." in out

    memory = json.loads((tmp_path / "memory.json").read_text())
    if start == "fork":  # the launcher's pages, written before the fork and shared since
        assert memory["Shared_Dirty"] >= 100, memory
    else:
        assert memory["Shared_Dirty"] < 20, memory

    last = torch.load(tmp_path / "runs" / "share" / "1" / "last.pt", weights_only=True)
    assert last["status"] == "interrupted" and 1 <= last["epoch"] < 50
    assert f"last.pt holds epoch {last['epoch']}; resume with: tk run {recipe} --resume" in out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers are forked on Linux only")
@pytest.mark.parametrize(("before", "env", "expected"), [
    ("", {}, "fork"),
    ("torch.cuda.is_available()", {}, "exec"),  # touching the CUDA driver makes a fork unable to use CUDA
    ("threading.Thread(target=time.sleep, args=(5,), daemon=True).start()", {}, "exec"),
    ("", {"TK_WORKER_START": "exec"}, "exec"),
])
def test_workers_are_forked_only_from_a_process_that_can_be_forked_safely(before, env, expected):
    code = f"import threading, time, torch\n{before}\nfrom toolkit.orchestrate.launch import worker_start\nprint(worker_start())"
    proc = subprocess.run([sys.executable, "-c", code], env={**tk_env(), **env}, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [expected]


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["--nproc", "2", "--dry-run"], {}, "--dry-run checks one process; drop --nproc/--nnodes."),
        (["--nnodes", "2"], {}, "Error: --nnodes 2: several machines need --rdzv-endpoint HOST:PORT"),
        (["--nnodes", "two", "--rdzv-endpoint", "h:1"], {}, "Error: --nnodes two: expected a number of machines"),
        (["--nproc", "2"], {"WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "0"},
         "Error: --nproc/--nnodes are for starting a distributed run; this process is already a worker"),
        (["--nproc", "2"], {"TK_WORKER_START": "spawn"},
         "Error: TK_WORKER_START=spawn: expected fork or exec (how --nproc starts its workers)."),
    ],
)
def test_launch_mistakes_are_one_line_before_any_process_starts(tmp_path, make_recipe, monkeypatch, args, env,
                                                                 expected):
    monkeypatch.chdir(tmp_path)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(cli, ["run", str(make_recipe("mistake")), *args])
    assert result.exit_code != 0
    assert expected in result.output
    assert "launching" not in result.output and not (tmp_path / "runs").exists()


def test_unfinished_run_is_reported_once_before_launching(tmp_path, make_recipe, monkeypatch):
    """The run-folder guard runs in the launching process: one line, no workers started."""
    monkeypatch.chdir(tmp_path)
    recipe = make_recipe("guard", epochs=1)
    run_dir = tmp_path / "runs" / "guard" / "1"
    run_dir.mkdir(parents=True)
    from toolkit.core.checkpoint import save_checkpoint

    save_checkpoint(run_dir / "last.pt", {"epoch": 0, "status": "running", "recipe": {"train": {"epochs": 1}}})
    result = CliRunner().invoke(cli, ["run", str(recipe), "--nproc", "2"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: The latest run of this recipe, runs/guard/1, did not finish")
    assert "launching" not in result.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_machines_rendezvous_through_c10d(tmp_path, dp_recipe):
    """Two `tk run --nnodes 2 --rdzv-endpoint` launchers (two "machines" on localhost) form one run."""
    endpoint = f"127.0.0.1:{_free_port()}"
    args = [str(TK), "run", str(dp_recipe), "--set", "train.epochs=1", "--nproc", "1", "--nnodes", "2",
            "--rdzv-endpoint", endpoint, "--rdzv-id", "two-nodes"]
    nodes = [subprocess.Popen(args, cwd=tmp_path, env=tk_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True) for _ in range(2)]
    outputs = [n.communicate(timeout=400)[0] for n in nodes]
    assert all(n.returncode == 0 for n in nodes), outputs
    assert sum("Run finished after 1 epoch." in out for out in outputs) == 1  # global rank 0 only
    assert sorted(p.name for p in (tmp_path / "runs" / "dp").iterdir()) == ["1"]
    start = _events(tmp_path)[0]
    assert (start["event"], start["world_size"]) == ("start", 2)


@pytest.mark.slow
def test_started_by_torchrun_directly(tmp_path, dp_recipe):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", "-m", "toolkit.cli",
           "run", str(dp_recipe), "--set", "train.epochs=1"]
    proc = subprocess.run(cmd, cwd=tmp_path, env=tk_env(), capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("Run finished after 1 epoch.") == 1
    assert (tmp_path / "runs" / "dp" / "1" / "best.pt").is_file()
    assert _events(tmp_path)[0]["world_size"] == 2

"""`tk tune` end to end: two workers share one study through a journal file, then --summary
writes a recipe that `tk run` accepts."""

from __future__ import annotations

import subprocess
import sys
import tomllib

from click.testing import CliRunner

from toolkit.cli import cli

from .conftest import TK, tk_env

TUNE = """
[tune]
metric = "val_accuracy"
direction = "maximize"
pruner = "median"
startup_trials = 1
warmup_epochs = 0
"optim.lr" = { low = 1e-4, high = 5e-2, log = true }
"train.batch_size" = { choices = [3, 6] }
"""


def test_two_workers_share_one_journal_study_and_summary_writes_a_runnable_recipe(tmp_path, make_recipe,
                                                                                 monkeypatch):
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    recipe = make_recipe("search", epochs=2, extra=TUNE)
    journal = tmp_path / "shared" / "study.journal"
    args = [str(TK), "tune", str(recipe), "--trials", "2", "--storage", str(journal), "--study", "s1"]
    workers = [subprocess.Popen(args, cwd=tmp_path, env=tk_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True) for _ in range(2)]
    outputs = [w.communicate(timeout=400)[0] for w in workers]
    for w, out in zip(workers, outputs):
        assert w.returncode == 0, out
        assert "study 's1': this process ran 2 trials" in out

    study = optuna.load_study(study_name="s1", storage=JournalStorage(JournalFileBackend(str(journal))))
    trials = study.get_trials()
    assert len(trials) == 4
    states = optuna.trial.TrialState
    assert all(t.state in (states.COMPLETE, states.PRUNED) for t in trials)
    assert sorted(t.number for t in trials) == [0, 1, 2, 3]
    for t in trials:  # each trial is a normal run folder
        run_dir = tmp_path / "runs" / "search" / "tune-s1" / f"trial-{t.number}"
        assert t.user_attrs["run_dir"] == str(run_dir)
        assert (run_dir / "last.pt").is_file() and (run_dir / "recipe.toml").is_file()
        resolved = tomllib.loads((run_dir / "recipe.toml").read_text())
        assert resolved["optim"]["lr"] == t.params["optim.lr"]
        assert resolved["train"]["batch_size"] == t.params["train.batch_size"]

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["tune", str(recipe), "--summary", "--storage", str(journal), "--study", "s1"])
    assert result.exit_code == 0, result.output
    out = result.output
    done = sum(t.state == states.COMPLETE for t in trials)
    assert f"study 's1' (maximize val_accuracy): {done} finished, {4 - done} pruned, 0 failed" in out
    best = study.best_trial
    assert f" 1. trial {best.number}: val_accuracy={best.value:.4g}" in out
    folder = tmp_path / "runs" / "search" / "tune-s1"
    tuned = folder / "search_tuned.toml"
    assert "best recipe: runs/search/tune-s1/search_tuned.toml" in out
    assert (folder / "history.png").stat().st_size > 1000
    finished = [t for t in trials if t.state == states.COMPLETE]
    varied = [k for k in ("optim.lr", "train.batch_size") if len({repr(t.params[k]) for t in finished}) > 1]
    if len(finished) >= 2 and len(varied) >= 2:  # importance means something only then (issue: first hour)
        assert (folder / "importance.png").stat().st_size > 1000
    else:
        assert not (folder / "importance.png").exists()
    written = tomllib.loads(tuned.read_text())
    assert "tune" not in written
    assert written["optim"]["lr"] == best.params["optim.lr"]
    assert written["train"]["batch_size"] == best.params["train.batch_size"]

    check = CliRunner().invoke(cli, ["recipes", "check", str(tuned)])
    assert check.exit_code == 0 and check.output.strip().endswith(": ok"), check.output
    trained = CliRunner().invoke(cli, ["run", str(tuned), "--set", "train.epochs=1", "--quiet"])
    assert trained.exit_code == 0, trained.output
    assert "Run finished after 1 epoch." in trained.output
    assert (tmp_path / "runs" / "search_tuned" / "1" / "best.pt").is_file()


def test_missing_optuna_is_one_line(tmp_path, make_recipe):
    recipe = make_recipe("noopt", extra=TUNE)
    code = ("import sys; sys.modules['optuna'] = None; sys.argv = ['tk'] + sys.argv[1:]; "
            "from toolkit.cli import main; main()")
    proc = subprocess.run([sys.executable, "-c", code, "tune", str(recipe), "--trials", "1"], cwd=tmp_path,
                          env=tk_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip() == ("Error: tk tune needs Optuna, which is not installed; install it with: "
                                   "pip install 'tk-train[tune]'.")


def test_summary_reads_a_database_storage_and_skips_importance_with_one_trial(tmp_path, make_recipe, monkeypatch):
    """A study in a database (sqlite here; PostgreSQL is the same code path, an RDB URL)."""
    import optuna

    monkeypatch.chdir(tmp_path)
    recipe = make_recipe("db", extra=TUNE)
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    study = optuna.create_study(storage=url, study_name="db", direction="maximize")
    study.set_user_attr("tk_overrides", ["train.epochs=1"])
    study.set_user_attr("tk_metric", "val_accuracy")
    trial = study.ask({"optim.lr": optuna.distributions.FloatDistribution(1e-4, 5e-2, log=True),
                       "train.batch_size": optuna.distributions.CategoricalDistribution([3, 6])})
    study.tell(trial, 0.75)

    result = CliRunner().invoke(cli, ["tune", str(recipe), "--summary", "--storage", url])
    assert result.exit_code == 0, result.output
    assert "study 'db' (maximize val_accuracy): 1 finished, 0 pruned, 0 failed, 0 running" in result.output
    assert "note: parameter importance needs at least 2 finished trials with different values; skipped." \
        in result.output
    folder = tmp_path / "runs" / "db" / "tune-db"
    assert (folder / "history.png").is_file() and not (folder / "importance.png").exists()
    written = tomllib.loads((folder / "db_tuned.toml").read_text())
    assert written["train"]["epochs"] == 1  # the study's own --set comes back
    assert written["optim"]["lr"] == trial.params["optim.lr"]
    assert written["data"]["root"] == str(tmp_path / "images")


def test_importance_is_not_drawn_when_only_one_parameter_varied(tmp_path, make_recipe, monkeypatch):
    """The first-hour report: importance.png gave 0.50 to a parameter that never varied."""
    import optuna

    monkeypatch.chdir(tmp_path)
    recipe = make_recipe("one", extra=TUNE)
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    study = optuna.create_study(storage=url, study_name="one", direction="maximize")
    study.set_user_attr("tk_metric", "val_accuracy")
    dists = {"optim.lr": optuna.distributions.FloatDistribution(1e-4, 5e-2, log=True),
             "train.batch_size": optuna.distributions.CategoricalDistribution([3, 6])}
    for lr, value in ((1e-3, 0.5), (1e-2, 0.75), (3e-2, 0.6)):  # batch_size 3 every time
        study.add_trial(optuna.trial.create_trial(params={"optim.lr": lr, "train.batch_size": 3},
                                                  distributions=dists, value=value))
    result = CliRunner().invoke(cli, ["tune", str(recipe), "--summary", "--storage", url])
    assert result.exit_code == 0, result.output
    assert "parameter importance: only optim.lr took different values" in result.output
    assert not (tmp_path / "runs" / "one" / "tune-one" / "importance.png").exists()


def test_no_pruning_after_the_last_epoch(tmp_path):
    """Pruning after the last epoch saves nothing: the trial finishes instead."""
    from pathlib import Path

    import optuna

    from toolkit.engine.run import RunInfo
    from toolkit.orchestrate.tune.study import PruningCallback
    from toolkit.recipe.load import load_recipe

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize",
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0))
    good = study.ask()
    good.report(0.9, 0)
    good.report(0.9, 1)
    study.tell(good, 0.9)
    callback = PruningCallback(study.ask(), "val_accuracy")
    run = RunInfo(dir=Path(tmp_path), recipe=load_recipe(None, ["train.epochs=2"]), class_names=["a", "b"])
    callback.tk_epoch_end(run=run, epoch=1, metrics={"val_accuracy": 0.1})  # the last of 2 epochs
    assert callback.pruned_at is None and run.stop_reason is None


def test_ctrl_c_during_a_trial_gives_one_way_on(tmp_path, make_recipe):
    """Not "resume with tk run … --resume trial-N" and "run tk tune again" both: only the study's way."""
    import signal
    import time

    recipe = make_recipe("stop", epochs=200, extra=TUNE)
    proc = subprocess.Popen([str(TK), "tune", str(recipe), "--trials", "3"], cwd=tmp_path, env=tk_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines = []
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            assert line, "".join(lines)
            if line.startswith("epoch 2/200"):
                break
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    output = "".join(lines) + rest
    assert proc.returncode == 130, output
    assert "recorded as failed in the study; run the same tk tune command again" in output
    assert "--resume" not in output


def test_tune_optimises_a_metric_a_recipes_callback_declares(tmp_path, make_recipe, monkeypatch):
    """docs/plugins.md: a callback's declared metric reaches train.best_metric and tk tune — a recipe
    module's callback adds ``gap`` in on_validation_end, and ``[tune] metric = "gap"`` is optimised."""
    import json

    monkeypatch.chdir(tmp_path)
    (tmp_path / "gap.py").write_text(
        "from toolkit import Callback, hookimpl\n\n\n"
        "class Gap(Callback):\n"
        "    def on_validation_end(self, state):\n"
        "        state.metrics['gap'] = state.metrics['train_accuracy'] - state.metrics['val_accuracy']\n\n\n"
        "@hookimpl\n"
        "def tk_register_callbacks(register):\n"
        "    register('gap', Gap, metrics=['gap'])\n")
    recipe = make_recipe("gap", epochs=1, extra=(
        '[plugins]\nmodules = ["gap.py"]\n\n[[train.callbacks]]\nname = "gap"\n\n'
        '[tune]\nmetric = "gap"\ndirection = "minimize"\n"optim.lr" = { choices = [0.01, 0.02] }\n'))
    result = CliRunner().invoke(cli, ["tune", str(recipe), "--trials", "1", "--storage",
                                      str(tmp_path / "study.journal")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "trial 0: gap=" in result.output, result.output
    history = sorted(tmp_path.rglob("trial-0/history.jsonl"))
    assert history and all("gap" in json.loads(line) for line in history[0].read_text().splitlines()), history

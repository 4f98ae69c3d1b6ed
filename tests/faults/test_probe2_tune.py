"""`tk tune` and a study storage it did not write alone (issue #25, items 2 and 14).

A study's storage is written by whoever can write to it: a journal file handed over, a database
shared by several machines. What it holds (the ``tk_overrides`` user attribute, trial parameters)
is stored recipe values, like a checkpoint's stored recipe: a plugin module named there is never
imported without ``--trust-plugins``. Each hostile study is written with Optuna's own storage API;
importing its module would create a marker file, which must never appear; with ``--trust-plugins``
it does, so the check is real.

A journal cut short (``truncate -s -7``) or a file that is not a journal at all is refused in one
line naming it, before anything is appended to it (Optuna would append after the cut-short line,
damaging the file for good), for ``tk tune --trials`` and ``--summary`` alike.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from toolkit.testing import make_image_folder, run_cli

from .conftest import TK, one_error_line, record_figure, subprocess_env, tk, write_recipe

TUNE = """
[tune]
metric = "val_accuracy"
direction = "maximize"
pruner = "none"
"optim.lr" = { choices = [0.01, 0.02] }
"""

PWN = """\
from pathlib import Path
Path({marker!r}).write_text("imported")
"""


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    return make_image_folder(tmp_path_factory.mktemp("tune_images") / "images", {"a": 6, "b": 6}, size=32)


@pytest.fixture
def setup(tmp_path: Path, images: Path, monkeypatch) -> dict[str, Path]:
    """A user's recipe with a [tune] table, and a would-be evil module that leaves a marker when imported."""
    monkeypatch.chdir(tmp_path)
    recipe = write_recipe(tmp_path / "r.toml", images, epochs=1, extra=TUNE)
    marker = tmp_path / "PWNED"
    pwn = tmp_path / "elsewhere" / "pwn.py"
    pwn.parent.mkdir()
    pwn.write_text(PWN.format(marker=str(marker)))
    return {"root": tmp_path, "recipe": recipe, "marker": marker, "pwn": pwn}


def _study(storage, *, name="r", overrides=None, params=None, enqueue=None):
    """A study with one finished trial, written through Optuna's own API (as a sharing machine would)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(storage=storage, study_name=name, direction="maximize")
    study.set_user_attr("tk_metric", "val_accuracy")
    if overrides is not None:
        study.set_user_attr("tk_overrides", overrides)
    params = params or {"optim.lr": 0.02}
    dists = {k: optuna.distributions.CategoricalDistribution([0.01, 0.02] if v in (0.01, 0.02) else [v])
             for k, v in params.items()}  # the recipe's own choices, so tk tune --trials can join the study
    study.add_trial(optuna.trial.create_trial(params=params, distributions=dists, value=0.75))
    if enqueue:
        study.enqueue_trial(enqueue)
    return study


def _journal(path: Path, **kwargs) -> Path:
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    _study(JournalStorage(JournalFileBackend(str(path))), **kwargs)
    return path


def _hostile_overrides(s) -> list[str]:
    return ["train.epochs=1", f'plugins.modules=["{s["pwn"]}"]']


def test_summary_refuses_a_module_named_by_the_study_journal(setup):
    s = setup
    journal = _journal(s["root"] / "shared.journal", overrides=_hostile_overrides(s))
    refused = tk("tune", s["recipe"], "--summary", "--storage", journal, cwd=s["root"], timeout=180)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    line = one_error_line(refused.stderr)
    assert f"Study 'r' in {journal}" in line and str(s["pwn"]) in line and "--trust-plugins" in line, line
    assert not s["marker"].exists()
    assert not refused.stdout.strip(), refused.stdout

    trusted = tk("tune", s["recipe"], "--summary", "--storage", journal, "--trust-plugins", cwd=s["root"], timeout=180)
    assert trusted.returncode == 0, trusted.stdout + trusted.stderr
    assert s["marker"].read_text() == "imported"  # the test can fail: the module really is imported when trusted
    record_figure("hostile files", "tune journal whose study attribute tk_overrides names a plugin module "
                                   "(tk tune --summary): refused in one line, imported only with --trust-plugins", 1, 1)


def _route_tk_overrides(s):
    return ["--storage", _journal(s["root"] / "j.journal", overrides=_hostile_overrides(s))]


def _route_param_name(s):  # a parameter name that reads as an override once written "name=value"
    key = f'plugins.modules=["{s["pwn"]}"] #'
    return ["--storage", _journal(s["root"] / "j.journal", params={key: 0.5})]


def _route_database(s):  # a database shared by machines: the same stored values, another storage
    url = f"sqlite:///{s['root'] / 'studies.db'}"
    _study(url, overrides=_hostile_overrides(s))
    return ["--storage", url]


def _route_default_journal(s):  # no --storage: the default journal under runs/<recipe>/, replaced by a stranger's
    (s["root"] / "runs" / "r").mkdir(parents=True)
    _journal(s["root"] / "runs" / "r" / "tune.journal", overrides=[f'plugins.modules=["{s["pwn"]}"]'])
    return []


def _route_relative_module(s):  # resolved next to the user's recipe, yet the study's choice, not the recipe's
    _journal(s["root"] / "j.journal", overrides=['plugins.modules=["elsewhere/pwn.py"]'])
    return ["--storage", s["root"] / "j.journal"]


ROUTES = {"tk_overrides in a journal": _route_tk_overrides, "a trial parameter's name": _route_param_name,
          "tk_overrides in a database": _route_database, "the default journal": _route_default_journal,
          "a relative module path": _route_relative_module}


@pytest.mark.parametrize("route", ROUTES)
def test_summary_imports_nothing_a_study_names(setup, route):
    s = setup
    args = ROUTES[route](s)
    result = run_cli("tune", s["recipe"], "--summary", *args)
    assert result.exit_code == 1, result.output
    line = one_error_line(result.stderr)
    assert line.startswith("Error: Study 'r' in "), line
    assert "--trust-plugins" in line or "not written by tk tune" in line, line
    assert (str(args[-1]) if args else "runs/r/tune.journal") in line, line
    assert not s["marker"].exists()
    assert not (s["root"] / "runs" / "r" / "tune-r" / "r_tuned.toml").exists()
    record_figure("hostile files", f"tune study naming a plugin module through {route} (tk tune --summary)", 1, 1)


def test_summary_takes_the_users_own_module_and_refuses_a_malformed_attribute(setup, images):
    s = setup
    own = write_recipe(s["root"] / "own.toml", images, epochs=1,
                       extra='[plugins]\nmodules = ["elsewhere/pwn.py"]\n' + TUNE)
    journal = s["root"] / "own.journal"
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    storage = JournalStorage(JournalFileBackend(str(journal)))
    _study(storage, name="odd", overrides="plugins.modules=[]")  # a string, not a list of --set strings
    bad = run_cli("tune", own, "--summary", "--storage", journal, "--study", "odd")
    assert bad.exit_code == 1
    assert "its tk_overrides attribute is not a list of --set strings" in one_error_line(bad.stderr)
    # The very file the user's own recipe names is the user's module, however the study spells it.
    _study(storage, name="same", overrides=[f'plugins.modules=["{s["pwn"]}"]'])
    result = run_cli("tune", own, "--summary", "--storage", journal, "--study", "same")
    assert result.exit_code == 0, result.output
    assert s["marker"].exists()


def test_tune_trials_on_a_hostile_study_imports_nothing(setup):
    """Adding trials to a stranger's study: its stored attributes and enqueued values never name modules."""
    s = setup
    journal = _journal(s["root"] / "shared.journal", overrides=_hostile_overrides(s), enqueue={"optim.lr": 0.01})
    done = tk("tune", s["recipe"], "--trials", "1", "--storage", journal, cwd=s["root"], timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "this process ran 1 trials" in done.stdout
    assert not s["marker"].exists()
    record_figure("hostile files", "tune journal naming a plugin module, then tk tune --trials on it: imported "
                                   "nothing", 1, 1)


def test_a_study_started_with_other_choices_is_one_line(setup):
    s = setup
    import optuna

    journal = s["root"] / "other.journal"
    _journal(journal, params={"optim.lr": 0.5})  # choices [0.5], not the recipe's [0.01, 0.02]
    result = run_cli("tune", s["recipe"], "--trials", "1", "--storage", journal)
    assert result.exit_code == 1, result.output
    line = one_error_line(result.stderr)
    assert f"Study 'r' in {journal} already searched a key" in line and "another --study name" in line, line
    assert not (s["root"] / "runs" / "r" / "tune-r" / "trial-1").exists()
    assert optuna.trial.TrialState.FAIL in {t.state for t in optuna.load_study(
        study_name="r", storage=optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(str(journal)))).get_trials()}


# -- item 14: a damaged journal, or a file that is not one ---------------------------------------

def _cut_short(s, path: Path) -> None:
    _journal(path, overrides=["train.epochs=1"])
    with open(path, "r+b") as fh:  # truncate -s -7
        fh.truncate(path.stat().st_size - 7)


@pytest.mark.parametrize("command", ["--summary", "--trials"])
def test_truncated_journal_is_one_line_and_left_as_it_was(setup, command):
    s = setup
    journal = s["root"] / "study.journal"
    _cut_short(s, journal)
    before = journal.read_bytes()
    args = ["--summary"] if command == "--summary" else ["--trials", "1"]
    done = tk("tune", s["recipe"], *args, "--storage", journal, cwd=s["root"], timeout=180)
    assert done.returncode == 1, done.stdout + done.stderr
    line = one_error_line(done.stderr)
    assert f"Tune journal {journal} is damaged" in line and "cut short" in line and "restore a good copy" in line, line
    assert journal.read_bytes() == before  # nothing appended after the cut-short line
    assert not (s["root"] / "runs" / "r" / "tune-r" / "trial-0").exists()
    record_figure("hostile files", f"tune journal cut short (truncate -s -7), tk tune {command}: one line, "
                                   "file untouched", 1, 1)


NOT_JOURNALS = {
    "PNG image": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4,
    "TOML recipe": b'[train]\nepochs = 3\n',
    "JSON, not a journal": b'{"a": 1}\n',
    "JSON list": b"[1, 2]\n",
    "not UTF-8": b'{"op_code": 0, "study_name": "\xff\xfe"}\n',
    "entry missing fields": b'{"op_code": 0}\n',
    "damaged middle line": None,
    "blank line": None,
}


@pytest.mark.parametrize("kind", NOT_JOURNALS)
def test_not_a_journal_is_one_line(setup, kind):
    s = setup
    path = s["root"] / "x.journal"
    if kind == "damaged middle line":
        _journal(path, overrides=["train.epochs=1"])
        lines = path.read_bytes().splitlines(keepends=True)
        lines[1] = lines[1][: len(lines[1]) // 2] + b"\n"
        path.write_bytes(b"".join(lines))
    elif kind == "blank line":
        _journal(path, overrides=["train.epochs=1"])
        path.write_bytes(path.read_bytes() + b"\n")
    else:
        path.write_bytes(NOT_JOURNALS[kind])
    before = path.read_bytes()
    for args in (["--summary"], ["--trials", "1"]):
        result = run_cli("tune", s["recipe"], *args, "--storage", path)
        assert result.exit_code == 1, result.output
        line = one_error_line(result.stderr)
        assert f"Tune journal {path} is damaged or not an Optuna journal" in line, line
        assert path.read_bytes() == before
    record_figure("hostile files", f"tune --storage file that is not a journal ({kind}): one line", 2, 2)


def test_fifo_and_unreadable_storage_are_one_line(setup):
    s = setup
    fifo = s["root"] / "fifo.journal"
    os.mkfifo(fifo)
    done = tk("tune", s["recipe"], "--summary", "--storage", fifo, cwd=s["root"], timeout=60)  # blocked forever before
    assert done.returncode == 1
    assert f"--storage {fifo}: not a regular file" in one_error_line(done.stderr)
    tried = held = 1

    if os.geteuid() != 0 or shutil.which("setpriv"):
        locked = s["root"] / "locked.journal"
        _journal(locked, overrides=["train.epochs=1"])
        os.chmod(locked, 0)
        drop = "-dac_override,-dac_read_search"
        prefix = [] if os.geteuid() != 0 else [shutil.which("setpriv"), f"--bounding-set={drop}", f"--inh-caps={drop}"]
        done = subprocess.run([*prefix, str(TK), "tune", str(s["recipe"]), "--summary", "--storage", str(locked)],
                              cwd=s["root"], env=subprocess_env(), capture_output=True, text=True, timeout=120)
        assert done.returncode == 1
        line = one_error_line(done.stderr)
        assert str(locked) in line and "Permission denied" in line, line
        tried += 1
        held += 1
    record_figure("hostile files", "tune --storage a FIFO or an unreadable file: one line", tried, held)

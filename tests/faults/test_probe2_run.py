"""Faults a second outside probe found in `tk run` (issue #25), each driven the way the probe met it.

A run folder copied from elsewhere that carries its own copy of the user's plugin module,
cross-validation folders reused with other settings, a run lock that another cache folder
bypasses, an ``--out`` inside the data folder, a grouping regex that backtracks for ever, fold
counts the data cannot hold, a missing ``data.unknown_root``, NUL bytes in paths, values
`tk recipes check` passed and `tk run` refused, a callback listed twice.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from toolkit.core.checkpoint import load_checkpoint, save_checkpoint
from toolkit.engine.train import run_recipe
from toolkit.recipe.load import load_recipe
from toolkit.testing import make_image_folder, run_cli

from .conftest import one_error_line, record_figure, write_recipe

EVIL = """\
from pathlib import Path
Path({marker!r}).write_text("imported")
"""

HONEST = """\
from pathlib import Path
Path({marker!r}).write_text("honest")
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("probe2run")
    images = make_image_folder(root / "images", {"a": 6, "b": 6}, size=32)
    recipe = write_recipe(root / "honest.toml", images, epochs=1)
    run = run_recipe(load_recipe(recipe), out=root / "run", quiet=True).run_dir
    return {"root": root, "images": images, "recipe": recipe, "run": run}


# -- 1. a copied run folder brings its own copy of the user's module -------------------------------
@pytest.mark.parametrize("where", ["relative recipe_path", "absolute recipe_path"])
def test_resume_imports_only_the_users_own_module_file(where, trained, tmp_path, monkeypatch):
    """``userrec/r.toml`` names ``plug.py``; a run folder copied to ``userrec/runs/shared/1`` holds
    another ``plug.py`` and a last.pt whose recipe names ``plug.py`` beside a recipe_path it chose.
    Resuming must refuse the folder's file (the same name is not the same file)."""
    monkeypatch.delenv("TK_TRUST_PLUGINS", raising=False)
    userrec = tmp_path / "userrec"
    userrec.mkdir()
    honest_marker, evil_marker = tmp_path / "HONEST", tmp_path / "EVIL"
    (userrec / "plug.py").write_text(HONEST.format(marker=str(honest_marker)))
    recipe = write_recipe(userrec / "r.toml", trained["images"], epochs=1, extra='[plugins]\nmodules = ["plug.py"]\n')

    shared = userrec / "runs" / "shared" / "1"
    shared.mkdir(parents=True)
    (shared / "plug.py").write_text(EVIL.format(marker=str(evil_marker)))
    shutil.copy(trained["run"] / "split.json", shared / "split.json")
    ckpt = load_checkpoint(trained["run"] / "last.pt")
    ckpt.pop("format"), ckpt.pop("version")
    ckpt["recipe"]["plugins"]["modules"] = ["plug.py"]
    ckpt["recipe_path"] = ("runs/shared/1/recipe.toml" if where.startswith("relative")
                           else str(shared / "recipe.toml"))
    save_checkpoint(shared / "last.pt", ckpt)

    monkeypatch.chdir(userrec)
    result = run_cli("run", "r.toml", "--resume", "runs/shared/1", "--set", "train.epochs=2")
    assert not evil_marker.exists(), f"{where}: the run folder's own plug.py was imported"
    assert result.exit_code == 1, result.output
    line = one_error_line(result.stderr)
    assert "'plug.py'" in line and "--trust-plugins" in line, line
    assert honest_marker.exists()  # the user's own module loaded (their recipe names it)
    record_figure("hostile files", f"resume of a copied run folder holding its own plug.py ({where}): "
                  "only the user's file imported", 1, 1)
    del recipe


def test_resume_with_the_users_own_module_still_works(trained, tmp_path, monkeypatch):
    """The fix keeps the honest case: a run of the user's recipe resumes with its module, no flag."""
    monkeypatch.delenv("TK_TRUST_PLUGINS", raising=False)
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "HONEST"
    (tmp_path / "plug.py").write_text(HONEST.format(marker=str(marker)))
    recipe = write_recipe(tmp_path / "r.toml", trained["images"], epochs=1, extra='[plugins]\nmodules = ["plug.py"]\n')
    assert run_cli("run", recipe, "--out", "runs/shared/1", "--quiet").exit_code == 0
    marker.unlink()
    resumed = run_cli("run", "r.toml", "--resume", "runs/shared/1", "--set", "train.epochs=2", "--quiet")
    assert resumed.exit_code == 0, resumed.output
    assert marker.read_text() == "honest"
    assert load_checkpoint(tmp_path / "runs/shared/1/last.pt")["epoch"] == 2


# -- 5. a cross-validation folder reused with other settings ----------------------------------------
def test_folds_into_a_folder_trained_with_other_settings_is_refused(trained, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    recipe = write_recipe(tmp_path / "r.toml", trained["images"], epochs=1)
    first = run_cli("run", recipe, "--folds", "2", "--out", "CV", "--quiet")
    assert first.exit_code == 0, first.output
    summary = (tmp_path / "CV" / "summary.json").read_bytes()
    refused = 0
    for change in (["--set", "optim.lr=0.1"], ["--set", "train.seed=7"], ["--set", "train.epochs=2"]):
        again = run_cli("run", recipe, "--folds", "2", "--out", "CV", "--quiet", *change)
        assert again.exit_code == 1, (change, again.output)
        line = one_error_line(again.stderr)
        assert "other settings" in line and change[1].split("=")[0] in line, line
        assert "already trained" not in again.output
        refused += 1
    assert (tmp_path / "CV" / "summary.json").read_bytes() == summary  # the old summary is not re-reported as new
    same = run_cli("run", recipe, "--folds", "2", "--out", "CV", "--quiet", "--set", "data.workers=0")
    assert same.exit_code == 0 and "already trained" in same.output  # what does not change the folds is fine
    record_figure("bad recipes", "--folds into a cross-validation folder trained with other settings (lr, seed, "
                  "epochs): refused", 3, refused)


# -- 11. fold counts the data cannot hold ----------------------------------------------------------
@pytest.mark.parametrize("folds,expect", [(9, "at most 8 folds"), (30, "groups of images")])
def test_fold_counts_the_data_cannot_hold_are_refused_before_any_fold(folds, expect, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    images = make_image_folder(tmp_path / "images", {"a": 8, "b": 8}, size=32)
    recipe = write_recipe(tmp_path / "r.toml", images, epochs=1)
    result = run_cli("run", recipe, "--folds", str(folds), "--out", "CV")
    assert result.exit_code == 1, result.output
    line = one_error_line(result.stderr)
    assert expect in line and "Fold 1" not in result.output, result.output
    assert not (tmp_path / "CV").exists()  # no crossval.json, no folder left behind
    record_figure("bad recipes", f"--folds {folds} with 8 images a class: one line before any fold, nothing written",
                  1, 1)


# -- 6. the run lock must not depend on TK_CACHE_DIR -----------------------------------------------
def test_the_run_lock_holds_whatever_the_cache_folder(trained, tmp_path, monkeypatch):
    """A run trains into ``RUN`` with one TK_CACHE_DIR; ``tk run --resume RUN`` with another is refused."""
    import subprocess
    import sys

    run = tmp_path / "RUN"
    shutil.copytree(trained["run"], run)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import time; from pathlib import Path; from toolkit.engine.lock import FolderLock\n"
        f"FolderLock(Path({str(run)!r})).acquire(); print('held', flush=True); time.sleep(600)")],
        stdout=subprocess.PIPE, text=True, env={**__import__("os").environ, "TK_CACHE_DIR": str(tmp_path / "one")})
    try:
        assert holder.stdout.readline().strip() == "held"
        monkeypatch.setenv("TK_CACHE_DIR", str(tmp_path / "other"))
        monkeypatch.chdir(tmp_path)
        before = (run / "last.pt").read_bytes()
        busy = run_cli("run", trained["recipe"], "--resume", run, "--set", "train.epochs=2", "--quiet")
        assert busy.exit_code == 1, busy.output
        line = one_error_line(busy.stderr)
        assert "in use by another tk run" in line and f"process {holder.pid}" in line
        assert (run / "last.pt").read_bytes() == before
    finally:
        holder.kill()
        holder.wait()
    resumed = run_cli("run", trained["recipe"], "--resume", run, "--set", "train.epochs=2", "--quiet")
    assert resumed.exit_code == 0, resumed.output  # a killed holder leaves no lock
    assert not (run / ".tk-run.lock").exists()
    record_figure("probe findings", "--resume of a run folder in use, with another TK_CACHE_DIR: refused", 1, 1)


# -- 7. --out inside the data folder ---------------------------------------------------------------
@pytest.mark.parametrize("how", ["--out DATA/CLASS", "train.out inside DATA"])
def test_a_run_folder_inside_the_data_folder_is_refused(how, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    images = make_image_folder(tmp_path / "images", {"a": 6, "b": 6}, size=32)
    recipe = write_recipe(tmp_path / "r.toml", images, epochs=1)
    files = sorted(p for p in images.rglob("*"))
    args = ["--out", images / "a" / "run"] if how.startswith("--out") else ["--set", f'train.out="{images}"']
    result = run_cli("run", recipe, *args, "--quiet")
    assert result.exit_code == 1, result.output
    line = one_error_line(result.stderr)
    assert "inside the data folder" in line
    assert sorted(p for p in images.rglob("*")) == files  # nothing written into the data
    record_figure("bad recipes", f"{how}: refused, nothing written into the data", 1, 1)


# -- 8. a grouping regex that backtracks for ever ----------------------------------------------------
def test_a_catastrophic_group_by_regex_finishes_at_once(tmp_path):
    from .conftest import tk

    images = make_image_folder(tmp_path / "images", {"a": 6, "b": 6}, size=32)
    shutil.copy(next((images / "a").iterdir()), images / "a" / ("a" * 40 + "!.png"))
    recipe = write_recipe(tmp_path / "r.toml", images, epochs=1, extra='')
    text = recipe.read_text().replace("[data]\n", '[data]\ngroup_by = "(a+)+$"\n', 1)
    recipe.write_text(text)
    done = tk("run", recipe, "--dry-run", cwd=tmp_path, timeout=120)  # backtracking `re`: hours
    assert done.returncode == 0, done.stdout + done.stderr
    recipe.write_text(text.replace('"(a+)+$"', r'"(a)\\1"'))
    refused = tk("recipes", "check", recipe, cwd=tmp_path, timeout=120)
    assert refused.returncode == 1
    assert "backreferences" in one_error_line(refused.stderr)
    record_figure("bad recipes", "data.group_by with catastrophic backtracking ((a+)+$ on 40 a's and !): "
                  "linear-time match; a backreference refused in one line", 2, 2)


# -- 12. data.unknown_root that cannot be used --------------------------------------------------------
@pytest.mark.parametrize("kind", ["missing", "empty", "a file"])
def test_a_bad_unknown_root_is_refused_before_training(kind, trained, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "unknown"
    if kind == "empty":
        target.mkdir()
    elif kind == "a file":
        target.write_text("not a folder")
    recipe = write_recipe(tmp_path / "r.toml", trained["images"], epochs=1)
    for args in (["--dry-run"], ["--out", "run"]):
        result = run_cli("run", recipe, "--set", f'data.unknown_root="{target}"', *args)
        assert result.exit_code == 1, (args, result.output)
        line = one_error_line(result.stderr)
        assert "data.unknown_root" in line and str(target) in line
        assert "epoch" not in result.output.lower()
    assert not (tmp_path / "run").exists()
    record_figure("bad recipes", f"data.unknown_root {kind}: refused before training (dry run and run)", 2, 2)


# -- 15. NUL bytes in paths ------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["data.root", "train.out"])
def test_a_nul_byte_in_a_path_is_one_line(key, trained, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    section, name = key.split(".")
    recipe = write_recipe(tmp_path / "r.toml", trained["images"], epochs=1)
    text = recipe.read_text()
    if section == "data":
        text = text.replace(f'root = "{trained["images"]}"', 'root = "ima\\u0000ges"')
    else:
        text = text.replace("[train]\n", '[train]\nout = "ru\\u0000ns"\n')
    recipe.write_text(text)
    for command in (["recipes", "check", recipe], ["run", recipe, "--quiet"]):
        result = run_cli(*command)
        assert result.exit_code == 1, (command, result.output)
        line = one_error_line(result.stderr)
        assert key in line and "NUL" in line
    record_figure("bad recipes", f"NUL byte in {key}: one line from recipes check and run", 2, 2)


# -- 19, 20. one validation path for recipes check and run ---------------------------------------------
CHECK_CASES = {
    "optim.lr = -1": ("[optim]\nlr = 0.01\n", "[optim]\nlr = -1\n", "optim.lr"),
    "sgd without momentum but nesterov": ("[optim]\nlr = 0.01\n", '[optim]\nname = "sgd"\nlr = 0.01\nmomentum = 0\n',
                                          "optim.nesterov"),
    "a built-in callback given parameters": ("", '[[train.callbacks]]\nname = "ema"\ndecay = 0.5\n', "'ema' is built in"),
    "tk's best.pt switched off": ("", '[[train.callbacks]]\nname = "best_checkpoint"\nenabled = false\n',
                                  "cannot be switched off"),
    "a callback listed twice": ("", '[[train.callbacks]]\nname = "swa"\n[[train.callbacks]]\nname = "swa"\n',
                                "listed twice"),
}


@pytest.mark.parametrize("case", list(CHECK_CASES))
def test_recipes_check_refuses_what_run_refuses(case, trained, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    old, new, expect = CHECK_CASES[case]
    recipe = write_recipe(tmp_path / "r.toml", trained["images"], epochs=1)
    text = recipe.read_text()
    recipe.write_text(text.replace(old, new) if old else text + new)
    checked = run_cli("recipes", "check", recipe)
    ran = run_cli("run", recipe, "--out", "run", "--quiet")
    for result in (checked, ran):
        assert result.exit_code == 1, (case, result.output)
        assert expect in one_error_line(result.stderr)
    assert one_error_line(checked.stderr) == one_error_line(ran.stderr)  # one path, one message
    assert not (tmp_path / "run").exists()
    record_figure("bad recipes", f"{case}: the same one line from recipes check and run", 2, 2)


# -- 21 and #30: the resume command tk prints works -----------------------------------------------------
STOP_AT = """\
import os, signal
from toolkit import hookimpl


class StopAt:
    def __init__(self, epoch: int = 2, how: str = "ctrl-c", rank: int = 0):
        self.epoch, self.how, self.rank = epoch, how, rank

    def on_train_epoch_end(self, state):
        if state.epoch == self.epoch and int(os.environ.get("RANK", "0")) == self.rank and not os.path.exists("DONE"):
            open("DONE", "w").close()
            if self.how == "sigkill":
                os.kill(os.getpid(), signal.SIGKILL)
            raise KeyboardInterrupt


@hookimpl
def tk_register_callbacks(register):
    register("stop_at", StopAt)
"""


def _stopping_recipe(tmp_path: Path, images: Path, **params) -> Path:
    (tmp_path / "stop_at.py").write_text(STOP_AT)
    table = "".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in params.items())
    return write_recipe(tmp_path / "tune.toml", images, epochs=2,
                        extra=f'[plugins]\nmodules = ["stop_at.py"]\n\n[[train.callbacks]]\nname = "stop_at"\n{table}')


def test_the_printed_resume_command_works(trained, tmp_path, monkeypatch):
    """`tk run tune.toml --set train.epochs=5 --out runs/intr2`, Ctrl-C after epoch 2: the command tk
    prints resumes the run to its 5 epochs (the recipe file says 2)."""
    import shlex

    monkeypatch.chdir(tmp_path)
    recipe = _stopping_recipe(tmp_path, trained["images"])
    stopped = run_cli("run", recipe.name, "--set", "train.epochs=5", "--out", "runs/intr2")
    assert stopped.exit_code == 130, stopped.output
    command = stopped.output.split("resume with: tk run ")[1].strip().splitlines()[0]
    resumed = run_cli("run", *shlex.split(command), "--quiet")
    assert resumed.exit_code == 0, (command, resumed.output)
    assert load_checkpoint(tmp_path / "runs/intr2/last.pt")["epoch"] == 5
    record_figure("killed runs", "Ctrl-C of a run started with --set train.epochs: the printed resume command "
                  "finishes it", 1, 1)


def test_a_killed_worker_of_nproc_2_says_what_resumes(trained, tmp_path):
    """SIGKILL of rank 1 at the end of an epoch of 4: tk names the epoch last.pt holds and prints a
    command that resumes (the probe saw "Interrupted before training started; no run to resume")."""
    import shlex

    from .conftest import tk

    recipe = _stopping_recipe(tmp_path, trained["images"], epoch=2, how="sigkill", rank=1)
    recipe.write_text(recipe.read_text().replace("epochs = 2", "epochs = 4"))
    done = tk("run", recipe.name, "--nproc", "2", "--out", "run", "--quiet", cwd=tmp_path, timeout=300)
    assert done.returncode != 0
    assert "no run to resume" not in done.stderr
    line = [x for x in done.stderr.splitlines() if x.startswith("Error: ")][-1]
    held = load_checkpoint(tmp_path / "run/last.pt")["epoch"]  # rank 0 may save the epoch rank 1 died in
    assert held >= 2 and f"holds epoch {held} of 4" in line, done.stderr
    command = line.split("resume with: tk run ")[1]
    assert "--nproc 2" in command
    resumed = tk("run", *shlex.split(command), "--quiet", cwd=tmp_path, timeout=300)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert load_checkpoint(tmp_path / "run/last.pt")["epoch"] == 4
    record_figure("killed runs", "SIGKILL of one --nproc 2 worker: the message names last.pt's epoch and the "
                  "resume command, which works", 1, 1)


# -- the README's advice: look at a stranger's recipe before running it ------------------------------
def test_recipes_check_show_lists_modules_without_importing_them(trained, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "IMPORTED"
    (tmp_path / "theirs.py").write_text(EVIL.format(marker=str(marker)))
    recipe = write_recipe(tmp_path / "theirs.toml", trained["images"], epochs=1,
                          extra='[plugins]\nmodules = ["theirs.py"]\n')
    shown = run_cli("recipes", "check", recipe, "--show")
    assert shown.exit_code == 0, shown.output
    assert not marker.exists()  # seeing is not running
    assert str(tmp_path / "theirs.py") in shown.output and "not imported here" in shown.output
    checked = run_cli("recipes", "check", recipe)  # checking a recipe imports what it names, as running it does
    assert checked.exit_code == 0 and marker.exists()

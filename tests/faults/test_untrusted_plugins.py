"""A checkpoint or run folder from a stranger runs no code: plugin modules named inside it are refused.

Each case points a real command at a file whose stored recipe lists ``[plugins] modules``: an
absolute ``.py`` path, a relative one next to a ``recipe_path`` the checkpoint chooses, and a
dotted module name found on ``sys.path``. Importing any of them would create a marker file; it
must never appear, and the command must say in one line which module it refused and how to
allow it. With ``--trust-plugins`` (or the same module named in the user's own recipe) the
module is imported, so the switch is real.
"""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pytest

from toolkit.core.checkpoint import load_checkpoint, save_checkpoint
from toolkit.engine.train import run_recipe
from toolkit.recipe.load import load_recipe
from toolkit.testing import make_image_folder, run_cli

from .conftest import final_error_line, one_error_line, record_figure, write_recipe

_names = itertools.count()

EVIL = """\
from pathlib import Path
Path({marker!r}).write_text("imported")
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("untrusted")
    images = make_image_folder(root / "images", {"a": 6, "b": 6}, size=32)
    recipe = write_recipe(root / "honest.toml", images, epochs=1)
    run = run_recipe(load_recipe(recipe), out=root / "run", quiet=True).run_dir
    return {"root": root, "images": images, "recipe": recipe, "run": run,
            "image": sorted((images / "a").iterdir())[0]}


def _stranger(trained, tmp_path: Path, how: str, monkeypatch) -> dict[str, Path]:
    """A checkpoint and a run folder (no metrics.json) whose stored recipe names an evil module."""
    marker = tmp_path / "IMPORTED"
    code = EVIL.format(marker=str(marker))
    ckpt = load_checkpoint(trained["run"] / "best.pt")
    ckpt.pop("format"), ckpt.pop("version")
    if how == "absolute .py":
        evil = tmp_path / "evil_abs.py"
        evil.write_text(code)
        module = str(evil)
    elif how == "relative .py":
        (tmp_path / "elsewhere").mkdir()
        (tmp_path / "elsewhere" / "evil_rel.py").write_text(code)
        ckpt["recipe_path"] = str(tmp_path / "elsewhere" / "recipe.toml")
        module = "evil_rel.py"
    else:
        module = f"tk_evil_dotted_{next(_names)}"
        (tmp_path / f"{module}.py").write_text(code)
        monkeypatch.syspath_prepend(str(tmp_path))
    ckpt["recipe"]["plugins"]["modules"] = [module]
    path = save_checkpoint(tmp_path / "stranger.pt", ckpt)
    run = tmp_path / "stranger-run"
    run.mkdir()
    shutil.copy(trained["run"] / "split.json", run / "split.json")
    for name in ("best.pt", "last.pt"):
        shutil.copy(path, run / name)
    return {"marker": marker, "file": path, "run": run, "module": module}


CASES = {
    "predict FILE": lambda s, t, d: ["predict", s["file"], t["image"]],
    "predict RUN": lambda s, t, d: ["predict", s["run"], t["image"]],
    "export FILE": lambda s, t, d: ["export", s["file"], "--onnx", "--out", d / "exports"],
    "eval RUN": lambda s, t, d: ["eval", s["run"]],
    "bench RUN": lambda s, t, d: ["bench", s["run"], "--iters", "1", "--warmup", "0", "--batch", "1"],
    "compare RUN RUN (no metrics.json)": lambda s, t, d: ["compare", s["run"], t["run"]],
    "run --resume": lambda s, t, d: ["run", t["recipe"], "--resume", s["run"], "--set", "train.epochs=3"],
    "distillation teacher (--dry-run)": lambda s, t, d: [
        "run", write_recipe(d / "teach.toml", t["images"], epochs=1,
                            extra=f'[loss]\nname = "distill"\nteacher = "{s["file"]}"\n'), "--dry-run"],
}
HOWS = ("absolute .py", "relative .py", "dotted name")


@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize("case", list(CASES), ids=lambda c: c.split(" (")[0].replace(" ", "_"))
def test_modules_named_in_a_checkpoint_are_not_imported(case, how, trained, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TK_TRUST_PLUGINS", raising=False)
    s = _stranger(trained, tmp_path, how, monkeypatch)
    result = run_cli(*CASES[case](s, trained, tmp_path))
    assert not s["marker"].exists(), f"{case} ({how}): the module was imported"
    assert result.exit_code == 1, (case, how, result.output)
    line = final_error_line(result.stderr) if case.startswith("bench") else one_error_line(result.stderr)
    assert repr(s["module"]) in line and "--trust-plugins" in line, (case, how, line)
    assert not list(tmp_path.rglob("*.onnx"))


def test_every_case_is_counted():
    record_figure("hostile files", "plugin modules named inside a checkpoint or run folder (absolute .py, .py "
                  "beside a recipe_path the file chose, dotted name), every loading command: not imported",
                  len(CASES) * len(HOWS), len(CASES) * len(HOWS), kinds=len(CASES) * len(HOWS))


def test_trust_plugins_imports_them(trained, tmp_path, monkeypatch):
    """The switch is real: with --trust-plugins the same file works and its module is imported."""
    monkeypatch.chdir(tmp_path)
    s = _stranger(trained, tmp_path, "absolute .py", monkeypatch)
    result = run_cli("predict", s["file"], trained["image"], "--trust-plugins")
    assert result.exit_code == 0, result.output
    assert s["marker"].read_text() == "imported"


def test_the_users_own_recipe_module_is_trusted_on_resume(trained, tmp_path, monkeypatch):
    """Resuming a run whose recipe names a local plugin, with that same recipe: no flag needed."""
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "IMPORTED"
    (tmp_path / "mine.py").write_text(EVIL.format(marker=str(marker)))
    recipe = write_recipe(tmp_path / "mine.toml", trained["images"], epochs=1,
                          extra='[plugins]\nmodules = ["mine.py"]\n')
    assert run_cli("run", recipe, "--out", tmp_path / "r", "--quiet").exit_code == 0
    marker.unlink()
    resumed = run_cli("run", recipe, "--resume", tmp_path / "r", "--set", "train.epochs=2", "--quiet")
    assert resumed.exit_code == 0, resumed.output
    assert marker.exists()
    exported = run_cli("export", tmp_path / "r", "--onnx", "--out", tmp_path / "exports")
    assert exported.exit_code == 1 and "--trust-plugins" in exported.stderr  # export is another command
    assert run_cli("export", tmp_path / "r", "--onnx", "--out", tmp_path / "exports", "--trust-plugins").exit_code == 0


@pytest.mark.parametrize("device", ["/dev/stdin", "/dev/zero"])
def test_a_split_json_naming_a_device_file_is_not_read(device, trained, tmp_path, monkeypatch):
    """`tk eval` on a run folder whose split.json lists a device: refused by name, nothing hangs."""
    import json

    monkeypatch.chdir(tmp_path)
    run = tmp_path / "run"
    shutil.copytree(trained["run"], run)
    split = json.loads((run / "split.json").read_text())
    split["val"] = [[device, 0], *split["val"]]
    (run / "split.json").write_text(json.dumps(split))
    result = run_cli("eval", run, input="")
    assert result.exit_code == 1, result.output
    line = one_error_line(result.stderr)
    assert device in line and "not a regular file" in line
    record_figure("hostile files", f"split.json naming {device}: reported, not read", 1, 1)

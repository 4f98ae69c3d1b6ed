"""Broken plugins: named with their distribution, marked in `tk plugins`, blamed in one line by a recipe that needs them.

Real packages (plugin_packages.py) are pip-installed into a private folder on PYTHONPATH. The
load-time failures (an import error, a raising or misspelt hook, a wrong hook signature, a
name registered twice, a hook that returns instead of registering, a factory that is not
callable) must leave every other plugin — tk's own and a healthy third-party one — listed and
usable; a recipe that names none of their parts still passes (one Note: line), and one that
names a part they might have provided is refused in one line naming each of them. The run-time
ones (a factory returning the wrong type, an event hook that raises) must stop `tk run` with
one line naming the plugin and its distribution.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from toolkit.testing import make_image_folder, run_cli

from .conftest import one_error_line, record_figure, run_files, subprocess_env, write_recipe
from .plugin_packages import HEALTHY, LOAD_TIME, RUN_TIME, install

FIRST_PARTY = {"timm", "losses", "samplers", "augment", "optim", "folder", "screens", "exporters", "loggers"}


def tk_with(site: Path, *args, cwd: Path, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = subprocess_env(PYTHONPATH=str(site), **(extra_env or {}))
    return subprocess.run([sys.executable, "-m", "toolkit.cli", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def load_time_site(tmp_path_factory) -> Path:
    return install([*LOAD_TIME, HEALTHY], tmp_path_factory.mktemp("broken"))


@pytest.fixture(scope="module")
def run_time_site(tmp_path_factory) -> Path:
    return install(RUN_TIME, tmp_path_factory.mktemp("misbehaving"))


def test_tk_plugins_marks_each_broken_one_with_its_distribution_and_lists_the_rest(load_time_site, tmp_path):
    listed = tk_with(load_time_site, "plugins", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)
    broken = {b["name"]: b for b in data["broken"]}
    for pkg in LOAD_TIME:
        assert pkg.entry in broken, (pkg.what, sorted(broken))
        entry = broken[pkg.entry]
        assert (entry["dist"], entry["version"]) == (pkg.dist, "1.0"), entry
        assert pkg.says in entry["error"], (pkg.what, entry["error"])
    working = {p["name"]: p for p in data["plugins"]}
    assert FIRST_PARTY <= set(working), sorted(working)
    assert working["healthy"]["registered"] == {"losses": ["healthy_ce"]}
    assert "cross_entropy" in working["losses"]["registered"]["losses"]  # tk's own loss survived the clash
    twice = broken["aaa_registers_twice"]["error"]
    assert "'losses' (tk-train " in twice and "'aaa_registers_twice' (tk-registers-twice 1.0)" in twice

    table = tk_with(load_time_site, "plugins", cwd=tmp_path, extra_env={"COLUMNS": "250"})
    assert table.returncode == 0 and "Traceback" not in table.stderr, table.stderr
    for pkg in LOAD_TIME:
        assert f"{pkg.entry} (broken)" in table.stdout and pkg.dist in table.stdout, pkg.what
    record_figure("broken plugins", "installed packages that break while loading, each marked in `tk plugins` "
                  "with its distribution, the rest still listed", len(LOAD_TIME), len(LOAD_TIME), kinds=len(LOAD_TIME))


def test_broken_plugins_stop_only_a_recipe_naming_what_they_would_provide(load_time_site, tmp_path):
    images = make_image_folder(tmp_path / "images", {"a": 4, "b": 4}, size=32)
    recipe = write_recipe(tmp_path / "r.toml", images, epochs=1)
    checked = tk_with(load_time_site, "recipes", "check", recipe, cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    notes = [line for line in checked.stderr.splitlines() if line.strip()]
    assert len(notes) == 1 and notes[0].startswith("Note: plugins "), checked.stderr
    assert all(f"'{p.entry}' ({p.dist} 1.0)" in notes[0] for p in LOAD_TIME), notes[0]

    uses = write_recipe(tmp_path / "uses.toml", images, epochs=1, extra='[loss]\nname = "libfoo_focal"\n')
    ran = tk_with(load_time_site, "run", uses, cwd=tmp_path)
    assert ran.returncode == 1
    line = one_error_line(ran.stderr)
    assert "unknown loss 'libfoo_focal'" in line and f"{len(LOAD_TIME)} plugins that might provide it are broken" in line
    assert all(f"'{p.entry}' ({p.dist} 1.0): " in line for p in LOAD_TIME), line
    assert "TK_DISABLE_PLUGINS" in line and "Did you mean" not in line
    assert run_files(tmp_path) == []
    off = ",".join(p.entry for p in LOAD_TIME)
    checked = tk_with(load_time_site, "recipes", "check", recipe, cwd=tmp_path, extra_env={"TK_DISABLE_PLUGINS": off})
    assert checked.returncode == 0 and checked.stderr.strip() == "", checked.stderr
    record_figure("broken plugins", "`tk run` of a recipe naming a part while broken plugins are installed: one "
                  "line naming each plugin and distribution, no run folder; a recipe using none of them passes "
                  "with one Note: line", 1, 1)


@pytest.fixture
def misbehaving(run_time_site, monkeypatch, tmp_path):
    """The run-time packages importable in this process, as after `pip install`."""
    monkeypatch.syspath_prepend(str(run_time_site))
    monkeypatch.chdir(tmp_path)
    images = make_image_folder(tmp_path / "images", {"a": 6, "b": 6}, size=32)
    return images


def test_a_factory_returning_the_wrong_type_is_named_with_its_distribution(misbehaving, tmp_path, monkeypatch):
    monkeypatch.setenv("TK_DISABLE_PLUGINS", "event_raises")
    recipe = write_recipe(tmp_path / "wrong.toml", misbehaving, epochs=1, backbone="string_backbone")
    result = run_cli("run", recipe)
    assert result.exit_code == 1
    line = one_error_line(result.stderr)
    assert "plugin 'wrong_type' (tk-wrong-type 1.0) returned str" in line and "torch.nn.Module" in line, line
    assert str(recipe) in line and "model.backbone" in line
    assert run_files(tmp_path) == []
    record_figure("broken plugins", "a factory that returns the wrong type (str for a backbone)", 1, 1)


def test_an_event_hook_that_raises_stops_the_run_naming_it_and_keeps_last_pt(misbehaving, tmp_path, monkeypatch):
    from toolkit.core.checkpoint import load_checkpoint

    monkeypatch.setenv("TK_DISABLE_PLUGINS", "wrong_type")
    recipe = write_recipe(tmp_path / "events.toml", misbehaving, epochs=2)
    result = run_cli("run", recipe, "--out", tmp_path / "run")
    assert result.exit_code == 1
    line = one_error_line(result.stderr)
    assert "Plugin 'event_raises' (tk-event-raises 1.0) failed in tk_epoch_end: RuntimeError: logger lost" in line
    last = load_checkpoint(tmp_path / "run" / "last.pt")
    assert last["epoch"] == 1 and last["status"] == "failed"
    record_figure("broken plugins", "an event hook that raises mid-run (named, last.pt kept)", 1, 1)

"""Bad recipes: every mistake is one line naming the file and key, a non-zero exit, and no training.

Each of the `MISTAKES` (recipe_mistakes.py) is fed to `tk recipes check` (when the recipe alone
shows it) and to `tk run`. The normal suite drives the real command group in-process (click's
CliRunner: the same code and the same output as the binary, without paying Python's start-up
per case) plus a handful through the `tk` binary; the slow sweep runs every case through it.
After a refused `tk run` there is no run folder and no checkpoint anywhere.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit.testing import make_image_folder, run_cli

from .conftest import one_error_line, record_figure, run_files, tk
from .recipe_mistakes import MISTAKES, Mistake, render

SUBPROCESS_SAMPLE = ("toml-syntax", "unknown-plugin-param", "one-class", "image-size-vs-model")


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    return make_image_folder(tmp_path_factory.mktemp("data") / "images", {"a": 6, "b": 6, "c": 6}, size=32)


def _write(mistake: Mistake, folder: Path, images: Path) -> Path:
    (folder / "images").symlink_to(images, target_is_directory=True)
    if mistake.setup is not None:
        mistake.setup(folder)
    path = folder / "mistake.toml"
    path.write_text(render(mistake), encoding="utf-8")
    return path


def _assert_refused(mistake: Mistake, exit_code: int, stderr: str, recipe: Path) -> str:
    assert exit_code != 0, mistake.name
    line = one_error_line(stderr)
    for phrase in mistake.says:
        assert phrase in line, (mistake.name, phrase, line)
    if mistake.names_file:
        assert str(recipe) in line, (mistake.name, line)
    else:
        assert "--set" in line, (mistake.name, line)
    return line


def _in_process(mistake: Mistake, tmp_path: Path, images: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    recipe = _write(mistake, tmp_path, images)
    if mistake.check:
        checked = run_cli("recipes", "check", recipe, *mistake.args)
        _assert_refused(mistake, checked.exit_code, checked.stderr, recipe)
    ran = run_cli("run", recipe, *mistake.args)
    _assert_refused(mistake, ran.exit_code, ran.stderr, recipe)
    assert run_files(tmp_path) == [], (mistake.name, run_files(tmp_path))


@pytest.mark.parametrize("mistake", MISTAKES, ids=lambda m: m.name)
def test_each_mistake_is_one_line_naming_file_and_key_before_any_training(mistake, tmp_path, images, monkeypatch):
    _in_process(mistake, tmp_path, images, monkeypatch)


def test_the_table_is_big_enough():
    assert len(MISTAKES) >= 25 and len({m.name for m in MISTAKES}) == len(MISTAKES)
    record_figure("bad recipes", "distinct recipe mistakes, each refused in one line naming file and key, "
                  "with no run folder (CLI in-process)", len(MISTAKES), len(MISTAKES), kinds=len(MISTAKES),
                  caught_by_recipes_check=sum(m.check for m in MISTAKES))


def _through_the_binary(mistake: Mistake, folder: Path, images: Path) -> None:
    recipe = _write(mistake, folder, images)
    if mistake.check:
        checked = tk("recipes", "check", recipe, *mistake.args, cwd=folder)
        _assert_refused(mistake, checked.returncode, checked.stderr, recipe)
    ran = tk("run", recipe, *mistake.args, cwd=folder)
    _assert_refused(mistake, ran.returncode, ran.stderr, recipe)
    assert run_files(folder) == [], (mistake.name, run_files(folder))
    record_figure("bad recipes", mistake.what, 1, 1,
                  group="the same mistakes through the `tk` binary (recipes check where it applies, and run)")


@pytest.mark.parametrize("mistake", [m for m in MISTAKES if m.name in SUBPROCESS_SAMPLE], ids=lambda m: m.name)
def test_a_sample_through_the_tk_binary(mistake, tmp_path, images):
    _through_the_binary(mistake, tmp_path, images)


@pytest.mark.slow
@pytest.mark.parametrize("mistake", [m for m in MISTAKES if m.name not in SUBPROCESS_SAMPLE], ids=lambda m: m.name)
def test_every_mistake_through_the_tk_binary(mistake, tmp_path, images):
    _through_the_binary(mistake, tmp_path, images)

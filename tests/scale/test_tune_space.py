"""`tk tune` refuses a bad ``[tune]`` table at once, with one line naming ``tune.KEY``.

These run no trial: every check happens before Optuna opens a study or a model is built.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from toolkit.cli import cli
from toolkit.orchestrate.tune.space import parse_tune


def _tune(tmp_path, make_recipe, table: str, *args: str):
    path = make_recipe("space", extra="\n[tune]\n" + table)
    result = CliRunner().invoke(cli, ["tune", str(path), "--trials", "1", "--storage", str(tmp_path / "j.journal"), *args])
    return path, result


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ('"train.batch_size" = { low = 8, high = 64 }',
         "tune.train.batch_size: the value 8.0 is refused: train.batch_size: must be an integer"),
        ('"optim.lr" = { low = 1e-2, high = 1e-5 }', "tune.optim.lr: low (0.01) must be below high (1e-05)."),
        ('"optim.lr" = { low = 0.0, high = 0.1, log = true }', "tune.optim.lr: log = true needs low > 0"),
        ('"optim.lr" = { low = 1e-4, high = 1e-2, log = true, step = 1e-4 }', "log = true and step cannot be combined"),
        ('"train.epochs" = { low = 1, high = 3.5, int = true }', "int = true needs integer low, high and step"),
        ('"optim.lr" = { low = 1e-4, hi = 1e-2 }', "tune.optim.lr: unknown field hi"),
        ('"optim.lr" = { choices = [] }', "choices must be a non-empty list"),
        ('"model.nonsense" = [1, 2]', "tune.model.nonsense: the value 1 is refused: model.nonsense: backbone"),
        ('"nosuch.key" = [1, 2]', "tune.nosuch.key: not a recipe key"),
        ('lr = { low = 1e-4, high = 1e-2 }', "tune.lr: searched keys name a recipe key as \"section.key\""),
        ('pruner = "sometimes"\n"optim.lr" = [0.1]', "tune.pruner: must be one of median, hyperband, none"),
        ('direction = "up"\n"optim.lr" = [0.1]', "tune.direction: must be 'maximize' or 'minimize', not 'up'"),
        ('metric = "val_accuracy"', "[tune]: nothing to search"),
        ('metric = "val_acc"\n"optim.lr" = [0.1]', "tune.metric: unknown metric 'val_acc'; choose one of val_loss, "
                                                  "val_accuracy, val_macro_f1, train_loss, train_accuracy."),
        ('trials = 3\n"optim.lr" = [0.1]', "tune.trials: unknown setting; settings are metric, direction"),
    ],
)
def test_bad_tune_table_is_one_error_line(tmp_path, make_recipe, table, expected):
    path, result = _tune(tmp_path, make_recipe, table)
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {path}:"), result.output
    assert expected in lines[0]
    assert not (tmp_path / "j.journal").exists()  # nothing was started


def test_recipe_without_tune_table_says_what_to_add(tmp_path, make_recipe):
    path = make_recipe("plain")
    result = CliRunner().invoke(cli, ["tune", str(path), "--trials", "1"])
    assert result.exit_code == 1
    assert "[tune]: nothing to search; add the keys to search" in result.output


def test_summary_before_any_study_names_the_journal(tmp_path, make_recipe, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = make_recipe("early", extra='\n[tune]\n"optim.lr" = [0.1, 0.01]\n')
    result = CliRunner().invoke(cli, ["tune", str(path), "--summary"])
    assert result.exit_code == 1
    assert "Error: No tune journal at runs/early/tune.journal; start a study with tk tune" in result.output
    assert not (tmp_path / "runs").exists()


def test_space_syntax_forms(make_recipe):
    """Quoted keys, unquoted dotted keys, bare lists, ints with steps and defaults all parse."""
    from toolkit.recipe.load import load_recipe

    path = make_recipe("forms", extra="""
[tune]
"optim.lr" = { low = 1e-5, high = 1e-2, log = true }
optim.weight_decay = { low = 0.0, high = 0.1, step = 0.05 }
"train.batch_size" = [4, 8]
"train.accumulate" = { low = 1, high = 4, step = 1, int = true }
""")
    spec = parse_tune(load_recipe(path))
    kinds = {p.key: (p.kind, p.log, p.step) for p in spec.params}
    assert kinds == {
        "optim.lr": ("float", True, None),
        "optim.weight_decay": ("float", False, 0.05),
        "train.batch_size": ("choice", False, None),
        "train.accumulate": ("int", False, 1),
    }
    assert (spec.metric, spec.direction, spec.pruner, spec.sampler) == ("val_accuracy", "maximize", "median", "tpe")
    assert spec.overrides({"optim.lr": 0.001, "train.batch_size": 8}) == ["optim.lr=0.001", "train.batch_size=8"]


def test_loss_metric_defaults_to_minimize(make_recipe):
    from toolkit.recipe.load import load_recipe

    path = make_recipe("loss", extra='\n[tune]\nmetric = "val_loss"\n"optim.lr" = [0.1, 0.01]\n')
    assert parse_tune(load_recipe(path)).direction == "minimize"


def test_study_name_must_be_a_folder_name(tmp_path, make_recipe):
    _, result = _tune(tmp_path, make_recipe, '"optim.lr" = [0.1, 0.01]', "--study", "../up")
    assert result.exit_code == 1
    assert result.output.strip() == ("Error: --study '../up': use letters, digits, '_', '-' and '.' only "
                                     "(it names a folder).")
    assert not (tmp_path / "j.journal").exists()

"""The plugin author's kit (#27 items 5 and 6): a dataset plugin and a callback's declared metrics
as tk's own commands show them.

- `tk data check RECIPE`: the data a recipe's dataset plugin supplies, and where the plugin refused;
- metrics a callback declares: on the epoch line, the final ``Best:`` line, `tk plugins --json`,
  the recipe schema, and "did you mean" for a misspelt one.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from toolkit.testing import make_image_folder, make_recipe, run_cli

from .author_kit import EXAMPLE


# -- tk data check through a dataset plugin ----------------------------------------------------
FLAT_DATASET = '''\
from toolkit import DataError, FolderIndex, RecipeError, hookimpl


def flat(root, min_images: int = 1):
    """Images in one folder, class before the first '-' of the name."""
    from pathlib import Path

    if min_images < 1:
        raise RecipeError("data.min_images: must be at least 1")
    files = sorted(p for p in Path(root).iterdir() if p.suffix == ".png")
    names = sorted({p.name.split("-")[0] for p in files})
    if len(files) < min_images:
        raise DataError(f"data.root: {root} has {len(files)} images, fewer than data.min_images")
    return FolderIndex(root=Path(root), class_names=names,
                       samples=[(str(p), names.index(p.name.split("-")[0])) for p in files])


@hookimpl
def tk_register_datasets(register):
    register("flat", flat)
'''


@pytest.fixture
def flat_recipe(tmp_path) -> Path:
    images = make_image_folder(tmp_path / "images", {"cat": 4, "dog": 3}, size=32)
    flat = tmp_path / "flat"
    flat.mkdir()
    for path in sorted(images.rglob("*.png")):
        shutil.copy(path, flat / path.name.replace("_", "-"))
    (tmp_path / "flat_ds.py").write_text(FLAT_DATASET)
    recipe = tmp_path / "flat.toml"
    recipe.write_text('[plugins]\nmodules = ["flat_ds.py"]\n\n[data]\nsource = "flat"\nroot = "flat"\n')
    return recipe


def test_data_check_reads_a_recipes_dataset_plugin(flat_recipe):
    shown = run_cli("data", "check", flat_recipe)
    assert shown.exit_code == 0, shown.output
    assert f"Dataset 'flat' of {flat_recipe} (plugin 'flat_ds')" in shown.output
    assert "7 usable images in 2 classes" in shown.output and "Imbalance: 1.3x" in shown.output
    as_json = json.loads(run_cli("data", "check", "--recipe", flat_recipe, "--json").output)
    assert as_json["source"] == "flat" and as_json["counts"] == [4, 3] and as_json["usable"] is True
    assert as_json["recipe"] == str(flat_recipe)


def test_data_check_of_a_recipe_says_where_a_plugin_refused(flat_recipe, tmp_path):
    from click.testing import CliRunner

    from toolkit.cli import cli

    def check(*args):
        return CliRunner().invoke(cli, ["data", "check", *map(str, args)])

    refused = check(flat_recipe, "--set", "data.min_images=100")
    assert refused.exit_code == 1 and "fewer than data.min_images" in refused.output
    bad_value = check(flat_recipe, "--set", "data.min_images=0")
    assert bad_value.exit_code == 1 and "data.min_images: must be at least 1" in bad_value.output
    assert "Traceback" not in refused.output + bad_value.output
    both = check(tmp_path, "--recipe", flat_recipe)
    assert both.exit_code == 2 and "not both" in both.output
    folder_set = check(tmp_path / "images", "--set", "data.root=x")
    assert folder_set.exit_code == 2 and "--set applies to a recipe" in folder_set.output
    plain = check(tmp_path / "images")  # a folder is still a folder
    assert plain.exit_code == 0 and "7 usable images in 2 classes" in plain.output


# -- declared metrics ------------------------------------------------------------------------
def test_declared_metrics_on_the_epoch_line_best_line_and_in_checks(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLE))  # the example's module, named in the recipe
    images = make_image_folder(tmp_path / "images", {"a": 6, "b": 6}, size=32)
    recipe = make_recipe(tmp_path / "gap.toml", images, epochs=2,
                         train_extra='threads = 1\nmonitor = "accuracy_gap"',
                         extra='[plugins]\nmodules = ["tk_example_plugin"]\n\n'
                               '[[train.callbacks]]\nname = "accuracy_gap"\n')
    ran = run_cli("run", recipe, "--out", tmp_path / "run")
    assert ran.exit_code == 0, ran.output
    epochs = [line for line in ran.output.splitlines() if line.startswith("epoch ")]
    assert len(epochs) == 2 and all(" | accuracy_gap " in line for line in epochs)
    best = next(line for line in ran.output.splitlines() if line.startswith("Best: "))
    assert "; accuracy_gap " in best

    misspelt = run_cli("recipes", "check", recipe, "--set", 'train.monitor="acuracy_gap"')
    assert misspelt.exit_code == 1
    assert "train.monitor: unknown metric 'acuracy_gap'. Did you mean 'accuracy_gap'?" in misspelt.stderr
    unlisted = run_cli("recipes", "check", recipe, "--set", "train.callbacks=[]")
    assert unlisted.exit_code == 1
    assert "It comes from the callback 'accuracy_gap' (plugin 'tk_example_plugin'), which the recipe does not list" \
        in unlisted.stderr
    swa = run_cli("recipes", "check", recipe, "--set", 'train.best_metric="swa_val_acc"')
    assert "Did you mean 'swa_val_accuracy'? It comes from the callback 'swa'" in swa.stderr


def test_declared_metrics_in_tk_plugins_and_the_recipe_schema():
    from toolkit.plugin.manager import load_plugins
    from toolkit.recipe.json_schema import recipe_schema

    listed = json.loads(run_cli("plugins", "--json").output)
    swa = next(e for e in listed["kinds"]["callbacks"] if e["name"] == "swa")
    assert swa["metrics"] == ["swa_val_loss", "swa_val_accuracy", "swa_val_macro_f1"]
    train = recipe_schema(load_plugins())["properties"]["train"]["properties"]
    for key in ("best_metric", "monitor"):
        assert {"val_loss", "val_accuracy", "ema_val_accuracy", "swa_val_accuracy"} <= set(train[key]["enum"])
    assert "swa_val_accuracy" in run_cli("plugins", "--kind", "callbacks", "-v").output

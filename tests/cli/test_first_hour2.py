"""The first hour, round two (issue #30): what a new user tried, driven through the CLI as they did —
checks and paths.

- item 3: `tk recipes check` makes the checks `tk run` makes before it reads data (a file plugin's
  own check, a registered ``check=``, tk's own losses and augmentations), placing a value written in
  the file on its line and blaming a misspelt ``--set`` key on ``--set``;
- item 6: one rule for paths: ``--set`` relative to the working directory, the file's relative to
  the file, for every command and every recipe path.

Items 4 (no hub) and 10 (80 columns): test_first_hour2_hub_columns.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit.testing import make_image_folder, run_cli

from .first_hour2_common import RECIPE_IN_SUB, _error_line

# -- item 3: `tk recipes check` makes the checks `tk run` makes before it reads data ------------------
POLY = '''\
from toolkit import RecipeError, hookimpl


def poly1(epsilon: float = 1.0, label_smoothing: float = 0.0):
    """Poly-1 cross-entropy; checks its own values, as docs/plugins.md's five-minute plugin does."""
    import torch
    import torch.nn.functional as F

    if epsilon < -1:
        raise RecipeError(f"loss.epsilon: must be >= -1, not {epsilon}.")

    def loss(logits, targets):
        onehot = F.one_hot(targets, logits.shape[1]).to(logits.dtype)
        return F.cross_entropy(logits, onehot) + epsilon * (1 - (torch.softmax(logits, 1) * onehot).sum(1)).mean()

    return loss


def check_poly1(epsilon: float = 1.0, label_smoothing: float = 0.0):
    if not 0 <= label_smoothing < 1:
        raise RecipeError(f"loss.label_smoothing: must be in [0, 1), not {label_smoothing}.")


def needs_counts(class_counts, epsilon: float = 1.0):
    """Takes run context and has no check=: cannot be built before the data."""
    raise AssertionError("built before the data was read")


@hookimpl
def tk_register_losses(register):
    register("poly1", poly1)
    register("poly1_checked", poly1, check=check_poly1)
    register("needs_counts", needs_counts)
'''

POLY_RECIPE = "# a recipe with a loss of the user's own\n" + RECIPE_IN_SUB + '''
[loss]
name = "poly1"
epsilon = 1.0

[plugins]
modules = ["poly.py"]
'''


@pytest.fixture
def poly_recipe(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "poly.py").write_text(POLY, encoding="utf-8")
    make_image_folder(tmp_path / "images", {"a": 4, "b": 4}, size=32)
    recipe = Path("poly.toml")  # as the user types it, relative to the working directory
    recipe.write_text(POLY_RECIPE, encoding="utf-8")
    return recipe


def test_recipes_check_runs_a_file_plugins_own_check_like_run_does(poly_recipe):
    checked = run_cli("recipes", "check", poly_recipe, "--set", "loss.epsilon=-5")
    dry = run_cli("run", poly_recipe, "--dry-run", "--set", "loss.epsilon=-5")
    assert checked.exit_code == dry.exit_code == 1
    assert _error_line(checked) == _error_line(dry) == "Error: --set: loss.epsilon: must be >= -1, not -5."
    assert "Data:" not in dry.output and "Classes" not in dry.output  # refused before the data was read
    assert run_cli("recipes", "check", poly_recipe).exit_code == 0


def test_a_value_written_in_the_file_is_placed_on_its_line(poly_recipe):
    poly_recipe.write_text(POLY_RECIPE.replace("epsilon = 1.0", "epsilon = -3.0"), encoding="utf-8")
    checked = run_cli("recipes", "check", poly_recipe)
    assert _error_line(checked) == f"Error: {poly_recipe.name}:17: loss.epsilon: must be >= -1, not -3.0."


def test_a_misspelt_set_key_is_blamed_on_set_not_on_the_file(poly_recipe):
    for command in (["recipes", "check", poly_recipe], ["run", poly_recipe, "--dry-run"]):
        result = run_cli(*command, "--set", "loss.epsilom=1")
        assert result.exit_code == 1
        assert _error_line(result).startswith("Error: --set: loss.epsilom: loss 'poly1' has no parameter 'epsilom'. "
                                              "Did you mean 'epsilon'?"), result.output


def test_a_registered_check_and_a_factory_that_needs_the_run(poly_recipe):
    checked = run_cli("recipes", "check", poly_recipe, "--set", 'loss.name="poly1_checked"',
                      "--set", "loss.label_smoothing=2")
    assert _error_line(checked) == "Error: --set: loss.label_smoothing: must be in [0, 1), not 2."
    # a factory that takes run context and registered no check= is not built by the checks
    assert run_cli("recipes", "check", poly_recipe, "--set", 'loss.name="needs_counts"').exit_code == 0


@pytest.mark.parametrize("override, message", [
    ("loss.label_smoothing=1.5", "--set: loss.label_smoothing: must be a number in [0, 1), not 1.5."),
    ('loss.class_weights="inverse"', "--set: loss.class_weights: must be 'inverse_frequency', 'none' or a list"),
])
def test_tks_own_losses_check_before_the_data(poly_recipe, override, message):
    poly_recipe.write_text(POLY_RECIPE.replace("epsilon = 1.0\n", ""), encoding="utf-8")
    result = run_cli("recipes", "check", poly_recipe, "--set", 'loss.name="cross_entropy"', "--set", override)
    assert _error_line(result).startswith(f"Error: {message}"), result.output


def test_a_focal_gamma_and_an_augmentation_are_checked_too(poly_recipe):
    poly_recipe.write_text(POLY_RECIPE.replace("epsilon = 1.0\n", ""), encoding="utf-8")
    focal = run_cli("recipes", "check", poly_recipe, "--set", 'loss.name="focal"', "--set", "loss.gamma=-1")
    assert _error_line(focal) == "Error: --set: loss.gamma: must be a number in [0, 10], not -1."
    poly_recipe.write_text(POLY_RECIPE + '\n[[augment.ops]]\nname = "hflip"\np = 2.0\n', encoding="utf-8")
    flip = run_cli("recipes", "check", poly_recipe)
    assert _error_line(flip).startswith(f"Error: {poly_recipe.name}:22: augment.ops[0]: augmentation 'hflip' "
                                        f"rejected its parameters: p must be a number in [0.0, 1.0]"), flip.output


# -- item 6: one rule for paths: --set relative to the working directory, the file's relative to it -----
@pytest.fixture
def recipe_in_sub(tmp_path, monkeypatch) -> Path:
    """recipes/r.toml names images/ (which is not there); ./images is in the working directory."""
    monkeypatch.chdir(tmp_path)
    make_image_folder(tmp_path / "images", {"a": 4, "b": 4}, size=32)
    (tmp_path / "recipes").mkdir()
    recipe = Path("recipes/r.toml")
    recipe.write_text(RECIPE_IN_SUB, encoding="utf-8")
    return recipe


def test_augment_preview_resolves_set_paths_like_run(recipe_in_sub):
    preview = run_cli("augment", "preview", recipe_in_sub, "--set", "data.root=images", "--n", "2", "--out", "p.png")
    assert preview.exit_code == 0, preview.output
    dry = run_cli("run", recipe_in_sub, "--dry-run", "--set", "data.root=images")
    assert dry.exit_code == 0, dry.output
    # the root written in the file is relative to the file: recipes/images, which is missing, for both
    for command in (["augment", "preview", recipe_in_sub], ["run", recipe_in_sub, "--dry-run"]):
        missing = run_cli(*command)
        assert _error_line(missing) == ("Error: recipes/r.toml:2: data.root: dataset folder recipes/images does not "
                                        "exist: check the path"), missing.output
    gone = run_cli("augment", "preview", recipe_in_sub, "--set", "data.root=nowhere")
    assert _error_line(gone) == (f"Error: --set: data.root: dataset folder {Path.cwd() / 'nowhere'} does not exist: "
                                 f"check the path")


def test_a_missing_data_folder_is_said_before_torch_loads(recipe_in_sub):
    import subprocess
    import sys

    probe = ("import atexit, sys\n"
             "atexit.register(lambda: print('torch imported:', 'torch' in sys.modules, file=sys.stderr))\n"
             "from toolkit.cli import main\n"
             "main(sys.argv[1:])\n")
    for command in (["augment", "preview", str(recipe_in_sub)], ["run", str(recipe_in_sub), "--dry-run"],
                    ["run", str(recipe_in_sub)]):
        done = subprocess.run([sys.executable, "-c", probe, *command, "--set", "data.root=nowhere"],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 1, done.stderr
        assert "data.root: dataset folder" in done.stderr and "torch imported: False" in done.stderr, done.stderr
    # a typo in the recipe still comes first
    typo = run_cli("run", recipe_in_sub, "--set", "data.root=nowhere", "--set", 'loss.name="cross_entropyy"')
    assert "unknown loss 'cross_entropyy'" in _error_line(typo)


def test_every_recipe_path_follows_the_rule(recipe_in_sub, tmp_path):
    from toolkit.engine.data_pipeline import cache_root, data_root
    from toolkit.plugin.manager import load_plugins
    from toolkit.recipe.load import load_recipe

    written = recipe_in_sub.read_text().replace('root = "images"', 'root = "images"\nunknown_root = "u"\n'
                                                'cache_dir = "c"')
    recipe_in_sub.write_text(written + '\n[loss]\nname = "distill"\nteacher = "t/best.pt"\n'
                             'teacher_pretrained_path = "w.pt"\n', encoding="utf-8")
    plugins = load_plugins()
    in_file = load_recipe(recipe_in_sub)
    here = Path("recipes")
    assert (data_root(in_file), cache_root(in_file), in_file.path_of("data", "unknown_root")) == \
        (here / "images", here / "c", here / "u")
    assert in_file.plugin_params("loss", plugins)["teacher"] == str(here / "t/best.pt")
    assert in_file.plugin_params("loss", plugins)["teacher_pretrained_path"] == "w.pt"  # no such file: as written
    (here / "w.pt").write_bytes(b"")
    assert in_file.plugin_params("loss", plugins)["teacher_pretrained_path"] == str(here / "w.pt")
    cwd = Path.cwd()
    given = load_recipe(recipe_in_sub, ["data.root=images", "data.unknown_root=u", "data.cache_dir=c",
                                        "loss.teacher=t/best.pt", 'model.pretrained_path="w/x.safetensors"'])
    assert (data_root(given), cache_root(given), given.path_of("data", "unknown_root")) == \
        (cwd / "images", cwd / "c", cwd / "u")
    assert given.plugin_params("loss", plugins)["teacher"] == str(cwd / "t/best.pt")
    assert given.plugin_params("model", plugins)["pretrained_path"] == str(cwd / "w/x.safetensors")
    named = load_recipe(recipe_in_sub, ["loss.teacher=resnet50"])
    assert named.plugin_params("loss", plugins)["teacher"] == "resnet50"  # a model name stays a name


def test_model_pretrained_path_in_the_file_is_relative_to_the_file(recipe_in_sub):
    recipe_in_sub.write_text(RECIPE_IN_SUB.replace("pretrained = false", 'pretrained = false\n'
                                                   'pretrained_path = "w/none.safetensors"'), encoding="utf-8")
    result = run_cli("run", recipe_in_sub, "--dry-run", "--set", "data.root=images")
    assert _error_line(result) == ("Error: recipes/r.toml:9: model.pretrained_path: no such weights file "
                                   "'recipes/w/none.safetensors'."), result.output


def test_a_misspelt_key_of_a_tables_own_gets_did_you_mean(tmp_path, monkeypatch):
    """``data.imagesize``: the folder dataset takes no parameters, and the message said "Accepted:
    none" with no suggestion; the [data] table's own image_size is the close one."""
    monkeypatch.chdir(tmp_path)
    root = make_image_folder(tmp_path / "images", {"a": 4, "b": 4}, size=32)
    (tmp_path / "r.toml").write_text(f'[data]\nroot = "{root.as_posix()}"\nimagesize = 64\n')
    result = run_cli("recipes", "check", "r.toml")
    assert result.exit_code != 0
    line = _error_line(result)
    assert "data.imagesize: dataset 'folder' has no parameter 'imagesize'. Did you mean 'image_size'? Its " \
           "parameters: none; the [data] table's own keys: source, root, image_size" in line, line


def test_classes_too_small_for_a_validation_split_say_so(tmp_path, monkeypatch):
    """Two classes of one image each: the advice was to set data.val_fraction above 0, which it was."""
    monkeypatch.chdir(tmp_path)
    root = make_image_folder(tmp_path / "images", {"a": 1, "b": 1}, size=32)
    (tmp_path / "r.toml").write_text(f'[data]\nroot = "{root.as_posix()}"\nimage_size = 32\n[model]\n'
                                     f'backbone = "test_efficientnet"\n')
    result = run_cli("run", "r.toml", "--dry-run")
    assert result.exit_code != 0
    line = _error_line(result)
    assert "the validation split is empty: data.val_fraction 0.2 of 2 training image(s)" in line and \
        "add images (a few per class at least) or a val/ folder" in line, line

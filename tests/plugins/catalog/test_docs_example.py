"""The "Adding one more of each kind" module of docs/plugins.md works as printed: loaded from
the page through a recipe's [plugins] modules, each of its six entries trains a step."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from toolkit.plugin.manager import load_plugins
from toolkit.recipe.load import load_recipe

DOC = Path(__file__).resolve().parents[3] / "docs" / "plugins.md"


def _section_blocks() -> tuple[str, str]:
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## Adding one more of each kind"):]
    python = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    toml = re.search(r"```toml\n(.*?)```", section, re.S).group(1)
    return python, toml


@pytest.fixture
def doc_recipe(tmp_path, image_root):
    python, toml = _section_blocks()
    (tmp_path / "tk_more.py").write_text(python)
    path = tmp_path / "more.toml"
    path.write_text(f'[data]\nroot = "{image_root}"\nimage_size = 32\n' + toml)
    return path


def test_the_doc_recipe_checks(doc_recipe, tk_cli):
    result = tk_cli("recipes", "check", str(doc_recipe))
    assert result.exit_code == 0, result.output


def test_each_doc_entry_trains_a_step(doc_recipe, one_step):
    recipe = load_recipe(doc_recipe)
    plugins = load_plugins(recipe["plugins"]["modules"], base_dir=recipe.base_dir)
    plugins.raise_if_broken(strict=True)
    registered = plugins.info["tk_more"].registered
    assert registered == {"backbones": ["tiny_cnn"], "augmentations": ["channel_shuffle"], "losses": ["bootstrap_ce"],
                          "samplers": ["epoch_subset"], "optimizers": ["rmsprop"], "schedulers": ["exponential"]}
    out = one_step(recipe, batch=3, plugins=plugins)
    assert out["changed"] > 0 and len(out["order"]) == 4  # a quarter of the 14 images, rounded
    assert out["model"].mean.flatten().tolist() == [0.5, 0.5, 0.5]  # the backbone's pretrained_cfg
    with pytest.raises(Exception, match="loss.beta"):
        plugins.create("losses", "bootstrap_ce", {"beta": 0}, where="loss", context={"num_classes": 3})

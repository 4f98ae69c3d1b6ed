"""The reference-workload recipes: each checks with `tk recipes check` against a folder given with
--set data.root, and each builds its parts and trains a step (with a tiny backbone at 32 px)."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit.recipe.load import load_recipe

RECIPES = Path(__file__).resolve().parents[3] / "recipes"
WORKLOADS = ["dandelion", "dishes", "distill", "slides_scratch"]


@pytest.mark.parametrize("name", WORKLOADS)
def test_recipe_checks_against_a_folder(name, tk_cli, image_root):
    path = RECIPES / f"{name}.toml"
    assert path.read_text().removeprefix("#:schema ./tk-recipe.schema.json\n").startswith("# ")
    result = tk_cli("recipes", "check", str(path), "--set", f"data.root={image_root}")
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith(f"{path}: ok")
    listed = tk_cli("recipes", "list")
    assert name in listed.output


@pytest.mark.parametrize("name", WORKLOADS)
def test_recipe_parts_train_a_step(name, one_step, image_root, teacher_checkpoint):
    overrides = [f"data.root={image_root}", "data.image_size=32", "model.pretrained=false",
                 'model.backbone="test_resnet"']
    if name == "distill":
        overrides.append(f'loss.teacher="{teacher_checkpoint}"')
    recipe = load_recipe(RECIPES / f"{name}.toml", overrides)
    out = one_step(recipe)
    assert out["changed"] > 0
    if name == "dandelion":  # frozen body at epoch 0: only the 512→128 MLP head trains
        net = out["model"].backbone
        assert net.frozen and [m.out_features for m in net.head if hasattr(m, "out_features")] == [512, 128, 3]
        net.on_epoch_start(3)
        assert not net.frozen
    if name == "dishes":
        assert recipe["train"]["accumulate"] == 4 and out["y"].dim() == 2  # mixup made soft targets

"""`data.source = "screens"`: the generated quickstart data as a dataset plugin, and the bundled recipes."""

from __future__ import annotations

import json
import os
from pathlib import Path

from toolkit.recipe.load import find_recipe, load_recipe
from toolkit.testing import make_image_folder, run_cli

SCREENS = """\
[data]
source = "screens"
per_class = 3
size = [64, 36]
image_size = 32
workers = 0
[model]
backbone = "test_efficientnet"
[train]
epochs = 1
batch_size = 8
device = "cpu"
"""


def test_screens_source_generates_once_into_the_cache_and_trains(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "screens.toml").write_text(SCREENS)
    first = run_cli("run", "screens.toml", "--quiet")
    assert first.exit_code == 0, first.output
    split = json.loads(Path("runs/screens/1/split.json").read_text())
    assert len(split["class_names"]) == 7 and len(split["train"]) + len(split["val"]) == 21
    generated = Path(split["train"][0][0]).parent.parent
    assert generated.parent == Path(os.environ["TK_CACHE_DIR"]) / "screens"
    stamp = generated.stat().st_mtime_ns
    second = run_cli("run", "screens.toml", "--quiet", "--set", "train.epochs=1")
    assert second.exit_code == 0, second.output
    assert generated.stat().st_mtime_ns == stamp  # reused, not drawn again
    resolved = Path("runs/screens/1/recipe.toml").read_text()
    assert 'source = "screens"' in resolved and "per_class = 3" in resolved


def test_screens_parameters_are_checked(tmp_path):
    (tmp_path / "bad.toml").write_text(SCREENS.replace("per_class = 3", 'counts = { slides = 3 }'))
    result = run_cli("run", tmp_path / "bad.toml")
    assert result.exit_code == 1 and "data.counts: unknown class 'slides'" in result.output


def test_data_root_given_with_set_is_relative_to_the_working_directory(tmp_path, monkeypatch):
    make_image_folder(tmp_path / "here" / "imgs", {"a": 4, "b": 4}, size=32)
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "r.toml").write_text(
        '[data]\nroot = "nowhere"\nimage_size = 32\nworkers = 0\n[model]\nbackbone = "test_efficientnet"\n'
        '[train]\nepochs = 1\nbatch_size = 4\ndevice = "cpu"\n')
    monkeypatch.chdir(tmp_path / "here")
    result = run_cli("run", "../recipes/r.toml", "--set", "data.root=imgs", "--dry-run")
    assert result.exit_code == 0, result.output


def test_bundled_recipes_validate():
    for name in ("quickstart", "slides_m4"):
        path = find_recipe(name)
        assert path.read_text().removeprefix("#:schema ./tk-recipe.schema.json\n").startswith("# ")
        result = run_cli("recipes", "check", name)
        assert result.exit_code == 0, result.output
    slides = load_recipe(find_recipe("slides_m4"))
    assert slides["model"]["backbone"] == "mobilenetv4_conv_medium.e500_r256_in1k"
    assert slides["data"]["image_size"] == 256 and slides["schedule"]["name"] == "plateau"
    assert (slides["train"]["monitor"], slides["train"]["patience"], slides["train"]["min_delta"]) == ("val_loss", 10, 0.001)
    assert [op["name"] for op in slides["augment"]["ops"]] == ["color_jitter"]

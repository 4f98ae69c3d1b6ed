"""Recipes: defaults, --set overrides, one-line errors with file and line, plugin validation."""

import textwrap

import pytest

from toolkit import RecipeError
from toolkit.plugin.manager import load_plugins
from toolkit.recipe.load import dumps_toml, load_recipe, parse_override


def write(tmp_path, text, name="r.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_every_key_has_a_default():
    r = load_recipe(None)
    assert r["train"]["epochs"] == 10 and r["data"]["image_size"] == 224
    assert r["model"]["backbone"] == "resnet18" and r["loss"]["name"] == "cross_entropy"
    assert r["export"]["formats"] == ["onnx"] and r["plugins"]["modules"] == []


def test_set_overrides_are_typed():
    assert parse_override("train.epochs=3") == ("train", "epochs", 3)
    assert parse_override("optim.lr=3e-4") == ("optim", "lr", 3e-4)
    assert parse_override("train.amp=bf16") == ("train", "amp", "bf16")
    assert parse_override('export.formats=["onnx","coreml"]') == ("export", "formats", ["onnx", "coreml"])
    r = load_recipe(None, ["train.epochs=3", "model.pretrained=true"])
    assert r["train"]["epochs"] == 3 and r["model"]["pretrained"] is True


@pytest.mark.parametrize("text, expected", [
    ("[train]\nepochs = 'ten'\n", "r.toml:2: train.epochs: must be an integer, not 'ten'"),
    ("[train]\nepochs = 0\n", "r.toml:2: train.epochs: must be at least 1, not 0"),
    ("[train]\nepoch = 3\n", "r.toml:2: train.epoch: unknown key. Did you mean 'epochs'?"),
    ("[trian]\nepochs = 3\n", "r.toml:1: [trian]: unknown section. Did you mean [train]?"),
    ("[data]\non_bad_image = 'ignore'\n", "data.on_bad_image: must be one of 'skip', 'fail', not 'ignore'"),
    ("[train]\nchannels_last = 1\n", "train.channels_last: must be true or false, not 1"),
    ("[train]\nbatch_size = true\n", "train.batch_size: must be an integer, not true"),
    ("[train]\ndevice = 'tpu'\n", "train.device: must be auto, cpu, cuda, cuda:N or mps"),
    ("[data]\nval_fraction = 0.5\ntest_fraction = 0.5\n", "val_fraction + test_fraction must leave images"),
    ("[augment]\nops = ['hflip']\n", "augment.ops: item 0 must be a table with a 'name'"),
    ("[train]\nout = '../../etc'\n", "train.out: must not climb out with '..'"),
    ("[train\nepochs=1", "r.toml: not valid TOML"),
])
def test_mistakes_are_one_line_with_file_and_line(tmp_path, text, expected):
    with pytest.raises(RecipeError) as err:
        load_recipe(write(tmp_path, text))
    msg = str(err.value)
    assert expected in msg and "\n" not in msg


def test_set_errors_say_set(tmp_path):
    with pytest.raises(RecipeError, match=r"^--set: train.epochs: must be an integer"):
        load_recipe(None, ["train.epochs=lots"])
    with pytest.raises(RecipeError, match="--set: trian.epochs: unknown section 'trian'. Did you mean 'train'"):
        load_recipe(None, ["trian.epochs=2"])
    with pytest.raises(RecipeError, match="expected section.key=value"):
        load_recipe(None, ["epochs=2"])


def test_plugin_names_and_params_are_validated_against_the_registry(tmp_path):
    plugins = load_plugins()
    path = write(tmp_path, """
        [loss]
        name = "cross_entropy"
        label_smothing = 0.1
    """)
    with pytest.raises(RecipeError) as err:
        load_recipe(path).validate(plugins)
    assert str(err.value).startswith(f"{path}:4: loss.label_smothing: loss 'cross_entropy' has no parameter")
    assert "Did you mean 'label_smoothing'?" in str(err.value)

    path = write(tmp_path, "[sampler]\nname = 'randm'\n", "s.toml")
    with pytest.raises(RecipeError, match=r"s.toml:2: sampler.name: unknown sampler 'randm'. Did you mean 'random'"):
        load_recipe(path).validate(plugins)

    path = write(tmp_path, "[[augment.ops]]\nname = 'color_jitter'\nbrightnes = 0.1\n", "a.toml")
    with pytest.raises(RecipeError, match=r"augment.ops\[0\].brightnes: augmentation 'color_jitter' has no parameter"):
        load_recipe(path).validate(plugins)

    with pytest.raises(RecipeError, match=r"export.formats: unknown exporter 'tflite'"):
        load_recipe(None, ['export.formats=["tflite"]']).validate(plugins)


def test_resolved_recipe_spells_out_plugin_defaults_and_round_trips():
    import tomllib

    plugins = load_plugins()
    r = load_recipe(None, ["optim.lr=0.01"])
    resolved = r.resolved(plugins)
    assert resolved["optim"]["lr"] == 0.01 and resolved["optim"]["weight_decay"] == 1e-4
    assert resolved["loss"]["label_smoothing"] == 0.0
    assert tomllib.loads(dumps_toml(resolved)) == {k: {kk: vv for kk, vv in v.items() if vv is not None}
                                                   for k, v in resolved.items() if v}


def test_augment_ops_as_array_of_tables(tmp_path):
    path = write(tmp_path, """
        [[augment.ops]]
        name = "color_jitter"
        hue = 0.02
    """)
    r = load_recipe(path)
    r.validate(load_plugins())
    assert r["augment"]["ops"] == [{"name": "color_jitter", "hue": 0.02}]

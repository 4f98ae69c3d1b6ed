"""The timm backbone: local and hub weights, heads, freezing, norm stats, `tk models`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch

from toolkit import RecipeError
from toolkit.engine.model import build_model
from toolkit.recipe.load import load_recipe


def _model(plugins, text: str, k: int = 3):
    return build_model(load_recipe(text="[data]\nimage_size = 32\n[model]\n" + textwrap.dedent(text)), plugins, k)


def _body_state(arch: str) -> dict:
    import timm

    torch.manual_seed(1)
    return timm.create_model(arch, num_classes=10).state_dict()


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_pretrained_path_loads_every_body_tensor(plugins, tmp_path, suffix):
    state = _body_state("test_resnet")
    path = tmp_path / f"w{suffix}"
    if suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(state, str(path))
    else:
        torch.save({"state_dict": state}, path)  # a training checkpoint: unwrapped
    model = _model(plugins, f'backbone = "test_resnet"\npretrained_path = "{path}"\n')
    body = model.backbone.body.state_dict()
    assert torch.equal(body["conv1.0.weight"], state["conv1.0.weight"])
    assert all(torch.equal(v, state[k]) for k, v in body.items())
    assert "fc.weight" not in body  # the 10-class classifier of the file is replaced by a 3-class head
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 3)


def test_pretrained_path_of_another_architecture_is_a_clear_error(plugins, tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "effnet.safetensors"
    save_file(_body_state("test_efficientnet"), str(path))
    with pytest.raises(RecipeError) as err:
        _model(plugins, f'backbone = "test_resnet"\npretrained_path = "{path}"\n')
    message = str(err.value)
    assert message.startswith("model.pretrained_path: the weights in") and "do not fit 'test_resnet'" in message
    assert "not in the file" in message and "\n" not in message


def test_pretrained_path_missing_or_unreadable(plugins, tmp_path):
    with pytest.raises(RecipeError, match="model.pretrained_path: no such weights file"):
        _model(plugins, f'backbone = "test_resnet"\npretrained_path = "{tmp_path / "nope.pth"}"\n')
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not weights")
    with pytest.raises(RecipeError, match="not a readable weights file"):
        _model(plugins, f'backbone = "test_resnet"\npretrained_path = "{junk}"\n')


def _hub_script(cache: str, arch: str) -> subprocess.CompletedProcess:
    code = textwrap.dedent(f"""
        from toolkit import TkError
        from toolkit.plugin.manager import load_plugins
        from toolkit.engine.model import build_model
        from toolkit.recipe.load import load_recipe
        recipe = load_recipe(text='[data]\\nimage_size = 32\\n[model]\\nbackbone = "{arch}"\\npretrained = true\\n')
        try:
            model = build_model(recipe, load_plugins(), 3)
        except TkError as exc:
            print("ERROR", exc)
        else:
            print("LOADED", float(model.backbone.body.conv1[0].weight.flatten()[0]))
    """)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": cache, "HF_HOME": cache}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)


def test_pretrained_offline_without_cache_names_model_and_fixes(tmp_path):
    out = _hub_script(str(tmp_path / "hub"), "test_resnet.r160_in1k")
    assert out.returncode == 0, out.stderr
    line = out.stdout.strip()
    assert line.startswith("ERROR model.pretrained: cannot load the pretrained weights of 'test_resnet.r160_in1k'")
    assert "HF_HUB_OFFLINE" in line and "machine that reaches the hub" in line and "model.pretrained_path" in line
    assert "model.pretrained=false" in line  # a way on without the hub (#30 item 4)


def test_pretrained_offline_reads_the_hugging_face_cache(tmp_path):
    """timm's hub loading finds weights already in the HF cache with HF_HUB_OFFLINE=1."""
    from safetensors.torch import save_file

    state = _body_state("test_resnet")
    snapshot = tmp_path / "hub" / "models--timm--test_resnet.r160_in1k" / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    save_file(state, str(snapshot / "model.safetensors"))
    refs = snapshot.parent.parent / "refs"
    refs.mkdir()
    (refs / "main").write_text("a" * 40)
    out = _hub_script(str(tmp_path / "hub"), "test_resnet.r160_in1k")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"LOADED {float(state['conv1.0.weight'].flatten()[0])}"


def test_mlp_head_shape_dropout_batchnorm(plugins):
    model = _model(plugins, 'backbone = "test_resnet"\nhead = "mlp"\nhead_hidden = [512, 128]\nhead_dropout = 0.3\n')
    head = model.backbone.head
    linears = [m for m in head if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [
        (model.backbone.num_features, 512), (512, 128), (128, 3)]
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in head) == 2
    assert sum(isinstance(m, torch.nn.Dropout) and m.p == 0.3 for m in head) == 2
    model.train()
    assert model(torch.rand(1, 3, 64, 64)).shape == (1, 3)  # a last batch of one does not break the head's batch norm


def test_freeze_true_trains_only_the_head_and_keeps_frozen_norms_fixed(plugins):
    model = _model(plugins, 'backbone = "test_resnet"\nfreeze = true\n')
    body, head = model.backbone.body, model.backbone.head
    assert not any(p.requires_grad for p in body.parameters())
    assert all(p.requires_grad for p in head.parameters())
    model.train()
    stats = body.bn1.running_mean.clone()
    model(torch.rand(4, 3, 32, 32))
    assert not body.bn1.training and torch.equal(stats, body.bn1.running_mean)


def test_freeze_fraction_freezes_layers_from_the_input_side(plugins):
    model = _model(plugins, 'backbone = "test_resnet"\nfreeze = 0.5\n')
    body = model.backbone.body
    flags = [p.requires_grad for _, p in body.named_parameters()]
    assert not flags[0] and flags[-1]  # stem frozen, last block trains
    assert flags == sorted(flags)  # frozen first, then trainable: no holes
    assert not body.conv1[0].weight.requires_grad and body.layer4[-1].conv1.weight.requires_grad


def test_unfreeze_at_epoch_via_on_epoch_start(plugins):
    model = _model(plugins, 'backbone = "test_resnet"\nunfreeze_at_epoch = 2\n')
    net = model.backbone
    for epoch, frozen in ((0, True), (1, True), (2, False), (3, False)):
        net.on_epoch_start(epoch)
        assert net.frozen is frozen
    net.on_epoch_start(0)  # a resume from before the unfreeze epoch derives the state from the epoch
    assert net.frozen


@pytest.mark.parametrize("line,key", [
    ("freeze = 1.5", "model.freeze"), ('head = "conv"', "model.head"), ("head_hidden = [0]", "model.head_hidden"),
    ("drop_rate = 1.0", "model.drop_rate"), ("unfreeze_at_epoch = -1", "model.unfreeze_at_epoch"),
    ('head_activation = "tanh"', "model.head_activation"),
])
def test_bad_model_values_name_the_key(plugins, line, key):
    with pytest.raises(RecipeError) as err:
        _model(plugins, f'backbone = "test_resnet"\n{line}\n')
    assert str(err.value).startswith(key)


def test_unknown_tag_lists_the_real_tags(plugins):
    with pytest.raises(RecipeError, match=r"no weights tagged 'bogus' for 'resnet18'.*a1_in1k"):
        _model(plugins, 'backbone = "resnet18.bogus"\n')


def test_mean_std_come_from_the_pretrained_config(plugins):
    vit = _model(plugins, 'backbone = "test_vit"\n')
    eff = _model(plugins, 'backbone = "test_efficientnet"\n')
    assert vit.mean.flatten().tolist() == [0.5, 0.5, 0.5]
    assert eff.mean.flatten().tolist() == pytest.approx([0.485, 0.456, 0.406])
    assert vit.backbone.pretrained_cfg["input_size"] == (3, 160, 160)


def test_checkpoint_rebuild_turns_weights_off(plugins, tmp_path):
    """The core's for_loading drops pretrained/pretrained_path: a missing file does not matter then."""
    recipe = load_recipe(text=f'[data]\nimage_size = 32\n[model]\nbackbone = "test_resnet"\npretrained = true\n'
                              f'pretrained_path = "{tmp_path / "gone.pth"}"\n')
    model = build_model(recipe, plugins, 3, for_loading=True).eval()
    assert model(torch.rand(1, 3, 32, 32)).shape == (1, 3)


def test_tk_models_lists_with_wildcards(tk_cli):
    result = tk_cli("models", "resnet1*")
    names = result.output.split()
    assert result.exit_code == 0 and "resnet18" in names and "resnet10t" in names and "resnet50" not in names
    pretrained = tk_cli("models", "resnet18", "--pretrained", "--json")
    rows = json.loads(pretrained.output)
    assert {"name": "resnet18.a1_in1k", "entry": "timm"} in rows and all(r["name"].startswith("resnet18.") for r in rows)


def test_tk_models_without_match_says_so(tk_cli):
    result = tk_cli("models", "zzznotamodel*")
    assert result.exit_code == 1 and "No backbones match 'zzznotamodel*'" in result.output


FAST_ARCHS = {"test_vit", "test_convnext", "test_efficientnet", "test_maxvit", "mobilenetv3_small_050"}


def _tiny_timm_models() -> list:
    """timm's tiny test models of every family, plus a model with pre-logits layers; a few run in the
    fast suite, the rest with `make test-slow`."""
    import timm

    names = timm.list_models("test_*") + ["mobilenetv3_small_050"]
    return [pytest.param(n, marks=() if n in FAST_ARCHS else pytest.mark.slow) for n in names]


@pytest.mark.parametrize("arch", _tiny_timm_models())
def test_any_timm_architecture_gets_a_working_mlp_head(plugins, arch):
    """Every family (CNN, ViT with fixed input size, hybrids, MobileNetV3's conv_head) at 64 px."""
    model = build_model(load_recipe(text=f'[data]\nimage_size = 64\n[model]\nbackbone = "{arch}"\n'
                                         f'head = "mlp"\nhead_hidden = [16]\nfreeze = 0.5\n'), plugins, 3).eval()
    assert model(torch.rand(2, 3, 64, 64)).shape == (2, 3)
    assert model.backbone.head[0].in_features == model.backbone.num_features


def test_tk_models_lists_plain_backbone_entries_too():
    """A third-party backbone without ``list_models`` is listed under its own name."""
    from toolkit import hookimpl
    from toolkit.cli.models_cmd import collect_models
    from toolkit.plugin.manager import load_plugins

    class ThirdParty:
        @hookimpl
        def tk_register_backbones(self, register):
            register("tiny_mlp_net", lambda num_classes: None)

    loaded = load_plugins(extra=[("third", ThirdParty())])
    assert ("tiny_mlp_net", "tiny_mlp_net") in collect_models(loaded, "tiny_*", False)
    assert ("tiny_vit_5m_224", "timm") in collect_models(loaded, "tiny_*", False)
    assert all(entry == "timm" for _, entry in collect_models(loaded, "tiny_*", True))


def test_pretrained_path_accepts_a_tk_checkpoint(plugins, teacher_checkpoint):
    """A run's best.pt starts another run of the same architecture (its head is replaced)."""
    from toolkit.core.checkpoint import load_checkpoint

    saved = load_checkpoint(teacher_checkpoint)["model"]
    model = _model(plugins, f'backbone = "test_resnet"\npretrained_path = "{teacher_checkpoint}"\n', k=5)
    body = model.backbone.body.state_dict()
    assert all(torch.equal(v, saved[f"backbone.body.{k}"]) for k, v in body.items())
    assert model.backbone.head[-1].out_features == 5

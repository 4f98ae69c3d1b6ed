"""Optimisers and schedules: parameter groups, layer decay, each schedule's shape, validation."""

from __future__ import annotations

import math

import pytest
import torch

from toolkit import RecipeError
from toolkit.engine.model import build_model
from toolkit.recipe.load import load_recipe


@pytest.fixture
def model(plugins):
    return build_model(load_recipe(text='[data]\nimage_size = 32\n[model]\nbackbone = "test_resnet"\n'), plugins, 3)


def _optim(plugins, model, name, **params):
    return plugins.create("optimizers", name, params, where="optim", context={"model": model})


def _sched(plugins, optimizer, name, epochs=10, steps=4, **params):
    return plugins.create("schedulers", name, params, where="schedule",
                          context={"optimizer": optimizer, "epochs": epochs, "steps_per_epoch": steps})


@pytest.mark.parametrize("name,cls", [("adamw", torch.optim.AdamW), ("adam", torch.optim.Adam), ("sgd", torch.optim.SGD)])
def test_no_weight_decay_on_norms_and_biases(plugins, model, name, cls):
    opt = _optim(plugins, model, name, weight_decay=0.05)
    assert isinstance(opt, cls)
    by_param = {id(p): g["weight_decay"] for g in opt.param_groups for p in g["params"]}
    body = model.backbone.body
    assert by_param[id(body.conv1[0].weight)] == 0.05
    assert by_param[id(body.bn1.weight)] == 0.0 and by_param[id(body.bn1.bias)] == 0.0
    assert by_param[id(model.backbone.head[-1].bias)] == 0.0
    assert len(by_param) == len(list(model.parameters()))  # frozen or not, every parameter is known


def test_sgd_momentum_nesterov(plugins, model):
    opt = _optim(plugins, model, "sgd", lr=0.1, momentum=0.8)
    assert opt.defaults["nesterov"] is True and opt.defaults["momentum"] == 0.8
    with pytest.raises(RecipeError, match="optim.nesterov"):
        _optim(plugins, model, "sgd", momentum=0.0)


def test_layer_decay_slows_layers_near_the_input(plugins, model):
    opt = _optim(plugins, model, "adamw", lr=1.0, layer_decay=0.5)
    lr_of = {id(p): g["lr"] for g in opt.param_groups for p in g["params"]}
    body = model.backbone.body
    stem, last_block, head = (lr_of[id(body.conv1[0].weight)], lr_of[id(body.layer4[-1].conv1.weight)],
                              lr_of[id(model.backbone.head[-1].weight)])
    assert head == 1.0 and stem < last_block < head
    assert last_block == pytest.approx(0.5)  # one layer below the head


def test_cosine_warmup_then_decay(plugins, model):
    opt = _optim(plugins, model, "adamw", lr=1.0)
    sched = _sched(plugins, opt, "cosine", epochs=10, steps=4, warmup_epochs=1)
    assert sched.tk_interval == "step"
    lrs = []
    for _ in range(40):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert lrs[4] == pytest.approx(1.0) and lrs[-1] < 0.01 and lrs[22] == pytest.approx(0.5 * (1 + math.cos(math.pi * 18 / 36)))


def test_step_and_milestones(plugins, model):
    opt = _optim(plugins, model, "sgd", lr=1.0)
    sched = _sched(plugins, opt, "step", step_size=2, gamma=0.5)
    seen = []
    for _ in range(5):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert seen == pytest.approx([1, 1, 0.5, 0.5, 0.25])
    opt2 = _optim(plugins, model, "sgd", lr=1.0)
    multi = _sched(plugins, opt2, "step", milestones=[3], gamma=0.1)
    assert isinstance(multi, torch.optim.lr_scheduler.MultiStepLR)


def test_plateau_reduces_when_the_metric_stalls(plugins, model):
    opt = _optim(plugins, model, "adamw", lr=1.0)
    sched = _sched(plugins, opt, "plateau", factor=0.5, patience=1, min_lr=0.2)
    assert isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau)
    for metric in (1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0):
        sched.step(metric)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.2)  # 1 → 0.5 → 0.25 → floored at min_lr


def test_onecycle_rises_then_falls_and_holds_past_the_end(plugins, model):
    opt = _optim(plugins, model, "adamw", lr=1.0)
    sched = _sched(plugins, opt, "onecycle", epochs=2, steps=5, pct_start=0.3)
    lrs = []
    for _ in range(14):  # 4 steps more than planned: no error, last rate kept
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    peak = lrs.index(max(lrs))
    assert lrs[0] == pytest.approx(1 / 25) and max(lrs) == pytest.approx(1.0, rel=1e-3) and 1 <= peak <= 4
    assert lrs[9] < 1e-3 and lrs[-1] == lrs[10]


def test_schedules_keep_layer_decay_ratios(plugins, model):
    opt = _optim(plugins, model, "adamw", lr=1.0, layer_decay=0.5)
    before = [g["lr"] for g in opt.param_groups]
    sched = _sched(plugins, opt, "cosine")
    opt.step()
    sched.step()
    after = [g["lr"] for g in opt.param_groups]
    assert [a / b for a, b in zip(after, before)] == pytest.approx([after[0] / before[0]] * len(before))


@pytest.mark.parametrize("kind,name,params,key", [
    ("optimizers", "adamw", {"lr": 0}, "optim.lr"), ("optimizers", "adamw", {"betas": [0.9]}, "optim.betas"),
    ("optimizers", "adam", {"layer_decay": 2.0}, "optim.layer_decay"),
    ("schedulers", "plateau", {"factor": 1.5}, "schedule.factor"),
    ("schedulers", "plateau", {"mode": "up"}, "schedule.mode"),
    ("schedulers", "cosine", {"warmup_epochs": -1}, "schedule.warmup_epochs"),
    ("schedulers", "step", {"step_size": 0}, "schedule.step_size"),
    ("schedulers", "onecycle", {"pct_start": 0}, "schedule.pct_start"),
])
def test_bad_values_name_the_key(plugins, model, kind, name, params, key):
    opt = _optim(plugins, model, "adamw")
    with pytest.raises(RecipeError) as err:
        if kind == "optimizers":
            _optim(plugins, model, name, **params)
        else:
            _sched(plugins, opt, name, **params)
    assert str(err.value).startswith(key)

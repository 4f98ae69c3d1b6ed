"""How a plugin author tests a tk plugin: the `tk_plugins` fixture comes with tk."""

import tk_example_plugin


def test_poly1_is_cross_entropy_plus_epsilon_term(tk_plugins):
    import torch
    import torch.nn.functional as F

    plugins = tk_plugins(tk_example_plugin)
    loss = plugins.create("losses", "poly1", {"epsilon": 2.0}, where="loss")
    logits, targets = torch.tensor([[2.0, 0.0, -1.0]]), torch.tensor([0])
    pt = torch.softmax(logits, 1)[0, 0]
    assert torch.isclose(loss(logits, targets), F.cross_entropy(logits, targets) + 2.0 * (1 - pt))


def test_capped_sampler_caps_each_class(tk_plugins):
    plugins = tk_plugins(tk_example_plugin)
    labels = [0] * 50 + [1] * 3
    sampler = plugins.create("samplers", "capped", {"cap": 5}, where="sampler", context={"labels": labels, "seed": 1})
    picked = sampler.indices(0)
    assert sum(labels[i] == 0 for i in picked) == 5 and sum(labels[i] == 1 for i in picked) == 3
    assert picked == sampler.indices(0) and picked != sampler.indices(1)

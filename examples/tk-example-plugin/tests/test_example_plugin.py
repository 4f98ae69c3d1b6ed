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


def test_lr_log_refuses_a_negative_threshold(tk_plugins):
    import pytest

    from toolkit import RecipeError

    plugins = tk_plugins(tk_example_plugin)
    with pytest.raises(RecipeError, match="stop_below"):
        plugins.create("callbacks", "lr_log", {"stop_below": -1}, where="train.callbacks[0]")


def test_lr_log_writes_the_rate_and_stops(tk_plugins, tmp_path):
    from types import SimpleNamespace

    from toolkit import TrainState

    plugins = tk_plugins(tk_example_plugin)
    callback = plugins.create("callbacks", "lr_log", {"stop_below": 0.01}, where="train.callbacks[0]")
    optimizer = SimpleNamespace(param_groups=[{"lr": 0.1}])
    state = TrainState(model=None, optimizer=optimizer, scheduler=None, device="cpu", recipe=None, run_dir=tmp_path)
    state.stepped = True  # the optimiser stepped on this batch
    for step, lr in enumerate([0.1, 0.05, 0.001], start=1):
        state.step, optimizer.param_groups[0]["lr"] = step, lr
        callback.on_train_batch_end(state)
    assert (tmp_path / "lr.csv").read_text().splitlines() == ["1,0.1", "2,0.05", "3,0.001"]
    assert state.stop_reason and "0.01" in state.stop_reason
    assert callback.state_dict() == {"logged": 3}  # saved in last.pt: a resumed run goes on counting


def test_torchscript_exporter_option_is_checked(tk_plugins):
    import pytest

    from toolkit import RecipeError

    plugins = tk_plugins(tk_example_plugin)
    assert plugins.create("exporters", "torchscript", {"freeze": False}, where="export.torchscript").options == \
        {"freeze": False}
    with pytest.raises(RecipeError, match="freeze"):
        plugins.create("exporters", "torchscript", {"freeze": "no"}, where="export.torchscript")


def test_filenames_dataset_takes_the_class_from_the_name(tk_plugins, tk_image_folder):
    root = tk_image_folder({"cat": 3, "dog": 2})  # cat/cat_000.png ... dog/dog_001.png
    (root / "notes.txt").write_text("not an image")
    plugins = tk_plugins(tk_example_plugin)
    index = plugins.create("datasets", "filenames", {}, where="data.source", context={"root": root})
    assert index.class_names == ["cat", "dog"] and index.counts() == [3, 2]
    assert [reason for _, reason in index.skipped] == ["not an image file"]

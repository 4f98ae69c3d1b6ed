"""Batch augmentations: what each op does, per-sample randomness, label mixing, validation."""

from __future__ import annotations

import colorsys
import math

import pytest
import torch

from toolkit import RecipeError


def _op(plugins, name: str, k: int = 3, **params):
    return plugins.create("augmentations", name, params, where="augment.ops[0]", context={"num_classes": k})


@pytest.fixture
def batch(dataset):
    images, labels, _ = dataset
    return images[:8].float() / 255.0, torch.tensor(labels[:8])


def test_flips_mirror_exactly_and_per_sample(plugins, batch):
    x, y = batch
    torch.manual_seed(0)
    out, targets = _op(plugins, "hflip")(x, y)
    flipped = [torch.equal(out[i], x[i].flip(-1)) for i in range(8)]
    kept = [torch.equal(out[i], x[i]) for i in range(8)]
    assert all(f or k for f, k in zip(flipped, kept)) and any(flipped) and any(kept)
    assert torch.equal(targets, y)
    assert torch.equal(_op(plugins, "vflip", p=1.0)(x, y)[0], x.flip(-2))
    assert torch.equal(_op(plugins, "hflip", p=0.0)(x, y)[0], x)


@pytest.mark.parametrize("name,params", [
    ("rotate", {"degrees": 30}), ("affine", {"degrees": 10, "translate": 0.2, "shear": 10}),
    ("random_resized_crop", {}), ("gaussian_blur", {"p": 1.0}), ("random_erasing", {"p": 1.0}),
    ("randaugment", {}), ("trivialaugment", {}), ("color_jitter", {}),
])
def test_ops_draw_per_sample_from_the_global_generator(plugins, batch, name, params):
    x, y = batch
    same = x[:1].expand(8, -1, -1, -1).contiguous()  # eight copies of one image
    op = _op(plugins, name, **params)
    torch.manual_seed(3)
    first, _ = op(same, y)
    torch.manual_seed(3)
    again, _ = op(same, y)
    assert torch.equal(first, again), "same seed, same augmentation (resume repeats exactly)"
    distinct = {tuple(first[i].flatten()[::97].tolist()) for i in range(8)}
    assert len(distinct) > 1, "every sample of the batch got the same transform"
    assert first.shape == x.shape and first.dtype == x.dtype and 0 <= float(first.min()) <= float(first.max()) <= 1


def test_rotate_zero_and_crop_full_are_identity(plugins, batch):
    x, y = batch
    assert torch.allclose(_op(plugins, "rotate", degrees=0.0)(x, y)[0], x, atol=1e-5)
    full = _op(plugins, "random_resized_crop", scale=[1.0, 1.0], ratio=[1.0, 1.0])
    assert torch.allclose(full(x, y)[0], x, atol=1e-5)


def test_rotate_by_180_degrees_turns_the_image_over(plugins):
    x = torch.rand(2, 3, 16, 16)
    op = _op(plugins, "rotate", degrees=180.0)
    torch.manual_seed(0)
    # the angle is uniform in [-180, 180]; force the extreme by calling the warp the op uses
    from tk_augment._batch import affine_matrices, warp

    out = warp(x, affine_matrices(2, x.device, angle=torch.full((2,), 180.0)))
    assert torch.allclose(out, x.flip(-1).flip(-2), atol=1e-4)
    assert op(x, torch.zeros(2))[0].shape == x.shape


def test_blur_keeps_the_mean_and_smooths(plugins):
    torch.manual_seed(0)
    x = torch.rand(4, 3, 32, 32)
    out, _ = _op(plugins, "gaussian_blur", kernel_size=7, sigma=[2.0, 2.0], p=1.0)(x, torch.zeros(4))
    assert torch.allclose(out.mean(), x.mean(), atol=0.01)
    assert out.diff(dim=-1).abs().mean() < 0.5 * x.diff(dim=-1).abs().mean()


def test_erasing_covers_an_area_within_scale(plugins):
    x = torch.full((16, 3, 40, 40), 0.5)
    out, _ = _op(plugins, "random_erasing", p=1.0, scale=[0.1, 0.2], value=0.0)(x, torch.zeros(16))
    share = (out[:, 0] == 0).flatten(1).float().mean(1)
    assert bool(((share > 0.05) & (share < 0.26)).all()), share


def test_mixup_mixes_images_and_labels_with_the_same_weight(plugins):
    torch.manual_seed(1)
    values = torch.tensor([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    x = values.view(6, 1, 1, 1).expand(6, 3, 8, 8).contiguous()  # image i is flat grey values[i]
    y = torch.arange(6)  # and the only image of class i
    out, soft = _op(plugins, "mixup", k=6, alpha=1.0)(x, y)
    assert soft.shape == (6, 6) and torch.allclose(soft.sum(1), torch.ones(6))
    assert torch.allclose(out[:, 0, 0, 0], soft @ values, atol=1e-6)  # pixels mixed exactly as labels
    assert (soft.max(1).values < 1).sum() >= 3  # most samples really mixed


def test_cutmix_label_weight_is_the_kept_area(plugins):
    torch.manual_seed(2)
    x = torch.cat([torch.zeros(4, 3, 20, 20), torch.ones(4, 3, 20, 20)])
    y = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    out, soft = _op(plugins, "cutmix", k=2, alpha=1.0)(x, y)
    ones_share = out[:, 0].flatten(1).mean(1)  # fraction of pixels from a class-1 image
    assert torch.allclose(soft[:, 1], ones_share, atol=1e-6)


def test_mix_ops_accept_soft_targets(plugins):
    x = torch.rand(4, 3, 8, 8)
    soft = torch.softmax(torch.randn(4, 3), 1)
    _, out = _op(plugins, "mixup", k=3)(x, soft)
    assert torch.allclose(out.sum(1), torch.ones(4), atol=1e-6)


def test_randaugment_picks_ops_per_sample(plugins):
    from tk_augment.policies import apply_policy

    x = torch.rand(3, 3, 16, 16)
    idx = torch.tensor([0, 9, 13])  # identity, posterize at level 1 (4 bits gone), equalize
    names = ["identity", "shear_x", "shear_y", "translate_x", "translate_y", "rotate", "brightness", "color",
             "contrast", "posterize", "solarize", "autocontrast", "sharpness", "equalize"]
    out = apply_policy(x, idx, torch.ones(3), names, wide=False)
    assert torch.equal(out[0], x[0])
    assert len(torch.unique((out[1] * 255).round())) <= 16  # 4 bits left
    assert not torch.equal(out[2], x[2])


def test_layout_safe_policies_skip_geometric_ops(plugins):
    from tk_augment.policies import GEOMETRIC, _names

    assert not set(GEOMETRIC) & set(_names(False)) and set(GEOMETRIC) <= set(_names(True))


@pytest.mark.parametrize("op,message", [
    ({"name": "rotate", "degrees": 200}, "augment.ops[1]: augmentation 'rotate' rejected its parameters: degrees"),
    ({"name": "gaussian_blur", "kernel_size": 4}, "kernel_size must be an odd integer"),
    ({"name": "random_resized_crop", "scale": [0.9, 0.1]}, "scale must be [min, max] with min <= max"),
    ({"name": "mixup", "p": 2}, "p must be a number in [0.0, 1.0]"),
    ({"name": "color_jitter", "hue": 0.9}, "hue must be a number in [0.0, 0.5]"),
])
def test_bad_op_parameters_are_recipe_errors_naming_the_op(plugins, op, message):
    ops = [{"name": "hflip"}, op]
    with pytest.raises(RecipeError) as err:
        for i, spec in enumerate(ops):
            plugins.create("augmentations", spec["name"], {k: v for k, v in spec.items() if k != "name"},
                           where=f"augment.ops[{i}]", context={"num_classes": 3})
    assert message in str(err.value) and str(err.value).startswith("augment.ops[1]")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_ops_run_on_the_batch_device(plugins):
    from tk_augment import AUGMENTATIONS

    x = torch.rand(8, 3, 32, 32, device="cuda")
    y = torch.randint(0, 3, (8,), device="cuda")
    for name in AUGMENTATIONS:
        out, t = _op(plugins, name)(x, y)
        assert out.device == x.device and t.device == x.device, name


def test_color_jitter_hue_turns_colours_the_asked_way_and_keeps_greys():
    """The hue shift is a rotation of the YIQ chroma plane: measured in HSV it moves each colour's hue
    the same way as the shift, by 0.65–1.6× its size
    (measured in tk_augment.color's docstring); greys have no chroma and stay as they are."""
    from tk_augment.color import chroma_matrices

    colours = torch.tensor([[0.8, 0.3, 0.2], [0.2, 0.6, 0.3], [0.3, 0.3, 0.9], [0.9, 0.8, 0.2]])
    for shift in (0.03, -0.03, 0.08, -0.08):
        m = chroma_matrices(torch.ones(len(colours)), torch.full((len(colours),), shift))
        turned = torch.bmm(m, colours.unsqueeze(2)).squeeze(2)
        for before, after in zip(colours.tolist(), turned.tolist()):
            moved = (colorsys.rgb_to_hsv(*after)[0] - colorsys.rgb_to_hsv(*before)[0] + 0.5) % 1.0 - 0.5
            assert 0.65 * abs(shift) <= moved * math.copysign(1, shift) <= 1.6 * abs(shift), (before, shift, moved)
    greys = torch.tensor([[0.0] * 3, [0.4] * 3, [1.0] * 3]).unsqueeze(2)
    m = chroma_matrices(torch.tensor([1.1, 0.9, 1.0]), torch.tensor([0.05, -0.05, 0.5]))
    assert torch.allclose(torch.bmm(m, greys), greys, atol=1e-6)
    assert torch.allclose(chroma_matrices(torch.ones(1), torch.zeros(1))[0], torch.eye(3), atol=1e-6)


def test_color_jitter_with_p_leaves_the_other_images_untouched(plugins, batch):
    x, y = batch
    torch.manual_seed(0)
    out, _ = _op(plugins, "color_jitter", p=0.5)(x, y)
    same = (out == x).flatten(1).all(1)
    assert 0 < int(same.sum()) < len(x), "p = 0.5 with this seed jitters some images and leaves others"

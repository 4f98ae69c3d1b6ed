"""Losses against their formulas on known inputs; soft targets; distillation with a real teacher."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from toolkit import RecipeError


def _loss(plugins, name: str, k: int = 3, counts=(6, 3, 1), names=None, **params):
    return plugins.create("losses", name, params, where="loss",
                          context={"num_classes": k, "class_counts": list(counts),
                                   "class_names": names or [f"c{i}" for i in range(k)]})


LOGITS = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3]])
TARGETS = torch.tensor([0, 2])


def test_focal_matches_its_formula_by_hand(plugins):
    """FL = -(1 - p_t)^γ · log p_t, averaged; computed here from scratch with math."""
    gamma = 2.0
    expected = 0.0
    for row, t in zip(LOGITS.tolist(), TARGETS.tolist()):
        z = sum(math.exp(v) for v in row)
        p = math.exp(row[t]) / z
        expected += -((1 - p) ** gamma) * math.log(p)
    expected /= 2
    value = _loss(plugins, "focal", gamma=gamma)(LOGITS, TARGETS)
    assert float(value) == pytest.approx(expected, rel=1e-6)


def test_focal_alpha_and_gamma_zero(plugins):
    ce = F.cross_entropy(LOGITS, TARGETS)
    assert float(_loss(plugins, "focal", gamma=0.0)(LOGITS, TARGETS)) == pytest.approx(float(ce), rel=1e-6)
    scaled = _loss(plugins, "focal", gamma=0.0, alpha=0.25)(LOGITS, TARGETS)
    assert float(scaled) == pytest.approx(0.25 * float(ce), rel=1e-6)
    per_class = _loss(plugins, "focal", gamma=0.0, alpha=[1.0, 0.0, 0.0])(LOGITS, TARGETS)
    assert float(per_class) == pytest.approx(float(F.cross_entropy(LOGITS[:1], TARGETS[:1])) / 2, rel=1e-6)


def test_focal_with_weights_and_smoothing_reduces_to_torch_ce_at_gamma_zero(plugins):
    torch.manual_seed(0)
    z, y = torch.randn(16, 3), torch.randint(0, 3, (16,))
    ours = _loss(plugins, "focal", gamma=0.0, class_weights="inverse_frequency", label_smoothing=0.1)(z, y)
    w = torch.tensor([10 / (3 * 6), 10 / (3 * 3), 10 / (3 * 1)])
    assert float(ours) == pytest.approx(float(F.cross_entropy(z, y, weight=w, label_smoothing=0.1)), rel=1e-5)


def test_label_smoothing_matches_its_formula(plugins):
    """CE with smoothing ε: -Σ_c ((1-ε)·[c = y] + ε/K) · log p_c, averaged."""
    eps, k = 0.1, 3
    expected = 0.0
    for row, t in zip(LOGITS.tolist(), TARGETS.tolist()):
        logz = math.log(sum(math.exp(v) for v in row))
        expected += -sum(((1 - eps) * (c == t) + eps / k) * (row[c] - logz) for c in range(k))
    expected /= 2
    value = _loss(plugins, "cross_entropy", label_smoothing=eps)(LOGITS, TARGETS)
    assert float(value) == pytest.approx(expected, rel=1e-6)


def test_inverse_frequency_weights_are_n_over_k_n_i(plugins):
    loss = _loss(plugins, "cross_entropy", counts=(6, 3, 1), class_weights="inverse_frequency")
    assert loss.weight.tolist() == pytest.approx([10 / 18, 10 / 9, 10 / 3])


def test_soft_targets_work_in_every_plain_loss(plugins):
    soft = torch.tensor([[0.7, 0.3, 0.0], [0.0, 0.5, 0.5]])
    by_hand = float(-(soft * F.log_softmax(LOGITS, 1)).sum(1).mean())
    assert float(_loss(plugins, "soft_target_cross_entropy")(LOGITS, soft)) == pytest.approx(by_hand, rel=1e-6)
    assert float(_loss(plugins, "cross_entropy")(LOGITS, soft)) == pytest.approx(by_hand, rel=1e-6)
    assert float(_loss(plugins, "focal", gamma=0.0)(LOGITS, soft)) == pytest.approx(by_hand, rel=1e-6)
    one_hot = F.one_hot(TARGETS, 3).float()  # a one-hot row gives the hard-target value
    assert float(_loss(plugins, "focal")(LOGITS, one_hot)) == pytest.approx(float(_loss(plugins, "focal")(LOGITS, TARGETS)))


@pytest.mark.parametrize("name,params,key", [
    ("focal", {"gamma": -1}, "loss.gamma"), ("focal", {"alpha": [1, 2]}, "loss.alpha"),
    ("cross_entropy", {"label_smoothing": 1.0}, "loss.label_smoothing"),
    ("cross_entropy", {"class_weights": [1.0, 2.0]}, "loss.class_weights"),
    ("cross_entropy", {"class_weights": "balanced"}, "loss.class_weights"),
    ("distill", {"teacher": "test_resnet", "temperature": 0}, "loss.temperature"),
])
def test_bad_loss_values_name_the_key(plugins, name, params, key):
    with pytest.raises(RecipeError) as err:
        _loss(plugins, name, **params)
    assert str(err.value).startswith(key)


def test_distill_formula_with_a_checkpoint_teacher(plugins, teacher_checkpoint, dataset):
    images, labels, names = dataset
    loss = _loss(plugins, "distill", k=3, names=names, counts=[labels.count(i) for i in range(3)],
                 teacher=str(teacher_checkpoint), temperature=2.0, alpha=0.7)
    assert loss.needs_inputs is True
    x = images[:4].float() / 255
    y = torch.tensor(labels[:4])
    student = torch.randn(4, 3, requires_grad=True)
    value = loss(student, y, x)
    from toolkit.engine.checkpoint import load_model

    teacher, _ = load_model(teacher_checkpoint)
    with torch.no_grad():
        t = teacher(x)
    kl = (F.softmax(t / 2, 1) * (F.log_softmax(t / 2, 1) - F.log_softmax(student / 2, 1))).sum(1).mean()
    expected = 0.3 * F.cross_entropy(student, y) + 0.7 * 4 * kl
    assert float(value.detach()) == pytest.approx(float(expected), rel=1e-5)
    value.backward()
    assert student.grad is not None
    loss.train()  # the engine puts the loss in train mode; the teacher stays frozen in eval
    assert not loss.teacher.training and not any(p.requires_grad for p in loss.teacher.parameters())


def test_distill_teacher_must_know_the_same_classes(plugins, teacher_checkpoint):
    with pytest.raises(RecipeError, match="loss.teacher: .* was trained on classes"):
        _loss(plugins, "distill", names=["x", "y", "z"], teacher=str(teacher_checkpoint))
    with pytest.raises(RecipeError, match="no such checkpoint"):
        _loss(plugins, "distill", teacher="runs/none/1/best.pt")
    with pytest.raises(RecipeError, match="an untrained 'test_resnet' cannot teach"):
        _loss(plugins, "distill", teacher="test_resnet")


def test_distill_timm_teacher_from_local_weights(plugins, tmp_path):
    import timm
    from safetensors.torch import save_file

    torch.manual_seed(0)
    net = timm.create_model("test_resnet", num_classes=3).eval()
    save_file(net.state_dict(), str(tmp_path / "teacher.safetensors"))
    loss = _loss(plugins, "distill", teacher="test_resnet", teacher_pretrained_path=str(tmp_path / "teacher.safetensors"),
                 alpha=1.0, temperature=1.0)
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        t = net((x - 0.5) / 0.5)  # test_resnet's own mean/std
    # a student equal to the teacher has zero distillation loss
    assert float(loss(t.clone(), torch.tensor([0, 1]), x)) == pytest.approx(0.0, abs=1e-5)
    with pytest.raises(RecipeError, match="do not fit 'test_resnet' with 5 classes"):
        _loss(plugins, "distill", k=5, counts=[1] * 5, teacher="test_resnet",
              teacher_pretrained_path=str(tmp_path / "teacher.safetensors"))


def test_distill_teacher_sees_its_own_input_size(plugins, teacher_checkpoint, dataset):
    """A 32 px teacher teaching a 48 px student gets the batch resized to 32 px."""
    _, labels, names = dataset
    loss = _loss(plugins, "distill", names=names, teacher=str(teacher_checkpoint))
    seen = []
    loss.teacher.net.register_forward_hook(lambda module, args, out: seen.append(tuple(args[0].shape)))
    loss(torch.randn(2, 3), torch.tensor([0, 1]), torch.rand(2, 3, 48, 48))
    assert seen == [(2, 3, 32, 32)]

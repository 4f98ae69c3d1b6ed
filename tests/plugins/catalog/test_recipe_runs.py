"""The workload recipes through the real engine: `tk run` with tiny overrides, as a user would.

Dandelion freezes the backbone, then unfreezes it at epoch 1 through the engine's
``on_epoch_start`` call; distillation trains a teacher, then a student taught by its best.pt.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from toolkit.core.checkpoint import load_checkpoint

RECIPES = Path(__file__).resolve().parents[3] / "recipes"
TINY = ["data.image_size=32", "model.pretrained=false", 'model.backbone="test_resnet"', "train.batch_size=8",
        'train.device="cpu"', "data.val_fraction=0.25", "data.test_fraction=0.0"]


def _run(tk_cli, name: str, out: Path, *extra: str):
    args = ["run", str(RECIPES / f"{name}.toml"), "--out", str(out), "-q"]
    for item in [*TINY, *extra]:
        args += ["--set", item]
    result = tk_cli(*args)
    assert result.exit_code == 0, result.output
    return result


def _body_params_with_optimizer_state(ckpt: dict) -> int:
    """How many backbone-body tensors AdamW has moments for (only those that ever got a gradient)."""
    names = list(ckpt["model"])
    params = [n for n in names if n not in ("mean", "std", "temperature", "unknown_threshold") and not n.endswith(("running_mean", "running_var",
                                                                             "num_batches_tracked"))]
    state = ckpt["optimizer"]["state"]
    order = [p for g in ckpt["optimizer"]["param_groups"] for p in g["params"]]
    assert len(order) == len(params)
    return sum(1 for i, n in zip(order, params) if n.startswith("backbone.body.") and i in state and state[i])


def test_dandelion_freezes_then_fine_tunes_in_one_run(tk_cli, image_root, tmp_path):
    frozen = _run(tk_cli, "dandelion", tmp_path / "frozen", f"data.root={image_root}", "train.epochs=1",
                  "model.unfreeze_at_epoch=0")
    assert "Run finished" in frozen.output
    ckpt = load_checkpoint(tmp_path / "frozen" / "last.pt")
    assert _body_params_with_optimizer_state(ckpt) == 0  # freeze = true: only the head trained
    _run(tk_cli, "dandelion", tmp_path / "thawed", f"data.root={image_root}", "train.epochs=2",
         "model.unfreeze_at_epoch=1")
    ckpt = load_checkpoint(tmp_path / "thawed" / "last.pt")
    assert _body_params_with_optimizer_state(ckpt) > 0  # unfrozen at epoch 1 by the engine's on_epoch_start
    assert ckpt["model_info"]["backbone"] == "test_resnet" and ckpt["status"] == "finished"


def test_distill_recipe_teaches_a_student_from_a_teacher_run(tk_cli, image_root, tmp_path):
    _run(tk_cli, "dishes", tmp_path / "teacher", f"data.root={image_root}", "train.epochs=1", "train.accumulate=1")
    teacher = tmp_path / "teacher" / "best.pt"
    assert teacher.is_file()
    _run(tk_cli, "distill", tmp_path / "student", f"data.root={image_root}", "train.epochs=1",
         f'loss.teacher="{teacher}"', 'model.backbone="test_efficientnet"')
    resolved = (tmp_path / "student" / "recipe.toml").read_text()
    assert 'name = "distill"' in resolved and str(teacher) in resolved
    history = [json.loads(line) for line in (tmp_path / "student" / "history.jsonl").read_text().splitlines()]
    assert len(history) == 1 and torch.isfinite(torch.tensor(history[0]["train_loss"]))

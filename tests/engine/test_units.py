"""The engine's small parts, each on its own: sharding, step counts, RNG snapshots, metrics,
early stopping, run folders, device and precision choices."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from toolkit.engine.checkpoint import load_checkpoint, save_checkpoint
from toolkit.engine.components import steps_per_epoch
from toolkit.engine.device import pick_device, pick_precision
from toolkit.engine.distributed import DistEnv, shard
from toolkit.engine.early_stopping import EarlyStopping, improves, metric_mode
from toolkit.engine.metrics import classification_metrics
from toolkit.engine.rng import capture_rng, restore_rng, seed_everything
from toolkit.engine.run import latest_run_dir, new_run_dir
from toolkit.errors import TkError


def test_shard_gives_every_rank_the_same_number_of_indices():
    order = list(range(10))
    parts = [shard(order, r, 3) for r in range(3)]
    assert [len(p) for p in parts] == [4, 4, 4]
    assert sorted(set(i for p in parts for i in p)) == order  # everything, padding repeats the start
    assert parts[0] == [0, 3, 6, 9] and parts[1] == [1, 4, 7, 0]
    assert shard(order, 0, 1) == order


def test_steps_per_epoch_counts_optimiser_steps_of_one_process():
    assert steps_per_epoch(100, 32, 1, 1) == 4
    assert steps_per_epoch(100, 32, 2, 1) == 2
    assert steps_per_epoch(100, 8, 1, 3) == 5  # 13 batches -> 5 steps, the last one shorter


def test_dist_env_reads_the_launcher_variables(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("LOCAL_RANK", "0")
    env = DistEnv.from_environ()
    assert (env.rank, env.world_size, env.local_rank, env.is_main, env.distributed) == (2, 4, 0, False, True)
    monkeypatch.setenv("RANK", "7")
    with pytest.raises(TkError, match="outside WORLD_SIZE"):
        DistEnv.from_environ()


def test_rng_snapshot_survives_a_safe_checkpoint_round_trip(tmp_path):
    seed_everything(3)
    snapshot = capture_rng()
    save_checkpoint(tmp_path / "c.pt", {"rng": snapshot})
    expected = (torch.rand(3), random.random(), np.random.rand())
    seed_everything(99)
    restore_rng(load_checkpoint(tmp_path / "c.pt")["rng"])
    again = (torch.rand(3), random.random(), np.random.rand())
    assert torch.equal(expected[0], again[0]) and expected[1:] == again[1:]


def test_classification_metrics_cover_every_class():
    m = classification_metrics([0, 0, 1, 1], [0, 1, 1, 1], ["a", "b", "c"])
    assert m["accuracy"] == 0.75
    assert m["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [0, 0, 0]]
    assert m["per_class"]["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 2)  # only classes present in the labels


def test_early_stopping_counts_patience_with_min_delta():
    stop = EarlyStopping("val_loss", "min", patience=2, min_delta=0.1)
    weights = {"w": torch.ones(1)}
    assert not stop.update(1, {"val_loss": 1.0}, lambda: weights)
    assert not stop.update(2, {"val_loss": 0.95}, lambda: weights)  # better, but not by min_delta
    assert stop.update(3, {"val_loss": 0.99}, lambda: weights)
    assert stop.best_epoch == 1 and stop.stopped
    assert metric_mode("val_loss") == "min" and metric_mode("val_macro_f1") == "max"
    assert improves(0.9, None, "max") and not improves(float("nan"), 1.0, "min")


def test_run_folders_are_numbered(tmp_path):
    base = tmp_path / "runs" / "r"
    assert latest_run_dir(base) is None
    assert new_run_dir(base).name == "1" and new_run_dir(base).name == "2"
    (base / "notes").mkdir()
    assert latest_run_dir(base).name == "2" and new_run_dir(base).name == "3"


def test_device_and_precision_choices_on_this_machine():
    device = pick_device("auto")
    assert device.type in ("cuda", "mps", "cpu")
    cpu = pick_device("cpu")
    assert pick_precision("auto", cpu).dtype is None
    assert pick_precision("bf16", cpu).dtype is torch.bfloat16
    with pytest.raises(TkError, match="use train.amp = 'bf16' or 'off'"):
        pick_precision("fp16", cpu)
    if not torch.cuda.is_available():
        with pytest.raises(TkError, match="no CUDA GPU is available"):
            pick_device("cuda")

"""The engine's small parts, each on its own: sharding, step counts, RNG snapshots, metrics,
early stopping, run folders, device and precision choices."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from toolkit.core.checkpoint import load_checkpoint, save_checkpoint
from toolkit.core.errors import TkError
from toolkit.engine.callbacks.early_stopping import EarlyStopping, improves, metric_mode
from toolkit.engine.components import steps_per_epoch
from toolkit.engine.device import pick_device, pick_precision
from toolkit.engine.distributed import DistEnv, shard
from toolkit.engine.metrics import classification_metrics
from toolkit.engine.rng import capture_rng, restore_rng, seed_everything
from toolkit.engine.run import latest_run_dir, new_run_dir


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


def test_wilson_interval_matches_the_published_values():
    """Wilson 95% intervals (Newcombe 1998, table I; also statsmodels' proportion_confint(method='wilson'))."""
    from toolkit.engine.metrics import wilson

    for (k, n), (lo, hi) in {(81, 263): (0.2553, 0.3662), (15, 148): (0.0624, 0.1605), (0, 20): (0.0, 0.1611),
                             (1, 29): (0.0061, 0.1718), (8, 10): (0.4902, 0.9433), (10, 10): (0.7225, 1.0)}.items():
        got = wilson(k, n)
        assert abs(got[0] - lo) < 1e-4 and abs(got[1] - hi) < 1e-4, (k, n, got)


def test_every_final_figure_carries_an_interval_that_contains_it():
    import random

    from toolkit.engine.metrics import classification_metrics

    rng = random.Random(0)
    labels = [rng.randrange(4) for _ in range(200)]
    preds = [y if rng.random() < 0.7 else rng.randrange(4) for y in labels]
    m = classification_metrics(labels, preds, ["a", "b", "c", "d"], intervals=True)
    assert m["accuracy_ci"][0] <= m["accuracy"] <= m["accuracy_ci"][1]
    assert m["macro_f1_ci"][0] <= m["macro_f1"] <= m["macro_f1_ci"][1]
    for row in m["per_class"].values():
        for key in ("precision", "recall", "f1"):
            lo, hi = row[f"{key}_ci"]
            assert 0 <= lo <= row[key] <= hi <= 1, (key, row)
    assert m["intervals"]["level"] == 0.95
    again = classification_metrics(labels, preds, ["a", "b", "c", "d"], intervals=True)
    assert again == m  # the bootstrap is seeded: the same predictions give the same intervals


def test_mcnemar_exact_p_values():
    from toolkit.engine.metrics import mcnemar

    # 10 discordant pairs, 9 to 1: two-sided binomial p = 2 * P(X <= 1 | 10, 1/2) = 22/1024
    r = mcnemar([True] * 9 + [False] + [True] * 5, [False] * 9 + [True] + [True] * 5)
    assert (r["a_only"], r["b_only"], r["n"]) == (9, 1, 15) and abs(r["p_value"] - 22 / 1024) < 1e-12
    assert mcnemar([True, False], [True, False])["p_value"] == 1.0

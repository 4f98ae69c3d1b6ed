"""Behaviour of the loop: early stopping, non-finite losses, bad images, tiny classes, events."""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from toolkit import hookimpl
from toolkit.core.checkpoint import load_checkpoint
from toolkit.engine.train import run_recipe
from toolkit.recipe.load import load_recipe
from toolkit.testing import make_image_folder, run_cli

from .conftest import recipe_file


class KeepLastCheckpoints:
    """Copies the weights of every last.pt as it is saved, and records the events seen."""

    def __init__(self):
        self.weights: dict[int, dict] = {}
        self.events: list[str] = []

    @hookimpl
    def tk_run_start(self, run):
        self.events.append(f"start:{run.epoch}")

    @hookimpl
    def tk_checkpoint_saved(self, run, path, kind):
        if kind == "last":
            ckpt = load_checkpoint(path)
            self.weights.setdefault(ckpt["epoch"], ckpt["model"])  # the epoch's own save, not the final one

    @hookimpl
    def tk_epoch_end(self, run, epoch, metrics):
        self.events.append(f"epoch:{epoch}")

    @hookimpl
    def tk_run_end(self, run, status, metrics):
        self.events.append(f"end:{status}")


def test_early_stopping_restores_the_best_weights(tmp_path, tiny_recipe):
    # min_delta so large that no epoch after the first counts as better: stop after 1 + patience.
    path = tiny_recipe(epochs=10, extra="patience = 2\nmin_delta = 1000.0\nmonitor = \"val_loss\"\n")
    spy = KeepLastCheckpoints()
    result = run_recipe(load_recipe(path), out=tmp_path / "run", quiet=True, extra_plugins=[("spy", spy)])

    assert result.status == "stopped"
    last = load_checkpoint(tmp_path / "run" / "last.pt")
    assert last["status"] == "stopped" and last["epoch"] == 3
    assert len(last["history"]) == 3
    assert last["callbacks"]["early_stopping"]["best_epoch"] == 1
    trained_on = spy.weights[3]
    assert not all(torch.equal(spy.weights[1][k], trained_on[k]) for k in trained_on)  # training moved them
    assert all(torch.equal(spy.weights[1][k], last["model"][k]) for k in last["model"])  # and they came back
    assert spy.events == ["start:0", "epoch:0", "epoch:1", "epoch:2", "end:stopped"]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["status"] == "stopped" and "early stopping" in metrics["stop_reason"]


NAN_LOSS = '''
from toolkit import hookimpl

def nan_at(epoch_batch: list = [2, 3]):
    """Cross-entropy that turns NaN at one (epoch, batch), to test the engine's guard."""
    import torch.nn.functional as F

    calls = {"n": 0, "epoch": 0}

    class Loss:
        def on_epoch_start(self, epoch):
            calls["epoch"], calls["n"] = epoch + 1, 0

        def __call__(self, logits, targets):
            calls["n"] += 1
            loss = F.cross_entropy(logits, targets)
            if logits.requires_grad and [calls["epoch"], calls["n"]] == list(epoch_batch):
                return loss * float("nan")
            return loss

    return Loss()

@hookimpl
def tk_register_losses(register):
    register("nan_at", nan_at)
'''


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, tiny_folder):
    (tmp_path / "nanloss.py").write_text(NAN_LOSS)
    path = recipe_file(tmp_path / "nan.toml", tiny_folder, epochs=3,
                       extra='[loss]\nname = "nan_at"\n[plugins]\nmodules = ["nanloss.py"]\n')
    result = run_cli("run", path, "--out", tmp_path / "run", "--quiet")
    assert result.exit_code == 1
    line = result.output.strip().splitlines()[-1]
    assert line.startswith("Error: Training stopped: the loss became nan at epoch 2, batch 3")
    assert "last.pt (epoch 1)" in line and "lower the learning rate" in line and "start a new run" in line
    last = load_checkpoint(tmp_path / "run" / "last.pt")
    assert (last["status"], last["epoch"]) == ("failed", 1)
    assert all(torch.isfinite(v).all() for v in last["model"].values() if v.is_floating_point())


def test_bad_images_are_skipped_and_listed(tmp_path):
    root = make_image_folder(tmp_path / "images", {"a": 8, "b": 8}, size=32)
    (root / "a" / "empty.png").write_bytes(b"")
    (root / "b" / "text.jpg").write_text("not a jpeg at all")
    (root / "b" / "notes.txt").write_text("a note, not an image")
    path = recipe_file(tmp_path / "bad.toml", root, epochs=1)

    result = run_cli("run", path, "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    assert "2 bad image(s) left out" in result.output
    assert "empty.png: empty file (0 bytes)" in result.output and "text.jpg" in result.output
    listed = (tmp_path / "run" / "bad_images.txt").read_text().splitlines()
    assert sorted(Path(line.split("\t")[0]).name for line in listed) == ["empty.png", "text.jpg"]
    split = json.loads((tmp_path / "run" / "split.json").read_text())
    used = {Path(p).name for part in ("train", "val") for p, _ in split[part]}
    assert len(used) == 16 and "empty.png" not in used and "text.jpg" not in used

    failing = run_cli("run", path, "--out", tmp_path / "run2", "--set", "data.on_bad_image=\"fail\"")
    assert failing.exit_code == 1
    assert "2 unusable image(s)" in failing.output and "empty.png" in failing.output
    assert "data.on_bad_image = 'skip'" in failing.output
    assert not (tmp_path / "run2" / "last.pt").exists()


def test_split_keeps_tiny_classes_measurable(tmp_path):
    root = make_image_folder(tmp_path / "images", {"big": 20, "four": 4, "one": 1}, size=32)
    path = recipe_file(tmp_path / "tiny.toml", root, epochs=1)
    result = run_cli("run", path, "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    split = json.loads((tmp_path / "run" / "split.json").read_text())
    names = split["class_names"]
    val_labels = [names[y] for _, y in split["val"]]
    train_labels = [names[y] for _, y in split["train"]]
    assert "four" in val_labels and "four" in train_labels
    assert "one" in train_labels and "one" not in val_labels
    assert any("'one' has 1 image" in note for note in split["notes"])
    assert "'one' has 1 image" in result.output
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["per_class"]["four"]["support"] >= 1 and metrics["per_class"]["one"]["support"] == 0


def test_ema_and_accumulation_and_clipping_run(tmp_path, tiny_recipe):
    path = tiny_recipe(epochs=2, extra="ema = true\nema_decay = 0.5\naccumulate = 2\ngrad_clip = 1.0\n")
    result = run_recipe(load_recipe(path), out=tmp_path / "run", quiet=True)
    last = load_checkpoint(tmp_path / "run" / "last.pt")
    best = load_checkpoint(tmp_path / "run" / "best.pt")
    assert result.status == "finished"
    assert all("ema_val_accuracy" in h for h in last["history"])
    assert best["metrics"]["weights"] in ("model", "ema")
    # 22 training images, batch 8 -> 3 batches -> 2 optimiser steps per epoch with accumulate = 2
    assert last["global_step"] == 4
    assert last["callbacks"]["ema"]["updates"] == 4
    assert math.isfinite(result.metrics["loss"])


def test_presplit_folders_are_used_as_they_are_and_test_is_reported(tmp_path):
    root = tmp_path / "presplit"
    for part, n in (("train", 8), ("val", 3), ("test", 3)):
        make_image_folder(root / part, {"a": n, "b": n}, size=32, seed=len(part))
    path = recipe_file(tmp_path / "pre.toml", root, epochs=1)
    result = run_cli("run", path, "--out", tmp_path / "run", "--quiet")
    assert result.exit_code == 0, result.output
    split = json.loads((tmp_path / "run" / "split.json").read_text())
    for part, n in (("train", 16), ("val", 6), ("test", 6)):
        assert len(split[part]) == n and all(f"/{part}/" in p for p, _ in split[part])
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["split"] == "val" and metrics["test"]["split"] == "test"
    assert sum(m["support"] for m in metrics["test"]["per_class"].values()) == 6
    assert "Test: accuracy" in result.output

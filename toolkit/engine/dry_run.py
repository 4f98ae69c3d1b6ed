"""`tk run --dry-run`: build everything, push one batch through, and say what a run would cost.

It does what a run does up to the first optimiser step — plugins, recipe, data (scan, split,
decode: the decode cache is the only thing written), model, loss, sampler, augmentations,
optimiser, schedule — then one forward and backward pass on a real training batch. It reports
the class counts, the input shape, the loss and gradient norm of that batch (a NaN or a zero
gradient shows up here, not an hour into a run), peak memory, and an estimate of the epoch and
run time from timed steps. No run folder is created and the weights are not updated.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any

__all__ = ["dry_run"]


def _peak_memory(device: Any) -> tuple[int, str]:
    """(bytes, what was measured): max allocated on CUDA, allocated on MPS, peak RSS on the CPU."""
    import torch

    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device)), "max allocated on the GPU"
    if device.type == "mps":
        return int(torch.mps.current_allocated_memory()), "allocated on MPS"
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024), "peak resident memory of the process"


def _sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def dry_run(recipe: Any, *, progress: Any = None) -> dict[str, Any]:
    """Build the run and time one batch; return the facts (printed by `tk run --dry-run`)."""
    from ..plugins import trusting

    with trusting(modules=recipe["plugins"]["modules"], base_dir=recipe.base_dir):
        return _dry_run(recipe, progress)


def _dry_run(recipe: Any, progress: Any) -> dict[str, Any]:
    import torch

    from .components import build_components
    from .batches import Batches
    from .calibrate import unknown_images
    from .data_pipeline import prepare_data
    from .device import describe_device, pick_device, pick_precision, prepare_model, setup_threads
    from .loop import StepParts, batch_count
    from .rng import seed_everything
    from .train import load_run_plugins

    plugins = load_run_plugins(recipe)
    train = recipe["train"]
    device = pick_device(train["device"])
    precision = pick_precision(train["amp"], device)
    threads, threads_why, _ = setup_threads(device, train["threads"])
    data = prepare_data(recipe, plugins, progress=progress)
    unknown_images(recipe)  # a wrong data.unknown_root is refused now, not after the last epoch
    seed_everything(int(train["seed"]))
    comps = build_components(recipe, plugins, class_names=data.class_names, train_labels=data.train.labels,
                             class_counts=data.train_counts(), device=device)
    model, forward = prepare_model(comps.model, device, channels_last=train["channels_last"], compile=train["compile"])
    parts = StepParts(model, forward, comps.loss_fn, comps.optimizer, None, None, None, precision, device, comps.ops)
    batches = Batches(data.train, device, channels_last=train["channels_last"])
    order = list(comps.sampler.indices(0))
    ids = order[:train["batch_size"]]
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    def step() -> tuple[float, float, tuple[int, ...]]:
        x, targets = batches.batch(ids)
        for op in comps.ops:
            x, targets = op(x, targets)
        model.zero_grad(set_to_none=True)
        with precision.autocast(device):
            loss = parts.compute_loss(forward(x), targets, x)
        loss.backward()
        grads = [p.grad.detach().float().norm() for p in model.parameters() if p.grad is not None]
        norm = float(torch.linalg.vector_norm(torch.stack(grads))) if grads else 0.0
        return float(loss.detach()), norm, tuple(x.shape)

    forward.train()
    loss, grad_norm, shape = step()  # also warms up kernels and allocators
    _sync(device)
    timings = []
    for _ in range(2):
        started = time.perf_counter()
        step()
        _sync(device)
        timings.append(time.perf_counter() - started)
    step_time = min(timings)
    model.zero_grad(set_to_none=True)
    forward.eval()
    with torch.inference_mode():
        x, _ = batches.batch(ids)
        started = time.perf_counter()
        with precision.autocast(device):
            forward(x)
        _sync(device)
        eval_time = time.perf_counter() - started
    train_batches = batch_count(len(order), train["batch_size"])
    val_batches = math.ceil(len(data.val) / (train["batch_size"] * 2)) * 2  # eval uses batches twice as large
    epoch_time = train_batches * step_time + val_batches * eval_time
    peak, peak_what = _peak_memory(device)
    return {
        "class_names": data.class_names, "train_counts": data.train_counts(),
        "val_counts": [data.val.labels.count(i) for i in range(data.num_classes)],
        "test_size": len(data.test), "bad_images": data.bad_images, "notes": data.notes, "grouping": data.grouping,
        "input_shape": list(shape), "loss": loss, "grad_norm": grad_norm, "peak_memory": peak,
        "peak_memory_what": peak_what, "step_time": step_time, "train_batches": train_batches,
        "epoch_time": epoch_time, "run_time": epoch_time * int(train["epochs"]), "epochs": int(train["epochs"]),
        "device": describe_device(device), "threads": threads, "threads_why": threads_why, "precision": precision.name, "params": sum(p.numel() for p in model.parameters()),
        "model": recipe["model"]["backbone"], "steps_per_epoch": comps.steps_per_epoch,
    }

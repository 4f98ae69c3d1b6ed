"""`tk run --dry-run`: build everything, push one batch through, and say what a run would cost.

It does what a run does up to the first optimiser step — plugins, recipe, data (scan, split,
decode: the decode cache is the only thing written), model, loss, sampler, augmentations,
optimiser, schedule — then one forward and backward pass on a real training batch. It reports
the class counts, the input shape, the loss and gradient norm of that batch (a NaN or a zero
gradient shows up here, not an hour into a run), peak memory, and an estimate of the epoch and
run time from timed steps. No run folder is created and the weights are not updated.

**The estimate.** The first steps of a process are slow (kernels chosen, memory mapped and
faulted in), so `WARMUP_STEPS` steps run untimed; then steps are timed until there are at least
`MIN_STEPS` and `MIN_SECONDS` of them (at most `MAX_STEPS`; a model slower than `MAX_SECONDS`
stops after `FEW_STEPS`). The epoch estimate is the median step time (evaluation likewise,
after one untimed call) times the batches; its range is the distribution-free 95% interval on
those medians (`toolkit.engine.metrics.median_interval`), or the fastest and slowest timed step
when too few were timed for one — which the printed line then says.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any

from ..core.errors import TkError

__all__ = ["dry_run", "WARMUP_STEPS", "MIN_STEPS", "MIN_SECONDS"]

WARMUP_STEPS = 2
"""Untimed steps before the timed ones (the first of them gives the printed loss and gradient norm)."""
MIN_STEPS, MIN_SECONDS = 6, 2.0
"""Time at least this many steps (six are the fewest that give a 95% interval on their median), and
steps for at least this long."""
MAX_STEPS = 100
"""Enough: stop timing here however short the steps are."""
MAX_SECONDS, FEW_STEPS = 30.0, 3
"""A slow model: past this many seconds of timed steps, stop once this many are timed."""
EVAL_CALLS, EVAL_SECONDS = 3, 1.0
"""Timed evaluation calls (after one untimed): at least this many, or this long."""


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


def _proc_kb(path: str, field: str) -> int | None:
    """A ``kB`` field of a /proc file (``MemAvailable`` of /proc/meminfo, ``VmHWM`` of
    /proc/self/status), in bytes; None where it cannot be read (not Linux)."""
    try:
        with open(path, encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _available_memory() -> int | None:
    """Bytes of memory the system can still give without swapping (Linux's MemAvailable), or None."""
    return _proc_kb("/proc/meminfo", "MemAvailable")


def _check_step_memory(one: Any, model: Any, batch_size: int, recipe: Any) -> None:
    """Refuse, in one line, a training step that would not fit in this machine's free memory: one
    step at batch 2 (the least batch norm trains on) is measured — the growth of the process's
    peak resident memory; the RNG and the model's state are put back after it — and scaled to
    ``batch_size``, as activations grow with the batch. At data.image_size 4096 a dry run had used
    up a 23 GB machine and been killed."""
    import torch

    free = _available_memory()
    if free is None or batch_size <= 2 or not _reset_peak():
        return
    before = _proc_kb("/proc/self/status", "VmRSS") or 0
    saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
    with torch.random.fork_rng():
        one()
    model.load_state_dict(saved)
    model.zero_grad(set_to_none=True)
    used = max((_proc_kb("/proc/self/status", "VmHWM") or 0) - before, 0)
    need = used * batch_size // 2
    if used and need > free:
        size = recipe["data"]["image_size"]
        raise TkError(f"One training step at train.batch_size {batch_size} and data.image_size {size} would need "
                      f"about {need / 1e9:.1f} GB of memory (a step at batch 2 took {used / 1e9:.2f} GB here), more "
                      f"than the {free / 1e9:.1f} GB this machine has free: lower data.image_size or "
                      f"train.batch_size.")


def _reset_peak() -> bool:
    """Reset this process's peak resident memory (Linux: ``5`` to /proc/self/clear_refs resets
    VmHWM), so that what one step needs is measured whatever the process held before."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
    except OSError:
        return False
    return bool(_proc_kb("/proc/self/status", "VmHWM"))


def _sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def dry_run(recipe: Any, *, progress: Any = None) -> dict[str, Any]:
    """Build the run and time one batch; return the facts (printed by `tk run --dry-run`)."""
    from ..plugin.manager import trusting

    with trusting(modules=recipe["plugins"]["modules"], base_dir=recipe.base_for("plugins", "modules")):
        return _dry_run(recipe, progress)


def _dry_run(recipe: Any, progress: Any) -> dict[str, Any]:
    from .batches import Batches
    from .calibrate import unknown_images
    from .components import build_components
    from .data_pipeline import prepare_data
    from .device import describe_device, pick_device, pick_precision, prepare_model, setup_threads
    from .loop import StepParts, batch_count
    from .rng import seed_everything
    from .train import load_run_plugins

    plugins = load_run_plugins(recipe)  # a mistake in the recipe or a missing data folder: before torch loads
    import torch

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

    def step(ids: list[int] = ids) -> tuple[float, float, tuple[int, ...]]:
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
    if device.type == "cpu":  # a step too large for this machine's memory is refused, not killed by the kernel
        _check_step_memory(lambda: step(ids[:2]), model, len(ids), recipe)
    loss, grad_norm, shape = step()  # also warms up kernels and allocators
    _sync(device)
    for _ in range(WARMUP_STEPS - 1):
        step()
        _sync(device)
    timings = _time_calls(step, device, MIN_STEPS, MIN_SECONDS, MAX_STEPS)
    model.zero_grad(set_to_none=True)
    eval_timings = _time_eval(forward, batches.batch(ids)[0], precision, device)
    train_batches = batch_count(len(order), train["batch_size"])
    val_batches = math.ceil(len(data.val) / (train["batch_size"] * 2)) * 2  # eval uses batches twice as large
    step_time, step_low, step_high, step_level = _median_range(timings)
    eval_time, eval_low, eval_high, eval_level = _median_range(eval_timings)
    epoch_time = train_batches * step_time + val_batches * eval_time
    epoch_range = [train_batches * step_low + val_batches * eval_low, train_batches * step_high + val_batches * eval_high]
    peak, peak_what = _peak_memory(device)
    return {
        "class_names": data.class_names, "train_counts": data.train_counts(),
        "val_counts": [data.val.labels.count(i) for i in range(data.num_classes)],
        "test_size": len(data.test), "bad_images": data.bad_images, "notes": data.notes, "grouping": data.grouping,
        "input_shape": list(shape), "loss": loss, "grad_norm": grad_norm, "peak_memory": peak,
        "peak_memory_what": peak_what, "step_time": step_time, "step_time_range": [step_low, step_high],
        "timed_steps": len(timings), "warmup_steps": WARMUP_STEPS, "confidence": min(step_level, eval_level),
        "train_batches": train_batches, "epoch_time": epoch_time, "epoch_time_range": epoch_range,
        "run_time": epoch_time * int(train["epochs"]), "run_time_range": [v * int(train["epochs"]) for v in epoch_range],
        "epochs": int(train["epochs"]),
        "device": describe_device(device), "threads": threads, "threads_why": threads_why, "precision": precision.name, "params": sum(p.numel() for p in model.parameters()),
        "model": recipe["model"]["backbone"], "steps_per_epoch": comps.steps_per_epoch,
    }


def _time_eval(forward: Any, x: Any, precision: Any, device: Any) -> list[float]:
    """Seconds of each timed forward pass of ``x`` in evaluation mode, as validation runs it."""
    import torch

    forward.eval()
    with torch.inference_mode():

        def evaluate() -> None:
            with precision.autocast(device):
                forward(x)

        evaluate()  # untimed: the first call in evaluation mode picks its kernels
        _sync(device)
        return _time_calls(evaluate, device, EVAL_CALLS, EVAL_SECONDS, MAX_STEPS)


def _time_calls(call: Any, device: Any, min_calls: int, min_seconds: float, max_calls: int) -> list[float]:
    """Seconds of each timed call: at least ``min_calls`` and ``min_seconds`` of them, at most
    ``max_calls``; past `MAX_SECONDS`, `FEW_STEPS` are enough (a slow model is not timed for minutes)."""
    timings: list[float] = []
    while True:
        started = time.perf_counter()
        call()
        _sync(device)
        timings.append(time.perf_counter() - started)
        spent = sum(timings)
        if len(timings) >= max_calls or (len(timings) >= min_calls and spent >= min_seconds):
            return timings
        if spent >= MAX_SECONDS and len(timings) >= FEW_STEPS:
            return timings


def _median_range(timings: list[float]) -> tuple[float, float, float, float]:
    """``(median, low, high, coverage)``: the median with its distribution-free 95% interval
    (the full range, and its lower coverage, when there are too few timings for 95%)."""
    import statistics

    from .metrics import median_interval

    low, high, level = median_interval(timings)
    return statistics.median(timings), low, high, level

"""One training epoch and one evaluation pass: the inner loops, nothing else.

`train_epoch` follows the contracts of `toolkit.plugin.hookspecs`: batch augmentations run on the
device in recipe order and may turn class indices into soft targets; a loss with
``needs_inputs = True`` also receives the (augmented) inputs; a scheduler with
``tk_interval = "step"`` is stepped after every optimiser step (others are the trainer's, per
epoch). Gradients are accumulated over ``train.accumulate`` batches (the last, shorter group
of an epoch still steps, so every epoch ends with a clean optimiser state — what makes
resuming at an epoch boundary exact), unscaled before clipping, and skipped by the fp16
scaler when they overflow. A non-finite loss raises `NonFiniteLoss` at once, before the
bad gradient reaches the weights. Gradients are cleared just before the backward pass that
starts an accumulation group, not after the step, so callbacks see them after the step too
(`StepHooks`: the callbacks' batch moments, each None when no callback implements it).
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ..core.errors import TkError

__all__ = ["NonFiniteLoss", "StepParts", "StepHooks", "EvalResult", "batch_chunks", "batch_count", "train_epoch",
           "evaluate"]


class NonFiniteLoss(TkError):
    """The loss became NaN or infinite."""

    def __init__(self, epoch: int, batch: int, value: float):
        self.epoch, self.batch, self.value = epoch, batch, value
        super().__init__(f"the loss became {value} at epoch {epoch}, batch {batch}")


@dataclass
class StepParts:
    """What an optimisation step needs; built once by the trainer."""

    model: Any  # the module whose weights are trained and saved
    forward_model: Any  # what is called: model, its compiled form, or its DDP wrapper
    loss_fn: Any
    optimizer: Any
    scheduler: Any
    scaler: Any
    ema: Any
    precision: Any
    device: Any
    ops: list[Any] = field(default_factory=list)
    accumulate: int = 1
    grad_clip: float = 0.0
    global_step: int = 0

    @property
    def needs_inputs(self) -> bool:
        return bool(getattr(self.loss_fn, "needs_inputs", False))

    def compute_loss(self, logits: Any, targets: Any, inputs: Any) -> Any:
        if self.needs_inputs:
            return self.loss_fn(logits, targets, inputs)
        return self.loss_fn(logits, targets)


@dataclass
class StepHooks:
    """The callbacks' moments inside a training step; a hook left None costs nothing.

    ``batch_start(index, ids, x, targets)`` before the forward pass (after augmentation);
    ``after_backward()`` after each backward; ``before_optimizer_step()`` before each step
    (gradients unscaled, not clipped); ``batch_end(index, ids, x, targets, logits, loss, stepped)``
    after each batch (gradients still present).
    """

    batch_start: Callable[..., None] | None = None
    after_backward: Callable[[], None] | None = None
    before_optimizer_step: Callable[[], None] | None = None
    batch_end: Callable[..., None] | None = None


_NO_HOOKS = StepHooks()


def _hard(targets: Any) -> Any:
    """Class indices from indices or soft targets (mixup)."""
    return targets.argmax(dim=1) if targets.ndim == 2 else targets


def _no_sync(forward_model: Any, skip: bool):
    """DDP's gradient all-reduce only on the micro-batch that steps."""
    if skip and hasattr(forward_model, "no_sync"):
        return forward_model.no_sync()
    return contextlib.nullcontext()


def batch_chunks(order: list[int], batch_size: int) -> list[list[int]]:
    """``order`` cut into batches; a lone last image joins the batch before it (batch norm
    cannot train on one image), so no batch holds one image unless the whole epoch does."""
    chunks = [list(order[i:i + batch_size]) for i in range(0, len(order), batch_size)]
    if len(chunks) > 1 and len(chunks[-1]) == 1:
        lone = chunks.pop()
        chunks[-1] = chunks[-1] + lone
    return chunks


def batch_count(n: int, batch_size: int) -> int:
    """``len(batch_chunks(range(n), batch_size))`` without building the list."""
    chunks = -(-n // batch_size)
    last = n - (chunks - 1) * batch_size
    return chunks - 1 if chunks > 1 and last == 1 else chunks


def train_epoch(parts: StepParts, batches: Any, order: list[int], batch_size: int, epoch: int,
                on_batch: Callable[[int, int, float, float], None] | None = None,
                hooks: StepHooks | None = None) -> dict[str, float]:
    """Train on ``order`` (this process's sample indices); return loss, accuracy, images, seconds.

    ``epoch`` is 1-based, for messages. ``on_batch(done, total, mean loss, accuracy)`` drives the
    progress bar; ``hooks`` are the callbacks' batch moments (`StepHooks`).
    """
    import torch

    hooks = hooks or _NO_HOOKS
    parts.forward_model.train()
    step_scheduler = parts.scheduler is not None and getattr(parts.scheduler, "tk_interval", "epoch") == "step"
    chunks = batch_chunks(order, batch_size)
    loss_sum, correct, seen, micro = 0.0, 0, 0, 0
    started = time.perf_counter()
    stream = batches.iterate(chunks) if hasattr(batches, "iterate") else (batches.batch(ids) for ids in chunks)
    for number, (ids, (x, targets)) in enumerate(zip(chunks, stream), start=1):
        for op in parts.ops:
            x, targets = op(x, targets)
        if hooks.batch_start is not None:
            hooks.batch_start(number - 1, ids, x, targets)
        if micro == 0:  # a new accumulation group: the last step's gradients go now, not after it
            parts.optimizer.zero_grad(set_to_none=True)
        micro += 1
        steps_now = micro == parts.accumulate or number == len(chunks)
        with _no_sync(parts.forward_model, not steps_now):
            with parts.precision.autocast(parts.device):
                logits = parts.forward_model(x)
                loss = parts.compute_loss(logits, targets, x)
            value = float(loss.detach())
            if not math.isfinite(value):
                raise NonFiniteLoss(epoch, number, value)
            scaled = loss / parts.accumulate
            (parts.scaler.scale(scaled) if parts.scaler is not None else scaled).backward()
        if hooks.after_backward is not None:
            hooks.after_backward()
        if steps_now:
            _optimizer_step(parts, hooks.before_optimizer_step)
            if step_scheduler:
                parts.scheduler.step()
            micro = 0
        if hooks.batch_end is not None:
            hooks.batch_end(number - 1, ids, x, targets, logits.detach(), loss.detach(), steps_now)
        n = len(ids)
        loss_sum += value * n
        correct += int((logits.detach().argmax(dim=1) == _hard(targets)).sum())
        seen += n
        if on_batch is not None:
            on_batch(number, len(chunks), loss_sum / seen, correct / seen)
    if parts.device.type == "cuda":
        torch.cuda.synchronize(parts.device)
    return {"loss_sum": loss_sum, "correct": float(correct), "seen": float(seen),
            "seconds": time.perf_counter() - started}


def _optimizer_step(parts: StepParts, before_step: Callable[[], None] | None = None) -> None:
    import torch

    if parts.scaler is not None and (parts.grad_clip > 0 or before_step is not None):
        parts.scaler.unscale_(parts.optimizer)
    if before_step is not None:
        before_step()
    if parts.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(parts.model.parameters(), parts.grad_clip)
    if parts.scaler is not None:
        parts.scaler.step(parts.optimizer)
        parts.scaler.update()
    else:
        parts.optimizer.step()
    if parts.ema is not None:
        parts.ema.update(parts.model)
    parts.global_step += 1


@dataclass
class EvalResult:
    """Per-sample results of one evaluation (this process's share until gathered)."""

    loss_sum: float = 0.0
    seen: int = 0
    indices: list[int] = field(default_factory=list)
    preds: list[int] = field(default_factory=list)
    confidences: list[float] = field(default_factory=list)  # probability of the predicted class
    top5: list[list[int]] = field(default_factory=list)  # the five likeliest classes, likeliest first
    logits: list[list[float]] = field(default_factory=list)  # raw outputs, with keep_logits=True

    @property
    def loss(self) -> float:
        return self.loss_sum / self.seen if self.seen else float("nan")


def evaluate(model: Any, batches: Any, batch_size: int, loss_fn: Any, precision: Any, device: Any,
             ids: list[int] | None = None, *, keep_logits: bool = False,
             on_batch: Callable[[int, list[int], Any, Any, Any], None] | None = None) -> EvalResult:
    """Predict every sample of ``batches`` (or ``ids``) with ``model`` in eval mode.

    ``keep_logits`` also keeps each sample's raw outputs (the final evaluation: predictions.csv,
    calibration); ``on_batch(index, ids, x, y, logits)`` sees each batch (callbacks'
    ``on_validation_batch_end``).
    The loss is the training loss (class weights included), so val_loss and train_loss are
    comparable; a loss that needs soft targets or inputs gets them as in training. With
    ``loss_fn`` None (images of no class: ``data.unknown_root``) no loss is computed.
    This is the one inference loop of training: validation, the final evaluation and the
    unknown images all go through it.
    """
    import torch

    result = EvalResult()
    was_training = model.training
    model.eval()
    needs_inputs = bool(getattr(loss_fn, "needs_inputs", False))
    try:
        with torch.inference_mode():
            for index, (chunk, x, y) in enumerate(batches.sequential(batch_size, ids)):
                with precision.autocast(device):
                    logits = model(x)
                    loss = None if loss_fn is None else loss_fn(logits, y, x) if needs_inputs else loss_fn(logits, y)
                if on_batch is not None:
                    on_batch(index, list(chunk), x, y, logits)
                probs = torch.softmax(logits.float(), dim=1)
                conf, pred = probs.max(dim=1)
                result.loss_sum += 0.0 if loss is None else float(loss) * len(chunk)
                result.seen += len(chunk)
                result.indices += list(chunk)
                result.preds += pred.tolist()
                result.confidences += conf.tolist()
                result.top5 += probs.topk(min(5, probs.shape[1]), dim=1).indices.tolist()
                if keep_logits:
                    result.logits += logits.float().tolist()
    finally:
        model.train(was_training)
    return result

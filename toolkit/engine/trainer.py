"""The epoch loop, and nothing else: train, validate, call the callbacks — and resume exactly.

Per epoch: parts get ``on_epoch_start(epoch)``; the callbacks get ``on_train_epoch_start``; the
sampler's order for the epoch is sharded across processes; `loop.train_epoch` trains (calling
``on_train_batch_end`` after each optimiser step); the validation split is evaluated; the
callbacks get ``on_validation_end`` (and may add metrics); a per-epoch schedule steps (a
ReduceLROnPlateau with ``train.monitor``); the callbacks get ``on_train_epoch_end``. Everything
else a run does — EMA, the history, early stopping, best.pt, last.pt, the event hooks, the epoch
line — is a callback (`toolkit.engine.callbacks`, in the order documented there).

Exact resume: a checkpoint holds the model, optimiser, schedule, scaler, the step counter,
every RNG stream and every callback's state, captured at the epoch boundary (the optimiser
has stepped on the last batch; nothing random is drawn between the save and the next epoch).
A resumed run restores them after building its parts and replays the same sampler order (a
function of seed and epoch), so on the CPU it ends bit-identical to an uninterrupted run. A
``last.pt`` is written before the first epoch too, so an interruption at any moment leaves
something to resume.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ..core.checkpoint import load_checkpoint, save_checkpoint
from ..core.errors import TkError
from ..plugin.callbacks import Batch, CallbackList, TrainState
from .loop import NonFiniteLoss, StepHooks, batch_count, train_epoch
from .setup import RunParts, callback_states, checkpoint_payload, non_finite_advice

__all__ = ["Trainer", "TrainingFailed"]


class TrainingFailed(TkError):
    """Training could not go on (a non-finite loss); the last good checkpoint is kept."""


class Trainer:
    """Runs one run's epochs with its parts (`setup.RunParts`) and callbacks; `fit()` returns the status."""

    def __init__(self, *, recipe: Any, resolved: dict[str, Any], plugins: Any, data: Any, run: Any, env: Any,
                 device: Any, precision: Any, console: Any, recipe_path: str, start: dict[str, Any] | None = None,
                 adapt_threads: int = 0, loggers: tuple[tuple[str, Any, str], ...] = ()):
        self.recipe, self.resolved, self.plugins, self.data = recipe, resolved, plugins, data
        self.run, self.env, self.device, self.precision, self.console = run, env, device, precision, console
        self.recipe_path = recipe_path
        self.epochs, self.batch_size = int(recipe["train"]["epochs"]), int(recipe["train"]["batch_size"])
        self.p = RunParts(recipe, plugins, data, env, device, precision, console, adapt_threads, loggers)
        self.model, self.comps, self.parts = self.p.model, self.p.comps, self.p.parts
        self.history: list[dict[str, Any]] = []
        self.epoch = 0  # epochs completed
        self.last_saved_epoch = 0  # the epoch last.pt holds, once `mark_last` has read it
        self.callbacks = CallbackList(self.p.callbacks, self.p.callback_origins)
        self.state = TrainState(
            model=self.model, optimizer=self.comps.optimizer, scheduler=self.comps.scheduler, device=device,
            recipe=recipe, run_dir=run.dir, rank=env.rank, world_size=env.world_size, epochs=self.epochs,
            history=self.history, class_names=list(data.class_names), run=run, evaluate=self.p.score,
            train_inputs=self.p.train_inputs, save=self.save, sync=env.broadcast_buffers, emit=self.emit,
            info=console.info, write_history=self.write_history,
            log_epoch=lambda *a: console.summary(console.epoch_line(*a)))
        if start is not None:
            self._load(start)

    # -- what the report reads -------------------------------------------------------------
    def model_info(self) -> dict[str, Any]:
        return self.p.model_info()

    # -- checkpoints ---------------------------------------------------------------------
    def _load(self, ckpt: dict[str, Any]) -> None:
        from .rng import restore_rng

        self.p.load(ckpt)
        self.history[:] = list(ckpt.get("history") or [])
        self.epoch = int(ckpt["epoch"])
        self.state.planned_epochs = int(((ckpt.get("recipe") or {}).get("train") or {}).get("epochs", self.epochs))
        self.callbacks.load_state_dict(callback_states(ckpt))
        self.callbacks.call("on_load_checkpoint", self.state, ckpt)
        restore_rng(ckpt["rng"])

    def save(self, kind: str, metrics: dict[str, Any], model_state: Any = None, status: str = "running") -> Path | None:
        if not self.env.is_main:
            return None
        payload = checkpoint_payload(
            kind, status, metrics, epoch=self.epoch, global_step=self.parts.global_step,
            model_state=model_state if model_state is not None else self.model.state_dict(),
            optimizer=self.comps.optimizer, scheduler=self.comps.scheduler, scaler=self.parts.scaler,
            history=self.history, class_names=self.data.class_names, recipe=self.resolved,
            recipe_path=self.recipe_path, model_info=self.model_info(), callbacks=self.callbacks)
        payload["parts"] = self.plugins.provenance()  # which plugin gave each part: named where one is missing
        self.callbacks.call("on_save_checkpoint", self.state, payload)
        path = save_checkpoint(self.run.dir / f"{kind}.pt", payload)
        self.emit("tk_checkpoint_saved", run=self.run, path=path, kind=kind)
        return path

    def finished(self) -> Any:
        """What the final evaluation needs of this run, as values (`toolkit.engine.finalize.Finished`)."""
        from .finalize import Finished

        def on_final_evaluation(final: Any) -> None:
            self.state.final = final
            self.callbacks.call("on_final_evaluation", self.state)

        return Finished(run_dir=self.run.dir, recipe=self.recipe, data=self.data, model=self.model, device=self.device,
                        precision=self.precision, loss_fn=self.comps.loss_fn, batch_size=self.batch_size,
                        history=self.history, epochs_completed=self.epoch, stop_reason=self.run.stop_reason,
                        device_text=self.run.device, model_info=self.model_info(),
                        on_final_evaluation=on_final_evaluation)

    def mark_last(self, status: str) -> None:
        """Rewrite ``last.pt``'s status only: its weights stay those of the last completed epoch.

        ``last_saved_epoch`` becomes the epoch it holds, which is what a message should name: an
        interrupt between an epoch's end and its save leaves `epoch` one ahead of the file.
        """
        path = self.run.dir / "last.pt"
        if self.env.is_main and path.is_file():
            ckpt = load_checkpoint(path)
            ckpt.pop("format", None), ckpt.pop("version", None)
            save_checkpoint(path, {**ckpt, "status": status})
            self.last_saved_epoch = int(ckpt["epoch"])

    def emit(self, hook: str, **kwargs: Any) -> None:
        if self.env.is_main:
            self.plugins.emit(hook, **kwargs)

    def write_history(self) -> None:
        if self.env.is_main:
            self.p.write_history(self.run.dir, self.history)

    # -- the loop ------------------------------------------------------------------------
    def fit(self) -> str:
        """Train the remaining epochs; return ``finished``, ``stopped``, ``interrupted`` or raise."""
        from ..core.allocator import keep_freed_memory

        keep_freed_memory()  # the data is loaded: from here on each step reuses the last one's memory
        state = self.state
        state.epoch, state.step, state.status = self.epoch, self.parts.global_step, "running"
        self.callbacks.call("on_train_start", state)  # tk_run_start before any tk_checkpoint_saved
        if self.epoch == 0 and not self.history:
            self.save("last", {})
        try:
            while not self._stopping() and self.epoch < self.epochs:
                self.train_one()
        except KeyboardInterrupt as exc:
            self.mark_last("interrupted")
            self._on_exception(exc)
            return "interrupted"
        except NonFiniteLoss as exc:
            self.mark_last("failed")
            self._on_exception(exc)
            raise TrainingFailed(f"Training stopped: {exc}. The last good checkpoint is {self.run.dir / 'last.pt'} "
                                 f"(epoch {self.epoch}). {non_finite_advice(self)}") from None
        except BaseException as exc:
            self.mark_last("failed")
            self._on_exception(exc)
            raise
        state.status = "stopped" if self.run.stop_reason else "finished"
        self.callbacks.call("on_train_end", state)
        self.save("last", self.history[-1] if self.history else {}, status=state.status)
        self.run.epoch = self.epoch
        return state.status

    def teardown(self, status: str, metrics: dict[str, Any] | None = None) -> None:
        """The run is over (``finished``/``stopped`` with the final ``metrics``, or ``interrupted``/
        ``failed``): every callback's ``teardown``, the loggers' and the ``tk_run_end`` event
        among them. After a finished run a failure there is the run's error; otherwise a warning."""
        self.state.status, self.state.final_metrics = status, dict(metrics or {})
        for line in self.callbacks.call_teardown(self.state, strict=status in ("finished", "stopped")):
            self.console.warn(line)

    def _on_exception(self, exc: BaseException) -> None:
        """``on_exception`` on every callback: it always runs, and a callback failing in it is
        reported as a warning, never in place of the exception that ended the run."""
        for line in self.callbacks.call_exception(self.state, exc):
            self.console.warn(line)

    def _stopping(self) -> bool:
        """A callback or event hook asked to stop (on any process: all stop together)."""
        reason = self.state.stop_reason or self.run.stop_reason
        if self.env.any_flag(reason is not None, self.device):
            self.run.stop_reason = reason or "stopped by another process"
            return True
        return False

    def train_one(self) -> None:
        from .components import call_epoch_start, is_plateau
        from .distributed import shard

        index, state = self.epoch, self.state  # 0-based epoch being trained
        self.run.epoch = state.epoch = index
        state.metrics, state.offered, state.improved = {}, {}, False
        call_epoch_start(index, self.comps)
        self.callbacks.call("on_train_epoch_start", state)
        self.p.maybe_rewrap()
        order = shard(list(self.comps.sampler.indices(index)), self.env.rank, self.env.world_size)
        started = time.perf_counter()
        lr = float(self.comps.optimizer.param_groups[0]["lr"])  # the rate the epoch starts with
        batches = batch_count(len(order), self.batch_size)
        with self.console.epoch_bar(index + 1, self.epochs, batches, self.batch_size) as bar:
            stats = train_epoch(self.parts, self.p.train_batches, order, self.batch_size, index + 1, bar,
                                self._step_hooks)
        loss_sum, correct, seen = self.env.all_reduce_sum([stats["loss_sum"], stats["correct"], stats["seen"]],
                                                          self.device)
        self.env.broadcast_buffers(self.model)  # validate (and save) one model: rank 0's
        state.step = self.parts.global_step
        with self.console.validating(index + 1, self.epochs):
            self.callbacks.call("on_validation_start", state)
            on_val_batch = self._val_batch_end if self.callbacks.wants("on_validation_batch_end") else None
            scores = self.p.validate(self.p.compiled, "val", on_batch=on_val_batch)
            self._clear_batch()
            state.metrics = {"epoch": index + 1, "train_loss": loss_sum / max(seen, 1),
                             "train_accuracy": correct / max(seen, 1), **scores}
            self.callbacks.call("on_validation_end", state)
        sched = self.comps.scheduler
        if sched is not None and getattr(sched, "tk_interval", "epoch") != "step":
            sched.step(state.metrics[self.recipe["train"]["monitor"]]) if is_plateau(sched) else sched.step()
        state.metrics.update({"lr": lr, "epoch_time": time.perf_counter() - started, "global_step": state.step,
                              "images_per_sec": seen / max(stats["seconds"], 1e-9)})
        self.epoch = index + 1
        self.callbacks.call("on_train_epoch_end", state)  # history, early stopping, best.pt, last.pt, events …

    # -- the callbacks' batch moments (each hook exists only when a callback implements it) --
    @property
    def _step_hooks(self) -> StepHooks | None:
        wants = self.callbacks.wants
        hooks = StepHooks(
            batch_start=self._batch_start if wants("on_train_batch_start") else None,
            after_backward=(lambda: self.callbacks.call("on_after_backward", self.state))
            if wants("on_after_backward") else None,
            before_optimizer_step=(lambda: self.callbacks.call("on_before_optimizer_step", self.state))
            if wants("on_before_optimizer_step") else None,
            batch_end=self._batch_end if wants("on_train_batch_end") else None)
        if not any(vars(hooks).values()):
            return None
        if hooks.after_backward or hooks.before_optimizer_step:  # they read state.batch too
            hooks.batch_start = self._batch_start
        return hooks

    def _batch_start(self, index: int, ids: list[int], x: Any, targets: Any) -> None:
        state = self.state
        state.batch, state.batch_idx, state.outputs, state.loss, state.stepped = \
            Batch(x, targets, tuple(ids)), index, None, None, False
        self.callbacks.call("on_train_batch_start", state)

    def _batch_end(self, index: int, ids: list[int], x: Any, targets: Any, logits: Any, loss: Any,
                   stepped: bool) -> None:
        state = self.state
        if state.batch is None or state.batch_idx != index:
            state.batch, state.batch_idx = Batch(x, targets, tuple(ids)), index
        state.outputs, state.loss, state.stepped, state.step = logits, loss, stepped, self.parts.global_step
        self.callbacks.call("on_train_batch_end", state)
        state.batch = state.outputs = state.loss = None

    def _val_batch_end(self, index: int, ids: list[int], x: Any, y: Any, logits: Any) -> None:
        state = self.state
        state.batch, state.batch_idx, state.outputs, state.loss, state.stepped = \
            Batch(x, y, tuple(ids)), index, logits, None, False
        self.callbacks.call("on_validation_batch_end", state)

    def _clear_batch(self) -> None:
        state = self.state
        state.batch = state.outputs = state.loss = None
        state.batch_idx, state.stepped = 0, False

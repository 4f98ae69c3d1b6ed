"""Callbacks: behaviour inside the training loop, as a plugin kind like backbones and losses.

The loop says *when*; a callback says *what* (Lightning's ``Callback``, MMEngine's ``Hook``).
A plugin registers a factory with ``tk_register_callbacks(register)``; a recipe lists the
callbacks it wants, in order, as ``[[train.callbacks]]`` tables (``name`` plus the factory's
parameters, checked against its signature like every other kind)::

    [[train.callbacks]]
    name = "swa"
    start_epoch = 8

A callback is any object with some of the methods of `Callback` (subclassing it is optional).
The names are Lightning's where Lightning has the moment, so an author coming from Lightning
finds them. Every method receives the run's `TrainState`; all of them are called on every
process of a distributed run (``state.is_main`` tells the one process that should write
files). A moment no callback implements costs the loop nothing.

==================================  =================================================================
``on_train_start(state)``           once, after the parts are built and a resumed run's state restored
``on_train_epoch_start``            before each epoch (``state.epoch`` is the 0-based epoch about to run)
``on_train_batch_start``            before each training batch's forward pass: ``state.batch`` (`Batch`:
                                    the augmented inputs, targets, sample indices), ``state.batch_idx``
``on_after_backward``               after each batch's backward pass: gradients are in ``.grad``
                                    (accumulated over ``train.accumulate`` batches, scaled under fp16)
``on_before_optimizer_step``        before each optimiser step: gradients present and unscaled, not yet
                                    clipped (``train.grad_clip`` comes after)
``on_train_batch_end``              after every training batch: ``state.batch``, ``state.outputs`` (the
                                    logits), ``state.loss`` (the batch's loss, detached), ``state.stepped``
                                    (the optimiser stepped on this batch; ``state.step`` counts steps);
                                    gradients are still in ``.grad`` (cleared before the next backward)
``on_validation_start``             before the validation pass over the model
``on_validation_batch_end``         after each validation batch: ``state.batch``, ``state.outputs``
``on_validation_end``               after the validation pass; may add numbers to ``state.metrics`` (e.g.
                                    ``swa_val_accuracy``), which then reach the history, best-model
                                    selection, early stopping, loggers and ``tk tune``; may offer other
                                    weights for ``best.pt`` with ``state.offer_weights``
``on_train_epoch_end``              after the epoch's metrics are final; tk's own callbacks write the
                                    history, best.pt and last.pt here (see their order below)
``on_save_checkpoint(state, ckpt)`` rank 0, just before ``best.pt``/``last.pt`` is written: ``ckpt`` is
                                    the dict about to be saved (``ckpt["kind"]``); plain data added to it
                                    is saved too
``on_load_checkpoint(state, ckpt)`` when a run resumes, after every callback's ``load_state_dict``
``on_train_end(state)``             once, when training ends (finished or stopped)
``on_exception(state, exc)``        when training ends with an exception (a plugin's bug, out of memory,
                                    Ctrl-C): always called; ``teardown`` follows
``on_final_evaluation``             once, after training, on rank 0 only: ``state.final`` (`FinalEvaluation`)
                                    holds best.pt's validation predictions; a callback may change the
                                    model that ships (e.g. its ``temperature`` buffer: tk's calibration is
                                    such a callback) and best.pt's contents, and add sections to
                                    metrics.json and report.html
``teardown(state)``                 once, last, whatever ended the run (Lightning's ``teardown``): the run
                                    folder is complete; ``state.status`` is ``finished``, ``stopped``,
                                    ``interrupted`` or ``failed``, and on rank 0 ``state.final_metrics`` holds
                                    what metrics.json holds (empty unless finished or stopped). Loggers
                                    close their files and trackers their runs here
``state_dict()``                    what the callback must remember; saved in ``last.pt`` with each epoch
``load_state_dict(d)``              given that back when a run resumes, before ``on_train_start``
==================================  =================================================================

Callbacks run in the order the recipe lists them, between tk's own (``threads``, ``ema``,
``calibration`` before; ``history``, ``early_stopping``, ``best_checkpoint``, ``last_checkpoint``,
``events``, the loggers ``train.loggers`` names, ``epoch_line`` after). ``after = "best_checkpoint"``
(or ``before = ...``) in a
``[[train.callbacks]]`` table places a callback elsewhere, e.g. after best.pt is chosen, where
``state.improved`` says whether this epoch wrote it. ``state.request_stop(reason)`` ends the
run after the current epoch (status ``stopped``). A callback whose state is restored by
``load_state_dict`` and whose behaviour depends only on that state and the ``TrainState`` keeps
a killed-and-resumed run bit-identical to an uninterrupted one. An exception a recipe's
callback raises ends the run with one line naming the callback, its plugin and the moment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Real
from pathlib import Path
from typing import Any, Callable, Iterator

from ..core.errors import PluginError, TkError

__all__ = ["Batch", "Callback", "TrainState", "FinalEvaluation", "CALLBACK_METHODS", "CallbackList"]

CALLBACK_METHODS = ("on_train_start", "on_train_epoch_start", "on_train_batch_start", "on_after_backward",
                    "on_before_optimizer_step", "on_train_batch_end", "on_validation_start",
                    "on_validation_batch_end", "on_validation_end", "on_train_epoch_end", "on_save_checkpoint",
                    "on_load_checkpoint", "on_train_end", "on_exception", "on_final_evaluation", "teardown")
"""The moments of the loop a callback may act on, in the order a run meets them."""


class Callback:
    """A convenience base class: every method does nothing. Override the ones you need."""

    def on_train_start(self, state: "TrainState") -> None: ...
    def on_train_epoch_start(self, state: "TrainState") -> None: ...
    def on_train_batch_start(self, state: "TrainState") -> None: ...
    def on_after_backward(self, state: "TrainState") -> None: ...
    def on_before_optimizer_step(self, state: "TrainState") -> None: ...
    def on_train_batch_end(self, state: "TrainState") -> None: ...
    def on_validation_start(self, state: "TrainState") -> None: ...
    def on_validation_batch_end(self, state: "TrainState") -> None: ...
    def on_validation_end(self, state: "TrainState") -> None: ...
    def on_train_epoch_end(self, state: "TrainState") -> None: ...
    def on_save_checkpoint(self, state: "TrainState", checkpoint: dict[str, Any]) -> None: ...
    def on_load_checkpoint(self, state: "TrainState", checkpoint: dict[str, Any]) -> None: ...
    def on_train_end(self, state: "TrainState") -> None: ...
    def on_exception(self, state: "TrainState", exception: BaseException) -> None: ...
    def on_final_evaluation(self, state: "TrainState") -> None: ...
    def teardown(self, state: "TrainState") -> None: ...

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        return None


@dataclass(frozen=True)
class Batch:
    """One batch as the model sees it (read-only): ``inputs`` (N×C×H×W, on the device, augmented
    for training), ``targets`` (N class indices, or N×K soft targets after mixup/cutmix) and
    ``indices`` (the samples' positions in the split: ``state.class_names``/the run's split.json
    name them)."""

    inputs: Any
    targets: Any
    indices: tuple[int, ...]


@dataclass
class FinalEvaluation:
    """best.pt scored on the validation split after training: what ``on_final_evaluation`` reads.

    ``logits`` (N×K numpy) are the model's raw outputs (temperature 1) for the validation
    images, ``labels`` (N) their classes, in the same order; ``unknown_logits`` (M×K, or None when
    the recipe sets no ``data.unknown_root``) the raw outputs for the images of that folder, which
    belong to no class, scored the same way. ``checkpoint`` is best.pt's
    contents: what a callback changes in it (and in ``state.model``, whose weights are best.pt's)
    is written back to best.pt once every callback has run. metrics.json and predictions.csv
    give these predictions divided by the model's ``temperature`` as the callbacks leave it
    (what the shipped model outputs); a callback that changes more than that reports its own
    figures in its section. ``metrics`` are sections for metrics.json
    (``metrics["calibration"] = {...}``) and ``report_html`` HTML sections for report.html, in order.
    """

    logits: Any
    labels: Any
    checkpoint: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)
    report_html: list[str] = field(default_factory=list)
    unknown_logits: Any = None


@dataclass
class TrainState:
    """What a callback sees: the live parts of the run and a few ways to act on it.

    ``epoch`` is the 0-based index of the epoch being trained (after it, ``epochs_done`` =
    ``epoch + 1``); ``step`` counts optimiser steps since the run began; ``metrics`` holds the
    current epoch's numbers from ``on_validation_end`` on (empty before); ``history`` every
    earlier epoch's. ``evaluate(model)`` scores any module on the validation split exactly as
    the loop scores the model (``{"loss", "accuracy", "macro_f1"}``, all processes take part);
    ``train_inputs()`` yields the training images in batches (inputs only, no augmentation, the
    same on every process), e.g. to recompute batch-norm statistics. ``status`` is ``running``
    until ``on_train_end`` (then ``finished`` or ``stopped``; ``interrupted`` or ``failed`` when an
    exception ended training); ``final_metrics`` is what metrics.json holds, from ``teardown`` on
    (rank 0; empty before, and when the run did not finish); ``improved`` says whether this
    epoch wrote a new best.pt; ``run`` is the `toolkit.engine.run.RunInfo` the event hooks get;
    ``planned_epochs`` is what a resumed run's checkpoint was planned for (0 for a new run);
    ``final`` is the `FinalEvaluation` during ``on_final_evaluation`` (None before).
    During a batch's moments ``batch`` (a read-only `Batch`), ``batch_idx`` (0-based within the
    epoch), ``outputs`` (the logits, once computed), ``loss`` (the training batch's loss,
    detached, once computed) and ``stepped`` describe it; between batches they are None.
    ``exception`` is what ended the run, during ``on_exception``.

    The engine's services, used by tk's own callbacks: ``save(kind, metrics, weights=None)``
    writes ``best.pt`` or ``last.pt``; ``sync(module)`` makes every process hold rank 0's buffers
    of a module; ``emit(hook, **kwargs)`` calls an event hook on the plugins (rank 0);
    ``info(line)`` prints a note; ``write_history()`` rewrites history.jsonl; ``log_epoch(done,
    total, metrics, improved)`` prints the epoch line.
    """

    model: Any
    optimizer: Any
    scheduler: Any
    device: Any
    recipe: Any
    run_dir: Path
    rank: int = 0
    world_size: int = 1
    epoch: int = 0
    epochs: int = 0
    step: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    class_names: list[str] = field(default_factory=list)
    stop_reason: str | None = None
    status: str = "running"
    improved: bool = False
    planned_epochs: int = 0
    run: Any = None
    final: FinalEvaluation | None = None
    batch: Batch | None = None
    batch_idx: int = 0
    outputs: Any = None
    loss: Any = None
    stepped: bool = False
    exception: BaseException | None = None
    final_metrics: dict[str, Any] = field(default_factory=dict)
    evaluate: Callable[[Any], dict[str, float]] | None = field(default=None, repr=False)
    train_inputs: Callable[[], Iterator[Any]] | None = field(default=None, repr=False)
    offered: dict[str, Callable[[], dict[str, Any]]] = field(default_factory=dict, repr=False)
    # What tk's own callbacks (toolkit.engine.callbacks) use; a plugin may call them too.
    save: Callable[..., Any] = field(default=lambda *a, **k: None, repr=False)
    sync: Callable[[Any], None] = field(default=lambda module: None, repr=False)
    emit: Callable[..., None] = field(default=lambda hook, **kw: None, repr=False)
    info: Callable[[str], None] = field(default=lambda line: None, repr=False)
    write_history: Callable[[], None] = field(default=lambda: None, repr=False)
    log_epoch: Callable[..., None] = field(default=lambda *a: None, repr=False)

    @property
    def is_main(self) -> bool:
        """The process that writes files (rank 0)."""
        return self.rank == 0

    def request_stop(self, reason: str = "stopped by a callback") -> None:
        """End training after the current epoch; the run's status becomes ``stopped``."""
        if self.stop_reason is None:
            self.stop_reason = str(reason)

    def offer_weights(self, prefix: str, state_dict: Callable[[], dict[str, Any]]) -> None:
        """Offer other weights for ``best.pt`` this epoch (call from ``on_validation_end``).

        ``prefix`` names them as in the metrics (``"swa"`` for ``swa_val_accuracy``): when
        ``train.best_metric`` is ``val_accuracy`` and ``swa_val_accuracy`` beats it, ``best.pt``
        holds ``state_dict()`` and its ``metrics["weights"]`` says ``"swa"``.
        """
        self.offered[prefix] = state_dict


def _not_plain(value: Any, path: str) -> str:
    """Where ``value`` holds something a checkpoint cannot keep (``"a function at state_dict()['fn']"``),
    or "" when it is all plain data and tensors."""
    if value is None or isinstance(value, (bool, int, float, str, bytes)):
        return ""
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, (str, int, float, bool)) and k is not None:
                return f"a key of type {type(k).__name__} at {path}"
            found = _not_plain(v, f"{path}[{k!r}]")
            if found:
                return found
        return ""
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            found = _not_plain(v, f"{path}[{i}]")
            if found:
                return found
        return ""
    if type(value).__module__.startswith("torch") and hasattr(value, "dtype"):  # a tensor (or a dtype): kept
        return ""
    kind = "a function" if callable(value) else f"a {type(value).__module__}.{type(value).__qualname__}"
    return f"{kind} at {path}"


class CallbackList:
    """The run's callbacks in order, each called where it defines the method.

    Keys name each one's saved state: ``"<index>:<name>"`` for the recipe's (two callbacks of one
    kind keep theirs apart) and the name for tk's own, which keep theirs exactly like anyone's
    (``state_dict``/``load_state_dict``). ``origins`` maps a
    recipe callback's key to ``(name, "plugin 'x' (dist version)")``: an exception it raises
    becomes one `PluginError` naming it and the moment.
    """

    def __init__(self, callbacks: list[tuple[str, Any]], origins: dict[str, tuple[str, str]] | None = None):
        self.items = list(callbacks)
        self.origins = dict(origins or {})

    def __bool__(self) -> bool:
        return bool(self.items)

    def get(self, key: str) -> Any:
        return next(cb for k, cb in self.items if k == key)

    def call(self, method: str, state: TrainState, *args: Any) -> None:
        for key, callback in self.items:
            fn = getattr(callback, method, None)
            if fn is None:
                continue
            if key not in self.origins:  # tk's own: its errors are tk's, with tk's messages
                fn(state, *args)
                continue
            metrics = getattr(state, "metrics", None)
            before = dict(metrics) if isinstance(metrics, dict) else None
            try:
                fn(state, *args)
            except (KeyboardInterrupt, TkError):
                raise
            except Exception as exc:
                raise self.blame(key, method, exc) from exc
            if before is not None:
                self._check_metrics(key, method, before, metrics)

    def blame(self, key: str, method: str, exc: BaseException) -> "PluginError":
        name, origin = self.origins[key]
        return PluginError(f"Callback '{name}' ({origin}) failed in {method}: {type(exc).__name__}: {exc}")

    def _check_metrics(self, key: str, method: str, before: dict[str, Any], metrics: dict[str, Any]) -> None:
        """A recipe callback's new or changed ``state.metrics`` entries are numbers: each is
        compared, monitored and written to history.jsonl, where anything else fails deep inside tk."""
        for name, value in metrics.items():
            if name in before and before[name] is value:
                continue
            if isinstance(value, Real) and not isinstance(value, bool):
                continue
            what = (f"a {type(value).__name__} of shape {tuple(value.shape)}" if hasattr(value, "shape")
                    else f"{value!r}" if isinstance(value, str) else f"a {type(value).__name__}")
            cb, origin = self.origins[key]
            raise PluginError(f"Callback '{cb}' ({origin}) set state.metrics['{name}'] to {what} in {method}; a metric "
                              f"is one number (a float: float(tensor) for a tensor).")

    def call_exception(self, state: TrainState, exception: BaseException) -> list[str]:
        """``on_exception`` on every callback, each whatever the others do; returns the one-line
        reports of those that failed (the run's own exception stays the one raised)."""
        state.exception = exception
        failed = []
        for key, callback in self.items:
            fn = getattr(callback, "on_exception", None)
            if fn is None:
                continue
            try:
                fn(state, exception)
            except Exception as exc:  # noqa: BLE001 - reported, never masking the run's exception
                failed.append(str(self.blame(key, "on_exception", exc)) if key in self.origins
                              else f"{key} failed in on_exception: {type(exc).__name__}: {exc}")
        return failed

    def call_teardown(self, state: TrainState, *, strict: bool) -> list[str]:
        """``teardown`` on every callback, each whatever the others do. ``strict`` (the run
        finished): the first failure is raised after all have run, blamed like any moment's;
        otherwise failures come back as one-line reports, never in place of what ended the run."""
        failed: list[BaseException] = []
        for key, callback in self.items:
            fn = getattr(callback, "teardown", None)
            if fn is None:
                continue
            try:
                fn(state)
            except Exception as exc:  # noqa: BLE001 - every callback gets its teardown
                if key in self.origins:
                    blamed = self.blame(key, "teardown", exc)
                    blamed.__cause__ = exc  # the plugin's traceback, for `tk --debug`
                    exc = blamed
                failed.append(exc)
        if strict and failed:
            raise failed[0]
        return [str(e) if isinstance(e, PluginError) else f"teardown failed: {type(e).__name__}: {e}"
                for e in failed]

    def wants(self, method: str) -> bool:
        """Whether any callback really implements ``method`` (not `Callback`'s no-op)."""
        return any(getattr(type(cb), method, None) not in (None, getattr(Callback, method, None))
                   or method in vars(cb) for _, cb in self.items)

    def _stateful(self) -> list[tuple[str, Any]]:
        return [(k, cb) for k, cb in self.items if callable(getattr(cb, "state_dict", None))
                and getattr(type(cb), "state_dict", None) is not Callback.state_dict]

    def state_dict(self) -> dict[str, Any]:
        """Every callback's ``state_dict()`` by key — tk's own and the recipe's alike (what last.pt
        keeps under ``callbacks``). A recipe callback's state must be what a checkpoint can hold
        (plain data and tensors, loaded with ``weights_only=True``): anything else is one line
        naming it and where in its state, instead of a failure inside torch.save."""
        out = {}
        for k, cb in self._stateful():
            if k not in self.origins:
                out[k] = cb.state_dict()
                continue
            try:
                out[k] = cb.state_dict()
            except (KeyboardInterrupt, TkError):
                raise
            except Exception as exc:
                raise self.blame(k, "state_dict", exc) from exc
            where = _not_plain(out[k], "state_dict()")
            if where:
                name, origin = self.origins[k]
                raise PluginError(f"Callback '{name}' ({origin}) returned {where} from state_dict; a checkpoint keeps "
                                  f"numbers, strings, None, tensors and lists/tuples/dicts of them (loaded with "
                                  f"weights_only=True).")
        return out

    def load_state_dict(self, saved: dict[str, Any]) -> None:
        """Give every callback its saved state back (`state_dict`'s keys); one not saved keeps its own."""
        for key, callback in self._stateful():
            if saved.get(key) is not None:
                callback.load_state_dict(saved[key])

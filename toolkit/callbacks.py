"""Callbacks: behaviour inside the training loop, as a plugin kind like backbones and losses.

The loop says *when*; a callback says *what* (Lightning's ``Callback``, MMEngine's ``Hook``).
A plugin registers a factory with ``tk_register_callbacks(register)``; a recipe lists the
callbacks it wants, in order, as ``[[train.callbacks]]`` tables (``name`` plus the factory's
parameters, checked against its signature like every other kind)::

    [[train.callbacks]]
    name = "swa"
    start_epoch = 8

A callback is any object with some of the methods of `Callback` (subclassing it is optional).
Every method receives the run's `TrainState`; all of them are called on every process of a
distributed run (``state.is_main`` tells the one process that should write files):

============================  =====================================================================
``on_train_start(state)``     once, after the parts are built and a resumed run's state restored
``on_train_epoch_start``      before each epoch (``state.epoch`` is the 0-based epoch about to run)
``on_train_batch_end``        after every optimiser step (``state.step`` counts them)
``on_validation_end``         after the validation pass; may add numbers to ``state.metrics`` (e.g.
                              ``swa_val_accuracy``), which then reach the history, best-model
                              selection, early stopping, loggers and ``tk tune``; may offer other
                              weights for ``best.pt`` with ``state.offer_weights``
``on_train_epoch_end``        after the epoch's metrics are final, before its checkpoints are
                              written (so what the callback changes is in them)
``on_train_end(state)``       once, when training ends (finished or stopped)
``on_final_evaluation``       once, after training, on rank 0 only: ``state.final`` (`FinalEvaluation`)
                              holds best.pt's validation predictions; a callback may change the
                              model that ships (e.g. its ``temperature`` buffer: tk's calibration is
                              such a callback) and best.pt's contents, and add sections to
                              metrics.json and report.html
``state_dict()``              what the callback must remember; saved in ``last.pt`` with each epoch
``load_state_dict(d)``        given that back when a run resumes, before ``on_train_start``
============================  =====================================================================

Callbacks run in the order the recipe lists them; ``state.request_stop(reason)`` ends the run
after the current epoch (status ``stopped``). A callback whose state is restored by
``load_state_dict`` and whose behaviour depends only on that state and the ``TrainState`` keeps
a killed-and-resumed run bit-identical to an uninterrupted one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

__all__ = ["Callback", "TrainState", "FinalEvaluation", "CALLBACK_METHODS", "CallbackList"]

CALLBACK_METHODS = ("on_train_start", "on_train_epoch_start", "on_train_batch_end", "on_validation_end",
                    "on_train_epoch_end", "on_train_end", "on_final_evaluation")
"""The moments of the loop a callback may act on, in the order a run meets them."""


class Callback:
    """A convenience base class: every method does nothing. Override the ones you need."""

    def on_train_start(self, state: "TrainState") -> None: ...
    def on_train_epoch_start(self, state: "TrainState") -> None: ...
    def on_train_batch_end(self, state: "TrainState") -> None: ...
    def on_validation_end(self, state: "TrainState") -> None: ...
    def on_train_epoch_end(self, state: "TrainState") -> None: ...
    def on_train_end(self, state: "TrainState") -> None: ...
    def on_final_evaluation(self, state: "TrainState") -> None: ...

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        return None


@dataclass
class FinalEvaluation:
    """best.pt scored on the validation split after training: what ``on_final_evaluation`` reads.

    ``logits`` (N×K numpy) are the model's raw outputs (temperature 1) for the validation
    images, ``labels`` (N) their classes, in the same order. ``checkpoint`` is best.pt's
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
    until ``on_train_end`` (then ``finished`` or ``stopped``); ``improved`` says whether this
    epoch wrote a new best.pt; ``run`` is the `toolkit.engine.run.RunInfo` the event hooks get;
    ``planned_epochs`` is what a resumed run's checkpoint was planned for (0 for a new run);
    ``final`` is the `FinalEvaluation` during ``on_final_evaluation`` (None before).

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


class CallbackList:
    """The run's callbacks in order, each called where it defines the method.

    Keys name each one's saved state: ``"<index>:<name>"`` for the recipe's (two callbacks of one
    kind keep theirs apart), and for tk's own the historical top-level checkpoint key
    (``checkpoint_key``: ``ema``, ``early_stopping``, ``best``) or their name.
    """

    def __init__(self, callbacks: list[tuple[str, Any]]):
        self.items = list(callbacks)

    def __bool__(self) -> bool:
        return bool(self.items)

    def get(self, key: str) -> Any:
        return next(cb for k, cb in self.items if k == key)

    def call(self, method: str, state: TrainState) -> None:
        for _, callback in self.items:
            fn = getattr(callback, method, None)
            if fn is not None:
                fn(state)

    def wants(self, method: str) -> bool:
        """Whether any callback really implements ``method`` (not `Callback`'s no-op)."""
        return any(getattr(type(cb), method, None) not in (None, getattr(Callback, method, None))
                   or method in vars(cb) for _, cb in self.items)

    def _stateful(self) -> list[tuple[str, Any]]:
        return [(k, cb) for k, cb in self.items if callable(getattr(cb, "state_dict", None))
                and getattr(type(cb), "state_dict", None) is not Callback.state_dict]

    def state_dict(self) -> dict[str, Any]:
        """The recipe's callbacks' state, by key (what ``last.pt`` keeps under ``callbacks``)."""
        return {k: cb.state_dict() for k, cb in self._stateful() if not hasattr(cb, "checkpoint_key")}

    def load_state_dict(self, saved: dict[str, Any]) -> None:
        for key, callback in self._stateful():
            if key in saved and not hasattr(callback, "checkpoint_key"):
                callback.load_state_dict(saved[key])

    def checkpoint_state(self, kind: str) -> dict[str, Any]:
        """What a ``best.pt``/``last.pt`` holds of the callbacks: tk's own at their top-level keys,
        the recipe's under ``callbacks`` (in last.pt, which runs resume from)."""
        out: dict[str, Any] = {"callbacks": self.state_dict() if kind == "last" else {}}
        for _, cb in self.items:
            key = getattr(cb, "checkpoint_key", None)
            if key:
                out[key] = cb.checkpoint_state(kind) if hasattr(cb, "checkpoint_state") else cb.state_dict()
        return out

    def load_checkpoint(self, ckpt: dict[str, Any]) -> None:
        """Give every callback its state back from a checkpoint (see `checkpoint_state`)."""
        for _, cb in self.items:
            key = getattr(cb, "checkpoint_key", None)
            if key and ckpt.get(key) is not None:
                cb.load_state_dict(ckpt[key])
        self.load_state_dict(ckpt.get("callbacks") or {})

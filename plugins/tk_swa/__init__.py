"""Stochastic weight averaging (SWA) as a callback: written only on tk's public callback API.

Izmailov et al. (2018): averaging the weights the optimiser visits over the last epochs finds a
flatter, better-generalising point than the last weights alone. This plugin keeps that average
with `torch.optim.swa_utils.AveragedModel` from ``start_epoch`` on, recomputes its batch-norm
statistics on the training images (`torch.optim.swa_utils.update_bn`; averaged weights make
the running statistics of the last weights wrong), scores it on the validation split every
epoch (``swa_val_loss``, ``swa_val_accuracy``, ``swa_val_macro_f1`` in the history), and offers
it for ``best.pt``: with ``train.best_metric = "val_accuracy"`` the averaged weights are saved
when they score better than the model's (``best.pt``'s ``metrics.weights`` is then ``"swa"``),
or pick them always with ``best_metric = "swa_val_accuracy"``. Its state (the average and how
many weights it holds) is saved in ``last.pt``, so a killed and resumed SWA run ends
bit-identical to an uninterrupted one. It does not change the learning rate: pair it with a
schedule that stays high enough at the end (``[schedule] name = "constant"`` or a cosine with
``min_lr_ratio``), as the paper does.

    [[train.callbacks]]
    name = "swa"
    start_epoch = 8        # the first epoch (1-based) whose weights enter the average

Registered through the same ``tk`` entry-point group as any third-party plugin::

    [project.entry-points.tk]
    swa = "tk_swa"
"""

from __future__ import annotations

from typing import Any

from toolkit import Callback, RecipeError, TrainState, hookimpl

METRICS = ("swa_val_loss", "swa_val_accuracy", "swa_val_macro_f1")


class StochasticWeightAveraging(Callback):
    """Average the weights after each epoch from ``start_epoch`` on; score and offer the average."""

    def __init__(self, start_epoch: int, update_bn: bool):
        self.start_epoch, self.update_bn = start_epoch, update_bn
        self.averaged: Any = None
        self._saved: dict[str, Any] | None = None

    def _average(self, state: TrainState) -> Any:
        if self.averaged is None:
            from torch.optim.swa_utils import AveragedModel

            self.averaged = AveragedModel(state.model, device=state.device, use_buffers=False)
            if self._saved is not None:
                self.averaged.load_state_dict(self._saved)
                self._saved = None
        return self.averaged

    def on_train_start(self, state: TrainState) -> None:
        if self._saved is not None:  # a resumed run: rebuild the average it had
            self._average(state)

    def on_validation_end(self, state: TrainState) -> None:
        if state.epoch + 1 < self.start_epoch:
            return
        averaged = self._average(state)
        averaged.update_parameters(state.model)
        if self.update_bn:
            from torch.optim.swa_utils import update_bn

            update_bn(state.train_inputs(), averaged.module, device=state.device)
        scores = state.evaluate(averaged.module)
        state.metrics.update({f"swa_val_{k}": v for k, v in scores.items()})
        state.offer_weights("swa", averaged.module.state_dict)

    def state_dict(self) -> dict[str, Any]:
        if self.averaged is not None:
            return {"averaged": self.averaged.state_dict()}
        return {"averaged": self._saved}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._saved = state.get("averaged")
        self.averaged = None


def swa(start_epoch: int = 1, update_bn: bool = True) -> StochasticWeightAveraging:
    """Stochastic weight averaging from start_epoch (1-based): swa_val_* metrics, averaged best.pt."""
    if isinstance(start_epoch, bool) or not isinstance(start_epoch, int) or start_epoch < 1:
        raise RecipeError(f"train.callbacks: swa.start_epoch must be an epoch number >= 1, not {start_epoch!r}.")
    return StochasticWeightAveraging(start_epoch, bool(update_bn))


def check_swa(start_epoch: int = 1, update_bn: bool = True) -> None:
    """`swa`'s recipe checks without building it (registered as ``check``)."""
    swa(start_epoch, update_bn)


@hookimpl
def tk_register_callbacks(register):
    register("swa", swa, check=check_swa, metrics=list(METRICS),
             description="stochastic weight averaging: averaged weights from start_epoch, swa_val_* metrics")

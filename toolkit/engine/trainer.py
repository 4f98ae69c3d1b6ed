"""The epoch loop: train, evaluate, choose the best, checkpoint, stop — and resume exactly.

Per epoch: parts get ``on_epoch_start(epoch)``; the sampler's order for the epoch is sharded
across processes; `loop.train_epoch` trains; the validation split is evaluated (and, with
``train.ema``, the averaged weights too); a per-epoch schedule steps (a ReduceLROnPlateau with
the monitored metric); the history grows by one line; early stopping counts; ``best.pt`` is
written when ``train.best_metric`` improves and ``last.pt`` every epoch, then the event hooks
run and the epoch's summary line is printed.

Best weights and EMA: when ``train.ema`` is on and ``best_metric`` names a validation metric,
an epoch's candidate is whichever of the raw and the averaged weights scores better on it;
``best.pt`` then holds those weights and its ``metrics["weights"]`` says which
(``"model"`` or ``"ema"``). Early stopping watches exactly the metric it is told
(``val_loss`` is the raw weights', ``ema_val_loss`` the average's) and restores the raw weights.

Exact resume: every checkpoint holds the model, optimiser, schedule, scaler, EMA and
early-stopping state, the step counter and every RNG stream, captured at the epoch boundary
(the optimiser has stepped on the last batch; nothing random is drawn between the save and
the next epoch). A resumed run restores them after building its parts and replays the same
sampler order (a function of seed and epoch), so on the CPU it ends bit-identical to an
uninterrupted run. A ``last.pt`` is written before the first epoch too, so an interruption
at any moment leaves something to resume.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from ..errors import TkError
from ..checkpoint import load_checkpoint, save_checkpoint
from .early_stopping import EarlyStopping, improves, metric_mode
from ..callbacks import CallbackList, TrainState
from ..threads import ThreadGovernor
from .loop import NonFiniteLoss, StepParts, batch_count, evaluate, train_epoch

__all__ = ["Trainer", "TrainingFailed"]


class TrainingFailed(TkError):
    """Training could not go on (a non-finite loss); the last good checkpoint is kept."""


class Trainer:
    """Owns one run's parts and state; `fit()` runs the epochs and returns the final status."""

    def __init__(self, *, recipe: Any, resolved: dict[str, Any], plugins: Any, data: Any, run: Any, env: Any,
                 device: Any, precision: Any, console: Any, recipe_path: str, start: dict[str, Any] | None = None,
                 adapt_threads: int = 0):
        from .components import build_components
        from .data_pipeline import Batches
        from .device import make_scaler, prepare_model
        from .ema import ModelEma
        from .rng import seed_everything

        self.recipe, self.resolved, self.plugins, self.data = recipe, resolved, plugins, data
        self.run, self.env, self.device, self.precision, self.console = run, env, device, precision, console
        self.recipe_path = recipe_path
        # Cores other processes take are given up between batches, and taken back (toolkit.threads).
        self.governor = ThreadGovernor(adapt_threads) if adapt_threads > 1 else None
        t = recipe["train"]
        self.epochs, self.batch_size = int(t["epochs"]), int(t["batch_size"])
        seed_everything(int(t["seed"]))
        self.comps = build_components(recipe, plugins, class_names=data.class_names, train_labels=data.train.labels,
                                      class_counts=data.train_counts(), device=device, world_size=env.world_size)
        model = self.comps.model
        if env.distributed and t["sync_bn"]:
            if device.type == "cpu":  # PyTorch's DDP refuses SyncBatchNorm on CPU (gloo) modules
                console.warn("train.sync_bn is ignored on the CPU: PyTorch's SyncBatchNorm needs GPUs; each process "
                             "normalises with its own batch statistics (running statistics follow rank 0).")
            else:
                import torch

                model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        self.model, self.compiled = prepare_model(model, device, channels_last=t["channels_last"], compile=t["compile"])
        self.ema = ModelEma(self.model, t["ema_decay"]) if t["ema"] else None
        self.parts = StepParts(self.model, self._wrap(), self.comps.loss_fn, self.comps.optimizer, self.comps.scheduler,
                               make_scaler(precision, device), self.ema, precision, device, self.comps.ops,
                               int(t["accumulate"]), float(t["grad_clip"]))
        self.stopper = EarlyStopping(t["monitor"], t["mode"], int(t["patience"]), float(t["min_delta"]),
                                     enabled=bool(t["early_stopping"]), restore_best=bool(t["restore_best"]))
        self.best_metric = t["best_metric"]
        self.best: dict[str, Any] = {"metric": self.best_metric, "value": None, "epoch": 0, "weights": "model"}
        self.history: list[dict[str, Any]] = []
        self.epoch = 0  # epochs completed
        self.train_batches = Batches(data.train, device, channels_last=t["channels_last"])
        self.val_batches = Batches(data.val, device, channels_last=t["channels_last"])
        self._trainable = self._trainable_signature()
        self.callbacks = CallbackList([
            (f"{i}:{cb['name']}", plugins.build("callbacks", cb["name"], {k: v for k, v in cb.items() if k != "name"},
                                                where=f"train.callbacks[{i}]"))
            for i, cb in enumerate(t["callbacks"])])
        self.state = TrainState(model=self.model, optimizer=self.comps.optimizer, scheduler=self.comps.scheduler,
                                device=device, recipe=recipe, run_dir=run.dir, rank=env.rank,
                                world_size=env.world_size, epochs=self.epochs, history=self.history,
                                class_names=list(data.class_names), evaluate=self._score,
                                train_inputs=self._train_inputs)
        if start is not None:
            self._load(start)

    # -- set-up helpers ------------------------------------------------------------------
    def _wrap(self) -> Any:
        """What the loop calls: DDP around the (compiled) model in a distributed run."""
        if not self.env.distributed:
            return self.compiled
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DDP(self.compiled, device_ids=ids)

    def _trainable_signature(self) -> tuple[bool, ...]:
        return tuple(p.requires_grad for p in self.model.parameters())

    def _load(self, ckpt: dict[str, Any]) -> None:
        from .rng import restore_rng

        self.model.load_state_dict(ckpt["model"])
        self.comps.optimizer.load_state_dict(ckpt["optimizer"])
        if self.comps.scheduler is not None and ckpt.get("scheduler") is not None:
            self.comps.scheduler.load_state_dict(ckpt["scheduler"])
        if self.parts.scaler is not None and ckpt.get("scaler") is not None:
            self.parts.scaler.load_state_dict(ckpt["scaler"])
        if self.ema is not None and ckpt.get("ema") is not None:
            self.ema.load_state_dict(ckpt["ema"])
        self.stopper.load_state_dict(ckpt.get("early_stopping") or {})
        self.best.update({k: v for k, v in (ckpt.get("best") or {}).items() if k in self.best})
        self.history = list(ckpt.get("history") or [])
        self.epoch = int(ckpt["epoch"])
        self.parts.global_step = int(ckpt.get("global_step", 0))
        planned = int(((ckpt.get("recipe") or {}).get("train") or {}).get("epochs", self.epochs))
        if self.epoch < self.epochs and self.epochs > planned:  # more epochs asked for: a fresh patience window
            self.stopper.allow_more()
        self.callbacks.load_state_dict(ckpt.get("callbacks") or {})
        self.state.history = self.history
        restore_rng(ckpt["rng"])

    # -- checkpoints ---------------------------------------------------------------------
    def model_info(self) -> dict[str, Any]:
        from ..data.cache import RESIZE
        from .model import count_parameters

        return {"backbone": self.recipe["model"]["backbone"], "image_size": int(self.recipe["data"]["image_size"]),
                "mean": [float(v) for v in self.model.mean.flatten().tolist()],
                "std": [float(v) for v in self.model.std.flatten().tolist()], "resize": RESIZE,
                "input_range": [0, 1], "num_classes": len(self.data.class_names),
                "params": int(count_parameters(self.model))}

    def payload(self, kind: str, status: str, metrics: dict[str, Any], model_state: Any = None) -> dict[str, Any]:
        from .rng import capture_rng

        sched = self.comps.scheduler
        return {
            "kind": kind, "epoch": self.epoch, "global_step": self.parts.global_step,
            "model": model_state if model_state is not None else self.model.state_dict(),
            "optimizer": self.comps.optimizer.state_dict(),
            "scheduler": sched.state_dict() if sched is not None and hasattr(sched, "state_dict") else None,
            "scaler": self.parts.scaler.state_dict() if self.parts.scaler is not None else None,
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "early_stopping": self._stopper_state(kind), "best": dict(self.best), "rng": capture_rng(),
            "history": list(self.history), "class_names": list(self.data.class_names), "recipe": self.resolved,
            "recipe_path": self.recipe_path, "model_info": self.model_info(), "metrics": dict(metrics),
            "status": status, "callbacks": self.callbacks.state_dict() if kind == "last" else {},
        }

    def _stopper_state(self, kind: str) -> dict[str, Any]:
        """Early-stopping state; best.pt leaves out the copy of the best monitored weights (only
        last.pt, which runs resume from, needs it), which keeps the per-epoch writes smaller."""
        state = self.stopper.state_dict()
        if kind == "best":
            state["best_weights"] = None
        return state

    def save(self, kind: str, status: str, metrics: dict[str, Any], model_state: Any = None) -> Path | None:
        if not self.env.is_main:
            return None
        path = save_checkpoint(self.run.dir / f"{kind}.pt", self.payload(kind, status, metrics, model_state))
        self.emit("tk_checkpoint_saved", run=self.run, path=path, kind=kind)
        return path

    def mark_last(self, status: str) -> None:
        """Rewrite ``last.pt``'s status only: its weights stay those of the last completed epoch."""
        if not self.env.is_main:
            return
        path = self.run.dir / "last.pt"
        if path.is_file():
            ckpt = load_checkpoint(path)
            ckpt.pop("format", None), ckpt.pop("version", None)
            ckpt["status"] = status
            save_checkpoint(path, ckpt)

    def emit(self, hook: str, **kwargs: Any) -> None:
        if self.env.is_main:
            self.plugins.emit(hook, **kwargs)

    def write_history(self) -> None:
        if not self.env.is_main:
            return
        from ..atomic import atomic_write

        text = "".join(json.dumps(h) + "\n" for h in self.history)
        atomic_write(self.run.dir / "history.jsonl", lambda fh: fh.write(text.encode()))

    # -- the loop ------------------------------------------------------------------------
    def fit(self) -> str:
        """Train the remaining epochs; return ``finished``, ``stopped``, ``interrupted`` or raise."""
        self.run.epoch = self.epoch
        self.emit("tk_run_start", run=self.run)  # before any tk_checkpoint_saved of this run
        if self.epoch == 0 and not self.history:
            self.save("last", "running", {})
        self.write_history()
        status = "finished"
        if self.stopper.stopped:  # early stopping had ended this run before a kill cut off its final save
            self.run.stop_reason, status = self.stopper.reason(), "stopped"
        self.state.epoch, self.state.step = self.epoch, self.parts.global_step
        self.callbacks.call("on_train_start", self.state)
        try:
            while status == "finished" and self.epoch < self.epochs:
                self.train_one()
                reason = self.stopper.reason() if self.stopper.stopped else self.run.stop_reason
                if self.env.any_flag(reason is not None, self.device):
                    self.run.stop_reason = reason or self.run.stop_reason or "stopped by another process"
                    status = "stopped"
                    break
        except KeyboardInterrupt:
            self.mark_last("interrupted")
            return "interrupted"
        except NonFiniteLoss as exc:
            self.mark_last("failed")
            raise TrainingFailed(
                f"Training stopped: {exc}. The last good checkpoint is {self.run.dir / 'last.pt'} "
                f"(epoch {self.epoch}). {self._non_finite_advice()}"
            ) from None
        except BaseException:
            self.mark_last("failed")
            raise
        if status == "stopped" and self.stopper.stopped and self.stopper.restore_best and self.stopper.best_weights:
            self.model.load_state_dict(self.stopper.best_weights)
            self.console.info(f"Restored the weights of epoch {self.stopper.best_epoch} "
                              f"(best {self.stopper.monitor} {self.stopper.best:.4g}).")
        self.callbacks.call("on_train_end", self.state)
        self.save("last", status, self.history[-1] if self.history else {})
        self.run.epoch = self.epoch
        return status

    def _non_finite_advice(self) -> str:
        """What to change after a NaN/inf loss, with values: a resume would replay the same steps."""
        lr = (self.resolved.get("optim") or {}).get("lr")
        if not isinstance(lr, (int, float)) or isinstance(lr, bool):
            group = self.comps.optimizer.param_groups[0]
            lr = float(group.get("initial_lr", group["lr"]))
        fixes = [f"lower the learning rate (optim.lr is {lr:g}; try --set optim.lr={lr / 10:g})"]
        if not float(self.recipe["train"]["grad_clip"]):
            fixes.append("clip gradients (--set train.grad_clip=1.0)")
        if self.precision.dtype is not None:
            fixes.append("train in full precision (--set train.amp=off)")
        return f"To go on, {'; or '.join(fixes)}, and start a new run: resuming this one would repeat the same steps."

    def _maybe_rewrap(self) -> None:
        """DDP registers only trainable parameters: rebuild it when a part (un)froze some."""
        signature = self._trainable_signature()
        if signature != self._trainable:
            self._trainable = signature
            if self.env.distributed:
                self.parts.forward_model = self._wrap()

    def train_one(self) -> None:
        from .components import call_epoch_start, is_plateau
        from .distributed import shard

        index = self.epoch  # 0-based epoch being trained
        self.run.epoch = index
        state = self.state
        state.epoch, state.metrics, state.offered = index, {}, {}
        call_epoch_start(index, self.comps)
        self.callbacks.call("on_train_epoch_start", state)
        self._maybe_rewrap()
        order = shard(list(self.comps.sampler.indices(index)), self.env.rank, self.env.world_size)
        started = time.perf_counter()
        lr = float(self.comps.optimizer.param_groups[0]["lr"])  # the rate the epoch starts with
        batches = batch_count(len(order), self.batch_size)
        with self.console.epoch_bar(index + 1, self.epochs, batches, self.batch_size) as on_batch:
            if self.governor is not None:
                governor, show = self.governor, on_batch

                def on_batch(*progress: Any) -> None:
                    if show is not None:
                        show(*progress)
                    governor.tick()
            stats = train_epoch(self.parts, self.train_batches, order, self.batch_size, index + 1, on_batch,
                                self._after_step if self.callbacks.wants("on_train_batch_end") else None)
        loss_sum, correct, seen = self.env.all_reduce_sum([stats["loss_sum"], stats["correct"], stats["seen"]],
                                                          self.device)
        self.env.broadcast_buffers(self.model)  # validate (and save) one model: rank 0's
        if self.ema is not None:
            self.env.broadcast_buffers(self.ema.module)
        metrics: dict[str, Any] = {"epoch": index + 1, "train_loss": loss_sum / max(seen, 1),
                                   "train_accuracy": correct / max(seen, 1)}
        metrics.update(self.validate(self.compiled, "val"))
        if self.ema is not None:
            metrics.update(self.validate(self.ema.module, "ema_val"))
        state.metrics, state.step = metrics, self.parts.global_step
        self.callbacks.call("on_validation_end", state)
        sched = self.comps.scheduler
        if sched is not None and getattr(sched, "tk_interval", "epoch") != "step":
            sched.step(metrics[self.stopper.monitor]) if is_plateau(sched) else sched.step()
        metrics.update({"lr": lr, "epoch_time": time.perf_counter() - started,
                        "images_per_sec": seen / max(stats["seconds"], 1e-9), "global_step": self.parts.global_step})
        self.callbacks.call("on_train_epoch_end", state)
        if state.stop_reason is not None:
            self.run.request_stop(state.stop_reason)
        self.epoch = index + 1
        self.history.append(metrics)
        self.stopper.update(self.epoch, metrics, self.model.state_dict)
        value, which = self._candidate(metrics)
        is_best = improves(value, self.best["value"], metric_mode(self.best_metric))
        if is_best:
            self.best.update(value=value, epoch=self.epoch, weights=which)
            weights = self._weights_of(which)
            self.save("best", "running", {**metrics, "weights": which}, model_state=weights)
        self.save("last", "running", metrics)
        self.write_history()
        self.emit("tk_epoch_end", run=self.run, epoch=index, metrics=metrics)
        self.console.summary(self.console.epoch_line(self.epoch, self.epochs, metrics, is_best))

    def _candidate(self, metrics: dict[str, Any]) -> tuple[float | None, str]:
        """This epoch's best-metric value and whose weights earned it (see module docstring):
        the model's, the EMA's, or weights a callback offered (``state.offer_weights``)."""
        name = self.best_metric
        others = (["ema"] if self.ema is not None else []) + list(self.state.offered)
        prefix = name.split("_", 1)[0]
        if prefix in others or name.startswith("ema_"):
            return metrics.get(name), prefix  # None (not reported this epoch) is never best
        value, which = metrics.get(name), "model"
        if name.startswith("val_"):
            for other in others:
                other_value = metrics.get(f"{other}_{name}")
                if other_value is not None and improves(other_value, value, metric_mode(name)):
                    value, which = other_value, other
        return value, which

    def _weights_of(self, which: str) -> Any:
        """The state dict to save as best.pt for ``which`` (None: the live model's)."""
        if which == "ema" and self.ema is not None:
            return self.ema.module.state_dict()
        if which in self.state.offered:
            return self.state.offered[which]()
        return None

    def _after_step(self) -> None:
        self.state.step = self.parts.global_step
        self.callbacks.call("on_train_batch_end", self.state)

    def _score(self, model: Any) -> dict[str, float]:
        """`TrainState.evaluate`: any module scored on the validation split like the model."""
        return {k.split("_", 1)[1]: v for k, v in self.validate(model, "x").items()}

    def _train_inputs(self):
        """`TrainState.train_inputs`: every training image in order, in batches, no augmentation
        (the same on every process, so statistics computed from them agree)."""
        n, size = len(self.data.train), self.batch_size * 2
        for start in range(0, n, size):
            yield self.train_batches.batch(list(range(start, min(n, start + size))))[0]

    def validate(self, model: Any, prefix: str) -> dict[str, float]:
        """Loss, accuracy and macro-F1 of ``model`` on the validation split (all processes)."""
        from .metrics import classification_metrics

        ids = list(range(len(self.val_batches)))[self.env.rank::self.env.world_size]
        res = evaluate(model, self.val_batches, self.batch_size * 2, self.comps.loss_fn, self.precision,
                       self.device, ids)
        loss_sum, seen = self.env.all_reduce_sum([res.loss_sum, float(res.seen)], self.device)
        pairs = sorted(self.env.gather_lists(list(zip(res.indices, res.preds))))
        labels = [self.data.val.labels[i] for i, _ in pairs]
        m = classification_metrics(labels, [p for _, p in pairs], self.data.class_names)
        return {f"{prefix}_loss": loss_sum / max(seen, 1), f"{prefix}_accuracy": m["accuracy"],
                f"{prefix}_macro_f1": m["macro_f1"]}

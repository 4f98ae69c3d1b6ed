"""A run's parts, built once: the model (compiled, DDP-wrapped), optimiser and friends, batches, callbacks.

`RunParts` is what the trainer's loop works with; `checkpoint_payload` is what a checkpoint of
the run holds (see `toolkit.core.checkpoint` for the format), every callback's state included under
``callbacks``: tk's own by name, the recipe's keyed ``"<index>:<name>"``. `callback_states`
reads them back, from tk 0.2's layout too (tk's own at the top-level keys ``ema``,
``early_stopping`` and ``best``). The trainer adds ``parts``: which plugin (distribution, version)
provided each part (`toolkit.plugin.manager.Plugins.provenance`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["RunParts", "callback_order", "callback_states", "checkpoint_payload", "non_finite_advice"]


class RunParts:
    """Build the parts of a run from its recipe (seeded first, so a run repeats exactly)."""

    def __init__(self, recipe: Any, plugins: Any, data: Any, env: Any, device: Any, precision: Any, console: Any,
                 adapt_threads: int = 0, loggers: tuple[tuple[str, Any, str], ...] = ()):
        self.precision = precision
        from .batches import Batches
        from .components import build_components
        from .device import make_scaler, prepare_model
        from .loop import StepParts
        from .rng import seed_everything

        t = recipe["train"]
        self.recipe, self.data, self.env, self.device = recipe, data, env, device
        self.batch_size = int(t["batch_size"])
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
        self.parts = StepParts(self.model, self._wrap(), self.comps.loss_fn, self.comps.optimizer,
                               self.comps.scheduler, make_scaler(precision, device), None, precision, device,
                               self.comps.ops, int(t["accumulate"]), float(t["grad_clip"]))
        self.train_batches = Batches(data.train, device, channels_last=t["channels_last"])
        self.val_batches = Batches(data.val, device, channels_last=t["channels_last"])
        self._trainable = self._signature()
        self.callbacks: list[tuple[str, Any]] = []
        self.callback_origins: dict[str, tuple[str, str]] = {}
        for name, params, where, key in callback_order(recipe, adapt_threads):
            made = plugins.build("callbacks", name, params, where=where)
            if key is None:  # tk's own: saved under its name
                key = name
            else:
                self.callback_origins[key] = (name, plugins.entry("callbacks", name, where).origin)
            self.callbacks.append((key, made))
        self._place_loggers(loggers)

    def _place_loggers(self, loggers: tuple[tuple[str, Any, str], ...]) -> None:
        """Loggers that are callbacks (``(name, object, origin)``, rank 0 only) run right after the
        ``events`` callback, else last, in ``train.loggers``' order; each is blamed by name."""
        keys = [k for k, _ in self.callbacks]
        at = keys.index("events") + 1 if "events" in keys else len(keys)
        for name, logger, origin in loggers:
            key = f"logger:{name}"
            self.callbacks.insert(at, (key, logger))
            self.callback_origins[key] = (name, origin)
            at += 1

    # -- distributed wrapping --------------------------------------------------------------
    def _wrap(self) -> Any:
        """What the loop calls: DDP around the (compiled) model in a distributed run."""
        if not self.env.distributed:
            return self.compiled
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DDP(self.compiled, device_ids=ids)

    def _signature(self) -> tuple[bool, ...]:
        return tuple(p.requires_grad for p in self.model.parameters())

    def maybe_rewrap(self) -> None:
        """DDP registers only trainable parameters: rebuild it when a part (un)froze some."""
        signature = self._signature()
        if signature != self._trainable:
            self._trainable = signature
            if self.env.distributed:
                self.parts.forward_model = self._wrap()

    # -- state -----------------------------------------------------------------------------
    def load(self, ckpt: dict[str, Any]) -> None:
        """Model, optimiser, schedule, scaler and step counter of a checkpoint."""
        self.model.load_state_dict(ckpt["model"])
        self.comps.optimizer.load_state_dict(ckpt["optimizer"])
        if self.comps.scheduler is not None and ckpt.get("scheduler") is not None:
            self.comps.scheduler.load_state_dict(ckpt["scheduler"])
        if self.parts.scaler is not None and ckpt.get("scaler") is not None:
            self.parts.scaler.load_state_dict(ckpt["scaler"])
        self.parts.global_step = int(ckpt.get("global_step", 0))

    def model_info(self) -> dict[str, Any]:
        from ..core.geometry import InputSpec
        from .model import count_parameters

        spec = InputSpec.from_recipe(self.recipe["data"], mean=self.model.mean.flatten().tolist(),
                                     std=self.model.std.flatten().tolist())
        return {"backbone": self.recipe["model"]["backbone"], **spec.to_model_info(), "input_range": [0, 1],
                "num_classes": len(self.data.class_names),
                "params": int(count_parameters(self.model))}

    def train_inputs(self):
        """`TrainState.train_inputs`: every training image in order, in batches, no augmentation
        (the same on every process, so statistics computed from them agree)."""
        n, size = len(self.data.train), self.batch_size * 2
        for start in range(0, n, size):
            yield self.train_batches.batch(list(range(start, min(n, start + size))))[0]

    def validate(self, model: Any, prefix: str, on_batch: Any = None) -> dict[str, float]:
        """Loss, accuracy and macro-F1 of ``model`` on the validation split (all processes);
        ``on_batch`` sees each batch (`toolkit.engine.loop.evaluate`)."""
        from .loop import evaluate
        from .metrics import classification_metrics

        env = self.env
        ids = list(range(len(self.val_batches)))[env.rank::env.world_size]
        res = evaluate(model, self.val_batches, self.batch_size * 2, self.comps.loss_fn, self.precision,
                       self.device, ids, on_batch=on_batch)
        loss_sum, seen = env.all_reduce_sum([res.loss_sum, float(res.seen)], self.device)
        pairs = sorted(env.gather_lists(list(zip(res.indices, res.preds))))
        scores = None
        if env.is_main:  # the others take rank 0's figures: they never load scikit-learn (~70 MB each)
            labels = [self.data.val.labels[i] for i, _ in pairs]
            m = classification_metrics(labels, [p for _, p in pairs], self.data.class_names)
            scores = (m["accuracy"], m["macro_f1"])
        accuracy, macro_f1 = env.broadcast_object(scores)
        return {f"{prefix}_loss": loss_sum / max(seen, 1), f"{prefix}_accuracy": accuracy,
                f"{prefix}_macro_f1": macro_f1}

    def score(self, model: Any) -> dict[str, float]:
        """`TrainState.evaluate`: any module scored on the validation split like the model."""
        return {k.split("_", 1)[1]: v for k, v in self.validate(model, "x").items()}

    @staticmethod
    def write_history(run_dir: Path, history: list[dict[str, Any]]) -> None:
        from ..core.atomic import atomic_write

        text = "".join(json.dumps(h) + "\n" for h in history)
        atomic_write(run_dir / "history.jsonl", lambda fh: fh.write(text.encode()))


PLACEMENT = ("before", "after")
"""Keys of a ``[[train.callbacks]]`` table that place it instead of going to its factory."""


def callback_order(recipe: Any, adapt_threads: int = 0) -> list[tuple[str, dict[str, Any], str, str | None]]:
    """The run's callbacks in calling order: ``(name, parameters, recipe location, state key)``.

    tk's own (`toolkit.engine.callbacks.builtin_callbacks`, key None) come first and last, the
    recipe's in between in the recipe's order (key ``"<index>:<name>"``, whatever their place).
    A ``[[train.callbacks]]`` table that names one of tk's own moves it to the recipe's place,
    or switches it off with ``enabled = false``; ``before``/``after = NAME`` puts any callback
    next to the first callback of that name.
    """
    from ..core.errors import RecipeError
    from .callbacks import builtin_callbacks

    first, last = builtin_callbacks(recipe, adapt_threads)
    own = {n: p for n, p in (*first, *last)}
    listed = []
    for i, cb in enumerate(recipe["train"]["callbacks"]):
        name = cb["name"]
        if name in own:  # tk's own, placed or switched off by the recipe
            params = own.pop(name)
            if cb.get("enabled", True) is not False:
                listed.append((name, params, name, None, cb))
        else:
            listed.append((name, {k: v for k, v in cb.items() if k != "name" and k not in PLACEMENT},
                           f"train.callbacks[{i}]", f"{i}:{name}", cb))
    order = [(n, p, n, None) for n, p in first if n in own]
    order += [(n, p, w, k) for n, p, w, k, cb in listed if not any(cb.get(x) for x in PLACEMENT)]
    order += [(n, p, n, None) for n, p in last if n in own]
    for name, params, where, key, cb in listed:
        how = next((x for x in PLACEMENT if cb.get(x)), None)
        if how is None:
            continue
        target = cb[how]
        at = next((i for i, item in enumerate(order) if item[0] == target), None)
        if at is None:
            raise RecipeError(f"{where}.{how}: no callback named {target!r} runs in this run; it has "
                              f"{', '.join(dict.fromkeys(item[0] for item in order))}.")
        order.insert(at + (how == "after"), (name, params, where, key))
    return order


_LEGACY_KEYS = {"ema": "ema", "early_stopping": "early_stopping", "best_checkpoint": "best"}
"""Where tk 0.2 kept three built-in callbacks' state in last.pt (top-level keys): still read."""


def callback_states(ckpt: dict[str, Any]) -> dict[str, Any]:
    """The callbacks' saved state by key, from this format or tk 0.2's."""
    states = dict(ckpt.get("callbacks") or {})
    for name, old in _LEGACY_KEYS.items():
        if name not in states and ckpt.get(old) is not None:
            states[name] = ckpt[old]
    return states


def checkpoint_payload(kind: str, status: str, metrics: dict[str, Any], *, epoch: int, global_step: int,
                       model_state: Any, optimizer: Any, scheduler: Any, scaler: Any, history: list[dict[str, Any]],
                       class_names: list[str], recipe: dict[str, Any], recipe_path: str, model_info: dict[str, Any],
                       callbacks: Any) -> dict[str, Any]:
    """Everything a ``best.pt``/``last.pt`` holds (see the module docstring), from the values the
    trainer hands over: the optimiser, scheduler, scaler and callbacks give their ``state_dict``."""
    from .rng import capture_rng

    payload = {
        "kind": kind, "epoch": epoch, "global_step": global_step, "model": model_state,
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None and hasattr(scheduler, "state_dict") else None,
        "scaler": scaler.state_dict() if scaler is not None else None,
        "rng": capture_rng(), "history": list(history), "class_names": list(class_names), "recipe": recipe,
        "recipe_path": recipe_path, "model_info": model_info, "metrics": dict(metrics), "status": status,
    }
    # Every callback's state, tk's own included, in last.pt (which runs resume from); best.pt holds
    # the weights and what inference and the report need, not training state.
    payload["callbacks"] = callbacks.state_dict() if kind == "last" else {}
    if kind == "best":  # the weights and what inference needs: training state lives in last.pt,
        # which runs resume from (as Ultralytics strips optimiser state when training ends)
        payload.update({"optimizer": None, "scheduler": None, "scaler": None, "rng": None})
    return payload


def non_finite_advice(trainer: Any) -> str:
    """What to change after a NaN/inf loss, with values: a resume would replay the same steps."""
    lr = (trainer.resolved.get("optim") or {}).get("lr")
    if not isinstance(lr, (int, float)) or isinstance(lr, bool):
        group = trainer.comps.optimizer.param_groups[0]
        lr = float(group.get("initial_lr", group["lr"]))
    fixes = [f"lower the learning rate (optim.lr is {lr:g}; try --set optim.lr={lr / 10:g})"]
    if not float(trainer.recipe["train"]["grad_clip"]):
        fixes.append("clip gradients (--set train.grad_clip=1.0)")
    if trainer.precision.dtype is not None:
        fixes.append("train in full precision (--set train.amp=off)")
    return f"To go on, {'; or '.join(fixes)}, and start a new run: resuming this one would repeat the same steps."

"""An example third-party tk plugin: a loss, a sampler, a callback, an exporter and a command.

Copy this package to start your own. tk finds it through the entry point in pyproject.toml::

    [project.entry-points.tk]
    example = "tk_example_plugin"

After ``pip install .``, `tk plugins` lists ``example`` with what it registered, and a recipe
can say ``[loss] name = "poly1"``, ``[sampler] name = "capped"``, ``[[train.callbacks]] name =
"lr_log"`` or ``[export] formats = ["torchscript"]`` (with ``[export.torchscript] freeze =
false``); ``tk example-info RUN`` is a new command. Heavy imports (torch) happen inside the
factories and the command's function, so listing plugins and `tk --help` stay fast.
"""

from __future__ import annotations

import click

from toolkit import Callback, RecipeError, hookimpl


def poly1_loss(epsilon: float = 1.0, label_smoothing: float = 0.0):
    """Poly-1 cross-entropy (Leng et al. 2022): CE + epsilon * (1 - p_target)."""
    import torch
    import torch.nn.functional as F

    def loss(logits, targets):
        if targets.ndim == 1:
            onehot = F.one_hot(targets, logits.shape[1]).to(logits.dtype)
        else:
            onehot = targets
        ce = F.cross_entropy(logits, onehot, label_smoothing=label_smoothing)
        pt = (torch.softmax(logits, dim=1) * onehot).sum(dim=1)
        return ce + epsilon * (1 - pt).mean()

    return loss


class CappedSampler:
    """Each epoch visits at most ``cap`` images of every class (a cheap way to tame imbalance)."""

    def __init__(self, labels: list[int], cap: int, seed: int):
        self.labels, self.cap, self.seed = list(labels), cap, seed

    def indices(self, epoch: int) -> list[int]:
        import random

        rng = random.Random(self.seed * 7919 + epoch)
        by_class: dict[int, list[int]] = {}
        for i, y in enumerate(self.labels):
            by_class.setdefault(y, []).append(i)
        chosen: list[int] = []
        for members in by_class.values():
            rng.shuffle(members)
            chosen.extend(members[: self.cap])
        rng.shuffle(chosen)
        return chosen


def capped_sampler(labels: list[int], seed: int, cap: int = 100):
    """At most ``cap`` images per class each epoch, reshuffled every epoch."""
    if cap < 1:
        raise RecipeError(f"sampler.cap: must be at least 1, not {cap}.")
    return CappedSampler(labels, cap, seed)


@hookimpl
def tk_register_losses(register):
    register("poly1", poly1_loss)


@hookimpl
def tk_register_samplers(register):
    register("capped", capped_sampler)


# -- a callback: behaviour inside the training loop ------------------------------------------
class LrLog(Callback):
    """Writes ``step,lr`` after every optimiser step to ``lr.csv`` in the run folder, and stops the
    run once the rate has fallen below ``stop_below`` (0: never)."""

    def __init__(self, stop_below: float):
        self.stop_below = stop_below

    def on_train_batch_end(self, state):
        lr = float(state.optimizer.param_groups[0]["lr"])
        if state.is_main:  # one process writes files
            with open(state.run_dir / "lr.csv", "a", encoding="utf-8") as fh:
                fh.write(f"{state.step},{lr:.8g}\n")
        if self.stop_below and lr < self.stop_below:
            state.request_stop(f"lr_log: the learning rate fell below {self.stop_below:g}")


def lr_log(stop_below: float = 0.0):
    """Log the learning rate after every optimiser step to lr.csv; stop when it falls below stop_below."""
    if isinstance(stop_below, bool) or not isinstance(stop_below, (int, float)) or stop_below < 0:
        raise RecipeError(f"train.callbacks: lr_log.stop_below must be a number >= 0, not {stop_below!r}.")
    return LrLog(float(stop_below))


# -- an exporter with one option: TorchScript ---------------------------------------------------
class TorchScriptPredictor:
    """Runs a .ts model written by `TorchScriptExporter` (the `toolkit.export.Predictor` protocol)."""

    runtime, device = "TorchScript", "cpu"

    def __init__(self, path):
        import json
        import warnings

        import torch

        extra = {"tk.json": ""}
        with warnings.catch_warnings():  # TorchScript's deprecation notice
            warnings.simplefilter("ignore")
            self.module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
        meta = json.loads(extra["tk.json"] or "{}")  # tk's metadata: flat strings, lists as JSON
        self.class_names = [str(c) for c in json.loads(meta.get("tk.class_names") or "[]")]
        self.image_size = int(meta.get("tk.image_size") or 0)
        self.resize = meta.get("tk.resize", "bicubic")
        if len(self.class_names) < 2 or not 16 <= self.image_size <= 4096:
            raise RecipeError(f"{path}: not a TorchScript model written by tk (no class names or image size).")

    def predict(self, images):
        import numpy as np
        import torch

        with torch.no_grad():
            x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
            return self.module(x).numpy()

    def predict_all(self, images, batch_size: int = 32):
        import numpy as np

        if len(images) == 0:
            return np.zeros((0, len(self.class_names)), dtype=np.float32)
        return np.concatenate([self.predict(images[i:i + batch_size]) for i in range(0, len(images), batch_size)])

    def close(self):
        self.module = None


class TorchScriptExporter:
    """A .ts file: pixels 0–255 in, probabilities out (what tk's ONNX model does), for C++/mobile."""

    name, suffix, runtime = "torchscript", ".ts", "TorchScript"

    def __init__(self, freeze: bool):
        self.options = {"freeze": freeze}

    def available(self):
        return True, ""

    def can_run(self):
        return True, ""

    def devices(self):
        return [("cpu", True, "")]

    def tolerance(self, options):
        from toolkit import Tolerance

        return Tolerance(min_agreement=1.0, max_prob_diff=1e-4)

    def export(self, model, path, *, image_size, class_names, metadata, options):
        import json
        import os
        import warnings

        import torch

        from toolkit import deployable_model

        wrapped = deployable_model(model, input_scale=1.0 / 255.0).eval()
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TorchScript's deprecation notice
            traced = torch.jit.trace(wrapped, torch.rand(2, 3, image_size, image_size) * 255)
            if self.options["freeze"]:
                traced = torch.jit.freeze(traced)
        tmp = path.with_name(f".{path.name}.tmp")
        torch.jit.save(traced, str(tmp), _extra_files={"tk.json": json.dumps(metadata)})
        os.replace(tmp, path)
        return path

    def describe(self, path):
        return {"input": {"name": "image", "dtype": "float32", "range": "[0, 255]"}, "frozen": self.options["freeze"]}

    def load(self, path, *, device=None):
        return TorchScriptPredictor(path)


def torchscript_exporter(freeze: bool = True):
    """TorchScript (.ts) model; freeze: inline the weights and fold constants (torch.jit.freeze)."""
    if not isinstance(freeze, bool):
        raise RecipeError(f"export.torchscript.freeze: must be true or false, not {freeze!r}.")
    return TorchScriptExporter(freeze)


# -- a command: `tk example-info RUN` -------------------------------------------------------------
@click.command("example-info")
@click.argument("run", type=click.Path(exists=True, file_okay=False))
def example_info(run):
    """Print a run's classes, best epoch and learning-rate log length (an example plugin command)."""
    import json
    from pathlib import Path

    metrics = json.loads((Path(run) / "metrics.json").read_text())
    lr_file = Path(run) / "lr.csv"
    steps = len(lr_file.read_text().splitlines()) if lr_file.exists() else 0
    click.echo(f"classes: {', '.join(metrics['class_names'])}; best epoch {metrics['best_epoch']}; "
               f"{steps} learning rates logged")


@hookimpl
def tk_register_callbacks(register):
    register("lr_log", lr_log)


@hookimpl
def tk_register_exporters(register):
    register("torchscript", torchscript_exporter)


@hookimpl
def tk_register_commands(cli):
    cli.add_command(example_info)

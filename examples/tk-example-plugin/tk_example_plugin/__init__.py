"""An example third-party tk plugin that registers one part of every kind, and a command.

Copy this package to start your own. tk finds it through the entry point in pyproject.toml::

    [project.entry-points.tk]
    example = "tk_example_plugin"

After ``pip install .``, `tk plugins` lists ``example`` with what it registered:

=============  ================  =============================================================
kind           name              recipe
=============  ================  =============================================================
backbone       ``small_cnn``     ``[model] backbone = "small_cnn"`` (``width``, ``dropout``)
augmentation   ``grayscale``     ``[[augment.ops]] name = "grayscale"`` (``p``)
loss           ``poly1``         ``[loss] name = "poly1"`` (``epsilon``, ``label_smoothing``)
sampler        ``capped``        ``[sampler] name = "capped"`` (``cap``)
optimizer      ``lion``          ``[optim] name = "lion"`` (``lr``, ``beta1``, ``beta2``, ``weight_decay``)
scheduler      ``linear_decay``  ``[schedule] name = "linear_decay"`` (``end_factor``)
callbacks      ``lr_log``,       ``[[train.callbacks]] name = "lr_log"`` (``stop_below``);
               ``accuracy_gap``  ``name = "accuracy_gap"`` adds the metric ``accuracy_gap``
exporter       ``torchscript``   ``[export] formats = ["torchscript"]``, ``[export.torchscript] freeze``
dataset        ``filenames``     ``[data] source = "filenames"`` (``separator``): ``cat_001.png`` is a cat
logger         ``csv_log``       ``[train] loggers = ["csv_log"]``: ``epochs.csv`` in the run folder
command        ``example-info``  ``tk example-info RUN``
=============  ================  =============================================================

Heavy imports (torch) happen inside the factories and the command's function (the optimiser
class lives in `tk_example_plugin.optim`, the exporter in `tk_example_plugin.torchscript`, each
imported by its factory), so listing plugins and
`tk --help` stay fast. Its tests (``tests/``) check every entry with one line of
`toolkit.testing`.
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


# -- a backbone: an nn.Module from normalised N×3×H×W to N×num_classes logits --------------------
def check_small_cnn(width: int = 16, dropout: float = 0.0) -> None:
    """The values `small_cnn` refuses, checked by `tk recipes check` without building anything
    (the factory needs ``num_classes``, known only once the data is read)."""
    if isinstance(width, bool) or not isinstance(width, int) or not 1 <= width <= 512:
        raise RecipeError(f"model.width: must be a whole number from 1 to 512, not {width!r}.")
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise RecipeError(f"model.dropout: must be a number in [0, 1), not {dropout!r}.")


def small_cnn(num_classes: int, width: int = 16, dropout: float = 0.0):
    """Three convolution blocks and a linear head: a from-scratch model for small images."""
    from torch import nn

    check_small_cnn(width, dropout)
    blocks = []
    channels = 3
    for scale in (1, 2, 4):
        blocks += [nn.Conv2d(channels, width * scale, 3, stride=2, padding=1, bias=False),
                   nn.BatchNorm2d(width * scale), nn.ReLU(inplace=True)]
        channels = width * scale
    net = nn.Sequential(*blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout),
                        nn.Linear(channels, num_classes))
    net.pretrained_cfg = {"mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5)}  # the normalisation tk puts in front
    return net


# -- an augmentation: op(images 0-1, targets) -> (images, targets) on whole batches ---------------
def grayscale(p: float = 0.2):
    """Turn a random share p of the batch grey (luma), keeping three channels."""
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
        raise RecipeError(f"augment.ops: grayscale.p must be a number in [0, 1], not {p!r}.")

    def op(images, targets):
        import torch

        n = images.shape[0]
        luma = torch.tensor([0.299, 0.587, 0.114], device=images.device, dtype=images.dtype).view(1, 3, 1, 1)
        grey = (images * luma).sum(1, keepdim=True).expand_as(images)
        picked = torch.rand(n, device=images.device) < p  # torch's generator: tk seeds and checkpoints it
        return torch.where(picked.view(n, 1, 1, 1), grey, images), targets

    return op


# -- an optimiser: a torch.optim.Optimizer; param_groups() spares norms and biases from decay -----
def check_lion(lr: float = 1e-4, beta1: float = 0.9, beta2: float = 0.99, weight_decay: float = 0.0) -> None:
    for key, value, low, high in (("lr", lr, 0.0, 1.0), ("beta1", beta1, 0.0, 1.0), ("beta2", beta2, 0.0, 1.0)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low < value < high:
            raise RecipeError(f"optim.{key}: must be a number between {low:g} and {high:g}, not {value!r}.")
    if isinstance(weight_decay, bool) or not isinstance(weight_decay, (int, float)) or weight_decay < 0:
        raise RecipeError(f"optim.weight_decay: must be a number >= 0, not {weight_decay!r}.")


def lion(model, lr: float = 1e-4, beta1: float = 0.9, beta2: float = 0.99, weight_decay: float = 0.0):
    """Lion (Chen et al. 2023): sign-of-momentum updates; use a rate 3-10x below AdamW's."""
    from toolkit import param_groups

    from .optim import Lion  # the class needs torch: imported with the factory, not with the plugin

    check_lion(lr, beta1, beta2, weight_decay)
    return Lion(param_groups(model, weight_decay), lr=lr, betas=(beta1, beta2), weight_decay=weight_decay)


# -- a schedule: a torch LR scheduler (stepped per epoch; tk_interval = "step" for per step) ------
def check_linear_decay(end_factor: float = 0.1) -> None:
    if isinstance(end_factor, bool) or not isinstance(end_factor, (int, float)) or not 0 < end_factor <= 1:
        raise RecipeError(f"schedule.end_factor: must be a number in (0, 1], not {end_factor!r}.")


def linear_decay(optimizer, epochs: int, end_factor: float = 0.1):
    """The rate falls in a straight line from the recipe's to end_factor times it in the last epoch."""
    import torch

    check_linear_decay(end_factor)
    return torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=1.0, end_factor=end_factor,
                                             total_iters=max(1, epochs - 1))


# -- a callback: behaviour inside the training loop ------------------------------------------
class LrLog(Callback):
    """Writes ``step,lr`` after every optimiser step to ``lr.csv`` in the run folder, and stops the
    run once the rate has fallen below ``stop_below`` (0: never). Its state (the rates logged so
    far) is saved in last.pt, and a resumed run first cuts lr.csv back to the checkpoint's step, so
    a killed and resumed run ends with the same count and the same file."""

    def __init__(self, stop_below: float):
        self.stop_below = stop_below
        self.logged = 0

    def on_train_start(self, state):
        path = state.run_dir / "lr.csv"
        if state.is_main and path.exists():  # rows a killed run wrote after its last checkpoint go
            rows = path.read_text(encoding="utf-8").splitlines()
            kept = [r for r in rows if int(r.split(",")[0]) <= state.step]
            path.write_text("".join(r + "\n" for r in kept), encoding="utf-8")

    def on_train_batch_end(self, state):
        if not state.stepped:  # train.accumulate > 1: no optimiser step on this batch
            return
        lr = float(state.optimizer.param_groups[0]["lr"])
        self.logged += 1
        if state.is_main:  # one process writes files
            with open(state.run_dir / "lr.csv", "a", encoding="utf-8") as fh:
                fh.write(f"{state.step},{lr:.8g}\n")
        if self.stop_below and lr < self.stop_below:
            state.request_stop(f"lr_log: the learning rate fell below {self.stop_below:g}")

    def state_dict(self):
        return {"logged": self.logged}

    def load_state_dict(self, state):
        self.logged = int(state["logged"])


def lr_log(stop_below: float = 0.0):
    """Log the learning rate after every optimiser step to lr.csv; stop when it falls below stop_below."""
    if isinstance(stop_below, bool) or not isinstance(stop_below, (int, float)) or stop_below < 0:
        raise RecipeError(f"train.callbacks: lr_log.stop_below must be a number >= 0, not {stop_below!r}.")
    return LrLog(float(stop_below))


class AccuracyGap(Callback):
    """Adds the metric ``accuracy_gap``: training minus validation accuracy (how far it overfits)."""

    def on_validation_end(self, state):  # metrics added here reach the history, best.pt, early stopping
        state.metrics["accuracy_gap"] = state.metrics["train_accuracy"] - state.metrics["val_accuracy"]


def accuracy_gap():
    """Report train minus validation accuracy as the metric accuracy_gap (train.monitor may watch it)."""
    return AccuracyGap()


# -- an exporter with one option: TorchScript (tk_example_plugin.torchscript) --------------------
def torchscript_exporter(freeze: bool = True):
    """TorchScript (.ts) model; freeze: inline the weights and fold constants (torch.jit.freeze)."""
    if not isinstance(freeze, bool):
        raise RecipeError(f"export.torchscript.freeze: must be true or false, not {freeze!r}.")
    from .torchscript import TorchScriptExporter

    return TorchScriptExporter(freeze)


# -- a dataset: a toolkit.FolderIndex of (path, label) samples ------------------------------------
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


def filenames(root, separator: str = "_"):
    """Every image under data.root (sub-folders too), its class taken from its file name before
    the last separator: cat_001.png and pets/cat_2.jpg are cats."""
    from pathlib import Path

    from toolkit import DataError, FolderIndex

    if not isinstance(separator, str) or not separator:
        raise RecipeError(f"data.separator: must be a non-empty string, not {separator!r}.")
    if root is None:
        raise RecipeError("data.root: the filenames dataset needs data.root, the folder of images.")
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"data.root: {root} is not a folder of images.")
    found, skipped = [], []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        label, sep, _ = path.stem.rpartition(separator)
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            skipped.append((str(path), "not an image file"))
        elif not (sep and label):
            skipped.append((str(path), f"no '{separator}' in its name to take the class from"))
        else:
            found.append((str(path), label))
    names = sorted({label for _, label in found})
    if len(names) < 2:
        raise DataError(f"data.root: {root} holds images of {len(names)} class(es) named before a {separator!r} "
                        f"in their file names; a run needs 2.")
    return FolderIndex(root=root, class_names=names, samples=[(p, names.index(c)) for p, c in found],
                       skipped=skipped)


# -- a logger: a callback a recipe names in train.loggers ----------------------------------------
class CsvLog(Callback):
    """Appends every epoch's headline metrics to ``epochs.csv`` in the run folder, and the run's
    end to ``status.txt`` (tk builds loggers on the process of rank 0 only)."""

    COLUMNS = ("epoch", "train_loss", "val_loss", "val_accuracy", "val_macro_f1", "lr")

    def __init__(self, run_dir):
        from pathlib import Path

        self.path = Path(run_dir) / "epochs.csv"

    def on_train_epoch_end(self, state):
        new = not self.path.exists()
        with open(self.path, "a", encoding="utf-8") as fh:
            if new:
                fh.write(",".join(self.COLUMNS) + "\n")
            fh.write(",".join(f"{float(state.metrics[c]):.6g}" for c in self.COLUMNS) + "\n")

    def teardown(self, state):  # always comes: finished, stopped, interrupted or failed
        self.path.with_name("status.txt").write_text(f"{state.status}\n", encoding="utf-8")


def csv_log(run_dir):
    """Write each epoch's metrics to epochs.csv in the run folder."""
    return CsvLog(run_dir)


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
def tk_register_backbones(register):
    register("small_cnn", small_cnn, check=check_small_cnn)


@hookimpl
def tk_register_augmentations(register):
    register("grayscale", grayscale)


@hookimpl
def tk_register_optimizers(register):
    register("lion", lion, check=check_lion)


@hookimpl
def tk_register_schedulers(register):
    register("linear_decay", linear_decay, check=check_linear_decay)


@hookimpl
def tk_register_callbacks(register):
    register("lr_log", lr_log)
    register("accuracy_gap", accuracy_gap, metrics=["accuracy_gap"])


@hookimpl
def tk_register_datasets(register):
    register("filenames", filenames, needs_root=True)  # a missing data.root is refused before torch loads


@hookimpl
def tk_register_loggers(register):
    register("csv_log", csv_log)


@hookimpl
def tk_register_exporters(register):
    register("torchscript", torchscript_exporter)


@hookimpl
def tk_register_commands(cli):
    cli.add_command(example_info)

"""What a recipe may say: every section, every core key, its type, default and allowed values.

Sections that pick a plugin (`data.source`, `model.backbone`, `loss.name`, `sampler.name`,
`optim.name`, `schedule.name`) pass their other keys to that plugin's factory; those keys are
checked against the factory's signature, and their defaults come from it. Everything else is
listed here, so `tk recipes check` can validate a recipe before any work starts, and the
resolved recipe written into a run folder spells out every value used.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.errors import RecipeError


@dataclass(frozen=True)
class Key:
    """A core recipe key."""

    type: type | tuple[type, ...]
    default: Any
    doc: str
    choices: tuple[Any, ...] | None = None
    min: float | None = None
    max: float | None = None
    optional: bool = False  # None (key absent) allowed


@dataclass(frozen=True)
class Section:
    """A recipe table. ``plugin`` names the key that selects a plugin of ``kind``; the other
    keys of the table (not in ``keys``) are that plugin's parameters."""

    keys: dict[str, Key]
    doc: str
    plugin: str | None = None
    kind: str | None = None
    free_form: bool = False  # tables whose content another module validates ([tune])


_NUM = (int, float)
SEED_MAX = 2**64 - 1  # what torch.manual_seed takes

LOOP_METRICS = ("val_loss", "val_accuracy", "val_macro_f1", "train_loss", "train_accuracy")
"""Metrics every epoch reports, which ``train.best_metric`` and ``train.monitor`` may name; with
``train.ema`` also ``ema_val_*``, and those the recipe's callbacks declare (``metrics=``)."""

SCHEMA: dict[str, Section] = {
    "data": Section(
        {
            "source": Key(str, "folder", "dataset plugin: 'folder' reads data.root; 'screens' draws the quickstart data"),
            "root": Key(str, None, "image folder (one sub-folder per class), relative to the recipe file (to the working directory with --set)", optional=True),
            "image_size": Key((int, list), 224, "model input in pixels: a square side, or [height, width] "
                              "(e.g. [224, 384] for 16:9 screens)", min=16, max=4096),
            "resize": Key(str, "squeeze", "how images reach image_size: 'squeeze' (the whole image, aspect "
                          "ratio not kept) or 'letterbox' (aspect kept, padded black)", choices=("squeeze", "letterbox")),
            "val_fraction": Key(_NUM, 0.2, "share of each class held out for validation", min=0.0, max=0.9),
            "test_fraction": Key(_NUM, 0.0, "share of each class held out for the test split", min=0.0, max=0.9),
            "seed": Key(int, 0, "seed of the split (and of generated data)", min=0, max=SEED_MAX),
            "group_by": Key(str, "near_duplicates", "what the split keeps together: 'near_duplicates' (perceptual "
                            "hash), 'none', or a regular expression whose first group names the group in the path"),
            "near_duplicate_bits": Key(int, 8, "bits of 64 in which two images' perceptual hashes may differ and "
                                       "still count as near-duplicates", min=0, max=32),
            "folds": Key(int, 0, "k-fold cross-validation (tk run --folds K sets it): 0 for a plain split",
                         min=0, max=100),
            "fold": Key(int, 0, "which fold (1..folds) this run validates on", min=0, max=100),
            "unknown_root": Key(str, None, "optional folder of images of none of the classes (out of scope), "
                                "relative to the recipe (--set: to the working directory): used to choose the unknown threshold", optional=True),
            "on_bad_image": Key(str, "skip", "what to do with unreadable images", choices=("skip", "fail")),
            "cache": Key(str, "disk", "decoded-image cache: 'disk' reuses decodes across runs", choices=("disk", "memory")),
            "cache_dir": Key(str, None, "where decoded images are cached (default ~/.cache/tk), relative like data.root", optional=True),
            "workers": Key(int, 2, "threads that decode images", min=0, max=64),
        },
        "Where the images come from and how they are split.",
    ),
    "model": Section(
        {"backbone": Key(str, "resnet18", "backbone plugin or any timm model name")},
        "The network. Other keys (pretrained, head, freeze, drop_rate …) go to the backbone factory.",
    ),
    "augment": Section(
        {"ops": Key(list, [], "training augmentations in order: tables with a 'name' and its parameters")},
        "Batch augmentations run on the training device.",
    ),
    "loss": Section({"name": Key(str, "cross_entropy", "loss plugin")}, "The training loss."),
    "sampler": Section({"name": Key(str, "random", "sampler plugin")}, "Order of training images."),
    "optim": Section({"name": Key(str, "adamw", "optimizer plugin")}, "The optimiser."),
    "schedule": Section({"name": Key(str, "cosine", "scheduler plugin ('constant' for none)")}, "Learning-rate schedule."),
    "train": Section(
        {
            "epochs": Key(int, 10, "passes over the training set", min=1, max=100000),
            "batch_size": Key(int, 32, "images per optimiser step (before accumulation)", min=1, max=65536),
            "device": Key(str, "auto", "auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps"),
            "amp": Key(str, "auto", "mixed precision", choices=("auto", "off", "bf16", "fp16")),
            "channels_last": Key(bool, False, "channels-last memory format (faster convolutions on GPUs)"),
            "compile": Key(bool, False, "torch.compile the model"),
            "threads": Key((int, str), 0, "CPU threads for torch (0: every core this process may use, fixed for the "
                                          "run so results repeat; a number sets the count; \"adaptive\": fewer "
                                          "while other processes use the cores, results then do not repeat)",
                           min=0, max=1024),
            "accumulate": Key(int, 1, "optimiser step every N batches", min=1, max=1024),
            "grad_clip": Key(_NUM, 0.0, "clip the gradient norm to this (0: off)", min=0.0, max=1e6),
            "seed": Key(int, 0, "seed of weights, sampling and augmentation", min=0, max=SEED_MAX),
            "best_metric": Key(str, "val_accuracy", "metric that picks best.pt (val_loss is minimised, others maximised)"),
            "early_stopping": Key(bool, True, "stop when the monitored metric stops improving"),
            "monitor": Key(str, "val_loss", "metric early stopping watches"),
            "mode": Key(str, "min", "whether the monitored metric should go down or up", choices=("min", "max")),
            "patience": Key(int, 10, "epochs without improvement before stopping", min=1, max=100000),
            "min_delta": Key(_NUM, 0.001, "smallest change that counts as improvement", min=0.0, max=1e6),
            "restore_best": Key(bool, True, "early stopping restores the weights of the best monitored epoch"),
            "ema": Key(bool, False, "keep an exponential moving average of the weights and evaluate it"),
            "ema_decay": Key(_NUM, 0.999, "EMA decay per optimiser step", min=0.0, max=1.0),
            "sync_bn": Key(bool, False, "synchronise batch norm across processes (distributed runs)"),
            "loggers": Key(list, [], "logger plugins to attach (e.g. 'tensorboard', 'mlflow')"),
            "callbacks": Key(list, [], "training-loop callbacks in order: [[train.callbacks]] tables with a 'name' "
                                       "and its parameters (e.g. name = \"swa\")"),
            "out": Key(str, "runs", "folder that holds run folders, relative to the working directory"),
        },
        "The training loop.",
    ),
    "calibration": Section(
        {
            "temperature": Key(bool, True, "fit temperature scaling on the validation split after training, so "
                                           "probabilities mean what they say (stored in best.pt and every export)"),
            "unknown": Key(bool, False, "answer 'unknown' below a confidence threshold chosen on validation "
                                        "(and data.unknown_root)"),
            "target_precision": Key(_NUM, 0.95, "the unknown threshold keeps the answers given this precise",
                                    min=0.5, max=1.0),
            "target_coverage": Key(_NUM, 0.0, "instead: the threshold answers this share of known images (0: use "
                                              "target_precision)", min=0.0, max=1.0),
            "unknown_label": Key(str, "unknown", "the label given below the threshold"),
        },
        "Calibrated confidence and the 'unknown' answer, fitted on the validation split after training.",
    ),
    "export": Section(
        {
            "formats": Key(list, ["onnx"], "exporter plugins `tk export` uses by default"),
            "after_train": Key(bool, False, "export (and bench) at the end of `tk run`"),
            "out": Key(str, "exports", "folder that holds exports, relative to the working directory"),
        },
        "Exported models.",
    ),
    "bench": Section(
        {
            "batches": Key(list, [1, 8, 32], "batch sizes to time"),
            "iters": Key(int, 50, "timed iterations per row", min=1, max=1_000_000),
            "warmup": Key(int, 10, "untimed iterations first", min=0, max=1_000_000),
            "runtimes": Key(list, [], "runtimes to bench (empty: every one available)"),
        },
        "`tk bench` settings.",
    ),
    "plugins": Section(
        {
            "modules": Key(list, [], "extra plugin modules: dotted names or .py files relative to the recipe (--set: the working directory)"),
            "disable": Key(list, [], "plugin names to switch off (like TK_DISABLE_PLUGINS)"),
        },
        "Plugins for this recipe.",
    ),
    "tune": Section({}, "Hyperparameter search space (`tk tune`).", free_form=True),
}


def _plugin_sections() -> None:
    """A table that picks one plugin says which kind and key, from `toolkit.plugin.kinds` (one definition)."""
    from dataclasses import replace

    from ..plugin.kinds import KINDS

    for k in KINDS:
        if k.section is not None:
            SCHEMA[k.section] = replace(SCHEMA[k.section], plugin=k.key, kind=k.name)


_plugin_sections()


# -- a key's value against its schema entry ---------------------------------------------------
def _type_name(t: type | tuple[type, ...]) -> str:
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false", list: "a list"}
    if isinstance(t, tuple):
        return "a number" if set(t) == {int, float} else " or ".join(names.get(x, x.__name__) for x in t)
    return names.get(t, t.__name__)


def check_value(key: Key, value: Any) -> str | None:
    """Why ``value`` is not allowed for ``key``, or None."""
    if value is None:
        return None if key.optional else f"must be {_type_name(key.type)}"
    types = key.type if isinstance(key.type, tuple) else (key.type,)
    if isinstance(value, bool) and bool not in types:
        return f"must be {_type_name(key.type)}, not {str(value).lower()}"
    if not isinstance(value, types):
        return f"must be {_type_name(key.type)}, not {value!r}"
    if isinstance(value, float) and not math.isfinite(value):
        return f"must be a finite number, not {value!r}"
    if _holds_nul(value):
        return "holds a NUL byte (\\0), which no path or name can contain"
    if key.choices is not None and value not in key.choices:
        return f"must be one of {', '.join(repr(c) for c in key.choices)}, not {value!r}"
    if key.min is not None and isinstance(value, (int, float)) and value < key.min:
        return f"must be at least {key.min}, not {value!r}"
    if key.max is not None and isinstance(value, (int, float)) and value > key.max:
        return f"must be at most {key.max}, not {value!r}"
    return None


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    return False


def compile_group_pattern(pattern: str) -> Any:
    """``data.group_by`` as a regular expression with at least one capture group.

    Compiled with RE2 (``google-re2``), which matches in time linear in the path's length: a
    pattern such as ``(a+)+$`` that makes Python's backtracking ``re`` run for hours on one file
    name costs microseconds. RE2 has no backreferences or lookarounds, which a path-grouping
    pattern does not need; such a pattern is refused in one line.
    """
    import re2

    options = re2.Options()
    options.log_errors = False  # the error goes into our one-line message, not onto stderr
    try:
        compiled = re2.compile(pattern, options=options)
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise RecipeError(f"data.group_by: {pattern!r} is not a valid regular expression ({reason}; tk matches "
                          f"with RE2, which has no backreferences or lookarounds); use 'near_duplicates', 'none' or "
                          f"a regular expression whose first group names the group.") from None
    if compiled.groups < 1:
        raise RecipeError(f"data.group_by: {pattern!r} has no capture group: put the part of the path that names "
                          f"the group in parentheses, e.g. '^[^/]+/(rec\\d+)_'.")
    return compiled


def check_cross(recipe: Any) -> None:
    """Checks that involve several keys or the shape of list items."""
    threads = recipe["train"]["threads"]
    if isinstance(threads, str) and threads != "adaptive":
        raise recipe.error("train", "threads", f"must be a number of threads (0: every core, fixed for the run) or "
                                               f"\"adaptive\", not {threads!r}.")
    data = recipe["data"]
    if data["val_fraction"] + data["test_fraction"] >= 0.95:
        raise recipe.error("data", "test_fraction", "val_fraction + test_fraction must leave images to train on (< 0.95).")
    size = data["image_size"]
    if isinstance(size, list) and (len(size) != 2 or not all(isinstance(v, int) and not isinstance(v, bool)
                                                             and 16 <= v <= 4096 for v in size)):
        raise recipe.error("data", "image_size", f"must be a side in pixels (16–4096) or [height, width] of two "
                                                 f"such sides, not {size!r}.")
    if data["folds"] == 1 or data["fold"] > data["folds"] or (data["folds"] and not data["fold"]):
        raise recipe.error("data", "fold", f"fold {data['fold']} of {data['folds']}: folds is 0 (no cross-validation) "
                                           f"or 2..100, and fold between 1 and folds (tk run --folds K sets both).")
    if data["group_by"] not in ("near_duplicates", "none"):
        try:
            compile_group_pattern(data["group_by"])
        except RecipeError as exc:
            raise recipe.error("data", "group_by", str(exc).removeprefix("data.group_by: ")) from None
    for i, op in enumerate(recipe["augment"]["ops"]):
        if not isinstance(op, dict) or not isinstance(op.get("name"), str):
            raise recipe.error("augment", "ops", f"item {i} must be a table with a 'name', e.g. {{ name = \"hflip\" }}.")
    for i, cb in enumerate(recipe["train"]["callbacks"]):
        if not isinstance(cb, dict) or not isinstance(cb.get("name"), str):
            raise recipe.error("train", "callbacks", f"item {i} must be a table with a 'name', e.g. "
                                                     f"[[train.callbacks]] name = \"swa\".")
    for section, key in (("train", "loggers"), ("export", "formats"), ("plugins", "modules"), ("plugins", "disable")):
        if not all(isinstance(v, str) for v in recipe[section][key]):
            raise recipe.error(section, key, "must be a list of strings.")
    batches = recipe["bench"]["batches"]
    if not batches or not all(isinstance(b, int) and not isinstance(b, bool) and b >= 1 for b in batches):
        raise recipe.error("bench", "batches", "must be a non-empty list of positive integers.")
    train = recipe["train"]
    if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", train["device"]):
        raise recipe.error("train", "device", f"must be auto, cpu, cuda, cuda:N or mps, not {train['device']!r}.")
    for section, key in (("train", "out"), ("export", "out")):  # output folders a stranger's recipe could aim
        value = recipe[section][key]
        if ".." in Path(value).parts:
            raise recipe.error(section, key, f"must not climb out with '..' ({value!r}).")

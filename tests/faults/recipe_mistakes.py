"""The recipe mistakes the fault suite makes, each with what the one-line error must name.

A `Mistake` is a small edit of a valid recipe (or a ``--set`` on it), the recipe keys and words
the message must contain, and which commands must refuse it: `tk recipes check` catches what
can be known from the recipe and the plugins alone; mistakes about the data or the model's
shapes show only when `tk run` reads the images and builds the model — before any training.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from toolkit.recipe.load import dumps_toml
from toolkit.testing import make_image_folder

BASE: dict[str, dict[str, Any]] = {
    "data": {"root": "images", "image_size": 32, "val_fraction": 0.25, "workers": 0},
    "model": {"backbone": "test_efficientnet", "pretrained": False},
    "optim": {"lr": 0.01},
    "train": {"epochs": 1, "batch_size": 4, "device": "cpu"},
}


@dataclass(frozen=True)
class Mistake:
    """One mistake: ``change`` edits the BASE sections (a value of None deletes the key), or
    ``text`` replaces the whole file; ``args`` are extra command-line arguments."""

    name: str
    what: str
    says: tuple[str, ...]
    change: dict[str, dict[str, Any]] = field(default_factory=dict)
    text: str | None = None
    args: tuple[str, ...] = ()
    check: bool = True  # `tk recipes check` must refuse it too
    names_file: bool = True  # the message starts from the recipe file (else from --set)
    setup: Callable[[Path], None] | None = None  # prepares files next to the recipe


def render(mistake: Mistake) -> str:
    if mistake.text is not None:
        return mistake.text
    sections = {name: dict(keys) for name, keys in BASE.items()}
    for section, keys in mistake.change.items():
        table = sections.setdefault(section, {})
        for key, value in keys.items():
            if value is None:
                table.pop(key, None)
            else:
                table[key] = value
    return "# a recipe with one mistake\n" + dumps_toml(sections)


def _one_class(folder: Path) -> None:
    make_image_folder(folder / "single", {"only": 6}, size=32)


def _loose_images(folder: Path) -> None:
    make_image_folder(folder / "flat_tmp", {"x": 3}, size=32)
    (folder / "flat").mkdir()
    for p in (folder / "flat_tmp" / "x").iterdir():
        p.rename(folder / "flat" / p.name)


def _broken_module(folder: Path) -> None:
    (folder / "broken_plugin.py").write_text("from toolkit import hookimpl\n\ndef oops(:\n    pass\n")


def _a_file(folder: Path) -> None:
    (folder / "not_a_folder.txt").write_text("images are elsewhere\n")


MISTAKES: list[Mistake] = [
    Mistake("toml-syntax", "TOML syntax error (unclosed table header)", ("not valid TOML", "line 3"),
            text="# broken\n[data]\n[train\nepochs = 3\n"),
    Mistake("duplicate-key", "the same key twice", ("not valid TOML",),
            text='[train]\nepochs = 3\nepochs = 4\n'),
    Mistake("unknown-section", "unknown section ([trian])", ("[trian]", "Did you mean [train]"),
            change={"trian": {"epochs": 3}}),
    Mistake("unknown-key", "unknown key (train.epoch)", ("train.epoch", "Did you mean 'epochs'"),
            change={"train": {"epoch": 3}}),
    Mistake("wrong-type", "wrong type (epochs = \"ten\")", ("train.epochs", "must be an integer"),
            change={"train": {"epochs": "ten"}}),
    Mistake("bool-for-int", "true where a number belongs", ("train.batch_size", "not true"),
            change={"train": {"batch_size": True}}),
    Mistake("section-not-table", "a section written as a value (train = 3)", ("train must be a table",),
            text="train = 3\n"),
    Mistake("below-range", "out of range (epochs = 0)", ("train.epochs", "at least 1"),
            change={"train": {"epochs": 0}}),
    Mistake("above-range", "out of range (val_fraction = 1.5)", ("data.val_fraction", "at most 0.9"),
            change={"data": {"val_fraction": 1.5}}),
    Mistake("bad-choice", "value not among the choices (amp = \"fp8\")", ("train.amp", "must be one of"),
            change={"train": {"amp": "fp8"}}),
    Mistake("bad-device", "malformed device (\"gpu\")", ("train.device", "auto, cpu, cuda"),
            change={"train": {"device": "gpu"}}),
    Mistake("absent-device", "a GPU that is not there (cuda:99)", ("train.device", "cuda:99"),
            change={"train": {"device": "cuda:99"}}, check=False),
    Mistake("unknown-loss", "unknown plugin (loss focal_los)", ("loss.name", "focal_los", "Did you mean 'focal'"),
            change={"loss": {"name": "focal_los"}}),
    Mistake("unknown-backbone", "unknown backbone", ("model.backbone", "resnet9000"),
            change={"model": {"backbone": "resnet9000"}}),
    Mistake("unknown-plugin-param", "unknown plugin parameter (loss.gama)", ("loss.gama", "Did you mean 'gamma'"),
            change={"loss": {"name": "focal", "gama": 2.0}}),
    Mistake("unknown-augmentation", "unknown augmentation", ("augment.ops[0].name", "flipp"),
            change={"augment": {"ops": [{"name": "flipp"}]}}),
    Mistake("augment-not-table", "augmentation given as a bare string", ("augment.ops", "item 0 must be a table"),
            change={"augment": {"ops": ["hflip"]}}),
    Mistake("unknown-exporter", "unknown exporter in export.formats", ("export.formats", "tflite"),
            change={"export": {"formats": ["tflite"]}}),
    Mistake("unknown-logger", "unknown logger", ("train.loggers", "wandb"),
            change={"train": {"loggers": ["wandb"]}}),
    Mistake("unknown-metric", "best_metric that no epoch reports", ("train.best_metric", "val_acc"),
            change={"train": {"best_metric": "val_acc"}}),
    Mistake("ema-metric-without-ema", "conflicting options: EMA metric with train.ema off",
            ("train.monitor", "ema_val_loss"), change={"train": {"monitor": "ema_val_loss"}}),
    Mistake("fractions-conflict", "conflicting options: val + test fractions leave nothing to train",
            ("data.test_fraction", "must leave images"), change={"data": {"val_fraction": 0.5, "test_fraction": 0.5}}),
    Mistake("out-climbs", "path traversal in train.out", ("train.out", ".."),
            change={"train": {"out": "../../elsewhere"}}),
    Mistake("export-out-climbs", "path traversal in export.out", ("export.out", ".."),
            change={"export": {"out": "../outside"}}),
    Mistake("missing-plugin-module", "plugins.modules names a missing file", ("plugins.modules", "nope.py"),
            change={"plugins": {"modules": ["nope.py"]}}),
    Mistake("broken-plugin-module", "plugins.modules file with a syntax error", ("plugins.modules", "SyntaxError"),
            change={"plugins": {"modules": ["broken_plugin.py"]}}, setup=_broken_module),
    Mistake("set-unknown-key", "--set with a misspelt key", ("train.epochz", "unknown key"),
            args=("--set", "train.epochz=3"), names_file=False),
    Mistake("set-malformed", "--set without section.key", ("--set epochs=3", "section.key=value"),
            args=("--set", "epochs=3"), names_file=False),
    Mistake("plugin-param-range", "plugin parameter out of range (model.drop_rate = 1.5)",
            ("model.drop_rate", "[0, 1)"), change={"model": {"drop_rate": 1.5}}, check=False),
    Mistake("optimizer-lr", "negative learning rate", ("optim.lr",), change={"optim": {"lr": -0.1}}, check=False),
    Mistake("missing-root", "data.root is not set", ("data.root",), change={"data": {"root": None}}, check=False),
    Mistake("missing-data-folder", "data folder that does not exist", ("data.root", "no/such/folder", "does not exist"),
            change={"data": {"root": "no/such/folder"}}, check=False),
    Mistake("root-is-a-file", "data.root names a file", ("data.root", "not_a_folder.txt", "a file"),
            change={"data": {"root": "not_a_folder.txt"}}, check=False, setup=_a_file),
    Mistake("one-class", "a folder with one class", ("data.root", "at least 2 classes"),
            change={"data": {"root": "single"}}, check=False, setup=_one_class),
    Mistake("no-class-folders", "images but no class folders", ("data.root", "no class folders"),
            change={"data": {"root": "flat"}}, check=False, setup=_loose_images),
    Mistake("image-size-vs-model", "image size the model does not accept (ViT patch 16, 40 px)",
            ("data.image_size", "40"), change={"model": {"backbone": "test_vit"}, "data": {"image_size": 40}},
            check=False),
    Mistake("missing-teacher", "distillation teacher checkpoint that does not exist", ("loss.teacher", "no such"),
            change={"loss": {"name": "distill", "teacher": "runs/teacher/1/best.pt"}}, check=False),
    Mistake("missing-weights", "model.pretrained_path that does not exist", ("model.pretrained_path",),
            change={"model": {"pretrained_path": "weights/none.safetensors"}}, check=False),
]

"""Every entry of a plugin package, checked the way a run uses it.

One line in a plugin package's tests checks everything it registers, of every kind::

    from toolkit.testing import check_every_entry

    test_every_entry = check_every_entry("tk_acme")     # your module, or your distribution "tk-acme"

pytest then runs one test per entry (``test_every_entry[losses:my_focal]`` …), each on tiny real
images (32 px PNGs in three classes), in seconds:

=============================  =================================================================
kind                           what is checked
=============================  =================================================================
backbones                      built from ``[model]``, one optimiser step changes its weights; a
                               one-epoch run with it, exported to ONNX with parity checked
augmentations                  built from ``[[augment.ops]]``, keeps a batch's shape and 0–1
                               range (soft targets sum to one), one step trains through it
losses                         built from ``[loss]``, a finite scalar that trains one step
samplers                       built from ``[sampler]``, ``indices(epoch)`` repeatable and in range
optimizers, schedulers         built from ``[optim]``/``[schedule]``, one step; a schedule's state
                               is plain data
callbacks                      a two-epoch run listing it; its ``state_dict`` is saved in last.pt
                               and loads back into a fresh one; the metrics it declares appear
loggers                        a one-epoch run with it attached; it implements an event hook
datasets                       builds a `FolderIndex` of at least two classes of existing files;
                               a one-epoch run reads its data
exporters                      exports a trained tiny run's best.pt, loads the file back and
                               matches PyTorch within its own tolerance (`toolkit.export`)
=============================  =================================================================

Parameters come from the factory's defaults plus the entry's ``example`` registration info
(``register("x", make_x, example={"gamma": 1.0})``), whose strings may name ``"{images}"`` (the
folder of class folders), ``"{checkpoint}"`` (a tk checkpoint of those classes) or ``"{run}"``
(its run folder); an entry that answers for many names (``resolve=``) is tried as its
``example_name``. A dataset is given ``data.root = "{images}"`` unless its ``example`` says
``root = ...``. An exporter that cannot export on this machine (`available()` false) is skipped
with its reason. A failure is an AssertionError (or tk's one-line error) naming the entry.

Outside pytest: ``EntryKit(workdir, "tk_acme").check("losses", "my_focal")``.
"""

from __future__ import annotations

import importlib
import math
import re
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

__all__ = ["CLASSES", "SIZE", "EntryKit", "Unavailable", "assert_one_step", "check_every_entry", "entries_of",
           "train_one_step"]

CLASSES = {"ant": 8, "bee": 6, "cat": 4}
"""The kit's images: three classes, imbalanced on purpose (18 images)."""

SIZE = 32
"""Their side in pixels."""

PARTS = {"backbones": ("model", "backbone"), "losses": ("loss", "name"), "samplers": ("sampler", "name"),
         "optimizers": ("optim", "name"), "schedulers": ("schedule", "name"), "augmentations": ("augment", "ops")}
"""The kinds trained for one step from a recipe table, and the table (and key) that names them."""

BASE_BACKBONE = "test_resnet"
"""The backbone of a recipe that checks another kind (a timm test model: tiny, no download)."""


class Unavailable(Exception):
    """The entry cannot be checked on this machine (an exporter whose `available()` is false)."""


# -- which entries ---------------------------------------------------------------------------
def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class _Selection:
    """The plugin names a package stands for, and the modules to load that are not installed."""

    names: set[str]
    extra: list[tuple[str, Any]]
    label: str


def _select(package: Any) -> _Selection:
    """``package``: a module (or any object with hookimpls), an importable module's name, or a
    distribution's name (``tk-acme``)."""
    if isinstance(package, str):
        wanted = _canonical(package)
        names = set()
        for ep in metadata.entry_points(group="tk"):
            dist = _canonical(ep.dist.name) if ep.dist else ""
            if dist == wanted or ep.value == package or ep.value.split(":")[0].startswith(package + "."):
                names.add(ep.name)
        if names:
            return _Selection(names, [], package)
        try:
            module = importlib.import_module(package)
        except ImportError as exc:
            raise LookupError(f"{package!r} is neither an installed distribution with tk entry points nor an "
                              f"importable module ({exc}).") from None
    else:
        module = package
    name = _name(module)
    for ep in metadata.entry_points(group="tk"):  # installed: the entry point loads it, under its own name
        if ep.value.split(":")[0] == name:
            return _Selection({ep.name}, [], name)
    return _Selection({name}, [(name, module)], name)


def _name(plugin: Any) -> str:
    """A plugin module's name, or an object's class name (a plugin may be any object with hookimpls)."""
    return getattr(plugin, "__name__", None) or type(plugin).__name__


def _load(selection: _Selection) -> Any:
    from ..plugin.manager import load_plugins

    return load_plugins(extra=selection.extra)


def entries_of(package: str | ModuleType, kinds: Any = None, plugins: Any = None) -> list[tuple[str, str]]:
    """``(kind, name)`` of every entry ``package`` registers (tk's own ``builtin`` callbacks aside), in
    `toolkit.plugin.kinds.KINDS` order; a LookupError when it registers nothing or is broken."""
    from ..plugin.kinds import KINDS

    selection = _select(package)
    plugins = plugins or _load(selection)
    broken = [b for b in plugins.broken if b.name in selection.names]
    if broken:
        b = broken[0]
        raise LookupError(f"plugin '{b.name}'" + (f" ({b.dist} {b.version})" if b.dist else "") + f" is broken: {b.error}")
    found = [(k.name, entry.name) for k in KINDS if kinds is None or k.name in kinds
             for entry in plugins.registry(k.name) if entry.plugin in selection.names and not entry.info.get("builtin")]
    if not found:
        raise LookupError(f"{selection.label!r} registers no entries" + (f" of kinds {', '.join(kinds)}" if kinds else "")
                          + f" (plugins looked at: {', '.join(sorted(selection.names))}).")
    return found


# -- one training step from a recipe -----------------------------------------------------------
def train_one_step(recipe: Any, plugins: Any, images: Any, labels: list[int], class_names: list[str], *,
                   batch: int = 6, image_size: int = SIZE) -> dict[str, Any]:
    """Build every part of ``recipe`` (a `Recipe` or TOML text) through the registries, as a run does,
    with the run context of `toolkit.plugin.hookspecs`, and train one step on ``images`` (uint8 N×3×S×S).

    Returns the parts and what happened: ``model``, ``loss``, ``logits``, ``x``/``y`` (the batch
    after the augmentations), ``order`` (the sampler's epoch 0), ``sampler``, ``optimizer``,
    ``scheduler``, ``changed`` (trainable tensors the step changed), ``lr_before``, ``num_classes``.
    """
    import torch

    from ..engine.model import build_model
    from ..recipe.load import load_recipe

    recipe = load_recipe(text=recipe) if isinstance(recipe, str) else recipe
    recipe.validate(plugins)
    k = len(class_names)
    counts = [labels.count(i) for i in range(k)]
    torch.manual_seed(0)
    model = build_model(recipe, plugins, k)
    loss_fn = plugins.build("losses", recipe["loss"]["name"], recipe.plugin_params("loss", plugins), where="loss",
                            context={"num_classes": k, "class_counts": counts, "class_names": list(class_names)})
    sampler = plugins.build("samplers", recipe["sampler"]["name"], recipe.plugin_params("sampler", plugins),
                            where="sampler", context={"labels": list(labels), "num_classes": k,
                                                      "class_counts": counts, "seed": 0})
    ops = [plugins.build("augmentations", op["name"], {a: v for a, v in op.items() if a != "name"},
                         where=f"augment.ops[{i}]", context={"num_classes": k, "image_size": image_size})
           for i, op in enumerate(recipe["augment"]["ops"])]
    optimizer = plugins.build("optimizers", recipe["optim"]["name"], recipe.plugin_params("optim", plugins),
                              where="optim", context={"model": model})
    scheduler = plugins.build("schedulers", recipe["schedule"]["name"], recipe.plugin_params("schedule", plugins),
                              where="schedule", context={"optimizer": optimizer, "epochs": 2, "steps_per_epoch": 3})
    for part in (model.backbone, loss_fn, sampler, *ops):
        if callable(getattr(part, "on_epoch_start", None)):
            part.on_epoch_start(0)
    order = sampler.indices(0)
    idx = torch.tensor(list(order)[:batch])
    x = images[idx].float() / 255.0
    y = torch.tensor(labels)[idx]
    for op in ops:
        x, y = op(x, y)
    before = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    model.train()
    logits = model(x)
    loss = loss_fn(logits, y, x) if getattr(loss_fn, "needs_inputs", False) else loss_fn(logits, y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    lr_before = [g["lr"] for g in optimizer.param_groups]
    if scheduler is not None:
        if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            scheduler.step(float(loss.detach()))
        else:
            scheduler.step()
    changed = sum(not torch.equal(before[n], p) for n, p in model.named_parameters() if n in before)
    return {"recipe": recipe, "model": model, "loss": loss, "logits": logits, "x": x, "y": y, "order": order,
            "sampler": sampler, "optimizer": optimizer, "scheduler": scheduler, "changed": changed,
            "lr_before": lr_before, "num_classes": k}


def assert_one_step(kind: str, name: str, out: dict[str, Any], n_images: int, batch: int = 6,
                    image_size: int = SIZE) -> None:
    """What every entry of ``kind`` must have done in `train_one_step` (AssertionErrors naming it)."""
    from ..plugin.registry import singular

    what = f"{singular(kind)} '{name}'"
    k = out["num_classes"]
    assert out["logits"].shape == (batch, k), f"{what}: logits of shape {tuple(out['logits'].shape)}, not {(batch, k)}"
    loss = out["loss"]
    assert loss.dim() == 0 and math.isfinite(float(loss.detach())), f"{what}: the loss is not a finite scalar: {loss}"
    assert out["changed"] > 0, f"{what}: one optimiser step changed no trainable parameter"
    if kind == "augmentations":
        x, y = out["x"], out["y"]
        assert tuple(x.shape) == (batch, 3, image_size, image_size), f"{what}: changed the batch's shape to {tuple(x.shape)}"
        assert float(x.min()) >= 0 and float(x.max()) <= 1, f"{what}: images left the 0-1 range"
        if y.dim() == 2:  # soft targets: rows of the class count, summing to one
            assert tuple(y.shape) == (batch, k) and abs(float(y.sum(1).mean()) - 1) < 1e-5, \
                f"{what}: soft targets must be N×{k} rows summing to one"
    if kind == "samplers":
        sampler, order = out["sampler"], out["order"]
        assert list(order) == list(sampler.indices(0)), f"{what}: indices(epoch) must be deterministic"
        assert len(order) > 0 and all(0 <= int(i) < n_images for i in order), f"{what}: indices outside 0..{n_images - 1}"
    if kind == "schedulers" and out["scheduler"] is not None:
        assert isinstance(out["scheduler"].state_dict(), dict), f"{what}: state_dict() must be a dict (checkpointed)"


def _part_recipe(kind: str, name: str, params: dict[str, Any]) -> str:
    """A recipe whose table for ``kind`` names ``name`` with ``params``; the rest is default."""
    from ..recipe.load import dumps_toml

    sections: dict[str, Any] = {"data": {"image_size": SIZE}, "model": {"backbone": BASE_BACKBONE}}
    section, key = PARTS[kind]
    if kind == "augmentations":
        sections["augment"] = {"ops": [{"name": name, **params}]}
    else:
        sections[section] = {key: name, **params}
    return dumps_toml(sections)


# -- the kit -----------------------------------------------------------------------------------
class EntryKit:
    """Checks entries of one package, with what they share made once under ``workdir``: the images,
    their decoded tensors, and a trained tiny run (exporters export it; ``"{checkpoint}"``)."""

    def __init__(self, workdir: str | Path, package: str | ModuleType | None = None, *, plugins: Any = None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.selection = _select(package) if package is not None else _Selection(set(), [], "")
        self.plugins = plugins or _load(self.selection)
        self._images: Path | None = None
        self._decoded: tuple[Any, list[int], list[str]] | None = None
        self._run: Path | None = None
        self._count = 0

    # -- shared material ---------------------------------------------------------------------
    @property
    def images(self) -> Path:
        """A folder of class folders of real 32 px PNGs (`CLASSES`)."""
        if self._images is None:
            from .helpers import make_image_folder

            self._images = make_image_folder(self.workdir / "images", CLASSES, size=SIZE)
        return self._images

    @property
    def decoded(self) -> tuple[Any, list[int], list[str]]:
        """``(uint8 images N×3×32×32, labels, class names)`` of `images`."""
        if self._decoded is None:
            from ..data import decode_images, scan_folder

            index = scan_folder(self.images)
            result = decode_images(index.paths, SIZE, cache_dir=None)
            assert not result.failed, result.failed
            self._decoded = (result.images, index.labels, index.class_names)
        return self._decoded

    @property
    def run(self) -> Path:
        """A finished one-epoch run of tk's own parts on `images` (best.pt, split.json, metrics.json)."""
        if self._run is None:
            self._run = self.train({}, "shared-run")
        return self._run

    def fill(self, params: dict[str, Any]) -> dict[str, Any]:
        """``params`` with ``"{images}"``, ``"{checkpoint}"`` and ``"{run}"`` replaced by real paths."""
        def one(value: Any) -> Any:
            if not isinstance(value, str) or "{" not in value:
                return value
            for key, path in (("{images}", lambda: self.images), ("{checkpoint}", lambda: self.run / "best.pt"),
                              ("{run}", lambda: self.run)):
                if key in value:
                    value = value.replace(key, str(path()))
            return value

        return {k: one(v) for k, v in params.items()}

    def example(self, kind: str, name: str) -> tuple[Any, str, dict[str, Any]]:
        """``(entry, name to ask for, parameters)`` of an entry, from its ``example``/``example_name`` info."""
        entry = self.plugins.registry(kind).get(name, f"{kind} '{name}'")
        asked = str(entry.info.get("example_name", name)) if entry.info.get("resolve") else name
        return entry, asked, self.fill(dict(entry.info.get("example") or {}))

    # -- runs ------------------------------------------------------------------------------
    def recipe(self, sections: dict[str, Any], *, epochs: int = 1) -> dict[str, Any]:
        """A tiny run's recipe on `images`: ``sections`` merged over tk's defaults for tests (CPU,
        32 px, one thread, no early stopping, a timm test backbone from scratch)."""
        base: dict[str, Any] = {
            "data": {"root": str(self.images), "image_size": SIZE, "val_fraction": 0.25, "workers": 0},
            "model": {"backbone": "test_efficientnet", "pretrained": False},
            "optim": {"lr": 0.01},
            "train": {"epochs": epochs, "batch_size": 6, "device": "cpu", "threads": 1, "early_stopping": False},
        }
        for section, table in sections.items():
            replace = section == "model" and "backbone" in table  # the other backbone's own parameters only
            base[section] = dict(table) if replace else {**base.get(section, {}), **table}
        return base

    def train(self, sections: dict[str, Any], label: str, *, epochs: int = 1) -> Path:
        """Write and run `recipe` (``sections`` over the defaults) in-process; the finished run folder."""
        from ..engine.train import run_recipe
        from ..recipe.load import dumps_toml, load_recipe

        self._count += 1
        folder = self.workdir / f"{self._count:02d}-{re.sub(r'[^A-Za-z0-9_.-]+', '_', label)}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "recipe.toml"
        path.write_text(dumps_toml(self.recipe(sections, epochs=epochs)), encoding="utf-8")
        result = run_recipe(load_recipe(path), out=folder / "run", quiet=True, extra_plugins=self.selection.extra)
        assert result.status in ("finished", "stopped"), f"{label}: the run ended {result.status}"
        return result.run_dir

    # -- the checks --------------------------------------------------------------------------
    def check(self, kind: str, name: str) -> dict[str, Any]:
        """Check one entry (see the module docstring); returns what was found. Raises AssertionError,
        a `toolkit.TkError` naming the entry, or `Unavailable`."""
        checks: dict[str, Callable[[str], dict[str, Any]]] = {
            "callbacks": self._callback, "loggers": self._logger, "datasets": self._dataset,
            "exporters": self._exporter}
        if kind in PARTS:
            return self._part(kind, name)
        if kind not in checks:
            raise ValueError(f"unknown kind {kind!r}")
        return checks[kind](name)

    def _part(self, kind: str, name: str) -> dict[str, Any]:
        entry, asked, params = self.example(kind, name)
        images, labels, names = self.decoded
        out = train_one_step(_part_recipe(kind, asked, params), self.plugins, images, labels, names)
        assert_one_step(kind, name, out, len(labels))
        if kind == "backbones":
            run = self.train({"model": {"backbone": asked, **params}}, f"backbone-{name}")
            out["exported"] = self._export(run, "onnx", {}, required=False)
        return out

    def _callback(self, name: str) -> dict[str, Any]:
        from ..core.checkpoint import load_checkpoint
        from ..plugin.callbacks import Callback
        from .resume import same

        entry, asked, params = self.example("callbacks", name)
        made = self.plugins.build("callbacks", asked, dict(params), where="train.callbacks[0]")
        run = self.train({"train": {"callbacks": [{"name": asked, **params}]}}, f"callback-{name}", epochs=2)
        last = load_checkpoint(run / "last.pt")
        found: dict[str, Any] = {"run": run}
        if callable(getattr(made, "state_dict", None)) and getattr(type(made), "state_dict", None) is not Callback.state_dict:
            saved = last.get("callbacks") or {}
            key = next((k for k in saved if k == asked or str(k).endswith(f":{asked}")), None)
            assert key is not None, (f"callback '{name}': has state_dict() but last.pt holds no state for it "
                                     f"(callbacks saved: {', '.join(map(str, saved)) or 'none'})")
            fresh = self.plugins.build("callbacks", asked, dict(params), where="train.callbacks[0]")
            assert callable(getattr(fresh, "load_state_dict", None)), \
                f"callback '{name}': has state_dict() but no load_state_dict(d): a resumed run cannot restore it"
            fresh.load_state_dict(saved[key])
            assert same(fresh.state_dict(), saved[key]), \
                f"callback '{name}': load_state_dict(state_dict()) does not give back the same state"
            found["state"] = saved[key]
        history = last.get("history") or []
        for metric in entry.info.get("metrics") or ():
            assert any(metric in row for row in history), (
                f"callback '{name}' declares the metric '{metric}', which no epoch of a {len(history)}-epoch run "
                f"reported; give register(..., example={{...}}) parameters under which it does")
        return found

    def _logger(self, name: str) -> dict[str, Any]:
        from ..plugin.callbacks import CALLBACK_METHODS
        from ..plugin.hookspecs import EVENT_HOOKS
        from ..recipe.load import load_recipe

        entry, asked, _ = self.example("loggers", name)
        probe = self.workdir / f"logger-{name}-probe"
        probe.mkdir(parents=True, exist_ok=True)
        made = self.plugins.create("loggers", asked, {}, where="train.loggers",
                                   context={"run_dir": probe, "recipe": load_recipe(text="")})
        hooks = [m for m in CALLBACK_METHODS if m in _own_methods(made)]
        hooks += [h for h in EVENT_HOOKS if hasattr(getattr(made, h, None), "tk_impl")]
        assert hooks, (f"logger '{name}': its object implements no callback method (toolkit.Callback's "
                       f"on_train_epoch_end, teardown …) and none of the event hooks ({', '.join(EVENT_HOOKS)}) "
                       f"as methods marked @toolkit.hookimpl, so a run tells it nothing")
        run = self.train({"train": {"loggers": [asked]}}, f"logger-{name}")
        return {"run": run, "hooks": hooks}

    def _dataset(self, name: str) -> dict[str, Any]:
        import os

        entry, asked, params = self.example("datasets", name)
        root = params.pop("root", str(self.images))
        index = self.plugins.build("datasets", asked, dict(params), where="data.source",
                                   context={"root": Path(root) if root else None, "seed": 0,
                                            "cache_dir": self.workdir / "cache", "name": asked})
        what = f"dataset '{name}'"
        assert len(index.class_names) >= 2, f"{what}: {len(index.class_names)} class(es) in {root}; a run needs 2"
        assert index.samples, f"{what}: no images in {root}"
        k = len(index.class_names)
        bad = [(p, y) for p, y in index.samples if not (0 <= int(y) < k) or not os.path.isfile(p)]
        assert not bad, f"{what}: samples whose file is missing or label is outside 0..{k - 1}: {bad[:3]}"
        run = self.train({"data": {"source": asked, "root": root, **params}}, f"dataset-{name}")
        return {"index": index, "run": run}

    def _exporter(self, name: str) -> dict[str, Any]:
        entry, asked, params = self.example("exporters", name)
        return self._export(self.run, asked, params, required=True)

    def _export(self, run: Path, name: str, options: dict[str, Any], *, required: bool) -> dict[str, Any]:
        """Export ``run`` with exporter ``name`` (parity checked by `export_run`), load it back, predict."""
        import numpy as np

        from ..export.loading import get_exporter, load_predictor
        from ..export.run import export_run

        if name not in self.plugins.registry("exporters"):
            if required:
                raise Unavailable(f"no exporter '{name}'")
            return {}
        exporter = get_exporter(name, self.plugins, where=f"export.{name}", params=dict(options))
        ok, why = exporter.available()
        if not ok:
            if required:
                raise Unavailable(f"exporter '{name}' cannot export here: {why}")
            return {}
        out = self.workdir / f"exports-{name}-{run.parent.name}"
        result = export_run(run, [name], out, plugins=self.plugins, log=None, exporter_options={name: dict(options)})[0]
        assert result.path.exists(), f"exporter '{name}': export() returned {result.path}, which does not exist"
        parity = result.manifest.get("parity") or {}
        found: dict[str, Any] = {"path": result.path, "manifest": result.manifest}
        if parity.get("checked", True) and "passed" in parity:
            assert parity["passed"], f"exporter '{name}': parity failed: {parity}"
            predictor = load_predictor(result.path, plugins=self.plugins)
            images, _, names = self.decoded
            probs = np.asarray(predictor.predict_all(images[:5].numpy()))
            predictor.close()
            assert probs.shape == (5, len(names)), f"exporter '{name}': its predictor returned shape {probs.shape}"
            assert np.isfinite(probs).all() and np.allclose(probs.sum(1), 1, atol=1e-3), \
                f"exporter '{name}': its predictor's rows are not probabilities"
            found["probs"] = probs
        return found


# -- pytest ------------------------------------------------------------------------------------
_KITS: dict[tuple[str, str], EntryKit] = {}


def _kit(package: str | ModuleType, tmp_path_factory: Any) -> EntryKit:
    key = (str(tmp_path_factory.getbasetemp()), package if isinstance(package, str) else _name(package))
    if key not in _KITS:
        _KITS[key] = EntryKit(tmp_path_factory.mktemp("tk-entries"), package)
    return _KITS[key]


def check_every_entry(package: str | ModuleType, *, kinds: Any = None, skip: Any = ()) -> Callable[..., None]:
    """A pytest test function, parametrised over every entry ``package`` registers (of ``kinds``,
    default all): assign it to a ``test_`` name in a test module::

        test_every_entry = check_every_entry("tk_acme")

    ``package`` is your plugin module (or its name), or your distribution's name; installed or not
    (a module that is not installed is loaded as a plugin for these tests only). What each kind must
    pass is in `toolkit.testing.entries`. A package that registers nothing, or fails to load, is one
    failing test saying so. ``skip``: entries to leave out, as ``"kind:name"`` or ``"name"``
    (e.g. a callback that raises on purpose); each is reported as a skipped test with that reason.
    Commands are not checked (run them in your own tests).
    """
    import pytest

    skipped = {skip} if isinstance(skip, str) else set(skip)
    try:
        params = [pytest.param(kind, name, id=f"{kind}:{name}") for kind, name in entries_of(package, kinds)]
    except LookupError as exc:
        params = [pytest.param("", str(exc), id="no-entries")]

    @pytest.mark.parametrize("tk_kind,tk_entry", params)
    def test_every_entry(tk_kind: str, tk_entry: str, tmp_path_factory: Any) -> None:
        if not tk_kind:
            pytest.fail(tk_entry, pytrace=False)
        if f"{tk_kind}:{tk_entry}" in skipped or tk_entry in skipped:
            pytest.skip(f"{tk_kind}:{tk_entry} left out with check_every_entry(..., skip=...)")
        try:
            _kit(package, tmp_path_factory).check(tk_kind, tk_entry)
        except Unavailable as exc:
            pytest.skip(str(exc))

    test_every_entry.__doc__ = f"Every entry of {package!r} builds, trains a step and (exporters, backbones) exports."
    return test_every_entry


def _own_methods(made: Any) -> set[str]:
    """Methods ``made`` defines itself (not `toolkit.Callback`'s do-nothing defaults)."""
    from ..plugin.callbacks import Callback

    return {m for m in dir(made) if callable(getattr(made, m, None))
            and getattr(type(made), m, None) is not getattr(Callback, m, None)}

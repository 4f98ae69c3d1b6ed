"""`EntryKit`: the every-entry checks of one package, one per kind of entry, without pytest.

What each kind must pass is in `toolkit.testing.entries`; the shared material (the images, their
decoded tensors, a trained tiny run) is made once per kit under its working folder.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

from .one_step import CLASSES, PARTS, SIZE, _part_recipe, assert_one_step, train_one_step
from .selection import _load, _select, _Selection

__all__ = ["EntryKit", "Unavailable"]


class Unavailable(Exception):
    """The entry cannot be checked on this machine (an exporter whose `available()` is false)."""


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
        from .compare import same

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


def _own_methods(made: Any) -> set[str]:
    """Methods ``made`` defines itself (not `toolkit.Callback`'s do-nothing defaults)."""
    from ..plugin.callbacks import Callback

    return {m for m in dir(made) if callable(getattr(made, m, None))
            and getattr(type(made), m, None) is not getattr(Callback, m, None)}

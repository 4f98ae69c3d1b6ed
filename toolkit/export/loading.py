"""Find exporters by name or by file suffix, and load any model file as a `Predictor`.

``tk predict``, ``tk eval`` and ``tk bench`` take "a model": a checkpoint (``.pt``) is run by
PyTorch; any other file is matched to the exporter whose ``suffix`` it has (``.onnx``,
``.mlpackage`` …), which loads it. New formats therefore work in every command as soon as an
exporter plugin registers them.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

from ..core.errors import PluginError, TkError
from .manifest import check_model_file
from .protocol import ExportError, Predictor

__all__ = ["get_exporter", "exporter_for_path", "load_predictor", "verify_model_file", "is_model_file", "model_path",
           "exporter_plugins", "build_exporter", "Blamed"]

REQUIRED = ("name", "suffix", "available", "can_run", "export", "describe", "load", "devices", "tolerance")
"""What every exporter object has (`toolkit.export`); ``quantize``, ``compute_plan`` and ``push`` are optional."""


class Blamed:
    """A plugin's exporter (or the predictor its ``load`` returned) whose failures name the plugin.

    Attributes pass through. A method that raises anything but a `TkError` (an exporter's
    `ExportError` is its own message) raises one `PluginError` instead: ``Exporter 'ts' (plugin
    'acme' (tk-acme 1.0)) failed in load: RuntimeError: ...``, the original chained behind it; a
    method the protocol requires and the object lacks is one such line too, not an AttributeError.
    """

    __slots__ = ("_tk_raw", "_tk_who", "_tk_required", "tk_made_by")

    def __init__(self, raw: Any, who: str, required: tuple[str, ...] = REQUIRED, made_by: dict[str, str] | None = None):
        object.__setattr__(self, "_tk_raw", raw)
        object.__setattr__(self, "_tk_who", who)
        object.__setattr__(self, "_tk_required", required)
        #: the plugin, distribution and version of the exporter (written into each manifest)
        object.__setattr__(self, "tk_made_by", dict(made_by or {}))

    def __getattr__(self, name: str) -> Any:
        raw, who = self._tk_raw, self._tk_who
        try:
            value = getattr(raw, name)
        except AttributeError:
            if name in self._tk_required:
                raise PluginError(f"{who} has no {name!r} ({type(raw).__name__} is not an exporter object; "
                                  f"see toolkit.export): the plugin is broken.") from None
            raise
        if name.startswith("__") or not callable(value) or isinstance(value, type):
            return value

        @functools.wraps(value)
        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                result = value(*args, **kwargs)
            except (TkError, KeyboardInterrupt):
                raise
            except Exception as exc:
                raise PluginError(f"{who} failed in {name}: {_one_line(exc)}") from exc
            if name == "load" and result is not None:  # what the model file's runtime does is the plugin's too
                return Blamed(result, f"The predictor of {who[0].lower()}{who[1:]}", ("predict",))
            _check_returned(who, name, result)
            return result

        return call

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._tk_raw, name, value)

    def __repr__(self) -> str:
        return f"Blamed({self._tk_raw!r})"


def _check_returned(who: str, name: str, result: Any) -> None:
    """What tk uses straight away from an exporter is what the protocol says: ``describe`` a dict
    (the manifest is built from it), ``export`` the path of a file or folder it wrote."""
    if name == "describe" and not isinstance(result, dict):
        raise PluginError(f"{who} returned {type(result).__name__} from describe; it returns a dict (what the "
                          f"manifest says of the model file).")
    if name == "export":
        try:
            there = result is not None and os.path.exists(os.fspath(result))
        except TypeError:
            there = False
        if not there:
            raise PluginError(f"{who} returned {result!r} from export, which is not a file or folder it wrote; export "
                              f"returns the path of the model it wrote.")


def _one_line(exc: BaseException) -> str:
    """``Type: first line of the message`` (a runtime's message may run to pages)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else ""
    text = text if len(text) <= 300 else text[:297] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def build_exporter(entry: Any, params: dict[str, Any] | None = None, *, where: str = "exporters") -> Any:
    """Registry ``entry``'s exporter built with ``params``, `Blamed` on its plugin."""
    raw = entry.create(dict(params or {}), {"name": entry.name}, where=where)
    return Blamed(raw, f"Exporter '{entry.name}' ({entry.origin})",
                  made_by={"plugin": entry.plugin, "dist": entry.dist, "version": entry.version})


def unwrapped(exporter: Any) -> Any:
    """The plugin's own object behind a `Blamed` one."""
    return exporter._tk_raw if isinstance(exporter, Blamed) else exporter


def exporter_plugins(plugins: Any | None = None) -> Any:
    """The loaded plugins (entry points) unless a caller already has them."""
    if plugins is not None:
        return plugins
    from ..plugin.manager import load_plugins

    return load_plugins()


def get_exporter(name: str, plugins: Any | None = None, *, where: str = "--format",
                 params: dict[str, Any] | None = None) -> Any:
    """The exporter object registered as ``name``, built with its options ``params`` (checked
    against the factory's signature, like every plugin's); unknown names get close matches."""
    plugins = exporter_plugins(plugins)
    plugins.note_broken()
    entry = plugins.entry("exporters", name, where)
    exporter = build_exporter(entry, params, where=where)
    entry.check_made(unwrapped(exporter), where)  # the wrong type is one line naming the plugin
    return exporter


def _suffix(path: Path) -> str:
    return path.suffix.lower()


def _exporters(plugins: Any) -> list[tuple[Any, Any, str]]:
    """``(entry, exporter, suffix)`` of every registered exporter, built with its defaults."""
    out = []
    for entry in plugins.registry("exporters"):
        exporter = build_exporter(entry)
        out.append((entry, exporter, str(getattr(unwrapped(exporter), "suffix", "")).lower()))
    return out


def _clash(suffix: str, claims: list[Any]) -> PluginError:
    """Two exporters writing files of one suffix: tk could not tell which one reads such a file."""
    named = " and ".join(f"'{e.name}' ({e.origin})" for e in claims)
    return PluginError(f"Exporters {named} both write '{suffix}' files, so tk cannot tell which of them reads one; "
                   f"switch one off with TK_DISABLE_PLUGINS={claims[-1].plugin}.")


def _recorded(path: Path) -> dict[str, Any]:
    """The ``manifest.json`` beside ``path`` when it describes that file ({} otherwise)."""
    import json

    try:
        manifest = json.loads((path.parent / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    if not isinstance(manifest, dict) or manifest.get("file") not in (None, path.name):
        return {}
    return manifest


def _recorded_format(path: Path) -> str | None:
    """The exporter a ``manifest.json`` beside ``path`` says wrote it (None without a readable one)."""
    found = _recorded(path).get("format")
    return found if isinstance(found, str) else None


def _missing_exporter(path: Path, plugins: Any) -> str:
    """Why no exporter here loads ``path`` when its manifest names the one that wrote it: that
    exporter's plugin is switched off or not installed (and which package to install); "" when
    the manifest says nothing."""
    manifest = _recorded(path)
    fmt = manifest.get("format")
    if not isinstance(fmt, str):
        return ""
    from ..plugin.registry import origin_text, unavailable

    made_by = manifest.get("exporter") if isinstance(manifest.get("exporter"), dict) else {}
    if not made_by.get("plugin"):  # an export of an older tk: the format is all it says
        return f"{path}: written by exporter '{fmt}', which is not installed here."
    made = origin_text(*(str(made_by.get(k) or "") for k in ("plugin", "dist", "version")))
    return f"{path}: written by exporter '{fmt}' ({made}){unavailable(made_by, list(getattr(plugins, 'disabled', [])))}"


def exporter_for_path(path: str | Path, plugins: Any | None = None) -> tuple[str, Any]:
    """``(name, exporter)`` whose ``suffix`` matches ``path``, or a `TkError` listing the known suffixes."""
    path = Path(path)
    plugins = exporter_plugins(plugins)
    built = _exporters(plugins)
    known = [suffix for _, _, suffix in built]
    claims = [(entry, exporter) for entry, exporter, suffix in built if suffix and _suffix(path) == suffix]
    if len(claims) > 1:  # the export's manifest says which exporter wrote it; without one, never guess
        recorded = _recorded_format(path)
        claims = [c for c in claims if c[0].name == recorded] or claims
    if len(claims) > 1:
        raise _clash(_suffix(path), [entry for entry, _ in claims])
    if claims:
        return claims[0][0].name, claims[0][1]
    listed = ", ".join(sorted({".pt", *filter(None, known)}))
    raise TkError(_missing_exporter(path, plugins) or f"{path}: not a model tk can load (known model files: {listed}).")


def is_model_file(path: str | Path) -> bool:
    """A checkpoint or an exported model (a file, or a folder with a suffix such as ``.mlpackage``),
    as opposed to a run folder."""
    path = Path(path)
    return path.is_file() or (path.is_dir() and path.suffix != "")


def model_path(target: str | Path) -> Path:
    """A model file from a model path or a run folder (its ``best.pt``)."""
    from .source import resolve_source

    path = Path(target)
    if not path.exists():
        raise TkError(f"{path}: no such model file or run folder.")
    if is_model_file(path):
        return path
    return resolve_source(path).checkpoint


def verify_model_file(path: str | Path, plugins: Any | None = None) -> tuple[str, Any]:
    """``(name, exporter)`` for an exported model that its exporter's checks accept (``describe``:
    the ONNX checker, the Core ML spec), else an `ExportError` saying the file is not what its
    suffix claims — also where the model could not run anyway (Core ML off macOS)."""
    path = Path(path)
    name, exporter = exporter_for_path(path, plugins)
    describe = getattr(unwrapped(exporter), "describe", None) or exporter.describe  # a lack of it is the plugin's
    try:
        describe(path)
    except Exception as exc:  # each format's library raises its own types for a broken file
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise ExportError(f"{path}: not a valid {name} model ({detail}).") from None
    return name, exporter


def load_predictor(path: str | Path, *, device: str | None = None, plugins: Any | None = None,
                   threads: int | None = None) -> Predictor:
    """A `Predictor` for a checkpoint or an exported model; a one-line error when it cannot run here.

    ``threads`` (> 0) fixes the CPU threads of its runtime: PyTorch's intra-op pool for a
    checkpoint (and for an exported model whose predictor runs a torch module), the session's
    intra-op threads (inter-op: 1) for an exporter whose ``load`` takes ``threads`` (ONNX
    Runtime). The predictor's ``threads`` then says the count; it is absent where the runtime
    picks its own (Core ML). None leaves every runtime's default."""
    path = Path(path)
    if not path.exists():
        raise TkError(f"{path}: no such model file.")
    if _suffix(path) == ".pt":
        from .torch_predictor import TorchPredictor

        if threads:
            _torch_threads(threads)
        predictor = TorchPredictor.from_checkpoint(path, device or "cpu")
        if threads:
            predictor.threads = int(threads)
        return predictor
    name, exporter = exporter_for_path(path, plugins)
    check_model_file(path)  # an export that did not finish, or a file its manifest did not check
    ok, why = exporter.can_run()
    if not ok:
        verify_model_file(path, plugins)  # a broken file is reported as broken, not as "needs macOS"
        raise ExportError(f"{path}: {name} models cannot run on this machine: {why}.")
    if not threads:
        return exporter.load(path, device=device)
    import inspect

    takes_threads = "threads" in inspect.signature(exporter.load).parameters  # Blamed keeps the signature
    predictor = exporter.load(path, device=device, **({"threads": int(threads)} if takes_threads else {}))
    if _runs_torch(predictor):
        _torch_threads(threads)
        takes_threads = True
    if takes_threads and predictor is not None:
        predictor.threads = int(threads)
    return predictor


def _torch_threads(threads: int) -> None:
    import torch

    if torch.get_num_threads() != int(threads):
        torch.set_num_threads(int(threads))


def _runs_torch(predictor: Any) -> bool:
    """Whether ``predictor`` runs a torch module (its ``model``): PyTorch's pool is its threads."""
    import sys

    torch = sys.modules.get("torch")
    return torch is not None and isinstance(getattr(predictor, "model", None), torch.nn.Module)

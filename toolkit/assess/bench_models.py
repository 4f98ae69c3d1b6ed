"""What `tk bench` measures: each model file a target stands for, once, and how to load it.

A run folder or checkpoint stands for the checkpoint (PyTorch eager) and every export of the run
(each manifest in its exports folder or recorded in its ``exports.json``, plus the int8 variant);
an exported file for itself. An exporter the run has no file for is a placeholder row saying how
to export it; an export whose check never finished is a row saying so, never a measured one.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..core.errors import TkError
from ..export.loading import build_exporter, exporter_for_path, is_model_file, verify_model_file
from ..export.manifest import MANIFEST_NAME, check_model_file, path_size, read_export_record, read_manifest
from ..export.source import ModelSource, resolve_source
from .evaluate import source_for_model

__all__ = ["Candidate", "candidates", "is_exported_file", "resolved", "runtime_name"]

Log = Callable[[str], None]


@dataclass
class Candidate:
    """One model file in one format, and how to load it on a device."""

    model: str
    format: str
    path: Path
    precision: str
    devices: list[tuple[str, bool, str]]
    load: Callable[[str], Any]
    compute_plan: Callable[[str], dict[str, int]] | None = None
    size_bytes: int = 0
    note: str = ""


def _torch_candidate(source: ModelSource) -> Candidate:
    from ..export.torch_predictor import TorchPredictor, torch_devices

    info = source.model_info
    size = int(info.get("params", 0)) * 4

    def load(device: str) -> Any:
        model, ckpt = source.load_model()
        return TorchPredictor(model, ckpt, device)

    return Candidate(source.label, "pytorch", source.checkpoint, "fp32", torch_devices(), load, size_bytes=size)


def _file_candidate(label: str, path: Path, plugins: Any, threads: int | None, precision: str = "", note: str = "") -> Candidate:
    name, exporter = exporter_for_path(path, plugins)
    accepts_threads = "threads" in inspect.signature(exporter.load).parameters

    def load(device: str) -> Any:
        ok, why = exporter.can_run()
        if not ok:
            raise TkError(why)
        return exporter.load(path, device=device, **({"threads": threads} if accepts_threads else {}))

    plan = (lambda device: exporter.compute_plan(path, device)) if hasattr(exporter, "compute_plan") else None
    return Candidate(label, name, path, precision, exporter.devices(), load, plan, path_size(path), note)


def _run_exports(source: ModelSource) -> list[tuple[str, Path, str, str]]:
    """``(format, file, precision, note)`` of every export of the run: in its default exports folder
    and wherever the run's ``exports.json`` says ``tk export --out`` put one."""
    recipe = source.ckpt.get("recipe") or {}
    folder = Path((recipe.get("export") or {}).get("out") or "exports") / source.label
    manifests = {p.resolve(): p for p in sorted(folder.glob(f"*/{MANIFEST_NAME}"))}
    if source.run_dir is not None:  # exports written with --out, recorded by the run (exports.json)
        for entry in read_export_record(source.run_dir):
            path = Path(entry["manifest"])
            if path.is_file():
                manifests.setdefault(path.resolve(), path)
    found = []
    now = source.ckpt.get("epoch")
    for manifest_path in manifests.values():
        manifest = read_manifest(manifest_path)
        then = (manifest.get("source") or {}).get("epoch") if isinstance(manifest.get("source"), dict) else None
        stale = (f"exported from best.pt of epoch {then}, which is now epoch {now}: tk export again"
                 if isinstance(then, int) and isinstance(now, int) and then != now else "")
        found += [(fmt, file, precision, "; ".join(filter(None, [note, stale])))
                  for fmt, file, precision, note in _manifest_models(manifest_path, manifest)]
    return found


def _manifest_models(manifest_path: Path, manifest: dict[str, Any]) -> list[tuple[str, Path, str, str]]:
    """``(format, file, precision, note)`` of the model (and its int8 variant) a manifest describes."""
    parity = manifest.get("parity") or {}
    note = "parity FAILED at export" if parity.get("passed") is False else ""
    precision = manifest.get("compute_precision") or "fp32"
    if manifest.get("compression") not in (None, "none"):
        precision = f"{precision}+{manifest['compression']}"  # e.g. fp16+palettize4
    found = [(manifest["format"], manifest_path.parent / manifest["file"], precision, note)]
    if isinstance(manifest.get("int8"), dict) and manifest["int8"].get("file"):
        found.append((manifest["format"], manifest_path.parent / manifest["int8"]["file"], "int8", ""))
    return found


def _file_facts(path: Path) -> tuple[str, str]:
    """``(precision, note)`` of an exported file as the manifest beside it records them, so a file
    given on the command line reads like the same file found through its run (``("", "")`` when
    no manifest names it)."""
    manifest_path = path.parent / MANIFEST_NAME
    try:
        manifest = read_manifest(manifest_path) if manifest_path.is_file() else None
        for _fmt, file, precision, note in (_manifest_models(manifest_path, manifest) if isinstance(manifest, dict) else []):
            if _same_path(file, path):
                return precision, note
    except (TkError, KeyError, TypeError):
        pass
    return "", ""


def _same_path(a: Path, b: Path) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


def resolved(path: Path) -> str:
    try:
        return str(Path(path).resolve())
    except OSError:
        return str(path)


def is_exported_file(target: Any) -> bool:
    return target is not None and is_model_file(Path(target)) and Path(target).suffix != ".pt"


def candidates(target: Any, plugins: Any, threads: int | None,
                say: Log = lambda _line: None) -> tuple[ModelSource | None, list[Candidate], list[dict]]:
    """What a command-line target stands for: (its run or None, candidates, placeholder rows).

    A run folder or checkpoint stands for the checkpoint and all its exports; an exported
    file for itself (its run, when its manifest names one, supplies the labelled images).
    """
    placeholders: list[dict] = []
    if is_exported_file(target):
        path = Path(target)
        verify_model_file(path, plugins)  # a file named on the command line that is broken fails the command
        check_model_file(path)  # so does one whose export did not finish, or that its manifest did not check
        try:
            source: ModelSource | None = source_for_model(path)
        except TkError:
            source = None
        label = source.label if source else path.stem
        precision, note = _file_facts(path)
        return source, [_file_candidate(label, path, plugins, threads, precision, note)], placeholders
    source = resolve_source(target)
    if source.note:
        say(source.note)
    candidates = [_torch_candidate(source)]
    exported = _run_exports(source)
    for fmt, file, precision, note in exported:
        if not file.exists():
            continue
        try:
            check_model_file(file)
            # an export no exporter here loads (its plugin uninstalled or switched off): a row saying
            # so, while the run's other models are measured
            candidates.append(_file_candidate(source.label, file, plugins, threads, precision, note))
        except TkError as exc:  # an export killed before its check is a row that says so, never a measured one
            placeholders.append({"model": source.label, "format": fmt, "runtime": runtime_name(fmt), "device": "-",
                                 "precision": precision or "-", "file": str(file), "status": "failed",
                                 "reason": str(exc)})
    have = {fmt for fmt, *_ in exported}
    for entry in plugins.registry("exporters"):
        if entry.name in have:
            continue
        exporter = build_exporter(entry)
        ok, why = exporter.can_run()
        reason = f"not exported (tk export --format {entry.name})"
        placeholders.append({"model": source.label, "format": entry.name, "runtime": getattr(exporter, "runtime", entry.name),
                             "device": "-", "precision": "-", "status": "unavailable",
                             "reason": reason + ("" if ok else f"; {why}")})
    return source, candidates, placeholders


def runtime_name(fmt: str) -> str:
    return {"pytorch": "PyTorch eager", "onnx": "ONNX Runtime", "coreml": "Core ML"}.get(fmt, fmt)

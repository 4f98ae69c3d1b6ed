"""`export_run`: checkpoint → exported models, each checked against PyTorch and described in a manifest.

The steps, per format: ask the exporter to write the file; describe it (input, outputs, and
a format's own checks, e.g. the ONNX checker or the Core ML spec); run it on the validation
images next to the PyTorch model and hold it to the exporter's `Tolerance`; with ``int8``,
quantise it calibrated on training images and measure accuracy and size against the float
model; write ``manifest.json`` beside it. Every format is attempted before a parity failure is
raised, so one bad format does not hide the state of the others.
"""

from __future__ import annotations

import contextlib
import os

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from .loading import get_exporter
from .manifest import (EXPORTING, MANIFEST_NAME, model_metadata, path_digest, path_size, preprocessing, read_manifest,
                       record_export, tool_versions, write_manifest)
from .parity import calibration_images, calibration_split, check_images, compare
from .protocol import ExportError, ExportResult, Parity, Tolerance
from .source import RUNS_ROOT, ModelSource, plugins_for_checkpoint, resolve_source
from .torch_predictor import TorchPredictor

__all__ = ["export_run", "plugins_for_checkpoint"]

Log = Callable[[str], None]


def _unique(names: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for name in names:
        if name not in seen:
            seen.append(name)
    return seen


@dataclass
class _Job:
    """What every format's export shares: the source, the PyTorch reference and its answers on the
    check images, the metadata and manifest fields, the options and where to write."""

    source: ModelSource
    model: Any
    reference: TorchPredictor
    images: Any
    labels: list[int] | None
    what: str
    ref_probs: Any
    meta: dict[str, Any]
    common: dict[str, Any]
    options: dict[str, Any]
    out_root: Path
    say: Log


def export_run(target: str | Path | None = None, formats: Iterable[str] | None = None, out: str | Path | None = None,
               *, runs_root: Path = RUNS_ROOT, plugins: Any | None = None, log: Log | None = print,
               exporter_options: dict[str, dict[str, Any]] | None = None, **options: Any) -> list[ExportResult]:
    """Export a run's ``best.pt`` (or a checkpoint) to ``formats`` and check each against PyTorch.

    ``target``: a run folder, a checkpoint, or None for the most recent run under ``runs_root``.
    ``formats``: exporter names (default: the recipe's ``export.formats``). ``out``: the folder
    that receives one sub-folder per format (default ``<export.out>/<run label>``).
    ``options`` go to every exporter (``precision``, ``int8``, ``onnx_uint8``, ``coreml_quantize``,
    ``calibration_images`` …). ``exporter_options`` are each exporter's own options by name
    (``{"onnx": {"opset": 18}}``), over the run recipe's ``[export.NAME]`` tables: parameters of
    the exporter's factory, checked like any plugin's. Raises `ExportError` (a `TkError`) on an unknown or unavailable
    format, and after writing everything when any model fails its parity tolerance.
    """
    say: Log = log or (lambda _line: None)
    options = dict(options)
    opset = options.pop("opset", None)
    if opset is not None:  # --opset is shorthand for export.onnx.opset: the exporter's own check judges it
        onnx_options = {**((exporter_options or {}).get("onnx") or {}), "opset": opset}
        exporter_options = {**(exporter_options or {}), "onnx": onnx_options}
    source = resolve_source(target, runs_root=runs_root)
    if source.note:
        say(source.note)
    if source.run_dir is not None:
        from ..engine.lock import FolderLock

        training = FolderLock.busy(source.run_dir)
        if training:  # its best.pt will move on: the export is of what it is now, and says so
            say(f"Note: {source.run_dir} is still training{training}; this exports its best.pt so far (epoch "
                f"{source.ckpt.get('epoch')}): export again when the run has finished.")
    plugins = plugins or plugins_for_checkpoint(source.ckpt, str(source.checkpoint))
    export_cfg = (source.ckpt.get("recipe") or {}).get("export") or {}
    exporters = _exporters(formats, export_cfg, exporter_options, source, plugins)
    if options.get("int8"):
        calibration_split(source)  # no images to calibrate on: say so before any work
    out_root = Path(out) if out is not None else _configured_out(export_cfg, source) / source.label
    job = _prepare(source, plugins, options, out_root, say)
    results: list[ExportResult] = []
    failures: list[str] = []
    for name, exporter in exporters.items():
        results.append(_export_one(job, name, exporter, failures))
    if failures:
        raise ExportError("Exported model does not match the trained one: " + "; ".join(failures)
                          + ". The file is kept for inspection (manifest parity.passed = false); do not ship it.")
    return results


def _exporters(formats: Iterable[str] | None, export_cfg: dict[str, Any],
               exporter_options: dict[str, dict[str, Any]] | None, source: ModelSource, plugins: Any) -> dict[str, Any]:
    """The exporters asked for, built with their options and available here (else one `ExportError`)."""
    names = _unique(formats or export_cfg.get("formats") or ["onnx"])
    where = "--format" if formats else f"{source.checkpoint}: its recipe's export.formats"
    exporters = {}
    for name in names:
        if not isinstance(name, str):
            raise ExportError(f"{where}: {name!r} is not an exporter name.")
        stored = export_cfg.get(name) if isinstance(export_cfg.get(name), dict) else {}
        given = dict((exporter_options or {}).get(name) or {})
        plugins.entry("exporters", name, where)  # an unknown name is reported as such, before its options
        exporter = get_exporter(name, plugins, where=f"export.{name}" if given or stored else where,
                                params={**stored, **given})
        ok, why = exporter.available()
        if not ok:
            raise ExportError(f"Exporter '{name}' cannot export on this machine: {why}.")
        exporters[name] = exporter
    return exporters


def _prepare(source: ModelSource, plugins: Any, options: dict[str, Any], out_root: Path, say: Log) -> _Job:
    """The PyTorch model, its answers on the check images, and what every manifest says of the source."""
    model, ckpt = source.load_model(plugins)
    reference = TorchPredictor(model, ckpt)
    info = {**(ckpt.get("model_info") or {}), **reference.input_spec.to_model_info()}
    images, labels, what = check_images(source, reference.input_spec)
    meta = model_metadata({**ckpt, "model_info": info}, source.label)
    if source.run_dir is not None and (source.run_dir / "metrics.json").is_file():
        meta["tk.metrics"] = _metrics_summary(source.run_dir / "metrics.json")
    common = {
        "class_names": reference.class_names,
        "preprocessing": preprocessing(info),
        "source": {"checkpoint": str(source.checkpoint.resolve()), "run": str(source.run_dir.resolve()) if source.run_dir else None,
                   "epoch": ckpt.get("epoch"), "backbone": info.get("backbone"), "params": info.get("params"),
                   "val_accuracy": (ckpt.get("metrics") or {}).get("val_accuracy")},
    }
    return _Job(source, model, reference, images, labels, what, reference.predict_all(images), meta, common,
                options, out_root, say)


def _export_one(job: _Job, name: str, exporter: Any, failures: list[str]) -> ExportResult:
    """Write one format, check it (parity, int8), write its manifest, push it if asked; a failed
    check is added to ``failures`` (raised once every format was attempted)."""
    folder = job.out_root / name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{job.source.stem}{exporter.suffix}"
    _remove_litter(folder, path.name)
    job.say(f"{name}: exporting {job.source.checkpoint} → {path}")
    started = time.perf_counter()
    pending = {"format": name, "file": path.name, "status": EXPORTING,
               **({"int8": {"file": f"{path.stem}.int8{path.suffix}"}} if job.options.get("int8") else {}),
               "note": "tk export was writing this model and had not checked it yet; if this is still here, it "
                       "stopped (killed or failed): run tk export again.", "source": job.common["source"]}
    with _manifest_pending(folder / MANIFEST_NAME, path, pending):
        written = Path(exporter.export(job.model, path, image_size=job.reference.image_size,
                                       class_names=job.reference.class_names, metadata=job.meta,
                                       options=dict(job.options)))
    seconds = time.perf_counter() - started
    described = exporter.describe(written)
    tolerance: Tolerance = exporter.tolerance(dict(job.options))
    manifest: dict[str, Any] = {
        "format": name, "file": written.name, "sha256": path_digest(written), "size_bytes": path_size(written),
        "size_mb": round(path_size(written) / 1e6, 3), "export_seconds": round(seconds, 2),
        **described, **job.common, "options": {k: v for k, v in job.options.items() if v not in (None, False)},
        "exporter_options": _effective_options(exporter, job.options),
        **({"exporter": exporter.tk_made_by} if getattr(exporter, "tk_made_by", None) else {}),
        "tolerance": {"min_top1_agreement": tolerance.min_agreement, "max_prob_diff": tolerance.max_prob_diff},
        "tools": tool_versions(),
    }
    lines = [f"{name}: wrote {written} ({manifest['size_mb']:.2f} MB) in {seconds:.1f}s"]
    lines += _check_parity(job, name, exporter, written, described, tolerance, manifest, failures)
    if job.options.get("int8"):
        lines += _check_int8(job, name, exporter, written, manifest, failures)
    manifest_path = write_manifest(folder / MANIFEST_NAME, manifest)
    push = str((getattr(exporter, "options", {}) or {}).get("push") or "")
    if push and hasattr(exporter, "push") and manifest.get("parity", {}).get("passed") is not False:
        for line in lines:  # what was written is said before a push that may fail
            job.say(line)
        lines = [f"{name}: pushed to {exporter.push(written, push)}"]
        manifest_path = write_manifest(folder / MANIFEST_NAME, {**manifest, "pushed": push})
    if job.source.run_dir is not None:  # the run remembers its exports, wherever --out put them
        record_export(job.source.run_dir, manifest_path, read_manifest(manifest_path))
    for line in lines:
        job.say(line)
    return ExportResult(name, written, manifest_path, manifest, lines)


def _check_parity(job: _Job, name: str, exporter: Any, written: Path, described: dict[str, Any],
                  tolerance: Tolerance, manifest: dict[str, Any], failures: list[str]) -> list[str]:
    """Run the written model beside PyTorch where this machine can, else record its spec checks."""
    can_run, why_not = exporter.can_run()
    if not can_run:
        manifest["parity"] = {"checked": False, "reason": f"numeric parity {why_not}",
                              "spec_checked": described.get("spec_checks", [])}
        return [f"{name}: spec checked ({', '.join(described.get('spec_checks', [])) or 'inputs and outputs'}); "
                f"numeric parity {why_not}"]
    predictor = exporter.load(written)
    probs = predictor.predict_all(job.images)
    predictor.close()
    parity = compare(job.ref_probs, probs, job.what)
    passed = parity.within(tolerance)
    manifest["parity"] = {**parity.as_dict(), "passed": passed}
    if job.labels is not None:
        manifest["accuracy"] = _accuracies(job.labels, job.ref_probs, probs, job.what)
    if not passed:
        failures.append(f"{name} ({written}): {parity.describe()}; allowed: top-1 agreement ≥ "
                        f"{tolerance.min_agreement:.0%}, max probability difference ≤ {tolerance.max_prob_diff:g}")
    return [f"{name}: parity {'ok' if passed else 'FAILED'}: {parity.describe()}"]


def _check_int8(job: _Job, name: str, exporter: Any, written: Path, manifest: dict[str, Any],
                failures: list[str]) -> list[str]:
    """``--int8``: quantise where the format can, and hold the accuracy lost to ``--int8-tolerance``."""
    if not hasattr(exporter, "quantize"):
        return [f"{name}: --int8 does not apply to this format (see its own compression options)"]
    options = job.options
    section = _quantize(exporter, written, job.source, job.reference, job.images, job.labels, job.what, job.ref_probs,
                        manifest, options)
    tolerance = float(options.get("int8_tolerance") if options.get("int8_tolerance") is not None else 2.0)
    lost = -100.0 * float(section.get("accuracy_change", 0.0))
    section["tolerance_points"], section["within_tolerance"] = tolerance, lost <= tolerance
    manifest["int8"] = section
    lines = [_int8_line(name, section)]
    if lost > tolerance:
        lines.append(f"{name}: WARNING: the int8 model loses {lost:.1f} accuracy points "
                     f"({section['accuracy']:.2%} vs {section['fp32_accuracy']:.2%} fp32), more than "
                     f"--int8-tolerance {tolerance:g}: do not ship it")
        failures.append(f"{name} int8 ({section['file']}): {lost:.1f} accuracy points lost, more than the "
                        f"--int8-tolerance of {tolerance:g} (raise it to accept the loss)")
    return lines


def _metrics_summary(path: Path) -> str:
    """The run's headline figures for a model card: accuracy, macro-F1 (with intervals when the
    run has them), per-class F1 and support, and the data counts."""
    import json

    try:
        m = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "{}"
    keep = {k: m[k] for k in ("split", "accuracy", "macro_f1", "accuracy_ci", "macro_f1_ci", "data") if k in m}
    keep["images"] = sum(int(v.get("support", 0)) for v in (m.get("per_class") or {}).values())
    keep["per_class"] = {c: {"f1": v.get("f1"), "support": v.get("support")} for c, v in (m.get("per_class") or {}).items()}
    return json.dumps(keep)


@contextlib.contextmanager
def _manifest_pending(manifest: Path, model: Path, pending: dict[str, Any]):
    """Before the new model replaces the old one, ``manifest.json`` becomes a manifest that says
    the export is under way (``status = "exporting"``) and vouches for nothing; the checked one
    replaces it only at the end. So a kill at any moment in between leaves a model whose manifest
    says it was never checked — `tk predict`, `tk eval` and `tk bench` refuse it — never a
    model without a manifest, nor a manifest that vouches for a model it did not check. An export
    that fails with the old model untouched (a full disk) puts the old manifest back."""
    aside = manifest.with_name(f".{manifest.name}.stale")
    aside.unlink(missing_ok=True)  # from an export killed earlier
    had = manifest.exists()
    before = _identity(model)
    if had:
        os.replace(manifest, aside)
    try:
        try:
            write_manifest(manifest, pending)
        except OSError as exc:  # a full disk: say which model was not exported, and why
            raise ExportError(f"{model}: not exported: {exc}") from None
        yield
    except BaseException:
        if _identity(model) == before:
            if had:
                os.replace(aside, manifest)
            else:
                manifest.unlink(missing_ok=True)  # ours: the folder had no manifest before
        raise
    aside.unlink(missing_ok=True)


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns)


def _remove_litter(folder: Path, name: str) -> None:
    """Temp files and staging folders an earlier, killed export of ``name`` left in ``folder``
    (``.NAME.*.tmp`` from atomic writes, ``.NAME.*`` staging and ``.old-PID`` package folders)."""
    import shutil

    for entry in folder.glob(f".{name}.*"):
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def _configured_out(export_cfg: dict[str, Any], source: ModelSource) -> Path:
    """``export.out`` from the checkpoint's recipe; one that climbs out with '..' is refused.

    The recipe inside a checkpoint is data from whoever made the file: tk's own recipes can
    never hold such a value (the recipe loader refuses it), so a checkpoint that does was
    written by hand, and its exports must not land outside the folder the user chose.
    """
    configured = str(export_cfg.get("out") or "exports")
    if "\0" in configured:
        raise ExportError(f"{source.checkpoint}: refused: its recipe's export.out holds a NUL byte; pass --out to "
                          f"choose where the exports go.")
    if ".." in Path(configured).parts:
        raise ExportError(f"{source.checkpoint}: refused: its recipe's export.out ({configured!r}) climbs out with "
                          f"'..'; pass --out to choose where the exports go.")
    return Path(configured)


def _accuracy(labels: list[int], probs: Any) -> float:
    import numpy as np

    return float(np.mean(probs.argmax(1) == np.asarray(labels))) if len(labels) else 0.0


def _accuracies(labels: list[int], ref_probs: Any, probs: Any, what: str) -> dict[str, Any]:
    return {"split": what, "images": len(labels), "pytorch": _accuracy(labels, ref_probs), "exported": _accuracy(labels, probs)}


def _quantize(exporter: Any, written: Path, source: ModelSource, reference: TorchPredictor, images: Any,
              labels: list[int] | None, what: str, ref_probs: Any, manifest: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """Write the int8 model next to the float one and measure it against both."""
    calibration = calibration_images(source, reference.input_spec,
                                     int(options.get("calibration_images") or 64))
    q_path = written.with_name(f"{written.stem}.int8{written.suffix}")
    exporter.quantize(written, q_path, calibration)
    float_pred = exporter.load(written)
    float_probs = float_pred.predict_all(images)
    float_pred.close()
    q_pred = exporter.load(q_path)
    q_probs = q_pred.predict_all(images)
    q_pred.close()
    vs_float: Parity = compare(float_probs, q_probs, what)
    vs_torch: Parity = compare(ref_probs, q_probs, what)
    size = path_size(q_path)
    section: dict[str, Any] = {
        "file": q_path.name, "sha256": path_digest(q_path), "size_bytes": size, "size_mb": round(size / 1e6, 3),
        "fp32_size_bytes": manifest["size_bytes"], "size_ratio": round(size / max(1, manifest["size_bytes"]), 4),
        "calibration_images": len(calibration),
        "calibration_source": {"train": "training split", "val": "validation split"}[calibration_split(source)],
        "agreement_with_fp32": vs_float.agreement, "max_prob_diff_vs_fp32": vs_float.max_prob_diff,
        "agreement_with_pytorch": vs_torch.agreement, "images": vs_float.images, "split": what,
    }
    if labels is not None:
        fp32_acc, int8_acc = _accuracy(labels, float_probs), _accuracy(labels, q_probs)
        section.update({"fp32_accuracy": fp32_acc, "accuracy": int8_acc, "accuracy_change": int8_acc - fp32_acc})
    return section


def _int8_line(name: str, s: dict[str, Any]) -> str:
    acc = (f", accuracy {s['accuracy']:.2%} vs {s['fp32_accuracy']:.2%} fp32" if "accuracy" in s else "")
    return (f"{name}: int8 {s['file']} ({s['size_mb']:.2f} MB, {s['size_ratio']:.0%} of fp32){acc}, "
            f"top-1 agreement with fp32 {s['agreement_with_fp32']:.2%}")


def _effective_options(exporter: Any, options: dict[str, Any]) -> dict[str, Any]:
    """The exporter's own options as the export used them: a command-line shorthand given
    (``--precision``, ``--coreml-quantize``, ``--onnx-uint8`` …, named like the option) wins over
    the recipe's or the default value, as the exporters apply it."""
    own = dict(getattr(exporter, "options", {}) or {})
    return {key: options[key] if options.get(key) not in (None, False) else value for key, value in own.items()}

"""`bench_run`: latency, throughput, size and accuracy of a model in every runtime available here.

For a run it benches the checkpoint with PyTorch eager on each present device (CPU; CUDA,
MPS) and every exported model found in the run's exports folder (each manifest, plus the int8
variant) on each runtime device its exporter offers (ONNX Runtime execution providers, Core
ML compute units). A device this machine lacks becomes a row that says so and why, rather
than a silent gap; a runtime that fails becomes a row with the error.

Per row: load time; batch-1 latency (warm-up calls first, then ``iters`` timed calls; the
median is the figure, with a distribution-free 95% interval on it (`median_interval`) and the
p90 beside it); throughput at each larger batch (fewer calls:
``max(3, iters // batch)``); accuracy on the run's test split (validation when there is
none) through `toolkit.assess.evaluate` — the code `tk eval` uses — and top-1 agreement with the
PyTorch model on those images. The figures go to ``bench.json`` in the run folder, and to JSON
or Markdown files on request (`toolkit.assess.bench_report`).

**A fair comparison on a shared machine.** Every runtime gets the same intra-op thread count
(``--threads``, else the count training would use: `toolkit.core.threads.choose_threads`), stated
on screen and in ``bench.json``. The machine's load is recorded before and after
(``os.getloadavg``), and `LoadProbe` measures the CPU time other processes took on this
process's CPUs while measuring (``/proc/stat`` less ``/proc/self/stat``). When that left the
bench fewer CPUs than its threads, when a row's p90 is far above its median, or when the median
intervals of two rows on one device overlap, the report carries one ``warning`` line saying why
the comparison cannot be trusted and how to rerun. A model file reached twice (recorded in a run
and given on the command line) is benched once.
"""

from __future__ import annotations

import inspect
import os
import platform
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from ..core.errors import TkError
from ..core.version import __version__
from ..engine.metrics import CONFIDENCE, median_interval
from ..export.loading import build_exporter, exporter_for_path, exporter_plugins, is_model_file, verify_model_file
from ..export.manifest import MANIFEST_NAME, check_model_file, path_size, read_export_record, read_manifest
from ..export.protocol import predictor_spec
from ..export.source import ModelSource, resolve_source
from .evaluate import EvalSet, eval_set, evaluate, source_for_model

__all__ = ["BenchSettings", "bench_run", "RUNTIME_ALIASES", "median_interval", "LoadProbe", "bench_warning",
           "thread_policy"]

RUNTIME_ALIASES = {"torch": "pytorch", "eager": "pytorch", "onnxruntime": "onnx", "ort": "onnx"}

Log = Callable[[str], None]


@dataclass
class BenchSettings:
    """How much to measure: batch sizes, timed and warm-up calls, which runtimes, threads."""

    batches: list[int] = field(default_factory=lambda: [1, 8, 32])
    iters: int = 50
    warmup: int = 10
    runtimes: list[str] = field(default_factory=list)
    threads: int | None = None

    @classmethod
    def from_recipe(cls, recipe: dict[str, Any] | None, **overrides: Any) -> "BenchSettings":
        section = dict((recipe or {}).get("bench") or {})
        values = {k: section[k] for k in ("batches", "iters", "warmup", "runtimes") if section.get(k) is not None}
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        settings.batches = sorted({int(b) for b in settings.batches} | {1})
        settings.runtimes = [RUNTIME_ALIASES.get(r, r) for r in settings.runtimes]
        return settings


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


def _machine(threads: int | None) -> dict[str, Any]:
    import torch

    from ..core.threads import available_cores

    info = {"platform": platform.platform(), "machine": platform.machine(), "processor": platform.processor(),
            "cpu_count": os.cpu_count(), "cpus_available": available_cores()[0], "python": platform.python_version(),
            "torch": torch.__version__, "torch_threads": threads or torch.get_num_threads()}
    try:
        import onnxruntime

        info["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        pass
    if torch.cuda.is_available():
        info["cuda_device"] = torch.cuda.get_device_name(0)
    return info


# -- what to bench ---------------------------------------------------------------------------
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
    for manifest_path in manifests.values():
        found += _manifest_models(manifest_path, read_manifest(manifest_path))
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


def _resolved(path: Path) -> str:
    try:
        return str(Path(path).resolve())
    except OSError:
        return str(path)


def _is_exported_file(target: Any) -> bool:
    return target is not None and is_model_file(Path(target)) and Path(target).suffix != ".pt"


def _candidates(target: Any, plugins: Any, threads: int | None,
                say: Log = lambda _line: None) -> tuple[ModelSource | None, list[Candidate], list[dict]]:
    """What a command-line target stands for: (its run or None, candidates, placeholder rows).

    A run folder or checkpoint stands for the checkpoint and all its exports; an exported
    file for itself (its run, when its manifest names one, supplies the labelled images).
    """
    placeholders: list[dict] = []
    if _is_exported_file(target):
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
        except TkError as exc:  # an export killed before its check is a row that says so, never a measured one
            placeholders.append({"model": source.label, "format": fmt, "runtime": _runtime_name(fmt), "device": "-",
                                 "precision": precision or "-", "file": str(file), "status": "failed",
                                 "reason": str(exc)})
            continue
        candidates.append(_file_candidate(source.label, file, plugins, threads, precision, note))
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


# -- measuring -------------------------------------------------------------------------------
def _timed(call: Callable[[], Any], iters: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        call()
    times = []
    for _ in range(iters):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return times


def _p90(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]


def _cpu_sample() -> tuple[float, float, float] | None:
    """`toolkit.core.threads.cpu_sample` for this process's CPUs (None where there is no ``/proc``)."""
    from ..core.threads import cpu_sample

    return cpu_sample()


def _loadavg() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


class LoadProbe:
    """The machine's load around a measurement: load averages before and after, and the CPUs
    other processes kept busy meanwhile (busy time of this process's CPUs in ``/proc/stat`` less
    this process's own CPU time, spinning threads included, per wall second)."""

    def __init__(self) -> None:
        from ..core.threads import available_cores

        self.cpus = available_cores()[0]
        self.before = _loadavg()
        self._start = _cpu_sample()

    def stop(self) -> dict[str, Any]:
        end = _cpu_sample()
        others = seconds = None
        if self._start is not None and end is not None and end[0] > self._start[0]:
            seconds = end[0] - self._start[0]
            others = max(0.0, ((end[1] - self._start[1]) - (end[2] - self._start[2])) / seconds)
        return {"cpus": self.cpus, "loadavg_before": self.before, "loadavg_after": _loadavg(),
                "others_cpu": None if others is None else round(others, 2),
                "seconds": None if seconds is None else round(seconds, 2),
                "how": "/proc/stat busy time of this process's CPUs less its own" if others is not None
                       else "load averages only (no /proc/stat here)"}


SPREAD = 2.0
"""A row whose batch-1 p90 is more than this many times its median is too noisy to rank."""


def _merge_load(loads: list[dict[str, Any]]) -> dict[str, Any]:
    """One load record for several measured targets: the first one's before, the last one's after,
    the most others used."""
    if len(loads) == 1:
        return loads[0]
    others = [x["others_cpu"] for x in loads if x.get("others_cpu") is not None]
    return {**loads[-1], "loadavg_before": loads[0].get("loadavg_before"), "others_cpu": max(others) if others else None,
            "seconds": round(sum(x.get("seconds") or 0 for x in loads), 2)}


def _row_name(row: dict[str, Any]) -> str:
    return f"{row.get('runtime')} {row.get('precision')}".strip()


def bench_warning(rows: list[dict[str, Any]], load: dict[str, Any], threads: int, iters: int) -> str | None:
    """One line saying why these timings cannot be compared, and how to rerun; None when they can.

    Untrustworthy when other processes left the bench fewer CPUs than its ``threads`` (more than
    ``max(cpus − threads, 0) + 0.25`` CPUs busy with other work while measuring, or a load
    average above ``cpus`` before or after where ``/proc/stat`` is missing), when ``threads``
    exceeds the CPUs, when a row's p90 is more than `SPREAD`
    times its median, or when the median intervals of two rows on one device overlap (they cannot
    be ranked).
    """
    reasons, quiet = [], False
    cpus = int(load.get("cpus") or 1)
    spare = max(cpus - threads, 0) + 0.25
    if threads > cpus:  # more threads than CPUs: the runtime's own threads wait for each other
        reasons.append(f"{threads} threads on {cpus} CPU{'s' if cpus != 1 else ''}")
    others = load.get("others_cpu")
    averages = [v[0] for v in (load.get("loadavg_before"), load.get("loadavg_after")) if v]
    if others is not None and others > spare:
        reasons.append(f"other processes kept {others:.1f} of {cpus} CPU{'s' if cpus != 1 else ''} busy while "
                       f"measuring, with {threads} thread{'s' if threads != 1 else ''} wanted")
        quiet = True
    elif others is None and averages and max(averages) > cpus:
        reasons.append(f"load average {max(averages):.1f} on {cpus} CPU{'s' if cpus != 1 else ''}")
        quiet = True
    ok = [r for r in rows if r.get("status") == "ok" and r.get("latency_ms")]
    noisy = [r for r in ok if r.get("latency_p90_ms", 0) > SPREAD * r["latency_ms"]]
    if noisy:
        worst = max(noisy, key=lambda r: r["latency_p90_ms"] / r["latency_ms"])
        reasons.append(f"{_row_name(worst)} on {worst['device']}: p90 {worst['latency_p90_ms'] / worst['latency_ms']:.1f}× "
                       f"its median" + (f" ({len(noisy)} rows)" if len(noisy) > 1 else ""))
    overlaps = []
    for i, a in enumerate(ok):
        for b in ok[i + 1:]:
            ca, cb = a.get("latency_ci_ms"), b.get("latency_ci_ms")
            if a["device"] == b["device"] and ca and cb and ca[0] <= cb[1] and cb[0] <= ca[1]:
                overlaps.append(f"{_row_name(a)} and {_row_name(b)} on {a['device']}")
    if overlaps:
        reasons.append(f"the median intervals of {overlaps[0]} overlap" + (f" (and {len(overlaps) - 1} more pairs)"
                                                                            if len(overlaps) > 1 else ""))
    levels = [r.get("latency_ci_level") for r in ok if r.get("latency_ci_level") is not None]
    if levels and min(levels) < CONFIDENCE:
        reasons.append(f"{iters} timed call{'s' if iters != 1 else ''} give no 95% interval")
    if not reasons:
        return None
    how = ["on a quiet machine"] if quiet else []
    if threads > cpus:
        how.append(f"with --threads {cpus} or fewer")
    if noisy or overlaps or (levels and min(levels) < CONFIDENCE) or quiet:
        how.append(f"with more timed calls (--iters {max(100, 4 * iters)})")
    return f"these timings cannot be compared with confidence: {'; '.join(reasons)}. Rerun {' and '.join(how)}."


def _inputs(data: EvalSet | None, predictor: Any, batch: int) -> Any:
    import numpy as np

    if data is not None and len(data):
        return np.ascontiguousarray(np.take(data.images, range(batch), axis=0, mode="wrap"))
    return np.random.default_rng(0).integers(0, 256, size=(batch, 3, *predictor_spec(predictor).hw), dtype=np.uint8)


def _bench_row(cand: Candidate, device: str, settings: BenchSettings, data_for: Callable[[Any], EvalSet | None],
               reference: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    row: dict[str, Any] = {"model": cand.model, "format": cand.format, "device": device, "precision": cand.precision,
                           "file": str(cand.path), "size_mb": round(cand.size_bytes / 1e6, 3)}
    started = time.perf_counter()
    predictor = cand.load(device)
    row["load_s"] = round(time.perf_counter() - started, 4)
    row["runtime"] = predictor.runtime
    row["precision"] = cand.precision or getattr(predictor, "precision", None) or "fp32"
    try:
        data = data_for(predictor)
        x1 = _inputs(data, predictor, 1)
        times = _timed(lambda: predictor.predict(x1), settings.iters, settings.warmup)
        low, high, level = median_interval(times)
        row.update(latency_ms=round(statistics.median(times) * 1e3, 3), latency_p90_ms=round(_p90(times) * 1e3, 3),
                   latency_ci_ms=[round(low * 1e3, 3), round(high * 1e3, 3)], latency_ci_level=round(level, 4))
        per_batch = {"1": {"median_ms": row["latency_ms"], "p90_ms": row["latency_p90_ms"], "ci_ms": row["latency_ci_ms"],
                           "images_per_s": round(1.0 / statistics.median(times), 2)}}
        for batch in settings.batches:
            if batch == 1:
                continue
            xb = _inputs(data, predictor, batch)
            bt = _timed(lambda: predictor.predict_all(xb, batch_size=batch), max(3, settings.iters // batch),
                        min(settings.warmup, 3))
            per_batch[str(batch)] = {"median_ms": round(statistics.median(bt) * 1e3, 3), "p90_ms": round(_p90(bt) * 1e3, 3),
                                     "images_per_s": round(batch / statistics.median(bt), 2)}
        largest = str(max(settings.batches))
        row.update(per_batch=per_batch, throughput_batch=int(largest), throughput_ips=per_batch[largest]["images_per_s"])
        if data is not None and len(data):
            result = evaluate(predictor, data, batch_size=max(settings.batches))
            row.update(accuracy=result.accuracy, split=data.split, images=len(data))
            preds = np.asarray(result.predictions)
            ref = reference.get(id(data))
            if ref is not None and len(ref) == len(preds):
                row["agreement"] = float(np.mean(preds == ref))
        if cand.compute_plan is not None:
            row["compute_plan"] = cand.compute_plan(device)
    finally:
        predictor.close()
    row["status"] = "ok"
    return row


def bench_run(target: Any = None, *, batches: Iterable[int] | None = None, iters: int | None = None,
              warmup: int | None = None, runtimes: Iterable[str] | None = None, threads: int | None = None,
              write_run_file: bool = True, plugins: Any | None = None, log: Log | None = print) -> dict[str, Any]:
    """Bench one target or several (run folders, checkpoints, exported models; None: the latest run).

    Keyword settings override the recipe's ``[bench]`` table. Returns the report dict (also
    written to ``<run>/bench.json`` for each run target unless ``write_run_file`` is false).
    """
    from .bench_report import write_report_json

    say: Log = log or (lambda _line: None)
    targets = list(target) if isinstance(target, (list, tuple)) else [target]
    plugins = exporter_plugins(plugins)
    all_rows: list[dict[str, Any]] = []
    settings = BenchSettings()
    report: dict[str, Any] = {}
    known = {"pytorch", *plugins.registry("exporters").names()}
    given = [r for r in (runtimes or []) if r not in known]
    if given:  # a typo on the command line fails before any run is picked or loaded
        raise TkError(f"Unknown runtime '{given[0]}' in bench runtimes; known: {', '.join(sorted(known))}.")
    count, policy = thread_policy(threads)
    seen: set[str] = set()  # resolved model files already benched: each file is one set of rows
    loads: list[dict[str, Any]] = []
    for item in targets:
        source, candidates, placeholders = _candidates(item, plugins, count, say)
        fresh = []
        for cand in candidates:
            key = _resolved(cand.path)
            if key in seen:
                say(f"bench: {cand.path} is already benched above; not measured twice.")
                continue
            seen.add(key)
            fresh.append(cand)
        recipe = source.ckpt.get("recipe") if source is not None and source.checkpoint.exists() else None
        settings = BenchSettings.from_recipe(recipe, batches=list(batches) if batches else None, iters=iters,
                                             warmup=warmup, runtimes=list(runtimes) if runtimes else None, threads=count)
        unknown = [r for r in settings.runtimes if r not in known]
        if unknown:
            raise TkError(f"Unknown runtime '{unknown[0]}' in bench runtimes; known: {', '.join(sorted(known))}.")
        probe = LoadProbe()
        rows = _bench_target(source, fresh, placeholders, settings, say)
        loads.append(probe.stop())
        all_rows.extend(rows)
        report = _report(rows, settings, policy, loads[-1])
        if write_run_file and source is not None and source.run_dir is not None and not _is_exported_file(item):
            write_report_json(source.run_dir / "bench.json", report)
            say(f"Wrote {source.run_dir / 'bench.json'}")
    return _report(all_rows, settings, policy, _merge_load(loads)) if len(targets) > 1 else report


def thread_policy(threads: int | None = None) -> tuple[int, str]:
    """``(intra-op threads for every runtime, why)``: ``--threads`` when given, else the count
    training would use (``OMP_NUM_THREADS``, else the cores this process may use)."""
    from ..core.threads import choose_threads

    if threads:
        return int(threads), "set with --threads"
    count, why, _adaptive = choose_threads(0)
    return count, why.replace("; fixed for the run", "")


def _report(rows: list[dict[str, Any]], settings: BenchSettings, policy: str, load: dict[str, Any]) -> dict[str, Any]:
    threads = int(settings.threads or 1)
    return {"tk": __version__, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": _machine(settings.threads),
            "settings": {"batches": settings.batches, "iters": settings.iters, "warmup": settings.warmup,
                         "runtimes": settings.runtimes or "all", "threads": settings.threads,
                         "thread_policy": f"{threads} intra-op thread{'s' if threads != 1 else ''} for every runtime "
                                          f"(PyTorch and ONNX Runtime alike): {policy}"},
            "load": load, "warning": bench_warning(rows, load, threads, settings.iters), "rows": rows}


def _bench_target(source: ModelSource | None, candidates: list[Candidate], placeholders: list[dict],
                  settings: BenchSettings, say: Log) -> list[dict[str, Any]]:
    import torch

    wanted = set(settings.runtimes)
    sets: dict[tuple[tuple[int, int], str], EvalSet | None] = {}

    reference: dict[int, Any] = {}  # id(EvalSet) → PyTorch CPU top-1 predictions on it

    def data_for(predictor: Any) -> EvalSet | None:
        spec = predictor_spec(predictor)
        key = (spec.hw, spec.resize)
        if key not in sets:
            data = None
            if source is not None and source.split is not None:
                data = eval_set(source, None, spec, predictor.class_names)
                if source.checkpoint.exists():
                    reference[id(data)] = _reference_predictions(source, data)
            sets[key] = data
        return sets[key]

    rows: list[dict[str, Any]] = []
    old_threads = torch.get_num_threads()
    if settings.threads and settings.threads != old_threads:
        torch.set_num_threads(settings.threads)
    try:
        for cand in candidates:
            if wanted and cand.format not in wanted:
                continue
            for device, ok, why in cand.devices:
                base = {"model": cand.model, "format": cand.format, "device": device, "precision": cand.precision or "-",
                        "file": str(cand.path), "size_mb": round(cand.size_bytes / 1e6, 3)}
                if not ok:
                    rows.append({**base, "runtime": _runtime_name(cand.format), "status": "unavailable", "reason": why})
                    continue
                say(f"bench: {cand.format} {cand.precision} on {device} ({cand.path.name}) …")
                try:
                    row = _bench_row(cand, device, settings, data_for, reference)
                except TkError as exc:
                    row = {**base, "runtime": _runtime_name(cand.format), "status": "failed", "reason": str(exc)}
                except Exception as exc:  # a runtime crash is a row, not the end of the benchmark
                    row = {**base, "runtime": _runtime_name(cand.format), "status": "failed",
                           "reason": f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"}
                if cand.note:
                    row["note"] = cand.note
                rows.append(row)
    finally:
        torch.set_num_threads(old_threads)
    rows.extend(p for p in placeholders if not wanted or p["format"] in wanted)
    return rows


def _reference_predictions(source: ModelSource, data: EvalSet) -> Any:
    """Top-1 classes of the trained model (PyTorch, CPU) on ``data``: what "agreement" compares with."""
    from ..export.torch_predictor import TorchPredictor

    model, ckpt = source.load_model()
    return TorchPredictor(model, ckpt).predict_all(data.images).argmax(1)


def _runtime_name(fmt: str) -> str:
    return {"pytorch": "PyTorch eager", "onnx": "ONNX Runtime", "coreml": "Core ML"}.get(fmt, fmt)

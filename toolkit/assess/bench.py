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
or Markdown files on request (`toolkit.assess.bench_report`). Which files a target stands for is
`toolkit.assess.bench_models`; the load around the measurement and the warning, `toolkit.assess.bench_load`.

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

import os
import platform
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from ..core.errors import TkError
from ..core.version import __version__
from ..engine.metrics import median_interval
from ..export.loading import exporter_plugins
from ..export.protocol import predictor_spec
from ..export.source import ModelSource
from .bench_load import LoadProbe, bench_warning, merge_load
from .bench_models import Candidate, candidates, is_exported_file, resolved, runtime_name
from .evaluate import EvalSet, eval_set, evaluate

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
        source, found, placeholders = candidates(item, plugins, count, say)
        fresh = []
        for cand in found:
            key = resolved(cand.path)
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
        if write_run_file and source is not None and source.run_dir is not None and not is_exported_file(item):
            write_report_json(source.run_dir / "bench.json", report)
            say(f"Wrote {source.run_dir / 'bench.json'}")
    return _report(all_rows, settings, policy, merge_load(loads)) if len(targets) > 1 else report


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


def _bench_target(source: ModelSource | None, models: list[Candidate], placeholders: list[dict],
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
        for cand in models:
            if wanted and cand.format not in wanted:
                continue
            for device, ok, why in cand.devices:
                base = {"model": cand.model, "format": cand.format, "device": device, "precision": cand.precision or "-",
                        "file": str(cand.path), "size_mb": round(cand.size_bytes / 1e6, 3)}
                if not ok:
                    rows.append({**base, "runtime": runtime_name(cand.format), "status": "unavailable", "reason": why})
                    continue
                say(f"bench: {cand.format} {cand.precision} on {device} ({cand.path.name}) …")
                try:
                    row = _bench_row(cand, device, settings, data_for, reference)
                except TkError as exc:
                    row = {**base, "runtime": runtime_name(cand.format), "status": "failed", "reason": str(exc)}
                except Exception as exc:  # a runtime crash is a row, not the end of the benchmark
                    row = {**base, "runtime": runtime_name(cand.format), "status": "failed",
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



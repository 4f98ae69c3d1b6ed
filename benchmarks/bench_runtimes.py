"""ONNX Runtime against PyTorch eager on the CPU at batch 1, and int8 against fp32 ONNX, in one run.

Part A — **latency, ORT vs eager.** For each model (the quickstart-sized one, and
``mobilenetv4_conv_medium`` at 256 px; random weights, which do not change the cost), the
model tk trains (a `Classifier` built by `toolkit.engine.model.build_model`) is exported by
tk's own ONNX exporter and timed at batch 1 in this process, in rounds that alternate the
runtimes so background load hits both alike:

* PyTorch eager under ``torch.inference_mode``, input as tk feeds it (uint8 → float / 255 →
  model → softmax), in contiguous and channels-last memory formats;
* ONNX Runtime, CPU execution provider, at graph optimisation levels basic / extended / all.

Both runtimes are timed at every thread count in ``--threads`` (default 1 and all cores).
The headline ratio compares each runtime's best configuration; the ratio at equal
thread count is reported too.

Part B — **int8 vs fp32 ONNX.** A quickstart-sized model is trained with `run_recipe` on
screenshots drawn by `tk_screens`, exported with ``int8 = True`` (static quantisation
calibrated on training images), and both ONNX models are timed the same way; accuracy of each
on the run's test split comes from the export manifest and `toolkit.assess.evaluate`.

    python benchmarks/bench_runtimes.py --json benchmarks/results/runtimes.json
    python benchmarks/bench_runtimes.py --quick          # fewer calls, smaller data (smoke run)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--iters", type=int, default=60, help="timed calls per configuration and round")
    p.add_argument("--warmup", type=int, default=10, help="untimed calls first")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds; the median of round medians is kept")
    p.add_argument("--threads", default=f"1,{os.cpu_count()}", help="thread counts to time, e.g. 1,8")
    p.add_argument("--big-model", default="mobilenetv4_conv_medium", help="second model of part A")
    p.add_argument("--big-size", type=int, default=256)
    p.add_argument("--per-class", type=int, default=40, help="screenshots per class for part B")
    p.add_argument("--epochs", type=int, default=6, help="training epochs for part B")
    p.add_argument("--quick", action="store_true", help="smoke run: few calls, little data")
    p.add_argument("--skip-int8", action="store_true", help="part A only")
    p.add_argument("--json", type=Path, help="write the results here")
    args = p.parse_args(argv)
    if args.quick:
        args.iters, args.warmup, args.rounds, args.per_class, args.epochs = 10, 3, 1, 12, 2
    args.thread_counts = sorted({int(t) for t in str(args.threads).split(",") if t.strip()})
    return args


def quickstart_model() -> tuple[str, int, str]:
    """(backbone, image size, where it came from): recipes/quickstart.toml when present."""
    path = ROOT / "recipes" / "quickstart.toml"
    if path.is_file():
        recipe = tomllib.loads(path.read_text(encoding="utf-8"))
        return recipe["model"]["backbone"], int(recipe["data"]["image_size"]), str(path.relative_to(ROOT))
    return "resnet10t", 128, "benchmarks/train_speed.py default (no recipes/quickstart.toml yet)"


# -- timing ----------------------------------------------------------------------------------
def time_calls(call: Callable[[], Any], iters: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        call()
    out = []
    for _ in range(iters):
        t = time.perf_counter()
        call()
        out.append(time.perf_counter() - t)
    return out


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def eager_runner(model: Any, threads: int, channels_last: bool) -> Callable[[Any], Any]:
    import copy

    import torch

    net = copy.deepcopy(model).to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)

    def run(x_uint8: Any) -> Any:
        torch.set_num_threads(threads)
        with torch.inference_mode():
            x = torch.from_numpy(x_uint8).float() / 255.0
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            return torch.softmax(net(x), dim=1).numpy()

    return run


def ort_runner(path: Path, threads: int, level: str) -> Callable[[Any], Any]:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = {"basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
                                     "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
                                     "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}[level]
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda x: session.run(None, {name: x.astype("float32")})[0]


def measure(configs: dict[str, Callable[[Any], Any]], x: Any, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Median and p90 (ms) per configuration: rounds alternate configurations; median of round medians."""
    rounds: dict[str, list[list[float]]] = {name: [] for name in configs}
    for _ in range(args.rounds):
        for name, run in configs.items():
            rounds[name].append(time_calls(lambda: run(x), args.iters, args.warmup))
    return {name: {"median_ms": round(statistics.median(statistics.median(r) for r in rs) * 1e3, 3),
                   "p90_ms": round(statistics.median(p90(r) for r in rs) * 1e3, 3)} for name, rs in rounds.items()}


# -- part A ----------------------------------------------------------------------------------
def build_classifier(backbone: str, size: int, classes: int = 7) -> Any:
    from toolkit.engine.model import build_model
    from toolkit.plugin.manager import load_plugins

    recipe = {"model": {"backbone": backbone, "pretrained": False}, "data": {"image_size": size}}
    return build_model(recipe, load_plugins(), classes).eval()


def export_onnx(model: Any, size: int, path: Path) -> Path:
    from toolkit.export.loading import get_exporter

    names = [f"class{i}" for i in range(7)]
    meta = {"tk.class_names": json.dumps(names), "tk.image_size": str(size), "tk.resize": "bicubic"}
    return get_exporter("onnx").export(model, path, image_size=size, class_names=names, metadata=meta, options={})


def latency_vs_eager(backbone: str, size: int, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    import numpy as np

    model = build_classifier(backbone, size)
    onnx_path = export_onnx(model, size, work / f"{backbone}_{size}.onnx")
    x = np.random.default_rng(0).integers(0, 256, size=(1, 3, size, size), dtype=np.uint8)
    configs: dict[str, Callable[[Any], Any]] = {}
    for t in args.thread_counts:
        configs[f"eager t{t}"] = eager_runner(model, t, False)
        configs[f"eager channels_last t{t}"] = eager_runner(model, t, True)
        for level in ("basic", "extended", "all"):
            configs[f"ort {level} t{t}"] = ort_runner(onnx_path, t, level)
    # the same answers first: a fast wrong model is no result
    ref = configs[f"eager t{args.thread_counts[0]}"](x)
    for name, run in configs.items():
        assert float(np.abs(run(x) - ref).max()) < 1e-4, f"{name} disagrees with eager"
    timings = measure(configs, x, args)
    best_eager = min((k for k in timings if k.startswith("eager")), key=lambda k: timings[k]["median_ms"])
    best_ort = min((k for k in timings if k.startswith("ort")), key=lambda k: timings[k]["median_ms"])
    per_threads = {}
    for t in args.thread_counts:
        e = min(timings[k]["median_ms"] for k in timings if k.startswith("eager") and k.endswith(f"t{t}"))
        o = min(timings[k]["median_ms"] for k in timings if k.startswith("ort") and k.endswith(f"t{t}"))
        per_threads[str(t)] = {"eager_ms": e, "ort_ms": o, "speedup": round(e / o, 2)}
    return {"model": backbone, "image_size": size, "params": sum(p.numel() for p in model.parameters()),
            "onnx_mb": round(onnx_path.stat().st_size / 1e6, 2), "timings": timings,
            "best_eager": best_eager, "best_ort": best_ort,
            "speedup_best_vs_best": round(timings[best_eager]["median_ms"] / timings[best_ort]["median_ms"], 2),
            "speedup_at_equal_threads": per_threads}


# -- part B ----------------------------------------------------------------------------------
def int8_vs_fp32(backbone: str, size: int, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    import numpy as np
    from tk_screens import CLASSES, generate_dataset

    from toolkit.assess.evaluate import eval_set, evaluate
    from toolkit.engine.train import run_recipe
    from toolkit.export import export_run, load_predictor
    from toolkit.export.source import resolve_source
    from toolkit.recipe.load import load_recipe

    data = generate_dataset(work / "screens", per_class=args.per_class, size=(320, 180), seed=0)
    recipe_path = work / "int8bench.toml"
    recipe_path.write_text(f"""\
[data]
root = "{data.as_posix()}"
image_size = {size}
val_fraction = 0.2
test_fraction = 0.2
workers = 2
[model]
backbone = "{backbone}"
pretrained = false
[train]
epochs = {args.epochs}
batch_size = 16
device = "cpu"
early_stopping = false
out = "{(work / 'runs').as_posix()}"
""", encoding="utf-8")
    started = time.perf_counter()
    result = run_recipe(load_recipe(recipe_path), quiet=True)
    train_s = time.perf_counter() - started
    exports = export_run(result.run_dir, formats=["onnx"], out=work / "exports", int8=True, log=None)
    manifest = exports[0].manifest
    fp32_path = exports[0].path
    int8_path = fp32_path.with_name(manifest["int8"]["file"])
    source = resolve_source(result.run_dir)
    x = np.random.default_rng(0).integers(0, 256, size=(1, 3, size, size), dtype=np.uint8)
    out: dict[str, Any] = {"model": backbone, "image_size": size, "classes": len(CLASSES), "train_images": len(source.samples("train")),
                           "epochs": args.epochs, "train_seconds": round(train_s, 1)}
    for t in args.thread_counts:
        configs = {f"fp32 t{t}": ort_runner(fp32_path, t, "all"), f"int8 t{t}": ort_runner(int8_path, t, "all")}
        out.setdefault("timings", {}).update(measure(configs, x, args))
    for name, path in (("fp32", fp32_path), ("int8", int8_path)):
        predictor = load_predictor(path)
        evaluation = evaluate(predictor, eval_set(source, "test", predictor.input_spec, predictor.class_names))
        out[f"{name}_test_accuracy"] = evaluation.accuracy
        out[f"{name}_mb"] = round(path.stat().st_size / 1e6, 3)
    out["test_images"] = len(source.samples("test"))
    out["manifest_int8"] = manifest["int8"]
    t = max(args.thread_counts)
    out["int8_speedup"] = {str(k): round(out["timings"][f"fp32 t{k}"]["median_ms"] / out["timings"][f"int8 t{k}"]["median_ms"], 2)
                           for k in args.thread_counts}
    out["accuracy_change"] = out["int8_test_accuracy"] - out["fp32_test_accuracy"]
    out["headline_threads"] = t
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    import onnxruntime
    import torch

    args = parse_args(argv)
    qs_model, qs_size, qs_from = quickstart_model()
    report: dict[str, Any] = {
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                    "cpu_count": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__,
                    "onnxruntime": onnxruntime.__version__},
        "settings": {"iters": args.iters, "warmup": args.warmup, "rounds": args.rounds, "threads": args.thread_counts},
        "quickstart_model_from": qs_from,
    }
    with tempfile.TemporaryDirectory(prefix="tk-bench-runtimes-") as tmp:
        work = Path(tmp)
        report["ort_vs_eager"] = [latency_vs_eager(qs_model, qs_size, work, args),
                                  latency_vs_eager(args.big_model, args.big_size, work, args)]
        for r in report["ort_vs_eager"]:
            print(f"{r['model']} @{r['image_size']}px: eager {r['timings'][r['best_eager']]['median_ms']:.2f} ms "
                  f"({r['best_eager']}) vs ONNX Runtime {r['timings'][r['best_ort']]['median_ms']:.2f} ms "
                  f"({r['best_ort']}): {r['speedup_best_vs_best']:.2f}x; at equal threads "
                  + ", ".join(f"t{t}: {v['speedup']:.2f}x" for t, v in r["speedup_at_equal_threads"].items()))
        if not args.skip_int8:
            q = int8_vs_fp32(qs_model, qs_size, work, args)
            report["int8_vs_fp32"] = q
            print(f"int8 vs fp32 ONNX ({q['model']} @{q['image_size']}px, trained {q['epochs']} epochs): speed "
                  + ", ".join(f"t{t}: {v:.2f}x" for t, v in q["int8_speedup"].items())
                  + f"; test accuracy {q['int8_test_accuracy']:.2%} vs {q['fp32_test_accuracy']:.2%} "
                  f"({q['test_images']} images); size {q['int8_mb']:.2f} vs {q['fp32_mb']:.2f} MB")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"Wrote {args.json}")
    return report


if __name__ == "__main__":
    main()

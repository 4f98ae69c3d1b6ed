"""`tk compare`: several runs side by side — accuracy, F1, size, training time and measured latency.

Quality comes from each run's ``metrics.json`` (the engine's final evaluation of ``best.pt``:
its test split when the run has one, else validation); a run without it is evaluated here
through `toolkit.assess.evaluate`, the code `tk eval` uses. Latency comes from the run's
``bench.json`` (`tk bench`), never estimated: a run that was not benched shows no latency.
Size is the exported fp32 ONNX file when there is one, else the fp32 weights (parameters × 4
bytes).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from ..core.errors import TkError
from ..engine.metrics import ci_text
from ..export.source import ModelSource, resolve_source

__all__ = ["compare_runs", "compare_markdown", "compare_chart", "paired_tests"]


def _read_json(path: Path) -> Any | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_metrics(path: Path, chosen: dict[str, Any]) -> None:
    """The fields `tk compare` reads from ``metrics.json``, each of the type tk writes; a file edited
    by hand or damaged is one line naming it, never a traceback."""
    def wrong(key: str, expected: str) -> TkError:
        shown = json.dumps(chosen.get(key), default=str)
        return TkError(f"{path}: '{key}' is {shown[:80]}, not {expected}; the file was edited or damaged (delete it "
                       f"and tk compare evaluates the run's best.pt instead).")

    for key in ("accuracy", "macro_f1"):
        if not _number(chosen[key]):
            raise wrong(key, "a number")
    for key in ("accuracy_ci", "macro_f1_ci"):
        value = chosen.get(key)
        if value is not None and not (isinstance(value, list) and len(value) == 2 and all(map(_number, value))):
            raise wrong(key, "a [low, high] interval")
    if "split" in chosen and not isinstance(chosen["split"], str):
        raise wrong("split", "a split name")
    per_class = chosen["per_class"]
    if not isinstance(per_class, dict) or not all(isinstance(v, dict) and _number(v.get("f1"))
                                                  for v in per_class.values()):
        raise wrong("per_class", "a table of classes, each with its f1")


def _quality(source: ModelSource) -> dict[str, Any]:
    """accuracy, macro-F1, per-class F1 and the split they were measured on."""
    metrics = _read_json(source.run_dir / "metrics.json") if source.run_dir else None
    if isinstance(metrics, dict):
        chosen = metrics.get("test") if isinstance(metrics.get("test"), dict) else metrics
        if {"accuracy", "macro_f1", "per_class"} <= set(chosen):
            _check_metrics(source.run_dir / "metrics.json", chosen)
            return {"split": chosen.get("split", "val"), "accuracy": chosen["accuracy"], "macro_f1": chosen["macro_f1"],
                    "accuracy_ci": chosen.get("accuracy_ci"), "macro_f1_ci": chosen.get("macro_f1_ci"),
                    "per_class_f1": {k: v["f1"] for k, v in chosen["per_class"].items()}, "from": "metrics.json"}
    from ..export.protocol import predictor_spec
    from ..export.torch_predictor import TorchPredictor
    from .evaluate import eval_set, evaluate

    model, ckpt = source.load_model()
    predictor = TorchPredictor(model, ckpt)
    data = eval_set(source, None, predictor_spec(predictor), predictor.class_names)
    result = evaluate(predictor, data).metrics
    return {"split": data.split, "accuracy": result["accuracy"], "macro_f1": result["macro_f1"],
            "accuracy_ci": result.get("accuracy_ci"), "macro_f1_ci": result.get("macro_f1_ci"),
            "per_class_f1": {k: v["f1"] for k, v in result["per_class"].items()}, "from": "evaluated now"}


def _training_seconds(source: ModelSource) -> float | None:
    history: list[dict[str, Any]] = []
    path = source.run_dir / "history.jsonl" if source.run_dir else None
    if path is not None and path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                history.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    history = history or list(source.ckpt.get("history") or [])
    times = [float(h["epoch_time"]) for h in history if isinstance(h, dict) and "epoch_time" in h]
    return sum(times) if times else None


def _bench_rows(source: ModelSource) -> list[dict[str, Any]]:
    """The rows of the run's ``bench.json`` (none when it has none); a file edited by hand or damaged
    into another shape is one line naming it."""
    path = source.run_dir / "bench.json" if source.run_dir else None
    bench = _read_json(path) if path is not None else None
    if bench is None:
        return []
    rows = bench.get("rows") if isinstance(bench, dict) else None
    for row in rows if isinstance(rows, list) else [None]:
        if not isinstance(row, dict) or any(row.get(k) is not None and not _number(row[k])
                                            for k in ("latency_ms", "accuracy", "size_mb")):
            raise TkError(f"{path}: not a bench.json tk bench wrote (rows of measurements expected, found "
                          f"{json.dumps(row if isinstance(rows, list) else bench, default=str)[:80]}); the file was edited "
                          f"or damaged: run tk bench on the run again.")
    return rows


def _latency(source: ModelSource) -> dict[str, Any]:
    """Batch-1 median latencies from bench.json: PyTorch CPU, ONNX Runtime CPU fp32, and the fastest ok row."""
    rows = [r for r in _bench_rows(source) if r.get("status") == "ok" and r.get("latency_ms") is not None]
    out: dict[str, Any] = {}
    for row in rows:
        if row.get("format") == "pytorch" and row.get("device") == "cpu":
            out["pytorch_cpu_ms"] = row["latency_ms"]
        if row.get("format") == "onnx" and row.get("device") == "cpu" and row.get("precision") == "fp32":
            out["onnx_cpu_ms"] = row["latency_ms"]
    # The fastest row counts only with its accuracy measured and within a point of the run's best
    # row: a fast int8 model that lost accuracy is not "the fastest way to run this model".
    scored = [r for r in rows if isinstance(r.get("accuracy"), (int, float))]
    if scored:
        top = max(r["accuracy"] for r in scored)
        fair = [r for r in scored if r["accuracy"] >= top - 0.01]
        best = min(fair, key=lambda r: r["latency_ms"])
        out["fastest_ms"] = best["latency_ms"]
        out["fastest"] = f"{best.get('runtime', '')} {best.get('device', '')} {best.get('precision', '')} " \
                         f"(acc {best['accuracy']:.1%})".replace("  ", " ").strip()
    return out


def _size_mb(source: ModelSource, params: int) -> tuple[float, str]:
    for row in _bench_rows(source):
        if row.get("format") == "onnx" and row.get("precision") == "fp32" and row.get("size_mb"):
            return float(row["size_mb"]), "ONNX fp32"
    return params * 4 / 1e6, "fp32 weights"


def compare_runs(run_dirs: Sequence[str | Path]) -> list[dict[str, Any]]:
    """One dict per run with everything the comparison shows."""
    if not run_dirs:
        raise TkError("Give at least one run folder to compare.")
    rows = []
    for run in run_dirs:
        source = resolve_source(run)
        info = source.model_info
        params = int(info.get("params") or 0)
        size, size_of = _size_mb(source, params)
        rows.append({
            "run": source.label, "path": str(source.run_dir or source.checkpoint), "backbone": info.get("backbone"),
            "image_size": info.get("image_size"), "params": params, "size_mb": round(size, 3), "size_of": size_of,
            "train_seconds": _training_seconds(source), **_quality(source), **_latency(source),
            "class_names": source.class_names, "recipe": dict(source.ckpt.get("recipe") or {}),
        })
    return rows


def _flat(recipe: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for section, table in recipe.items():
        for key, value in (table or {}).items() if isinstance(table, dict) else ():
            out[f"{section}.{key}"] = value
    return out


def recipe_differences(rows: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    """``(section.key, value per run)`` for every recipe key whose value differs between the runs."""
    flats = [_flat(r.get("recipe") or {}) for r in rows]
    keys = sorted(set().union(*flats)) if flats else []
    diffs = []
    for key in keys:
        values = [f.get(key, "-") for f in flats]
        if any(v != values[0] for v in values[1:]):
            diffs.append((key, [json.dumps(v) if not isinstance(v, str) else v for v in values]))
    return diffs


def _pct_ci(value: float, interval: Sequence[float] | None) -> str:
    if not interval:
        return f"{value:.2%}"
    return f"{value:.2%} [{interval[0]:.1%}–{interval[1]:.1%}]"


def paired_tests(rows: list[dict[str, Any]], alpha: float = 0.05) -> list[dict[str, Any]]:
    """Each run after the first against the first, on the images both were scored on.

    Runs evaluated on the same images (the same split of the same data: identical paths and
    labels in their ``predictions.csv``, below the images' common folder, so a copied data folder
    still matches) get McNemar's exact test
    (`toolkit.engine.metrics.mcnemar`); others get a reason why no paired test is possible.
    """
    from ..engine.finalize import read_predictions
    from ..engine.metrics import mcnemar

    def preds(row: dict[str, Any]) -> dict[str, Any] | None:
        path = Path(row["path"]) / "predictions.csv"
        if not path.is_file():
            return None
        try:
            return read_predictions(path, row["split"])
        except (OSError, ValueError, KeyError, IndexError):
            return None

    if len(rows) < 2:
        return []
    base = preds(rows[0])
    out = []
    for row in rows[1:]:
        other = preds(row)
        result: dict[str, Any] = {"run": row["run"], "baseline": rows[0]["run"]}
        if base is None or other is None:
            missing = rows[0]["run"] if base is None else row["run"]
            result["reason"] = f"{missing} has no predictions.csv (a run from before tk 0.2): no paired test"
        elif _relative(base) != _relative(other):
            result["reason"] = "scored on different images (another split or data): no paired test is possible"
        else:
            a = [p == y for p, y in zip(base["predicted"], base["labels"])]
            b = [p == y for p, y in zip(other["predicted"], other["labels"])]
            test = mcnemar(a, b)
            diff = (sum(b) - sum(a)) / max(len(a), 1)
            result.update(test, difference=diff, significant=test["p_value"] < alpha)
        out.append(result)
    return out


def _relative(preds: dict[str, Any]) -> list[tuple[str, int]]:
    """(path below the images' common folder, label): the same images moved or copied elsewhere match."""
    import os

    paths = preds["paths"]
    root = os.path.commonpath([os.path.dirname(p) for p in paths]) if paths else ""
    return [(os.path.relpath(p, root), y) for p, y in zip(paths, preds["labels"])]


def paired_text(result: dict[str, Any]) -> str:
    """One line per paired test, for the console and the Markdown page."""
    head = f"{result['run']} vs {result['baseline']}: "
    if "reason" in result:
        return head + result["reason"]
    verdict = ("a significant difference (p < 0.05)" if result["significant"]
               else "not significant: the difference may be chance")
    return (head + f"accuracy {100 * result['difference']:+.2f} points on the same {result['n']} images; "
            f"McNemar p = {result['p_value']:.3g} ({result['a_only']} images only {result['baseline']} gets right, "
            f"{result['b_only']} only {result['run']}): {verdict}")


def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def table_rows(rows: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Headers and text cells shared by the rich table and the Markdown page."""
    classes = rows[0]["class_names"] if all(r["class_names"] == rows[0]["class_names"] for r in rows) else []
    headers = ["run", "backbone", "px", "params (M)", "size MB", "train time", "split", "accuracy", "macro-F1",
               *[f"F1 {c}" for c in classes], "PyTorch CPU ms", "ONNX CPU ms", "fastest"]
    cells = []
    for r in rows:
        minutes = f"{r['train_seconds'] / 60:.1f} min" if r.get("train_seconds") is not None else "-"
        per_class = [_fmt(r["per_class_f1"].get(c), ".3f") for c in classes]
        fastest = f"{r['fastest_ms']:.2f} ms ({r['fastest']})" if r.get("fastest_ms") is not None else "not benched"
        cells.append([r["run"], str(r["backbone"]), _size_cell(r["image_size"]), f"{r['params'] / 1e6:.2f}",
                      f"{r['size_mb']:.1f}", minutes, r["split"], _pct_ci(r["accuracy"], r.get("accuracy_ci")),
                      f"{r['macro_f1']:.3f}" + ci_text(r.get("macro_f1_ci")),
                      *per_class, _fmt(r.get("pytorch_cpu_ms"), ".2f"), _fmt(r.get("onnx_cpu_ms"), ".2f"), fastest])
    return headers, cells


def compare_markdown(rows: list[dict[str, Any]]) -> str:
    headers, cells = table_rows(rows)
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in cells]
    tests = paired_tests(rows)
    if tests:
        lines += ["", *(f"- {paired_text(t)}" for t in tests)]
    return "\n".join(lines) + "\n"


def compare_chart(rows: list[dict[str, Any]], path: Path) -> Path:
    """One PNG: accuracy against latency (or parameters, when not benched) and per-class F1 per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..core.atomic import atomic_write

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    # One latency for every run, or none: mixing one run's ONNX Runtime time with another's PyTorch
    # time would compare runtimes, not models.
    benched = all(r.get("onnx_cpu_ms") is not None for r in rows)
    for r in rows:
        x = r["onnx_cpu_ms"] if benched else r["params"] / 1e6
        y = r["accuracy"] * 100
        dots = left.scatter([x], [y], s=40 + 400 * r["size_mb"] / max(1.0, max(q["size_mb"] for q in rows)))
        ci = r.get("accuracy_ci")
        if ci:  # the 95% interval: two runs whose bars overlap may be ranked by chance
            left.errorbar([x], [y], yerr=[[y - ci[0] * 100], [ci[1] * 100 - y]], fmt="none", capsize=4,
                          ecolor=dots.get_facecolor()[0], alpha=0.8)
        left.annotate(r["run"], (x, y), textcoords="offset points", xytext=(6, 4), fontsize=8)
    left.set_xlabel("batch-1 latency, ms (ONNX Runtime CPU, fp32)" if benched else "parameters (millions)")
    left.set_ylabel(f"accuracy, % ({rows[0]['split']} split)")
    accs = [v * 100 for r in rows for v in (r["accuracy"], *(r.get("accuracy_ci") or ()))]
    middle, span = (max(accs) + min(accs)) / 2, max(10.0, (max(accs) - min(accs)) * 1.3)
    low = max(0.0, min(middle - span / 2, 100.0 - span))  # at least 10 points shown: 0.6 must look small
    left.set_ylim(low, min(100.0, low + span))
    left.set_title("accuracy (95% interval) vs speed (marker area: model size)" if benched
                   else "accuracy (95% interval) vs size (tk export --onnx and tk bench every run for latency)")
    left.grid(alpha=0.3)
    classes = sorted({c for r in rows for c in r["per_class_f1"]}, key=lambda c: rows[0]["class_names"].index(c)
                     if c in rows[0]["class_names"] else 0)
    width = 0.8 / len(rows)
    for i, r in enumerate(rows):
        right.bar([k + i * width for k in range(len(classes))], [r["per_class_f1"].get(c, 0.0) for c in classes],
                  width=width, label=r["run"])
    right.set_xticks([k + 0.4 - width / 2 for k in range(len(classes))])
    right.set_xticklabels(classes, rotation=30, ha="right", fontsize=8)
    right.set_ylim(0, 1.05)
    right.set_ylabel("F1")
    right.set_title("per-class F1")
    right.legend(fontsize=8)
    apart = [t["reason"] for t in paired_tests(rows) if t.get("reason")]
    if apart:  # figures from different images side by side are not a comparison: say so on the picture
        fig.suptitle(f"Not comparable: {apart[0]}", color="#b00020", fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda fh: fig.savefig(fh, format="png", dpi=110))
    plt.close(fig)
    return path


def _size_cell(size: Any) -> str:
    """``256`` or ``144×256`` (height×width) for a table cell; what the run recorded, else as given."""
    from ..core.geometry import InputSpec

    try:
        h, w = InputSpec.of(size).hw
    except Exception:  # noqa: BLE001 - an old or odd run's value is shown as it is, never fails the table
        return str(size)
    return str(h) if h == w else f"{h}×{w}"

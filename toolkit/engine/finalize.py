"""After the last epoch: evaluate best.pt and write metrics.json, the plots and report.html.

The numbers a run reports are those of the model it delivers — ``best.pt``, the file
`tk export` ships — not of whatever weights the loop ended with, so they are recomputed here
from that file on the validation split (and on the test split when there is one). Only rank 0
does this, with no collectives, while the other processes finish.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..core.atomic import atomic_write
from ..core.checkpoint import load_checkpoint
from ..core.text import csv_row, csv_value, printable

__all__ = ["Finished", "final_metrics", "write_bad_images", "write_predictions", "read_predictions"]

PREDICTION_COLUMNS = ("split", "path", "label", "predicted", "confidence")


def write_predictions(path: Path, results: list[tuple[str, Any, Any]], class_names: list[str]) -> None:
    """``predictions.csv``: best.pt's prediction for every validation (and test) image, with the
    probability of every class (``p:<class>``) — what `tk compare` pairs runs on, and what the
    label-error search and calibration read."""
    import csv
    import io

    from .calibrate import softmax

    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(csv_row([*PREDICTION_COLUMNS, *(f"p:{printable(c)}" for c in class_names)]))
    for split, part, res in results:
        probs = softmax(res.logits) if len(res.logits) else []
        for i, pred, conf, p in zip(res.indices, res.preds, res.confidences, probs):
            writer.writerow(csv_row([split, printable(part.paths[i]), printable(class_names[part.labels[i]]),
                                     printable(class_names[pred]), f"{conf:.6f}", *(f"{v:.6f}" for v in p)]))
    data = buf.getvalue().encode("utf-8")
    atomic_write(path, lambda fh: fh.write(data))


def read_predictions(path: Path, split: str | None = "val") -> dict[str, Any]:
    """``{"paths", "labels", "predicted", "probs" (N×K numpy), "class_names"}`` of one split of a
    predictions.csv (every split with ``split=None``)."""
    import csv

    import numpy as np

    with open(path, newline="", encoding="utf-8") as fh:
        rows = [[csv_value(c) for c in row] for row in csv.reader(fh)]  # as written, before csv_row
    header, body = rows[0], [r for r in rows[1:] if split is None or r[0] == split]
    columns = [j for j, h in enumerate(header) if h.startswith("p:")]  # oof_predictions.csv adds a fold column
    names = [header[j][2:] for j in columns]
    index = {n: i for i, n in enumerate(names)}
    return {"class_names": names, "paths": [r[1] for r in body], "labels": [index[r[2]] for r in body],
            "predicted": [index[r[3]] for r in body],
            "probs": np.array([[float(r[j]) for j in columns] for r in body], dtype=np.float64)
            .reshape(len(body), len(names))}


def write_bad_images(run_dir: Path, bad: list[tuple[str, str]]) -> None:
    """``bad_images.txt``: one ``path<TAB>reason`` line per image left out.

    A file name that is not UTF-8 is written as its own bytes (surrogate escapes undone), so
    the list names the file on disk and writing it cannot fail on such a name.
    """
    if not bad:
        return
    text = "".join(f"{path}\t{reason}\n" for path, reason in bad)
    atomic_write(run_dir / "bad_images.txt", lambda fh: fh.write(text.encode("utf-8", "surrogateescape")))


@dataclass
class Finished:
    """What the final evaluation reads of a finished run, handed over as values by the trainer
    (`toolkit.engine.trainer.Trainer.finished`): it never reaches into the trainer itself."""

    run_dir: Path
    recipe: Any  # the Recipe
    data: Any  # PreparedData: class names, the parts, grouping, notes
    model: Any  # the live model; best.pt's weights are loaded into it
    device: Any
    precision: Any
    loss_fn: Any
    batch_size: int
    history: list[dict[str, Any]]
    epochs_completed: int
    stop_reason: str | None
    device_text: str
    model_info: dict[str, Any]
    on_final_evaluation: Callable[[Any], None]  # the callbacks' moment, with the FinalEvaluation


def _evaluate_part(run: Finished, part: Any) -> tuple[dict[str, Any], Any]:
    from .batches import Batches
    from .loop import evaluate
    from .metrics import classification_metrics

    batches = Batches(part, run.device, channels_last=run.recipe["train"]["channels_last"])
    res = evaluate(run.model, batches, run.batch_size * 2, run.loss_fn, run.precision, run.device, keep_logits=True)
    metrics = classification_metrics(part.labels, res.preds, run.data.class_names, res.top5, intervals=True)
    metrics["loss"] = res.loss
    return metrics, res


def unknown_logits(run: Finished) -> Any:
    """The model's raw outputs for the images of ``data.unknown_root`` (images of no class), through
    the one decode path and the evaluation loop the validation images take; None when the recipe
    names no such folder. Images that cannot be decoded are left out."""
    import numpy as np

    from ..core.geometry import InputSpec
    from ..data import decode_images
    from .batches import Batches, take
    from .calibrate import unknown_images
    from .data_pipeline import Part, cache_root
    from .loop import evaluate

    paths = unknown_images(run.recipe)
    if not paths:
        return None
    data = run.recipe["data"]
    decoded = decode_images(paths, InputSpec.from_recipe(data), cache_dir=cache_root(run.recipe),
                            workers=data["workers"], hashes=False)
    failed = dict(decoded.failed)
    ok = [i for i in range(len(paths)) if i not in failed]
    if not ok:
        return np.zeros((0, len(run.data.class_names)))
    part = Part([paths[i] for i in ok], [0] * len(ok), take(decoded.images, ok))
    batches = Batches(part, run.device, channels_last=run.recipe["train"]["channels_last"])
    res = evaluate(run.model, batches, run.batch_size * 2, None, run.precision, run.device, keep_logits=True)
    return np.asarray(res.logits, dtype=np.float64).reshape(len(ok), -1)


def final_metrics(run: Finished, status: str) -> dict[str, Any]:
    """Evaluate best.pt, write metrics.json, curves.png, confusion_matrix.png and report.html."""
    from .data_pipeline import grouping_text
    from .report import plot_confusion, plot_curves, worst_misclassified, write_report

    run_dir = run.run_dir
    best_path = run_dir / "best.pt"
    if not best_path.is_file():
        return {}
    import numpy as np
    import torch

    from ..core.checkpoint import save_checkpoint
    from ..plugin.callbacks import FinalEvaluation
    from .calibrate import softmax

    best = load_checkpoint(best_path)
    chosen = _chosen_by(best, run.recipe)
    run.model.load_state_dict(best["model"])
    with torch.no_grad():  # the callbacks see the raw logits (calibration is fitted afresh on a re-finalised run)
        run.model.temperature.fill_(1.0)
        run.model.unknown_threshold.fill_(0.0)
    data = run.data
    metrics, res = _evaluate_part(run, data.val)
    final = FinalEvaluation(logits=np.asarray(res.logits), labels=np.asarray([data.val.labels[i] for i in res.indices]),
                            checkpoint=best, unknown_logits=unknown_logits(run))
    run.on_final_evaluation(final)  # tk's calibration first, then the recipe's
    save_checkpoint(best_path, best)  # with what the callbacks set (the temperature, the unknown threshold)
    metrics.update(final.metrics)
    temperature = float(run.model.temperature)
    res.logits = final.logits / temperature  # what the shipped model outputs
    res.confidences = softmax(res.logits).max(1).tolist()
    metrics.update({
        "split": "val", "status": status, "best_epoch": int(best["epoch"]), "best_metric": chosen[0],
        "best_value": chosen[1], "weights": best["metrics"].get("weights", "model"),
        "epochs_completed": run.epochs_completed, "stop_reason": run.stop_reason,
        "data": {"train": len(data.train), "val": len(data.val), "test": len(data.test),
                 "bad_images": len(data.bad_images), "class_counts_train": data.train_counts()},
    })
    results = [("val", data.val, res)]
    if len(data.test):
        test_metrics, test_res = _evaluate_part(run, data.test)
        test_metrics["split"] = "test"
        metrics["test"] = test_metrics
        results.append(("test", data.test, test_res))
    write_predictions(run_dir / "predictions.csv", results, data.class_names)  # calibrated probabilities
    text = json.dumps(metrics, indent=2)
    atomic_write(run_dir / "metrics.json", lambda fh: fh.write(text.encode("utf-8")))

    curves = plot_curves(run.history, run_dir / "curves.png", best_epoch=int(best["epoch"]))
    names = [printable(n) for n in data.class_names]  # a class folder's name may not be UTF-8
    confusion = plot_confusion(metrics["confusion_matrix"], names, run_dir / "confusion_matrix.png")
    worst = worst_misclassified(data.val.labels, res.preds, res.confidences)
    mistakes = [{"image": data.val.images[i], "path": printable(data.val.paths[i]), "true": names[data.val.labels[i]],
                 "pred": names[res.preds[i]], "confidence": res.confidences[i]} for i in worst]
    recipe = run.recipe
    facts = [
        ("run folder", str(run_dir)), ("status", status + (f" ({run.stop_reason})" if run.stop_reason else "")),
        ("model", f"{recipe['model']['backbone']} at {recipe['data']['image_size']} px, "
                  f"{run.model_info['params']:,} parameters"),
        ("data", f"{len(data.train)} train / {len(data.val)} val / {len(data.test)} test images, "
                 f"{len(names)} classes" + (f", {len(data.bad_images)} bad images left out" if data.bad_images else "")),
        ("best.pt", f"epoch {best['epoch']} of {run.epochs_completed}, {chosen[0]} = {chosen[1]:.4f} "
                    f"({metrics['weights']} weights)"),
        ("split", grouping_text(data.grouping)),
        ("device", f"{run.device_text}, precision {run.precision.name}"),
        ("training time", _duration(sum(float(h.get("epoch_time", 0.0)) for h in run.history))),
        ("recipe", _key_settings(recipe)),
    ]
    write_report(run_dir / "report.html", title=f"tk run: {recipe.name}", facts=facts, curves_png=curves,
                 confusion_png=confusion, metrics=metrics, mistakes=mistakes, notes=data.notes,
                 extra_html="".join(final.report_html))
    return metrics


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


def _key_settings(recipe: Any) -> str:
    """The recipe settings a reader of the report asks for first."""
    t, loss, optim, sched = recipe["train"], recipe["loss"], recipe["optim"], recipe["schedule"]
    ops = ", ".join(op["name"] for op in recipe["augment"]["ops"]) or "none"
    extra = [f"{c['name']} callback" for c in t["callbacks"]] + (["EMA"] if t["ema"] else [])
    epochs = f"{t['epochs']} epoch{'' if t['epochs'] == 1 else 's'}"
    return (f"{recipe.path.name if recipe.path else 'recipe'}: {epochs}, batch {t['batch_size']}, "
            f"{optim['name']} lr {optim.get('lr', '-')}, {sched['name']} schedule, {loss['name']} loss, "
            f"augment: {ops}" + (f", {', '.join(extra)}" if extra else ""))


def _chosen_by(best: dict[str, Any], recipe: Any) -> tuple[str, float]:
    """``(metric, value)`` that made best.pt: what the best-checkpoint callback recorded in it (a
    best.pt of tk 0.2 recorded neither: its metrics and the recipe's best_metric say the same)."""
    metrics = best.get("metrics") or {}
    name = str(metrics.get("best_metric") or recipe["train"]["best_metric"])
    value = metrics.get("best_value")
    if value is None:
        weights = metrics.get("weights", "model")
        value = metrics.get(f"{weights}_{name}") if weights != "model" and not name.startswith(f"{weights}_") \
            else metrics.get(name)
    return name, float(value) if value is not None else float("nan")

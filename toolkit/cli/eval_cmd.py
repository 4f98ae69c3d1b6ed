"""`tk eval`: classification report and confusion matrix of any model format on a run's split."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ._tables import echo_fitted, print_table
from ._trust import trust_plugins_option


REPORT_HEADERS = ["class", "precision", "recall", "f1", "support"]


def report_rows(metrics: dict) -> tuple[list[list], list[int]]:
    """sklearn-style classification report: ``(rows, sections)`` for `print_table`, each figure with
    its 95% interval in brackets (dimmed); the averages start a section."""
    from rich.text import Text

    from ..engine.metrics import ci_text

    def cell(row: dict, key: str) -> Text:
        interval = ci_text(row.get(key + "_ci"), ".2f") if key + "_ci" in row else ""
        return Text.assemble(f"{row[key]:.3f}", (interval, "dim"))

    per_class = metrics["per_class"]
    rows: list[list] = [[name, cell(row, "precision"), cell(row, "recall"), cell(row, "f1"), str(row["support"])]
                        for name, row in per_class.items()]
    sections = []
    total = sum(r["support"] for r in per_class.values())
    present = [r for r in per_class.values() if r["support"] > 0]
    if present:
        macro = {k: sum(r[k] for r in present) / len(present) for k in ("precision", "recall")}
        weighted = {k: sum(r[k] * r["support"] for r in present) / total for k in ("precision", "recall", "f1")}
        sections.append(len(rows))
        rows += [["accuracy", "", "", cell(metrics, "accuracy"), str(total)],
                 ["macro avg", f"{macro['precision']:.3f}", f"{macro['recall']:.3f}", cell(metrics, "macro_f1"),
                  str(total)],
                 ["weighted avg", f"{weighted['precision']:.3f}", f"{weighted['recall']:.3f}", f"{weighted['f1']:.3f}",
                  str(total)]]
    return rows, sections


def confusion_rows(metrics: dict) -> tuple[list[str], list[list]]:
    """Confusion matrix: rows are true classes, columns predicted (numbered, keyed in the row labels)."""
    from rich.text import Text

    names = list(metrics["per_class"])
    headers = ["true \\ predicted", *(str(i) for i in range(len(names)))]
    rows = [[f"{i} {name}", *(Text(str(v), "bold") if i == j else Text(str(v), "" if v else "dim")
                              for j, v in enumerate(row))]
            for i, (name, row) in enumerate(zip(names, metrics["confusion_matrix"]))]
    return headers, rows


def _overlap_note(overlap: dict[str, int], total: int, source) -> str:
    """One ``Note:`` line when images evaluated with --data were in the model's own training (or
    validation) split, which makes the figures optimistic; nothing otherwise."""
    trained, validated = overlap.get("train", 0), overlap.get("val", 0)
    if not trained and not validated:
        return ""
    where = source.run_dir / "split.json"
    if trained:
        text = (f"Note: {trained} of these {total} images trained this model ({where})"
                + (f" and {validated} more were its validation images" if validated else "")
                + ", so these figures are optimistic; evaluate on images it never saw.")
    else:
        text = (f"Note: {validated} of these {total} images were this model's validation images ({where}), which "
                f"picked its best epoch, so these figures are somewhat optimistic.")
    return text


@click.command(name="eval", short_help="Classification report and confusion matrix, any model format.")
@click.argument("target", required=False, type=click.Path(path_type=Path))
@click.option("--split", type=click.Choice(["val", "test"]), default=None,
              help="Split to evaluate on [test when the run has one, else val].")
@click.option("--run", "run_dir", type=click.Path(path_type=Path),
              help="Run whose split to use (for an exported model whose manifest does not name it).")
@click.option("--data", "data_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Evaluate on this labelled folder (one sub-folder per class) instead of a run's split.")
@click.option("--device", default=None, help="Runtime device (see `tk predict --help`).")
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Also write the metrics as JSON.")
@trust_plugins_option
def eval_(target: Path | None, split: str | None, run_dir: Path | None, data_dir: Path | None, device: str | None,
          json_path: Path | None) -> None:
    """Evaluate TARGET (a run folder, checkpoint, .onnx or .mlpackage; default: the most recent run)
    on its run's test or validation images, or on any labelled folder (--data): per-class
    precision, recall, F1 and the confusion matrix.

    The same code path computes the accuracy `tk bench` reports. With --data, a Note: line says
    how many of the folder's images the model trained on (its run's split.json, found through
    the run folder or the export manifest), which makes the figures optimistic.
    """
    from ..core.atomic import atomic_write
    from ..assess.evaluate import SPLIT_NAMES, eval_set, evaluate, folder_set, recorded_source, source_for_model, split_overlap
    from ..export.loading import load_predictor, model_path
    from ..export.protocol import predictor_spec
    from ..export.source import resolve_source

    if data_dir is not None and (split or run_dir):
        raise click.UsageError("--data evaluates on a folder; it cannot be combined with --split or --run.")
    if target is None:
        source = resolve_source(None)
        model = source.checkpoint
        if source.note:
            click.echo(source.note)
    else:
        from ..export.source import choice_note

        model = model_path(target)
        chosen = choice_note(target)  # a folder of runs (a cross-validation, runs/<recipe>/): which model this is
        if chosen:
            click.echo(chosen)
        source = source_for_model(target, run_dir) if data_dir is None else None
    predictor = load_predictor(model, device=device)
    if data_dir is not None:
        skipped: list[tuple[str, str]] = []
        data = folder_set(data_dir, predictor_spec(predictor), list(predictor.class_names), skipped)
        for path, reason in skipped:
            click.echo(f"Skipped {path}: {reason}", err=True)
    else:
        data = eval_set(source, split, predictor_spec(predictor), predictor.class_names)
    result = evaluate(predictor, data)
    predictor.close()

    title = (f"{model} — {predictor.runtime} ({predictor.device}) on {len(data)} "
             f"{SPLIT_NAMES.get(data.split, data.split)} images of {data_dir if data_dir is not None else source.run_dir}")
    rows, sections = report_rows(result.metrics)  # at any width: intervals wrap under values, names fold whole
    print_table(title, REPORT_HEADERS, rows, right=set(REPORT_HEADERS[1:]), sections=sections,
                wrap_first=("precision", "recall", "f1", "class"))
    headers, rows = confusion_rows(result.metrics)
    print_table("confusion matrix (rows: true class, columns: predicted)", headers, rows, right=set(headers[1:]))
    from ..engine.metrics import ci_text

    m = result.metrics
    echo_fitted(f"accuracy {result.accuracy:.4f} ({sum(int(a == b) for a, b in zip(result.predictions, data.labels))}"
                  f"/{len(data)}){ci_text(m.get('accuracy_ci'))}, macro-F1 {m['macro_f1']:.4f}"
                  f"{ci_text(m.get('macro_f1_ci'))}"
                  + (f", top-5 accuracy {m['top5_accuracy']:.4f}" if "top5_accuracy" in m else "")
                  + " (95% intervals: Wilson; bootstrap for F1)")
    overlap = {}
    if data_dir is not None:  # a folder that holds the model's own training images flatters it
        recorded = recorded_source(model)  # the model file itself: a folder of runs names one of them
        overlap = split_overlap(recorded, data.paths) if recorded is not None else {}
        note = _overlap_note(overlap, len(data), recorded)
        if note:
            click.echo(note)
    if json_path is not None:
        payload = {"model": str(model), "runtime": predictor.runtime, "device": predictor.device, "split": data.split,
                   "run": str(source.run_dir.resolve()) if source is not None and source.run_dir else None,
                   "data": str(Path(data_dir).resolve()) if data_dir is not None else None,
                   **({"seen_in_training": overlap} if data_dir is not None else {}), **result.metrics}
        data_bytes = (json.dumps(payload, indent=2) + "\n").encode("utf-8")
        json_path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(json_path, lambda fh: fh.write(data_bytes))
        click.echo(f"Wrote {json_path}.")

"""`tk predict`: classify image files with a checkpoint or an exported model, the same way for every format."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import click

from ._trust import trust_plugins_option


def prediction_rows(paths: list[str], probs, class_names: list[str], top_k: int,
                    unknown: tuple[float, str] = (0.0, "unknown")) -> list[dict[str, str]]:
    """One CSV row per image: ``path, class, probability`` then ``top2_class, top2_probability`` …

    With an unknown threshold (``unknown = (threshold, label)``, threshold > 0), ``class`` is the
    label when the likeliest class's probability is below the threshold, and a ``best_class``
    column keeps the likeliest class."""
    import numpy as np

    from ..text import printable

    class_names = [printable(n) for n in class_names]  # names that are not UTF-8 are shown escaped
    rows = []
    for path, p in zip(paths, probs):
        order = np.argsort(-p, kind="stable")[:top_k]
        best = class_names[order[0]]
        answer = printable(unknown[1]) if unknown[0] > 0 and float(p[order[0]]) < unknown[0] else best
        row = {"path": printable(path), "class": answer, **({"best_class": best} if unknown[0] > 0 else {}),
               "probability": f"{float(p[order[0]]):.6f}"}
        for rank, idx in enumerate(order[1:], start=2):
            row[f"top{rank}_class"] = class_names[idx]
            row[f"top{rank}_probability"] = f"{float(p[idx]):.6f}"
        rows.append(row)
    return rows


def _csv_text(rows: list[dict[str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


@click.command(short_help="Classify images with a checkpoint, .onnx or .mlpackage.")
@click.argument("model", type=click.Path(path_type=Path))
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), help="Write the predictions to this CSV file.")
@click.option("--top-k", type=click.IntRange(1), default=3, show_default=True, help="Classes listed per image.")
@click.option("--device", default=None, help="Runtime device: cpu/cuda/mps (checkpoint), cpu/cuda/coreml (ONNX), "
                                              "CPU_ONLY/CPU_AND_GPU/CPU_AND_NE/ALL (Core ML).")
@click.option("--batch", type=click.IntRange(1), default=32, show_default=True, help="Images per model call.")
@trust_plugins_option
def predict(model: Path, images: tuple[Path, ...], out: Path | None, top_k: int, device: str | None, batch: int) -> None:
    """Classify IMAGES (files or folders) with MODEL: a run folder, a checkpoint (.pt), an .onnx
    or (on macOS) an .mlpackage.

    Each image is decoded and resized exactly as the model was trained (the rule stored in the
    checkpoint or the exported model), so every format gives the same answers.
    """
    from rich.console import Console
    from rich.table import Table

    from ..atomic import atomic_write
    from ..errors import TkError
    from ..evaluate import size_words
    from ..export.inputs import expand_image_args, load_inputs
    from ..export.loading import load_predictor, model_path

    predictor = load_predictor(model_path(model), device=device)
    files = expand_image_args(images)
    arrays, failed = load_inputs(files, predictor.image_size, predictor.resize)
    bad = {p for p, _ in failed}
    readable = [str(p) for p in files if str(p) not in bad]
    for path, reason in failed:
        click.echo(f"Skipped {path}: {reason}", err=True)
    if not readable:
        raise TkError(f"None of the {len(files)} images could be read (first: {failed[0][0]}: {failed[0][1]}).")
    probs = predictor.predict_all(arrays, batch_size=batch)
    k = min(top_k, len(predictor.class_names))
    rule = (float(getattr(predictor, "unknown_threshold", 0.0)), str(getattr(predictor, "unknown_label", "unknown")))
    rows = prediction_rows(readable, probs, predictor.class_names, k, rule)

    console = Console(soft_wrap=False)
    table = Table(title=f"{model} — {predictor.runtime} ({predictor.device}), {size_words(predictor.image_size)} {predictor.resize}")
    table.add_column("image", overflow="fold")
    table.add_column("class", style="bold")
    table.add_column("probability", justify="right")
    if k > 1:
        table.add_column(f"next {k - 1}")
    shown = rows if out is None else rows[:20]
    for row in shown:
        others = ", ".join(f"{row[f'top{r}_class']} {float(row[f'top{r}_probability']):.3f}" for r in range(2, k + 1))
        table.add_row(row["path"], row["class"], f"{float(row['probability']):.4f}", *([others] if k > 1 else []))
    console.print(table)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        data = _csv_text(rows).encode("utf-8")
        atomic_write(out, lambda fh: fh.write(data))
        more = f" (first {len(shown)} shown)" if len(rows) > len(shown) else ""
        click.echo(f"Wrote {len(rows)} predictions to {out}{more}.")

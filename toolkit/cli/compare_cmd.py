"""`tk compare`: runs side by side — quality, size, training time and benched latency."""

from __future__ import annotations

from pathlib import Path

import click

from ._trust import trust_plugins_option


@click.command(short_help="Runs side by side: accuracy, F1, size, time, latency.")
@click.argument("runs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--md", "md_path", type=click.Path(path_type=Path), help="Also write the table as Markdown here.")
@click.option("--png", "png_path", type=click.Path(path_type=Path),
              help="Write the chart (accuracy vs latency, per-class F1) here [compare.png].")
@trust_plugins_option
def compare(runs: tuple[Path, ...], md_path: Path | None, png_path: Path | None) -> None:
    """Compare RUNS (run folders): accuracy, macro-F1, per-class F1, parameters, model size,
    training time, and latency from each run's bench.json (run `tk bench RUN` first).

    Accuracy and macro-F1 carry 95% intervals. Each run after the first is tested against the
    first when both were scored on the same images (McNemar's exact test on their
    predictions.csv): the line says whether the difference is significant or may be chance.

    Writes one PNG chart (default compare.png) to pick the best accuracy/speed trade-off.
    """
    from ..assess.compare import (compare_chart, compare_markdown, compare_runs, paired_tests, paired_text,
                           recipe_differences, table_rows)
    from ..core.atomic import atomic_write
    from ._tables import echo_fitted, print_table

    rows = compare_runs(list(runs))
    headers, cells = table_rows(rows)
    # latency columns no run has a figure for say nothing the note below does not: left out of the
    # terminal's table (kept in the Markdown), so a narrow terminal keeps the per-class F1 instead
    empty = {k for k, h in enumerate(headers) if h in ("PyTorch CPU ms", "ONNX CPU ms", "fastest")
             and all(row[k] in ("-", "not benched") for row in cells)}
    headers = [h for k, h in enumerate(headers) if k not in empty]
    cells = [[c for k, c in enumerate(row) if k not in empty] for row in cells]
    title = f"{len(rows)} run{'' if len(rows) == 1 else 's'} ({rows[0]['split']} split)"
    right = {h for h in headers if h not in {"run", "backbone", "split", "fastest"}}
    per_class = [h for h in headers if h.startswith("F1 ")]
    print_table(title, headers, cells, right=right,
                drop_first=("train time", "split", "px", "PyTorch CPU ms", *per_class, "size MB", "params (M)",
                            "backbone"),
                wrap_first=("fastest", "ONNX CPU ms", "macro-F1", "accuracy", "run"))
    for test in paired_tests(rows):
        echo_fitted(paired_text(test))
    diffs = recipe_differences(rows)
    if len(rows) > 1:
        if diffs:
            print_table("How the recipes differ", ["key", *[r["run"] for r in rows]],
                        [[key, *values] for key, values in diffs], right=set())
        else:
            click.echo("The runs' recipes are identical.")
    if any(r.get("fastest_ms") is None for r in rows):
        echo_fitted("Latency is shown for benched runs only: run `tk bench RUN_DIR` to add it.")
    if md_path is not None:
        data = compare_markdown(rows).encode("utf-8")
        md_path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(md_path, lambda fh: fh.write(data))
        click.echo(f"Wrote {md_path}.")
    png = compare_chart(rows, png_path or Path("compare.png"))
    click.echo(f"Wrote {png}.")

"""`tk bench`: latency, throughput, size and accuracy of a run's models in every runtime here."""

from __future__ import annotations

from pathlib import Path

import click

from ._options import threads_value
from ._trust import trust_plugins_option


def _batches(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated positive integers, e.g. 1,8,32, not {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise click.BadParameter(f"expected comma-separated positive integers, e.g. 1,8,32, not {text!r}")
    return values


@click.command(short_help="Latency, throughput, size and accuracy per runtime.")
@click.argument("targets", nargs=-1, type=click.Path(path_type=Path))
@click.option("--batch", "batch_text", metavar="1,8,32", help="Batch sizes [recipe's bench.batches].")
@click.option("--iters", type=click.IntRange(1), default=None, help="Timed calls at batch 1 [bench.iters].")
@click.option("--warmup", type=click.IntRange(0), default=None, help="Untimed calls first [bench.warmup].")
@click.option("--runtime", "runtimes", multiple=True, metavar="NAME",
              help="Only these runtimes: pytorch, onnx, coreml (repeatable) [bench.runtimes].")
@click.option("--threads", metavar="N", callback=threads_value, default=None,
              help="Intra-op CPU threads for PyTorch and ONNX Runtime alike [the count tk run uses].")
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Also write the results as JSON here.")
@click.option("--md", "md_path", type=click.Path(path_type=Path), help="Also write a Markdown table here.")
@trust_plugins_option
def bench(targets: tuple[Path, ...], batch_text: str | None, iters: int | None, warmup: int | None,
          runtimes: tuple[str, ...], threads: int | None, json_path: Path | None, md_path: Path | None) -> None:
    """Benchmark run folders or model files (default: the most recent run and its exports).

    A run is benched as its checkpoint (PyTorch eager on each device present) and every model
    `tk export` wrote for it, on every runtime device its format offers; devices this machine
    lacks are listed with the reason (Core ML needs macOS). Each row: load time, batch-1
    latency (median, its 95% interval, p90), throughput at the largest batch, accuracy on the
    run's test split (else validation) and agreement with PyTorch. Every runtime gets the same
    thread count; the machine's load while measuring is recorded, and one Warning: line says
    when load or spread make the timings unfit to compare. A model file given twice (or also
    recorded in a run given) is benched once. bench.json is written into the run folder.
    """
    from ..assess.bench import bench_run
    from ..assess.bench_report import (DROP_FIRST, NUMERIC, WRAP_FIRST, load_lines, report_rows, write_markdown,
                                write_report_json)
    from ._tables import echo_fitted, print_table

    report = bench_run(list(targets) if len(targets) > 1 else (targets[0] if targets else None),
                       batches=_batches(batch_text), iters=iters, warmup=warmup, runtimes=runtimes or None,
                       threads=threads, log=lambda line: click.echo(line, err=True))
    title, headers, rows, styles = report_rows(report)
    print_table(title, headers, rows, right=NUMERIC, drop_first=DROP_FIRST, wrap_first=WRAP_FIRST, styles=styles)
    for line in load_lines(report):  # threads, load while measuring, and the one-line warning
        echo_fitted(line)
    unavailable = [r for r in report["rows"] if r.get("status") == "unavailable" and "macOS" in str(r.get("reason"))]
    if unavailable:
        echo_fitted(f"{len(unavailable)} row(s) need macOS (Core ML): run `tk bench` on a Mac to fill them.")
    if json_path is not None:
        click.echo(f"Wrote {write_report_json(json_path, report)}.")
    if md_path is not None:
        click.echo(f"Wrote {write_markdown(md_path, report)}.")
    failed = [r for r in report["rows"] if r.get("status") == "failed"]
    if failed and not any(r.get("status") == "ok" for r in report["rows"]):  # nothing measured is a failure
        from ..core.errors import TkError

        first = str(failed[0].get("reason") or "").strip().splitlines()
        raise TkError(f"Nothing could be measured: {failed[0].get('file')}: {first[0] if first else 'failed'}")

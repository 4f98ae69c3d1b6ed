"""Showing and saving `tk bench` results: a rich table, Markdown, and JSON.

Every view shows the same columns in the same order, so a row on screen, in the Markdown
page and in ``bench.json`` reads the same: format, runtime, device, precision, status, size,
load time, batch-1 latency (median, the 95% interval on the median, p90), throughput at the
largest batch, accuracy and agreement with PyTorch; an unavailable or failed row carries its
reason instead of figures. Below the rows: the thread count every runtime had, the machine's
load while measuring, and the report's one-line ``warning`` when there is one (`load_lines`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..core.atomic import atomic_write

__all__ = ["write_report_json", "report_table", "report_markdown", "write_markdown", "load_lines", "COLUMNS",
           "DROP_FIRST", "WRAP_FIRST", "NUMERIC"]

COLUMNS = ("model", "format", "runtime", "device", "precision", "status", "size MB", "load s", "p50 ms (b1)",
           "p50 95% CI", "p90 ms (b1)", "img/s", "accuracy", "agreement", "notes")
"""Column order of every view (the table drops ``model`` when all rows share one)."""


def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _ci(row: dict[str, Any]) -> str:
    """``1.02–1.31`` (the interval on the batch-1 median, ms), ``~`` marking one below 95%."""
    ci = row.get("latency_ci_ms")
    if not ci:
        return "-"
    level = row.get("latency_ci_level")
    return f"{ci[0]:.2f}–{ci[1]:.2f}" + (f" ({level:.0%})" if level is not None and level < 0.95 else "")


def load_lines(report: dict[str, Any]) -> list[str]:
    """The lines below the table: threads, load while measuring, and the warning (when any)."""
    settings, load = report.get("settings", {}), report.get("load") or {}
    lines = []
    if settings.get("thread_policy"):
        lines.append(f"Threads: {settings['thread_policy']}.")
    if load:
        before, after = load.get("loadavg_before"), load.get("loadavg_after")
        text = f"Load: {load.get('cpus')} CPUs"
        if before and after:
            text += f", load average {before[0]:.2f} before and {after[0]:.2f} after"
        if load.get("others_cpu") is not None:
            text += f"; other processes kept {load['others_cpu']:.2f} CPUs busy while measuring ({load.get('seconds')} s)"
        lines.append(text + ".")
    if report.get("warning"):
        lines.append(f"Warning: {report['warning']}")
    return lines


def row_cells(row: dict[str, Any]) -> list[str]:
    """The `COLUMNS` of one row as text."""
    ok = row.get("status") == "ok"
    notes = []
    if not ok and row.get("reason"):
        notes.append(row["reason"])
    if row.get("note"):
        notes.append(row["note"])
    if row.get("compute_plan"):
        notes.append("ops: " + ", ".join(f"{k} {v}" for k, v in sorted(row["compute_plan"].items())))
    if ok and row.get("split"):
        notes.append(f"{row.get('images')} {row['split']} images")
    throughput = (f"{row['throughput_ips']:.1f} @{row['throughput_batch']}" if row.get("throughput_ips") is not None else "-")
    return [
        str(row.get("model", "")), str(row.get("format", "")), str(row.get("runtime", "")), str(row.get("device", "")),
        str(row.get("precision", "")), str(row.get("status", "")),
        _fmt(row.get("size_mb"), ".2f") if row.get("size_mb") else "-", _fmt(row.get("load_s"), ".3f"),
        _fmt(row.get("latency_ms"), ".2f"), _ci(row), _fmt(row.get("latency_p90_ms"), ".2f"), throughput,
        _fmt(row.get("accuracy"), ".2%"), _fmt(row.get("agreement"), ".2%"), "; ".join(notes),
    ]


def report_table(report: dict[str, Any]):
    """A rich table of the report's rows."""
    from rich.table import Table

    settings = report.get("settings", {})
    table = Table(title=f"tk bench — {report.get('machine', {}).get('platform', '')}; warm-up {settings.get('warmup')}, "
                        f"{settings.get('iters')} timed calls at batch 1, median")
    rows = report.get("rows", [])
    keep = [i for i, name in enumerate(COLUMNS) if name != "model" or len({r.get("model") for r in rows}) > 1]
    numeric = NUMERIC
    for i in keep:
        name = COLUMNS[i]
        table.add_column(name, justify="right" if name in numeric else "left", no_wrap=name != "notes",
                         overflow="fold", min_width=24 if name == "notes" else None)
    styles = {"ok": "", "unavailable": "dim", "failed": "red"}
    for row in rows:
        cells = row_cells(row)
        table.add_row(*[cells[i] for i in keep], style=styles.get(row.get("status"), ""))
    return table


def report_rows(report: dict[str, Any]) -> tuple[str, list[str], list[list[str]], list[str]]:
    """``(title, headers, rows, row styles)`` of the report, for `toolkit.cli._tables.print_table`."""
    settings = report.get("settings", {})
    title = (f"tk bench — {report.get('machine', {}).get('platform', '')}; warm-up {settings.get('warmup')}, "
             f"{settings.get('iters')} timed calls at batch 1, median")
    rows = report.get("rows", [])
    keep = [i for i, name in enumerate(COLUMNS) if name != "model" or len({r.get("model") for r in rows}) > 1]
    styles = {"ok": "", "unavailable": "dim", "failed": "red"}
    cells = [row_cells(r) for r in rows]
    return (title, [COLUMNS[i] for i in keep], [[c[i] for i in keep] for c in cells],
            [styles.get(r.get("status"), "") for r in rows])


NUMERIC = {"size MB", "load s", "p50 ms (b1)", "p50 95% CI", "p90 ms (b1)", "img/s", "accuracy", "agreement"}
DROP_FIRST = ("p90 ms (b1)", "load s", "agreement", "size MB", "p50 95% CI", "runtime", "precision", "img/s")
"""Bench columns a narrow terminal loses first. ``status`` and ``notes`` are never dropped: an empty
row must say why it is empty (Core ML needs macOS, a failure's reason); they wrap instead."""
WRAP_FIRST = ("notes", "model", "format", "device", "status")
"""Bench columns a narrow terminal wraps first (after `DROP_FIRST` went)."""


def report_markdown(report: dict[str, Any]) -> str:
    """The rows as a Markdown table, with the machine and settings above it."""
    machine, settings = report.get("machine", {}), report.get("settings", {})
    lines = [
        f"Machine: {machine.get('platform', '?')} ({machine.get('cpu_count', '?')} CPUs), Python {machine.get('python', '?')}, "
        f"torch {machine.get('torch', '?')}, onnxruntime {machine.get('onnxruntime', '-')}.",
        f"Settings: batches {settings.get('batches')}, {settings.get('warmup')} warm-up + {settings.get('iters')} timed calls "
        f"at batch 1 (median, its 95% interval, p90), throughput at the largest batch.",
        *load_lines(report),
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join("---:" if c in NUMERIC else "---" for c in COLUMNS) + "|",
    ]
    for row in report.get("rows", []):
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row_cells(row)) + " |")
    return "\n".join(lines) + "\n"


def write_report_json(path: Path, report: dict[str, Any]) -> Path:
    """Write the report as JSON, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (json.dumps(report, indent=2, default=str) + "\n").encode("utf-8")
    atomic_write(path, lambda fh: fh.write(data))
    return path


def write_markdown(path: Path, report: dict[str, Any]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = report_markdown(report).encode("utf-8")
    atomic_write(path, lambda fh: fh.write(data))
    return path

"""The machine's load around a `tk bench` measurement, and the one warning line when it (or the
spread of the timings) makes the comparison untrustworthy.

`LoadProbe` records the load averages before and after and the CPU time other processes took on
this process's CPUs while measuring (``/proc/stat`` less ``/proc/self/stat``). `bench_warning`
turns that and the rows' spread and overlapping intervals into one line saying why and how to
rerun.
"""

from __future__ import annotations

import os
from typing import Any

from ..engine.metrics import CONFIDENCE

__all__ = ["LoadProbe", "bench_warning", "merge_load", "SPREAD"]


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


def merge_load(loads: list[dict[str, Any]]) -> dict[str, Any]:
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

"""Comparing a resumed run with the uninterrupted one: two finished run folders, tensor by tensor.

`differences` lists what differs between two run folders (empty: the same training result);
`same` and `first_difference` are its deep equality, where tensors must be `torch.equal` and
wall-clock fields (`WALL_CLOCK_KEYS`) are ignored. `toolkit.testing.resume` (the kill-and-resume
kit, which re-exports these) and the every-entry check of a callback's state use them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

__all__ = ["CHECKPOINTS", "WALL_CLOCK_KEYS", "differences", "first_difference", "history_without_clock",
           "leftover_temp_files", "lost_files", "same"]

CHECKPOINTS = ("best.pt", "last.pt")

WALL_CLOCK_KEYS = frozenset({"epoch_time", "images_per_sec"})
"""History fields that measure time and may differ between two runs of the same training."""


def _tensors(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Every tensor inside nested dicts/lists, by a dotted path."""
    import torch

    out: dict[str, Any] = {}
    if isinstance(obj, torch.Tensor):
        out[prefix] = obj
    elif isinstance(obj, dict):
        for key, value in obj.items():
            out.update(_tensors(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            out.update(_tensors(value, f"{prefix}[{i}]"))
    return out


def same(a: Any, b: Any) -> bool:
    """Deep equality where tensors must be `torch.equal` and wall-clock fields are ignored."""
    import torch

    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict) and isinstance(b, dict):
        keys = (a.keys() | b.keys()) - WALL_CLOCK_KEYS
        return all(same(a.get(k), b.get(k)) for k in keys)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def first_difference(a: Any, b: Any, path: str = "") -> str | None:
    """Where two values first differ by `same`'s rules (``"0:my_cb.count"``), or None."""
    import torch

    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted((a.keys() | b.keys()) - WALL_CLOCK_KEYS, key=str):
            found = first_difference(a.get(k), b.get(k), f"{path}.{k}" if path else str(k))
            if found is not None:
                return found
        return None
    if (isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b)
            and not isinstance(a, torch.Tensor)):
        for i, (x, y) in enumerate(zip(a, b)):
            found = first_difference(x, y, f"{path}[{i}]")
            if found is not None:
                return found
        return None
    return None if same(a, b) else (path or "(the whole value)")


def history_without_clock(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in h.items() if k not in WALL_CLOCK_KEYS} for h in history]


def differences(reference: Path, resumed: Path, files: Iterable[str] = ()) -> list[str]:
    """What differs between two finished run folders (empty: the same training result).

    Compared: every tensor of best.pt and last.pt (model, optimiser, EMA, schedule, callbacks), their
    epoch, status and history (wall-clock fields aside), the callbacks' saved state (plain data
    too), history.jsonl, split.json, metrics.json, which run files exist, and the run files
    ``files`` names (your plugin's own, e.g. ``["steps.csv"]``) byte for byte.
    """
    import json

    import torch

    from ..core.checkpoint import load_checkpoint

    problems: list[str] = []
    for name in CHECKPOINTS:
        a, b = load_checkpoint(reference / name), load_checkpoint(resumed / name)
        for key in ("model", "optimizer", "ema", "scheduler", "callbacks"):
            ta, tb = _tensors(a.get(key)), _tensors(b.get(key))
            if ta.keys() != tb.keys():
                problems.append(f"{name} {key}: different tensors")
                continue
            bad = [k for k in ta if not torch.equal(ta[k], tb[k])]
            if bad:
                problems.append(f"{name} {key}: {len(bad)} tensors differ (first {bad[0]})")
        for key in ("epoch", "status", "global_step", "best", "early_stopping", "metrics", "callbacks"):
            if not same(a.get(key), b.get(key)):
                where = first_difference(a.get(key), b.get(key))
                problems.append(f"{name} {key} differs" + (f" (first {where})" if where and key != "epoch" else ""))
        if history_without_clock(a["history"]) != history_without_clock(b["history"]):
            problems.append(f"{name} history differs")
    lines = [history_without_clock([json.loads(x)]) for x in (reference / "history.jsonl").read_text().splitlines()]
    lines_b = [history_without_clock([json.loads(x)]) for x in (resumed / "history.jsonl").read_text().splitlines()]
    if lines != lines_b:
        problems.append("history.jsonl differs")
    for name in ("split.json", "metrics.json"):
        if json.loads((reference / name).read_text()) != json.loads((resumed / name).read_text()):
            problems.append(f"{name} differs")
    missing = lost_files(reference, resumed)
    if missing:
        problems.append(f"files missing after resume: {', '.join(missing)}")
    for name in files:
        a_file, b_file = reference / name, resumed / name
        if not a_file.is_file() or not b_file.is_file():
            problems.append(f"{name}: not in {'the uninterrupted' if not a_file.is_file() else 'the resumed'} run")
        elif a_file.read_bytes() != b_file.read_bytes():
            problems.append(f"{name} differs (a file appended to before the kill must be cut back to the "
                            f"checkpoint when the run resumes, e.g. in on_train_start)")
    return problems


def leftover_temp_files(run_dir: Path) -> list[str]:
    """Temp files of interrupted writes still in ``run_dir`` (a resumed run removes them)."""
    return [f"temp file left behind: {p.name}" for p in run_dir.glob(".*.tmp")]


def lost_files(reference: Path, resumed: Path) -> list[str]:
    """Run files the uninterrupted run has and the resumed one lacks."""
    return sorted(p.name for p in reference.iterdir() if not p.name.startswith(".") and not (resumed / p.name).exists())

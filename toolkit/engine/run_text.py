"""What `tk run` prints around training: the header (model, device, data, split, bad and ignored
files, notes) and the result (best epoch with 95% intervals, the test split, the run folder)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core.geometry import size_words

__all__ = ["print_header", "print_result", "declared_text", "calibration_text"]


def print_header(console: Any, recipe: Any, data: Any, run_dir: Path, device_text: str, precision: Any,
                 start: dict[str, Any] | None) -> None:
    """The header: what trains on what, the data and its split, what was left out."""
    verb = f"Resuming {run_dir} after epoch {start['epoch']}" if start else f"Run {run_dir}"
    console.info(f"{verb}: {recipe['model']['backbone']} at {size_words(recipe['data']['image_size'])} on {device_text}, "
                 f"precision {precision.name}")
    from .model import FROM_SCRATCH_NOTE, trains_from_scratch

    if trains_from_scratch(recipe["model"]):  # a user without hub access learns what that costs
        console.info(FROM_SCRATCH_NOTE)
    counts = data.train_counts()
    val_counts = [data.val.labels.count(i) for i in range(data.num_classes)]
    rate = f" at {data.decoded / data.decode_seconds:.0f} images/s" if data.decoded and data.decode_seconds > 0 else ""
    console.info(f"Data: {len(data.train)} train / {len(data.val)} val / {len(data.test)} test images "
                 f"({data.decoded} decoded{rate}, {data.cached} from the image store, {data.decode_seconds:.1f}s)")
    for name, n, v in zip(data.class_names, counts, val_counts):
        console.info(f"  {name:<40} {n:>6} train {v:>5} val")
    from .data_pipeline import grouping_text

    console.info(f"Split: {grouping_text(data.grouping)}")
    if data.bad_images:
        console.warn(f"{len(data.bad_images)} bad image(s) left out (listed in {run_dir / 'bad_images.txt'}):")
        from ..core.text import shown

        for path, reason in data.bad_images[:20]:
            console.summary(f"  {shown(path)}: {reason}")  # a name's newline or escape sequence shown, not obeyed
    if data.ignored:  # the same count as `tk data check`; hidden ones (.DS_Store & co.) said apart
        hidden = sum(Path(p).name.startswith(".") for p, _ in data.ignored)
        also = f", {hidden} of them hidden" if hidden else ""
        console.info(f"{len(data.ignored)} other file(s) ignored (not images{also}); `tk data check` lists them.")
    for note in data.notes:
        console.info(f"Note: {note}")


def declared_text(history: list[dict[str, Any]], recipe: Any, plugins: Any, epoch: int) -> str:
    """``"; accuracy_gap 0.125"``: the metrics the recipe's callbacks declare, as the best epoch reported them."""
    from .components import declared_metrics

    row = next((h for h in history if h.get("epoch") == epoch), {})
    shown = [f"{k} {row[k]:.4g}" for k in declared_metrics(recipe, plugins)
             if isinstance(row.get(k), (int, float))]
    return "; " + ", ".join(shown) if shown else ""


def print_result(console: Any, run: Any, status: str, metrics: dict[str, Any], *, epochs_done: int,
                 declared: str = "") -> None:
    """The result lines; ``declared``: `declared_text` of the best epoch."""
    why = f" ({run.stop_reason})" if run.stop_reason else ""
    console.summary(f"Run {status}{why} after {epochs_done} epoch{'' if epochs_done == 1 else 's'}.")
    if metrics:
        from .metrics import ci_text

        top5 = f", top-5 {metrics['top5_accuracy']:.4f}" if "top5_accuracy" in metrics else ""
        console.summary(f"Best: epoch {metrics['best_epoch']}, val accuracy {metrics['accuracy']:.4f}"
                        f"{ci_text(metrics.get('accuracy_ci'))}{top5}, macro-F1 {metrics['macro_f1']:.4f}"
                        f"{ci_text(metrics.get('macro_f1_ci'))}, val loss {metrics['loss']:.4f} (95% intervals)"
                        f"{declared}")
        calibration = calibration_text(metrics.get("calibration"))
        if calibration:
            console.summary(calibration)
        if "test" in metrics:
            test = metrics["test"]
            console.summary(f"Test: accuracy {test['accuracy']:.4f}{ci_text(test.get('accuracy_ci'))}, "
                            f"macro-F1 {test['macro_f1']:.4f}{ci_text(test.get('macro_f1_ci'))}")
    console.summary(f"Run folder: {run.dir}")


def calibration_text(section: dict[str, Any] | None) -> str:
    """One line on what calibration did (metrics.json's ``calibration``), said also when it did not
    help: the temperature and the validation NLL and ECE before → after, and the unknown threshold
    with the coverage and precision it keeps. Empty without a fitted section."""
    if not section or not section.get("fitted", True) or "temperature" not in section:
        return ""
    n = int(section.get("images", 0))
    ece = f"ECE {section['ece_before']:.3f} → {section['ece_after']:.3f}"
    if section["ece_after"] > section["ece_before"]:
        few = f": {n} validation images are few to fit a temperature on" if n < 100 else ""
        ece += (f" (worse{few}; the temperature is kept in best.pt and its exports all the same: "
                f"calibration.temperature = false leaves it out)")
    text = (f"Calibration on {n} validation images: temperature {section['temperature']:.3f}, "
            f"NLL {section['nll_before']:.3f} → {section['nll_after']:.3f}, {ece}")
    unknown = section.get("unknown")
    if unknown:
        if float(unknown.get("threshold", 0.0)) <= 0.0:
            text += f"; \"{unknown.get('label', 'unknown')}\" is never answered (threshold 0)"
        else:
            met = "met" if unknown.get("met") else "not met"
            text += (f"; \"{unknown.get('label', 'unknown')}\" below {unknown['threshold']:.3f}: a class for "
                     f"{unknown['coverage']:.0%} of the validation images, at precision {unknown['precision']:.0%} "
                     f"({unknown.get('goal', 'goal')}: {met})")
    return text + "."

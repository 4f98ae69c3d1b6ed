"""``tk run RECIPE --folds K``: stratified group k-fold cross-validation, for small datasets.

With a class of 4 images, one validation split says little. Cross-validation trains K runs;
run ``i`` validates on fold ``i`` (`toolkit.data.split.fold_indices`: stratified, with
near-duplicate groups kept inside one fold) and trains on the others. Each fold is an
ordinary run folder (``fold-1`` … ``fold-K``: recipe, split, best.pt, metrics, report), so
every tk command works on it. Around them this module writes:

* ``summary.json``: mean and standard deviation over the folds of accuracy, macro-F1 and
  loss, and of each class's precision, recall and F1 (plus every fold's figures);
* ``oof_predictions.csv``: the out-of-fold prediction of every image (the fold that held it
  out), in the format of a run's ``predictions.csv`` plus a ``fold`` column;
* ``label_issues.csv``: every image ranked by how likely its label is wrong, from those
  out-of-fold probabilities (`toolkit.assess.quality`, cleanlab), when the ``quality`` extra is installed.

A cross-validation stopped part-way is continued by running the same command with the same
``--out``: finished folds are kept, an interrupted fold is resumed, the rest are trained.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..core.atomic import atomic_write
from ..core.errors import TkError
from ..core.text import csv_row, csv_value

__all__ = ["CrossValResult", "run_folds", "summarise_folds"]


@dataclass
class CrossValResult:
    out: Path
    status: str
    folds: list[Path] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


def _fold_state(folder: Path) -> str:
    """'finished' (report written), 'unfinished' (last.pt to resume) or 'new'."""
    if (folder / "metrics.json").is_file() and (folder / "report.html").is_file():
        return "finished"
    if (folder / "last.pt").is_file():
        return "unfinished"
    return "new"


def run_folds(recipe_path: str | Path, overrides: tuple[str, ...], folds: int, *, out: Path | None,
              quiet: bool, log: Callable[[str], None] = print) -> CrossValResult:
    """Train every fold (see the module docstring) and write the summary files."""
    from ..engine.run import new_run_dir
    from ..engine.train import run_recipe
    from ..recipe.load import load_recipe

    if not 2 <= folds <= 100:
        raise TkError(f"--folds {folds}: use 2 to 100 folds (5 is usual).")
    first = load_recipe(recipe_path, (*overrides, f"data.folds={folds}", "data.fold=1"))
    settings = _settings(first)
    marker = Path(out) / "crossval.json" if out is not None else None
    saved = _read_marker(marker) if marker is not None and marker.is_file() else None
    if saved is not None:
        _check_same(marker.parent, saved, folds, settings)
    _check_folds(first, folds)  # before anything is written or a fold announced
    parent = Path(out) if out is not None else new_run_dir(Path(first["train"]["out"]) / f"{first.name}-cv{folds}")
    parent.mkdir(parents=True, exist_ok=True)
    marker = parent / "crossval.json"
    if saved is None:
        text = json.dumps({"folds": folds, "recipe": str(recipe_path), "overrides": list(overrides),
                           "settings": settings}, indent=1)
        atomic_write(marker, lambda fh: fh.write(text.encode("utf-8")))
    result = CrossValResult(parent, "finished")
    for fold in range(1, folds + 1):
        folder = parent / f"fold-{fold}"
        state = _fold_state(folder)
        result.folds.append(folder)
        if state == "finished":
            log(f"Fold {fold} of {folds}: already trained ({folder}).")
            continue
        log(f"Fold {fold} of {folds}: {'resuming' if state == 'unfinished' else 'training'} into {folder}")
        recipe = load_recipe(recipe_path, (*overrides, f"data.folds={folds}", f"data.fold={fold}"))
        run = run_recipe(recipe, out=folder, resume=folder if state == "unfinished" else None,
                         fresh=state == "new", quiet=quiet, resume_hint=False)
        if run.status == "interrupted":
            log(f"Cross-validation interrupted in fold {fold}; run the same command with --out {parent} to go on.")
            result.status = "interrupted"
            return result
    result.summary = summarise_folds(parent, result.folds, log=log)
    return result


def _settings(recipe: Any) -> dict[str, Any]:
    """What the folds are trained with: the recipe less the keys a resumed run may change (more
    epochs, another device …) and the fold number, with paths made absolute, as plain JSON."""
    import copy

    from ..engine.data_pipeline import data_root
    from ..engine.resume import RESUME_MUTABLE

    sections = copy.deepcopy(recipe.sections)
    results = {("train", "epochs"), ("train", "patience"), ("train", "early_stopping")}  # a finished fold's figures
    for section, key in (*(RESUME_MUTABLE - results), ("data", "fold")):
        sections.get(section, {}).pop(key, None)
    root = data_root(recipe)
    if root is not None:
        sections["data"]["root"] = str(root.resolve())
    sections["plugins"]["modules"] = [str(recipe.path_of("plugins", "modules", m).resolve()) if m.endswith(".py") else m
                                      for m in sections["plugins"]["modules"]]
    return json.loads(json.dumps(sections, sort_keys=True, default=str))


def _read_marker(marker: Path) -> dict[str, Any]:
    try:
        saved = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TkError(f"{marker}: not a cross-validation record tk wrote ({exc}); use another --out.") from None
    if not isinstance(saved, dict):
        raise TkError(f"{marker}: not a cross-validation record tk wrote; use another --out.")
    return saved


def _check_same(parent: Path, saved: dict[str, Any], folds: int, settings: dict[str, Any]) -> None:
    """Refuse to continue a cross-validation in ``parent`` with another fold count or other settings:
    its finished folds would be reported as the new settings' results."""
    if saved.get("folds") != folds:
        raise TkError(f"{parent} holds a {saved.get('folds')}-fold cross-validation; use another --out for "
                      f"{folds} folds.")
    old = saved.get("settings")
    if old is None or old == settings:  # None: written by tk 0.2, which recorded no settings
        return
    changed = sorted({f"{s}.{k}" for s in {*old, *settings} for k in {*(old.get(s) or {}), *(settings.get(s) or {})}
                      if (old.get(s) or {}).get(k) != (settings.get(s) or {}).get(k)})
    shown = ", ".join(f"{key} {_dotted(old, key)!r} → {_dotted(settings, key)!r}" for key in changed[:3])
    more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
    raise TkError(f"{parent} holds a cross-validation trained with other settings ({shown}{more}); its folds are not "
                  f"results of these. Use another --out, or delete {parent} to start again.")


def _dotted(sections: dict[str, Any], key: str) -> Any:
    section, _, name = key.partition(".")
    return (sections.get(section) or {}).get(name)


def _check_folds(recipe: Any, folds: int) -> None:
    """Scan, group and split fold 1 the way its run will (the image store keeps the decoded images
    for it), so a fold count the data cannot hold is one line before any fold starts."""
    from ..engine.data_pipeline import prepare_data
    from ..engine.train import load_run_plugins

    prepare_data(recipe, load_run_plugins(recipe))


def _mean_std(values: list[float]) -> dict[str, float]:
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0}


def summarise_folds(parent: Path, folders: list[Path], *, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Write summary.json, oof_predictions.csv and (with cleanlab) label_issues.csv."""
    from ..engine.finalize import read_predictions

    metrics = [json.loads((f / "metrics.json").read_text(encoding="utf-8")) for f in folders]
    names = metrics[0]["class_names"]
    summary: dict[str, Any] = {"folds": len(folders), "class_names": names,
                               "runs": [str(f.name) for f in folders]}
    for key in ("accuracy", "macro_f1", "loss"):
        summary[key] = _mean_std([float(m[key]) for m in metrics])
    summary["per_class"] = {
        name: {key: _mean_std([float(m["per_class"][name][key]) for m in metrics if m["per_class"][name]["support"]]
                              or [0.0])
               for key in ("precision", "recall", "f1")} | {"support": sum(m["per_class"][name]["support"]
                                                                            for m in metrics)}
        for name in names}
    summary["per_fold"] = [{"fold": i + 1, "accuracy": m["accuracy"], "macro_f1": m["macro_f1"], "loss": m["loss"],
                            "val_images": m["num_samples"]} for i, m in enumerate(metrics)]

    buf = io.StringIO()
    writer = csv.writer(buf)
    header_written = False
    labels, probs, paths = [], [], []
    for i, folder in enumerate(folders):
        with open(folder / "predictions.csv", newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
        if not header_written:
            writer.writerow(csv_row([*map(csv_value, rows[0]), "fold"]))
            header_written = True
        for row in rows[1:]:
            if row[0] == "val":
                writer.writerow(csv_row([*map(csv_value, row), i + 1]))
        preds = read_predictions(folder / "predictions.csv", "val")
        labels += preds["labels"]
        probs += preds["probs"].tolist()
        paths += preds["paths"]
    data = buf.getvalue().encode("utf-8")
    atomic_write(parent / "oof_predictions.csv", lambda fh: fh.write(data))
    correct = sum(int(max(range(len(p)), key=p.__getitem__) == y) for p, y in zip(probs, labels))
    summary["out_of_fold"] = {"images": len(labels), "accuracy": correct / max(len(labels), 1)}

    try:
        from ..assess.quality import rank_label_issues

        issues = rank_label_issues(labels, probs, paths, names)
    except TkError as exc:  # cleanlab not installed: everything else is written
        summary["label_issues"] = str(exc)
        log(f"Note: {exc}")
    else:
        write_label_issues(parent / "label_issues.csv", issues)
        flagged = sum(i.flagged for i in issues)
        summary["label_issues"] = {"flagged": flagged, "file": "label_issues.csv"}
    text = json.dumps(summary, indent=2)
    atomic_write(parent / "summary.json", lambda fh: fh.write(text.encode("utf-8")))
    return summary


def write_label_issues(path: Path, issues: list[Any]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["rank", "path", "given", "suggested", "score", "flagged"])
    for issue in issues:
        writer.writerow(csv_row([issue.rank, issue.path, issue.given, issue.suggested, f"{issue.score:.6f}",
                                 int(issue.flagged)]))
    data = buf.getvalue().encode("utf-8")
    atomic_write(path, lambda fh: fh.write(data))


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """What the console prints after the last fold."""
    def ms(d: dict[str, float], spec: str = ".4f") -> str:
        return f"{format(d['mean'], spec)} ± {format(d['std'], spec)}"

    lines = [f"Cross-validation over {summary['folds']} folds (mean ± standard deviation):",
             f"  accuracy {ms(summary['accuracy'])}, macro-F1 {ms(summary['macro_f1'])}, loss {ms(summary['loss'])}"]
    width = max(len(n) for n in summary["class_names"])
    for name, row in summary["per_class"].items():
        lines.append(f"  {name:<{width}}  recall {ms(row['recall'], '.3f')}  F1 {ms(row['f1'], '.3f')}  "
                     f"({row['support']} images)")
    oof = summary["out_of_fold"]
    lines.append(f"Out-of-fold accuracy over all {oof['images']} images: {oof['accuracy']:.4f}")
    issues = summary.get("label_issues")
    if isinstance(issues, dict):
        lines.append(f"Likely label errors: {issues['flagged']} flagged; every image ranked in label_issues.csv "
                     f"(tk data doctor shows them).")
    return lines

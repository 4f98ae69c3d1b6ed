"""Likely label errors: images whose given label a model's held-out predictions contradict.

The ranking is confident learning, from the maintained `cleanlab` library rather than a copy
of it (an optional extra: ``pip install 'tk-train[quality]'``). Its input must be predicted
probabilities for images the model did not train on: the out-of-fold predictions of
``tk run --folds K`` (every image is held out once), or, for a single run, its validation
predictions (``predictions.csv``) — then only validation images are ranked.

* ``score``: cleanlab's label quality (`cleanlab.rank.get_label_quality_scores`, self-confidence:
  the predicted probability of the given label); the lower, the likelier the label is wrong.
* ``flagged``: `cleanlab.filter.find_label_issues` (prune by noise rate), which estimates how
  many labels are wrong per pair of classes and flags that many, so not every low score is one.
* ``suggested``: the class the model finds likeliest.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from ..core.errors import TkError

__all__ = ["LabelIssue", "rank_label_issues", "missing_extra", "held_out_predictions"]


@dataclass
class LabelIssue:
    rank: int
    path: str
    given: str
    suggested: str
    score: float
    flagged: bool

    def to_json(self) -> dict[str, Any]:
        return {"rank": self.rank, "path": self.path, "given": self.given, "suggested": self.suggested,
                "score": round(self.score, 6), "flagged": self.flagged}


def missing_extra(package: str, extra: str, what: str) -> TkError:
    """The one-line error for an optional dependency that is not installed."""
    return TkError(f"{what} needs the '{package}' package: pip install 'tk-train[{extra}]'")


def rank_label_issues(labels: Sequence[int], probs: Any, paths: Sequence[str],
                      class_names: Sequence[str]) -> list[LabelIssue]:
    """Every image, likeliest label error first (see the module docstring)."""
    import numpy as np

    try:
        from cleanlab.filter import find_label_issues
        from cleanlab.rank import get_label_quality_scores
    except ImportError:
        raise missing_extra("cleanlab", "quality", "Finding likely label errors") from None
    y = np.asarray(labels, dtype=np.int64)
    p = np.asarray(probs, dtype=np.float64)
    if len(y) == 0:
        return []
    p = np.clip(p, 1e-12, None)
    p = p / p.sum(1, keepdims=True)
    import warnings

    scores = get_label_quality_scores(y, p, method="self_confidence")
    try:
        with warnings.catch_warnings():  # "may not flag all label issues in class k": tiny classes, known
            warnings.simplefilter("ignore", UserWarning)
            flagged = np.asarray(find_label_issues(y, p, filter_by="prune_by_noise_rate"), dtype=bool)
    except (ValueError, ZeroDivisionError):  # e.g. a class with no held-out image: rank only
        flagged = np.zeros(len(y), dtype=bool)
    order = np.argsort(scores, kind="stable")
    return [LabelIssue(rank + 1, str(paths[i]), class_names[y[i]], class_names[int(p[i].argmax())],
                       float(scores[i]), bool(flagged[i])) for rank, i in enumerate(order)]


def held_out_predictions(folder: Path) -> tuple[dict[str, Any], str]:
    """The held-out predictions of a cross-validation folder (``oof_predictions.csv``) or a run
    (``predictions.csv``, validation rows), and which they are."""
    from ..engine.finalize import read_predictions

    folder = Path(folder)
    if (folder / "oof_predictions.csv").is_file():
        return read_predictions(folder / "oof_predictions.csv", None), "out-of-fold predictions of every image"
    if (folder / "predictions.csv").is_file():
        return read_predictions(folder / "predictions.csv", "val"), "validation predictions of best.pt"
    raise TkError(f"{folder} holds no predictions (predictions.csv of a run, oof_predictions.csv of "
                  f"tk run --folds): train first, or give the run folder.")

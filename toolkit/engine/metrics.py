"""Classification metrics from labels and predictions: the numbers metrics.json holds.

Computed with scikit-learn over every class of the dataset (``labels=range(K)``), so a class
missing from a split still has its row (support 0) and the confusion matrix is always K×K in
class order. Precision or recall of a class the model never predicts is 0, not a warning.

**Intervals.** With ``intervals=True`` (the final evaluation, ``tk eval``) every figure carries
a 95% interval, because a per-class recall of "100%" on a class of 4 images means little:

* accuracy, per-class precision and recall are proportions: the Wilson score interval
  (`wilson`), which stays inside 0–1 and is honest at 0/n and n/n, unlike the normal
  approximation;
* F1 and macro-F1 are not proportions: a percentile bootstrap over images (`bootstrap_f1`:
  1,000 resamples of the evaluated images with replacement, seeded, so the interval is the
  same on every run of the same predictions).

`median_interval` gives timings (``tk bench``, ``tk run --dry-run``) the same treatment: the
distribution-free interval on a median, from the order statistics.
"""

from __future__ import annotations

from typing import Any, Sequence


def ci_text(interval: Sequence[float] | None, spec: str = ".3f") -> str:
    """`` [0.812–0.903]`` (the 95% interval after a figure), or nothing without one."""
    if not interval:
        return ""
    return f" [{format(interval[0], spec)}–{format(interval[1], spec)}]"

__all__ = ["classification_metrics", "accuracy", "ci_text", "wilson", "bootstrap_f1", "CONFIDENCE", "RESAMPLES", "mcnemar",
           "median_interval"]

#: Level of every interval tk reports.
CONFIDENCE = 0.95
#: Bootstrap resamples for the F1 intervals.
RESAMPLES = 1000


def wilson(successes: int, total: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval of a proportion ``successes / total`` ((0, 1) for no trials)."""
    from statistics import NormalDist

    if total <= 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / total
    denom = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denom
    half = z * ((p * (1 - p) / total + z * z / (4 * total * total)) ** 0.5) / denom
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    return low, 1.0 if successes == total else min(1.0, centre + half)


def median_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """``(low, high, coverage)``: the distribution-free interval on the median of ``values``.

    The median lies between the j-th and k-th smallest of n timings with probability
    ``P(j ≤ B ≤ k−1)``, B ~ Binomial(n, 1/2) (the number of timings below the median), whatever
    the distribution of the timings. j is the largest rank (k = n + 1 − j, symmetric) whose
    coverage reaches ``confidence``; with too few timings for that (fewer than 6 at 95%) the
    interval is the full range and ``coverage`` says how much it covers. The interval always
    contains the sample median.
    """
    from scipy.stats import binom

    ordered = sorted(float(v) for v in values)
    n = len(ordered)
    if n == 0:
        raise ValueError("no timings")

    def coverage(j: int) -> float:
        return float(binom.cdf(n - j, n, 0.5) - binom.cdf(j - 1, n, 0.5))

    j = 1
    for rank in range(n // 2, 0, -1):  # narrowest first
        if coverage(rank) >= confidence:
            j = rank
            break
    return ordered[j - 1], ordered[n - j], coverage(j)


def bootstrap_f1(labels: Sequence[int], preds: Sequence[int], num_classes: int, *, resamples: int = RESAMPLES,
                 confidence: float = CONFIDENCE, seed: int = 0) -> tuple[list[tuple[float, float]], tuple[float, float]]:
    """Percentile-bootstrap intervals of each class's F1 and of macro-F1 (over the classes
    present in each resample's labels, as `classification_metrics` averages)."""
    import numpy as np

    y, p = np.asarray(labels, dtype=np.int64), np.asarray(preds, dtype=np.int64)
    n, k = len(y), num_classes
    if n == 0:
        return [(0.0, 1.0)] * k, (0.0, 1.0)
    rng = np.random.default_rng(seed)
    f1s = np.zeros((resamples, k))
    macro = np.zeros(resamples)
    chunk = max(1, 2_000_000 // max(n, 1))  # bound memory: chunk × n indices at a time
    for start in range(0, resamples, chunk):
        r = min(chunk, resamples - start)
        idx = rng.integers(0, n, size=(r, n))
        cells = (y[idx] * k + p[idx]) + (np.arange(r)[:, None] * k * k)
        cm = np.bincount(cells.reshape(-1), minlength=r * k * k).reshape(r, k, k)
        tp = np.diagonal(cm, axis1=1, axis2=2).astype(float)
        support, predicted = cm.sum(2), cm.sum(1)
        with np.errstate(divide="ignore", invalid="ignore"):
            f1 = np.where(support + predicted > 0, 2 * tp / (support + predicted), 0.0)
        f1s[start:start + r] = f1
        present = support > 0
        macro[start:start + r] = (f1 * present).sum(1) / np.maximum(present.sum(1), 1)
    lo, hi = 100 * (1 - confidence) / 2, 100 * (1 + confidence) / 2
    per_class = [(float(np.percentile(f1s[:, c], lo)), float(np.percentile(f1s[:, c], hi))) for c in range(k)]
    return per_class, (float(np.percentile(macro, lo)), float(np.percentile(macro, hi)))


def mcnemar(correct_a: Sequence[bool], correct_b: Sequence[bool]) -> dict[str, Any]:
    """Exact McNemar test of two models on the same images: are their error rates different?

    Only the discordant images count (``b``: A right, B wrong; ``c``: A wrong, B right); under
    the null hypothesis each is a fair coin, so the two-sided p-value is the binomial test of
    ``min(b, c)`` in ``b + c`` at 1/2.
    """
    from scipy.stats import binomtest

    if len(correct_a) != len(correct_b):
        raise ValueError("McNemar's test needs both models' results on the same images")
    b = sum(1 for x, y in zip(correct_a, correct_b) if x and not y)
    c = sum(1 for x, y in zip(correct_a, correct_b) if y and not x)
    p = 1.0 if b + c == 0 else float(binomtest(min(b, c), b + c, 0.5).pvalue)
    return {"a_only": b, "b_only": c, "p_value": min(1.0, p), "n": len(correct_a)}


def accuracy(labels: Sequence[int], preds: Sequence[int]) -> float:
    """Share of ``preds`` equal to ``labels`` (0.0 for no samples)."""
    if not len(labels):
        return 0.0
    return sum(int(a == b) for a, b in zip(labels, preds)) / len(labels)


def classification_metrics(labels: Sequence[int], preds: Sequence[int], class_names: Sequence[str],
                           top5: Sequence[Sequence[int]] | None = None, *, intervals: bool = False) -> dict[str, Any]:
    """``accuracy``, ``macro_f1``, ``per_class`` {name: precision/recall/f1/support} and the
    ``confusion_matrix`` (rows: true class, columns: predicted), as plain JSON-ready data; with
    more than five classes and each sample's five likeliest classes (``top5``), ``top5_accuracy``.

    ``macro_f1`` averages over the classes that occur in ``labels`` (a class with no sample in
    the split has no F1 to speak of and would otherwise pull the mean down by 1/K).

    ``intervals``: add ``accuracy_ci``, ``macro_f1_ci`` and per class ``precision_ci``,
    ``recall_ci``, ``f1_ci`` (``[low, high]``, see the module docstring) and ``intervals``
    saying how they were computed.
    """
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    k = len(class_names)
    everything = list(range(k))
    labels, preds = [int(v) for v in labels], [int(v) for v in preds]
    if labels:
        p, r, f, s = precision_recall_fscore_support(labels, preds, labels=everything, zero_division=0)
        cm = confusion_matrix(labels, preds, labels=everything).tolist()
    else:
        p = r = f = [0.0] * k
        s = [0] * k
        cm = [[0] * k for _ in range(k)]
    present = [i for i in everything if s[i] > 0]
    macro_f1 = sum(float(f[i]) for i in present) / len(present) if present else 0.0
    result = {
        "accuracy": accuracy(labels, preds),
        "macro_f1": macro_f1,
        "per_class": {
            name: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, name in enumerate(class_names)
        },
        "confusion_matrix": cm,
        "class_names": list(class_names),
        "num_samples": len(labels),
        **({"top5_accuracy": sum(int(y in set(list(t)[:5])) for y, t in zip(labels, top5)) / len(labels)}
           if top5 is not None and k > 5 and labels else {}),
    }
    if intervals:
        _add_intervals(result, labels, preds, cm, k)
    return result


def _add_intervals(result: dict[str, Any], labels: list[int], preds: list[int], cm: list[list[int]], k: int) -> None:
    n = len(labels)
    correct = sum(cm[i][i] for i in range(k))
    result["accuracy_ci"] = list(wilson(correct, n))
    f1_ci, macro_ci = bootstrap_f1(labels, preds, k)
    result["macro_f1_ci"] = list(macro_ci)
    for i, row in enumerate(result["per_class"].values()):
        predicted = sum(cm[j][i] for j in range(k))
        row["precision_ci"] = list(wilson(cm[i][i], predicted))
        row["recall_ci"] = list(wilson(cm[i][i], row["support"]))
        row["f1_ci"] = list(f1_ci[i])
    result["intervals"] = {"level": CONFIDENCE, "proportions": "Wilson score interval",
                           "f1": f"percentile bootstrap over images, {RESAMPLES} resamples, seed 0"}

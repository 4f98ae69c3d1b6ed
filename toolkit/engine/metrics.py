"""Classification metrics from labels and predictions: the numbers metrics.json holds.

Computed with scikit-learn over every class of the dataset (``labels=range(K)``), so a class
missing from a split still has its row (support 0) and the confusion matrix is always K×K in
class order. Precision or recall of a class the model never predicts is 0, not a warning.
"""

from __future__ import annotations

from typing import Any, Sequence

__all__ = ["classification_metrics", "accuracy"]


def accuracy(labels: Sequence[int], preds: Sequence[int]) -> float:
    """Share of ``preds`` equal to ``labels`` (0.0 for no samples)."""
    if not len(labels):
        return 0.0
    return sum(int(a == b) for a, b in zip(labels, preds)) / len(labels)


def classification_metrics(labels: Sequence[int], preds: Sequence[int], class_names: Sequence[str],
                           top5: Sequence[Sequence[int]] | None = None) -> dict[str, Any]:
    """``accuracy``, ``macro_f1``, ``per_class`` {name: precision/recall/f1/support} and the
    ``confusion_matrix`` (rows: true class, columns: predicted), as plain JSON-ready data; with
    more than five classes and each sample's five likeliest classes (``top5``), ``top5_accuracy``.

    ``macro_f1`` averages over the classes that occur in ``labels`` (a class with no sample in
    the split has no F1 to speak of and would otherwise pull the mean down by 1/K).
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
    return {
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

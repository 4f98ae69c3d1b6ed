"""Calibrated confidence and an "unknown" answer, fitted on the validation split after training.

**Temperature scaling** (Guo et al., "On Calibration of Modern Neural Networks", 2017): one
scalar ``T`` divides the logits; it is fitted by minimising the negative log-likelihood of the
validation labels with L-BFGS over ``log T`` (a dozen lines here instead of a dependency:
`netcal` implements the same fit, and this keeps it inside torch, deterministic, with no extra
install). ``T`` changes no prediction (argmax is unchanged) but makes a softmax of 0.98 mean
about 98% right. It lives in the model (`Classifier.temperature`), so checkpoints, `tk predict`,
`tk eval` and every exported model apply it.

**Expected calibration error** (`ece`): 15 equal-width confidence bins, the weighted mean of
|accuracy − confidence| per bin, before and after.

**Unknown** (`choose_threshold`): an image whose calibrated maximum probability is below a
threshold gets the answer ``unknown``. The threshold is chosen on validation for a target
precision of the answers given (``calibration.target_precision``) or a target coverage (share
of known images answered, ``calibration.target_coverage``); with images of none of the classes
(``data.unknown_root``) those count against precision too, so the threshold learns what
out-of-scope images look like to the model. Both scores are measured (`auroc` of the maximum
probability and of the energy score ``T·logsumexp(z/T)``) and reported; the maximum probability
is what ships, because every runtime can compare a probability (Core ML's classifier returns
the ``unknown`` label by it).
"""

from __future__ import annotations

from typing import Any, Sequence

__all__ = ["calibrate", "fit_temperature", "ece", "auroc", "choose_threshold", "operating_points",
           "operating_points_html", "reliability_png", "reliability_figure", "risk_coverage_png", "COVERAGES"]

#: Coverages of the operating-point table.
COVERAGES = (1.0, 0.99, 0.95, 0.9, 0.8, 0.7, 0.5)


def fit_temperature(logits: Any, labels: Sequence[int]) -> float:
    """The temperature minimising validation NLL (1.0 for fewer than 2 images)."""
    import torch

    z = torch.as_tensor(logits, dtype=torch.float64)
    y = torch.as_tensor(list(labels), dtype=torch.long)
    if z.shape[0] < 2:
        return 1.0
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(z / log_t.exp(), y)
        loss.backward()
        return loss

    opt.step(closure)
    t = float(log_t.detach().exp())
    return min(max(t, 0.05), 20.0)  # a degenerate split (all right, all wrong) must not give 0 or inf


def softmax(logits: Any, temperature: float = 1.0) -> Any:
    import numpy as np

    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def ece(probs: Any, labels: Sequence[int], bins: int = 15) -> float:
    """Expected calibration error of the top-1 confidence (equal-width bins)."""
    import numpy as np

    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(labels)
    if len(y) == 0:
        return 0.0
    conf, pred = p.max(1), p.argmax(1)
    correct = (pred == y).astype(np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        m = which == b
        if m.any():
            total += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return float(total)


def auroc(positive: Sequence[float], negative: Sequence[float]) -> float | None:
    """Probability that a positive scores above a negative (ties count half); None if a side is empty."""
    from scipy.stats import mannwhitneyu

    if not len(positive) or not len(negative):
        return None
    u = mannwhitneyu(positive, negative, alternative="two-sided").statistic
    return float(u / (len(positive) * len(negative)))


def energy(logits: Any, temperature: float) -> Any:
    """``T·logsumexp(z/T)`` (higher: more in-distribution)."""
    import numpy as np
    from scipy.special import logsumexp

    return temperature * logsumexp(np.asarray(logits, dtype=np.float64) / temperature, axis=1)


def _accept_stats(conf: Any, correct: Any, unknown_conf: Any, t: float) -> tuple[float, float]:
    """(coverage of known images, precision of accepted answers) at threshold t."""
    accepted = conf >= t
    n_known = max(len(conf), 1)
    wrong_unknown = int((unknown_conf >= t).sum()) if len(unknown_conf) else 0
    answered = int(accepted.sum()) + wrong_unknown
    precision = float(correct[accepted].sum()) / answered if answered else 1.0
    return float(accepted.sum()) / n_known, precision


def choose_threshold(conf: Any, correct: Any, unknown_conf: Any = (), *, target_precision: float = 0.95,
                     target_coverage: float = 0.0) -> dict[str, Any]:
    """The threshold on the calibrated maximum probability (see the module docstring).

    With ``target_coverage`` > 0: the highest threshold that still answers that share of the
    known images. Otherwise: the lowest threshold whose accepted answers reach
    ``target_precision`` (the most coverage at that precision); when none does, the threshold
    of the best precision, with ``met`` false.
    """
    import numpy as np

    conf = np.asarray(conf, dtype=np.float64)
    correct = np.asarray(correct, dtype=bool)
    unknown_conf = np.asarray(unknown_conf, dtype=np.float64)
    candidates = np.unique(np.concatenate([conf, unknown_conf, [0.0]]))
    stats = [(float(t), *_accept_stats(conf, correct, unknown_conf, float(t))) for t in candidates]
    if target_coverage > 0:
        ok = [s for s in stats if s[1] >= target_coverage]
        t, coverage, precision = max(ok, key=lambda s: s[0]) if ok else stats[0]
        met = bool(ok)
        goal = f"coverage ≥ {target_coverage:.0%}"
    else:
        ok = [s for s in stats if s[2] >= target_precision and s[1] > 0]
        t, coverage, precision = min(ok, key=lambda s: s[0]) if ok else max(stats, key=lambda s: (s[2], s[1]))
        met = bool(ok)
        goal = f"precision ≥ {target_precision:.0%}"
    # Put the threshold halfway to the next lower score: no validation image sits on it, so
    # runtimes whose probabilities differ in the 7th digit (fp16 Core ML, ONNX) agree on every one.
    lower = candidates[candidates < t]
    if len(lower):
        t = float((t + lower.max()) / 2)
    return {"threshold": t, "coverage": coverage, "precision": precision, "goal": goal, "met": met}


def operating_points(conf: Any, preds: Sequence[int], labels: Sequence[int], class_names: Sequence[str],
                     unknown_conf: Any = ()) -> list[dict[str, Any]]:
    """Threshold, coverage and precision (overall and per class) at each of `COVERAGES`."""
    import numpy as np

    conf = np.asarray(conf, dtype=np.float64)
    preds, labels = np.asarray(preds), np.asarray(labels)
    unknown_conf = np.asarray(unknown_conf, dtype=np.float64)
    correct = preds == labels
    rows = []
    order = np.sort(conf)[::-1]
    seen: set[float] = set()
    for cov in COVERAGES:
        if not len(order):
            break
        k = max(1, int(np.ceil(cov * len(order))))
        t = float(order[k - 1])
        if t in seen:  # few images: two coverages land on one threshold
            continue
        seen.add(t)
        accepted = conf >= t
        coverage, precision = _accept_stats(conf, correct, unknown_conf, t)
        per_class = {}
        for c, name in enumerate(class_names):
            m = accepted & (preds == c)
            per_class[name] = float(correct[m].mean()) if m.any() else None
        rows.append({"threshold": t, "coverage": coverage, "precision": precision, "per_class_precision": per_class,
                     **({"unknown_rejected": float((unknown_conf < t).mean())} if len(unknown_conf) else {})})
    return rows


def _png(fig: Any) -> bytes:
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def reliability_png(probs_before: Any, probs_after: Any, labels: Sequence[int], bins: int = 15) -> bytes:
    """The reliability diagram (accuracy against confidence per bin), before and after scaling."""
    return _png(reliability_figure(probs_before, probs_after, labels, bins))


def reliability_figure(probs_before: Any, probs_after: Any, labels: Sequence[int], bins: int = 15) -> Any:
    """`reliability_png`'s figure; the legend stands below the axes, where it can cover no point
    (an under-confident model's points sit in the upper left, where it used to be)."""

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(5, 4.8), dpi=110, layout="constrained")
    ax.plot([0, 1], [0, 1], color="#999", lw=1, ls="--", label="perfect calibration")
    edges = np.linspace(0, 1, bins + 1)
    y = np.asarray(labels)
    for probs, name, colour in ((probs_before, "before", "#d08040"), (probs_after, "after (temperature)", "#3060c0")):
        p = np.asarray(probs)
        conf, correct = p.max(1), (p.argmax(1) == y)
        xs, ys = [], []
        for b in range(bins):
            m = (conf > edges[b]) & (conf <= edges[b + 1])
            if m.any():
                xs.append(conf[m].mean())
                ys.append(correct[m].mean())
        ax.plot(xs, ys, marker="o", color=colour, label=f"{name}: ECE {ece(p, y, bins):.3f}")
    ax.set_xlabel("confidence (maximum probability)")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    fig.legend(loc="outside lower center", fontsize=8, ncols=2, frameon=False)
    ax.set_title("Reliability on the validation split")
    return fig


def risk_coverage_png(conf: Any, correct: Any, chosen: float | None) -> bytes:
    """Error rate of the answers given against the share answered, as the threshold rises."""

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    conf = np.asarray(conf, dtype=np.float64)
    correct = np.asarray(correct, dtype=bool)
    order = np.argsort(-conf, kind="stable")
    answered = np.arange(1, len(order) + 1)
    risk = np.cumsum(~correct[order]) / answered
    fig, ax = plt.subplots(figsize=(5, 4.5), dpi=110, layout="constrained")
    ax.plot(answered / max(len(order), 1), risk, color="#3060c0")
    if chosen is not None:
        cov = float((conf >= chosen).mean())
        k = max(1, int((conf >= chosen).sum()))
        ax.scatter([cov], [risk[k - 1]], color="#c03030", zorder=3, label=f"chosen threshold {chosen:.3f}")
        fig.legend(loc="outside lower center", fontsize=8, frameon=False)  # the curve starts in the upper left
    ax.set_xlabel("coverage (share of validation images answered)")
    ax.set_ylabel("risk (error rate of the answers)")
    ax.set_xlim(0, 1)
    ax.set_title("Risk–coverage")
    return _png(fig)


# -- the step after training (called by toolkit.engine.finalize) -----------------------------
def unknown_images(recipe: Any) -> list[str]:
    """Image files under ``data.unknown_root`` (recursively, sorted); [] when it is not set."""
    import os

    from ..core.errors import DataError
    from ..data.images import is_image_name

    root = recipe.path_of("data", "unknown_root")
    if root is None:
        return []
    if not root.is_dir():
        raise DataError(f"data.unknown_root: {root} is not a folder.")
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found += [os.path.join(dirpath, f) for f in sorted(filenames) if is_image_name(f) and not f.startswith(".")]
    if not found:
        raise DataError(f"data.unknown_root: {root} holds no images.")
    return found


def calibrate(state: Any, cfg: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Fit the temperature and the unknown threshold on best.pt's validation logits
    (``state.final``, a `toolkit.plugin.callbacks.FinalEvaluation`), set them in the live model and in
    best.pt's contents, and return (metrics.json section, report HTML). ``cfg``: the
    ``[calibration]`` keys."""
    import numpy as np
    import torch

    model, final = state.model, state.final
    logits = np.asarray(final.logits, dtype=np.float64)
    y = np.asarray(final.labels)
    before = softmax(logits)
    t = fit_temperature(logits, y) if cfg["temperature"] else 1.0
    after = softmax(logits, t)
    conf, correct = after.max(1), after.argmax(1) == y
    rows = np.arange(len(y))
    nll = lambda p: float(-np.log(np.clip(p[rows, y], 1e-12, None)).mean()) if len(y) else float("nan")  # noqa: E731
    out: dict[str, Any] = {"temperature": t, "fitted": bool(cfg["temperature"]), "ece_before": ece(before, y),
                           "ece_after": ece(after, y), "nll_before": nll(before), "nll_after": nll(after),
                           "bins": 15, "images": int(len(y))}
    unknown_conf = np.zeros(0)
    if final.unknown_logits is not None:  # the images of data.unknown_root, scored like the validation images
        z_unknown = np.asarray(final.unknown_logits, dtype=np.float64).reshape(-1, logits.shape[1])
        unknown_conf = softmax(z_unknown, t).max(1) if len(z_unknown) else np.zeros(0)
        out["separation"] = {"against": f"{len(z_unknown)} images of data.unknown_root",
                             "auroc_max_probability": auroc(conf, unknown_conf),
                             "auroc_energy": auroc(energy(logits, t), energy(z_unknown, t)) if len(z_unknown) else None}
    else:
        out["separation"] = {"against": "misclassified validation images",
                             "auroc_max_probability": auroc(conf[correct], conf[~correct]),
                             "auroc_energy": auroc(energy(logits, t)[correct], energy(logits, t)[~correct])}
    preds = after.argmax(1)
    out["operating_points"] = operating_points(conf, preds, y, state.class_names, unknown_conf)
    threshold = 0.0
    if cfg["unknown"]:
        chosen = choose_threshold(conf, correct, unknown_conf, target_precision=float(cfg["target_precision"]),
                                  target_coverage=float(cfg["target_coverage"]))
        threshold = chosen["threshold"]
        out["unknown"] = {**chosen, "label": cfg["unknown_label"], "score": "calibrated maximum probability",
                          **({"unknown_rejected": float((unknown_conf < threshold).mean())} if len(unknown_conf) else {})}
    with torch.no_grad():
        model.temperature.fill_(t)
        model.unknown_threshold.fill_(threshold)
    best = final.checkpoint
    best["model"]["temperature"] = torch.tensor(t, dtype=torch.float32)
    best["model"]["unknown_threshold"] = torch.tensor(threshold, dtype=torch.float32)
    best["calibration"] = {"temperature": t, "ece_before": out["ece_before"], "ece_after": out["ece_after"],
                           **({"unknown": {"threshold": threshold, "label": cfg["unknown_label"],
                                           "target": out["unknown"]["goal"]}} if cfg["unknown"] else {})}
    section = _section(out, (before, after, y), (conf, correct), threshold if cfg["unknown"] else None,
                       state.class_names)
    return out, section


def _section(out: dict[str, Any], probs: tuple[Any, Any, Any], answers: tuple[Any, Any], chosen: float | None,
             class_names: Sequence[str]) -> str:
    """The report's calibration and "unknown" sections: ``probs`` = (before, after, labels) for the
    reliability diagram, ``answers`` = (confidence, correct) for the risk–coverage curve."""
    import base64
    import html

    before, after, y = probs
    conf, correct = answers
    t = out["temperature"]

    def png(data: bytes) -> str:
        return f'<img class="plot" src="data:image/png;base64,{base64.b64encode(data).decode("ascii")}">'

    sep = out["separation"]
    chosen_html = ""
    if "unknown" in out:
        u = out["unknown"]
        chosen_html = (f"<p>Answer <b>{html.escape(u['label'])}</b> below a calibrated maximum probability of "
                       f"<b>{u['threshold']:.3f}</b> (chosen for {html.escape(u['goal'])}"
                       f"{'' if u['met'] else ', not reachable on this validation split: the best it allows'}): "
                       f"{u['coverage']:.1%} of validation images answered, {u['precision']:.1%} of them right"
                       + (f", {u['unknown_rejected']:.0%} of the unknown images rejected" if "unknown_rejected" in u
                          else "") + ".</p>")

    def auc(v):
        return "-" if v is None else f"{v:.3f}"

    return (
        f"<h2>Calibration</h2><p>Temperature {t:.3f} (fitted by L-BFGS on the validation logits): expected "
        f"calibration error {out['ece_before']:.3f} before, {out['ece_after']:.3f} after.</p>"
        f"{png(reliability_png(before, after, y))}"
        f"<h2>Confidence and unknown</h2><p>How well confidence separates right answers from "
        f"{html.escape(sep['against'])} (AUROC): calibrated maximum probability {auc(sep['auroc_max_probability'])}, "
        f"energy score {auc(sep['auroc_energy'])}.</p>{chosen_html}"
        f"{png(risk_coverage_png(conf, correct, chosen))}"
        f"{operating_points_html(out['operating_points'], class_names)}"
        f"<p class='ci'>Per-class rows: precision of the answers of that class at that threshold.</p>")


def operating_points_html(points: Sequence[dict[str, Any]], class_names: Sequence[str]) -> str:
    """The operating-point table, one column per threshold and one row per figure and class, so
    that many classes (or long class names) make it longer, not wider than the page; a
    horizontally scrolling container holds it should a row of thresholds still not fit."""
    import html

    def row(head: str, cells: Sequence[str]) -> str:
        return f"<tr><th>{head}</th>{''.join(f'<td>{c}</td>' for c in cells)}</tr>"

    rows = [row("threshold", [f"{p['threshold']:.3f}" for p in points]),
            row("coverage", [f"{p['coverage']:.1%}" for p in points]),
            row("precision", [f"{p['precision']:.1%}" for p in points])]
    if points and all("unknown_rejected" in p for p in points):
        rows.append(row("unknown images rejected", [f"{p['unknown_rejected']:.0%}" for p in points]))
    for name in class_names:
        values = [p["per_class_precision"].get(name) for p in points]
        rows.append(row(f"precision of {html.escape(name)}", ["-" if v is None else f"{v:.0%}" for v in values]))
    return f'<div class="wide" style="overflow-x:auto"><table class="ops">{"".join(rows)}</table></div>'

"""The run's pictures and its one-page report: curves.png, confusion_matrix.png, report.html.

Plots use matplotlib's object API on an Agg canvas (no pyplot, no display, no global state),
so a run on a headless server or inside a test draws the same files. ``report.html`` is one
self-contained page — the two plots, the per-class table and thumbnails of the worst
misclassified validation images, all embedded as base64 PNGs — that can be mailed or
archived without the run folder.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any, Sequence

from ..core.atomic import atomic_write
from ..core.text import printable

__all__ = ["plot_curves", "plot_confusion", "confusion_figure", "write_report", "worst_misclassified"]


def _figure(width: float, height: float, layout: str | None = None):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def _png_bytes(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


def plot_curves(history: Sequence[dict[str, Any]], path: Path, best_epoch: int | None = None) -> bytes:
    """Loss, accuracy and learning rate per epoch, the best.pt epoch marked; returns the PNG bytes."""
    from matplotlib.ticker import MaxNLocator

    fig = _figure(12, 3.6)
    epochs = [h["epoch"] for h in history]
    panels = [("loss", ["train_loss", "val_loss", "ema_val_loss"]),
              ("accuracy", ["train_accuracy", "val_accuracy", "val_macro_f1", "ema_val_accuracy"]),
              ("learning rate", ["lr"])]
    for i, (title, keys) in enumerate(panels, start=1):
        ax = fig.add_subplot(1, 3, i)
        for key in keys:
            values = [h.get(key) for h in history]
            if any(v is not None for v in values):
                ax.plot(epochs, values, marker="o", markersize=3, label=key.replace("_", " "))
        if best_epoch:
            ax.axvline(best_epoch, color="#2a7", linestyle="--", linewidth=1, label=f"best.pt (epoch {best_epoch})")
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # no epoch 0.5 on a one-epoch run
        ax.grid(alpha=0.3)
        if title == "learning rate":
            ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
        else:
            ax.legend(fontsize=8)
    data = _png_bytes(fig)
    atomic_write(path, lambda fh: fh.write(data))
    return data


def plot_confusion(matrix: Sequence[Sequence[int]], class_names: Sequence[str], path: Path) -> bytes:
    """Write `confusion_figure` to ``path``; returns the PNG bytes."""
    data = _png_bytes(confusion_figure(matrix, class_names))
    atomic_write(path, lambda fh: fh.write(data))
    return data


def confusion_figure(matrix: Sequence[Sequence[int]], class_names: Sequence[str]):
    """The confusion matrix (rows true, columns predicted): counts, and beside them each row as a
    share of its class (recall on the diagonal), which an imbalanced split needs to be read.

    The two panels share their rows, so the class names stand once, left of the counts; the
    layout is constrained, so long names take the room they need instead of being drawn over
    the other panel."""
    k = len(class_names)
    side = max(4.5, 0.7 * k + 2.5)
    fig = _figure(2 * side, side, layout="constrained")
    names = [printable(n) for n in class_names]
    shares = [[v / max(1, sum(row)) for v in row] for row in matrix]
    first = None
    for i, (values, title, fmt) in enumerate(((matrix, "counts", "{:d}"), (shares, "share of each true class", "{:.0%}"))):
        ax = fig.add_subplot(1, 2, i + 1, sharey=first)
        first = first or ax
        ax.imshow(values, cmap="Blues", vmin=0)
        top = max((max(row) for row in values), default=0)
        for r in range(k):
            for c in range(k):
                value = values[r][c]
                ax.text(c, r, fmt.format(value), ha="center", va="center", fontsize=8,
                        color="white" if top and value > top / 2 else "black")
        ax.set_xticks(range(k), names, rotation=45, ha="right", rotation_mode="anchor", fontsize=8)
        ax.set_xlabel("predicted")
        ax.set_title(title, fontsize=10)
        if ax is first:
            ax.set_yticks(range(k), names, fontsize=8)
            ax.set_ylabel("true")
        else:
            ax.tick_params(labelleft=False)  # the same rows: named once, left of the counts
    fig.suptitle("confusion matrix (validation)")
    return fig


def worst_misclassified(labels: Sequence[int], preds: Sequence[int], confidences: Sequence[float],
                        limit: int = 16) -> list[int]:
    """Indices of wrong predictions, most confident first (the most instructive mistakes)."""
    wrong = [i for i, (y, p) in enumerate(zip(labels, preds)) if y != p]
    return sorted(wrong, key=lambda i: -confidences[i])[:limit]


def _thumbnail_b64(image_u8: Any, size: int = 200) -> str:
    """A thumbnail ``size`` px wide: shrunk from large inputs, enlarged (nearest) from small ones
    (a 32 px training image is unreadable at its own size)."""
    from PIL import Image

    array = image_u8.permute(1, 2, 0).contiguous().numpy()
    img = Image.fromarray(array)
    scale = size / max(img.size)
    img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))),
                     Image.Resampling.NEAREST if scale > 1 else Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em}table{border-collapse:collapse}
td,th{border:1px solid #ddd;padding:4px 10px;text-align:right}th{background:#f4f4f4}td:first-child{text-align:left}
.facts td{text-align:left}.grid{display:flex;flex-wrap:wrap;gap:16px}
.grid figure{margin:0;width:200px;font-size:12px;overflow-wrap:anywhere}.grid figcaption{margin-top:4px}
.grid img{border:1px solid #ccc;width:200px;image-rendering:pixelated}img.plot{max-width:100%}.low{color:#b00}
small{color:#777}.ci{color:#555;font-size:13px}.wide{overflow-x:auto;max-width:100%}table.ops th{text-align:left}"""


_CLASS_HEADER = "<tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>"


def _fmt_ci(value: float, interval: Sequence[float] | None) -> str:
    from .metrics import ci_text

    return f"{value:.3f}<small>{ci_text(interval)}</small>"


def _headline(m: dict[str, Any]) -> str:
    from .metrics import ci_text

    return (f"accuracy {m['accuracy']:.4f}{ci_text(m.get('accuracy_ci'))}, "
            f"macro-F1 {m['macro_f1']:.4f}{ci_text(m.get('macro_f1_ci'))}")


def _class_rows(metrics: dict[str, Any]) -> list[str]:
    rows = []
    for name, m in metrics["per_class"].items():
        low = ' class="low"' if m["support"] and m["recall"] < 0.5 else ""
        rows.append(f"<tr><td>{html.escape(name)}</td><td>{_fmt_ci(m['precision'], m.get('precision_ci'))}</td>"
                    f"<td{low}>{_fmt_ci(m['recall'], m.get('recall_ci'))}</td>"
                    f"<td>{_fmt_ci(m['f1'], m.get('f1_ci'))}</td><td>{m['support']}</td></tr>")
    return rows


def write_report(path: Path, *, title: str, facts: list[tuple[str, str]], curves_png: bytes, confusion_png: bytes,
                 metrics: dict[str, Any], mistakes: list[dict[str, Any]], notes: Sequence[str] = (),
                 extra_html: str = "") -> None:
    """Write the self-contained report page.

    ``mistakes`` items hold ``image`` (uint8 3×H×W tensor), ``path``, ``true``, ``pred`` and
    ``confidence``. ``extra_html`` is inserted after the validation table (sections a
    callback or the calibration step add).
    """
    esc = html.escape

    def img(data: bytes, cls: str = "plot") -> str:
        return f'<img class="{cls}" src="data:image/png;base64,{base64.b64encode(data).decode("ascii")}">'

    rows = _class_rows(metrics)
    figures = []
    for item in mistakes:
        caption = (f"{esc(Path(item['path']).name)}<br>true: <b>{esc(item['true'])}</b><br>"
                   f"predicted: <b>{esc(item['pred'])}</b> ({item['confidence']:.0%})")
        figures.append(f'<figure><img src="data:image/png;base64,{_thumbnail_b64(item["image"])}" '
                       f'title="{esc(item["path"])}"><figcaption>{caption}</figcaption></figure>')
    mistakes_html = "".join(figures) if figures else "<p>No validation image was misclassified.</p>"
    test = metrics.get("test")
    test_html = ""
    if test:  # the held-out split, when the run has one: the figure to quote
        test_html = (f"<h2>Test: {_headline(test)}</h2>"
                     f"<table>{_CLASS_HEADER}{''.join(_class_rows(test))}</table>")
    notes_html = "".join(f"<li>{esc(n)}</li>" for n in notes)
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>{_STYLE}</style></head><body>
<h1>{esc(title)}</h1>
<table class="facts">{"".join(f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in facts)}</table>
{f"<h2>Notes</h2><ul>{notes_html}</ul>" if notes_html else ""}
<h2>Training curves</h2>{img(curves_png)}
<h2>Validation: {_headline(metrics)}</h2>
<table>{_CLASS_HEADER}{"".join(rows)}</table>
<p class="ci">In brackets: 95% intervals (Wilson for accuracy, precision and recall; bootstrap over images for
F1). A class with few validation images has a wide interval: its figure says little.</p>
{extra_html}
{test_html}
<h2>Confusion matrix</h2>{img(confusion_png)}
<h2>Worst misclassified validation images</h2><div class="grid">{mistakes_html}</div>
</body></html>
"""
    data = printable(page).encode("utf-8")  # a file or class name that is not UTF-8 shows escaped
    atomic_write(path, lambda fh: fh.write(data))

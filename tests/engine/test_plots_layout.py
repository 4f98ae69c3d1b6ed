"""The run's pictures keep their text apart (issue #30 item 12): checked on the rendered bounding boxes."""

from __future__ import annotations

import re

import numpy as np

SCREENS = ["may_be_slide_powerpoint_edit_mode", "may_be_slide_powerpoint_side_screen", "not_slide_black_or_blue_screen",
           "not_slide_desktop", "not_slide_no_signal", "not_slide_others", "slide"]


def _boxes(fig):
    """Draw ``fig``; return its axes and, per axes, the boxes of its visible, non-empty tick labels."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    out = []
    for ax in fig.axes:
        labels = [t for t in (*ax.get_xticklabels(), *ax.get_yticklabels()) if t.get_visible() and t.get_text()]
        out.append((ax, [(t.get_text(), t.get_window_extent(renderer)) for t in labels]))
    return out


def test_confusion_matrix_class_names_are_not_drawn_over_the_other_panel():
    from toolkit.engine.report import confusion_figure

    rng = np.random.default_rng(0)
    matrix = [[int(12 if r == c else rng.integers(0, 3)) for c in range(7)] for r in range(7)]
    fig = confusion_figure(matrix, SCREENS)
    boxes = _boxes(fig)
    assert len(boxes) == 2
    for ax, labels in boxes:
        assert labels, "every panel names its columns"
        for other, _ in boxes:
            if other is ax:
                continue
            frame = other.get_window_extent()
            hits = [text for text, box in labels if box.overlaps(frame)]
            assert not hits, f"tick labels of '{ax.get_title()}' drawn over '{other.get_title()}': {hits}"
    counts, shares = boxes
    assert {t for t, _ in counts[1]} >= set(SCREENS)  # the rows are named (once, left of the counts)
    left_of_counts = [box for text, box in counts[1] if box.x1 <= counts[0].get_window_extent().x0 + 1]
    assert len(left_of_counts) == len(SCREENS)
    width, height = fig.canvas.get_width_height()
    for _, labels in boxes:  # nothing cut at the figure's edge
        assert all(box.x0 >= 0 and box.y0 >= 0 and box.x1 <= width and box.y1 <= height for _, box in labels)


def _points_in_display(ax):
    points = []
    for line in ax.lines:
        xy = np.column_stack(line.get_data())
        if line.get_marker() not in (None, "None", "", " "):
            points.append(ax.transData.transform(xy))
    for collection in ax.collections:
        points.append(ax.transData.transform(collection.get_offsets()))
    return np.concatenate(points) if points else np.zeros((0, 2))


def test_the_reliability_legend_covers_no_point():
    from toolkit.engine.calibrate import reliability_figure

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 7, 300)
    logits = rng.normal(size=(300, 7))
    logits[np.arange(300), labels] += 2.5

    def softmax(z):
        e = np.exp(z - z.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    fig = reliability_figure(softmax(logits * 0.4), softmax(logits), labels)  # under-confident: points upper left
    fig.canvas.draw()
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]
    assert legends
    ax = fig.axes[0]
    points = _points_in_display(ax)
    assert len(points) > 5 and any(p[0] < ax.transData.transform((0.5, 0))[0] and
                                   p[1] > ax.transData.transform((0, 0.8))[1] for p in points)
    for legend in legends:
        box = legend.get_window_extent()
        inside = [p for p in points if box.x0 <= p[0] <= box.x1 and box.y0 <= p[1] <= box.y1]
        assert not inside, f"the legend covers {len(inside)} point(s)"
        assert not box.overlaps(ax.get_window_extent())


def test_the_operating_point_table_grows_down_not_across():
    from toolkit.engine.calibrate import COVERAGES, operating_points, operating_points_html

    rng = np.random.default_rng(1)
    names = [f"{n}_{i}" for i in range(4) for n in SCREENS]  # 28 classes with long names
    labels = rng.integers(0, len(names), 400)
    conf = rng.uniform(0.2, 1.0, 400)
    preds = np.where(rng.uniform(size=400) < 0.8, labels, rng.integers(0, len(names), 400))
    points = operating_points(conf, preds, labels, names, unknown_conf=rng.uniform(0, 0.6, 50))
    page = operating_points_html(points, names)
    assert page.startswith('<div class="wide" style="overflow-x:auto"><table')  # scrolls rather than runs off
    rows = re.findall(r"<tr>(.*?)</tr>", page)
    assert len(rows) == 4 + len(names)  # threshold, coverage, precision, unknown rejected, one row per class
    widths = {len(re.findall(r"<t[hd]>", row)) for row in rows}
    assert widths == {1 + len(points)} and len(points) <= len(COVERAGES)  # columns: thresholds, not classes
    assert "<th>precision of may_be_slide_powerpoint_edit_mode_0</th>" in page

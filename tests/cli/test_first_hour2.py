"""The first hour, round two (issue #30): what a new user tried, driven through the CLI as they did."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from toolkit.testing import make_image_folder, run_cli

# -- item 10: every command readable at 80 columns ---------------------------------------------------
LONG_CLASSES = {"may_be_slide_powerpoint_edit_mode": 8, "may_be_slide_powerpoint_side_screen": 8,
                "not_slide_black_or_blue_screen": 8, "slide": 8}
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Two tiny runs of one recipe with long class names (two sharing a 24-character prefix), the
    first exported to ONNX and benched: what `tk compare`, `eval`, `predict` and `bench` show."""
    import os

    from toolkit.testing import make_recipe

    work = tmp_path_factory.mktemp("first-hour2")
    saved = {k: os.environ.get(k) for k in ("TK_CACHE_DIR", "HF_HUB_OFFLINE")}
    os.environ.update(TK_CACHE_DIR=str(work / "cache"), HF_HUB_OFFLINE="1")
    here = os.getcwd()
    os.chdir(work)
    try:
        make_image_folder(work / "images", LONG_CLASSES, size=32)
        make_recipe(work / "m4-long-recipe-name.toml", Path("images"), epochs=2)
        for args in (["run", "m4-long-recipe-name.toml", "--quiet"],
                     ["run", "m4-long-recipe-name.toml", "--quiet", "--set", "train.epochs=1"],
                     ["export", "runs/m4-long-recipe-name/1", "--onnx"],
                     ["bench", "runs/m4-long-recipe-name/1", "--iters", "2", "--warmup", "0", "--batch", "1"]):
            result = run_cli(*args)
            assert result.exit_code == 0, result.output
    finally:
        os.chdir(here)
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
    return work


@pytest.fixture
def at_80(two_runs, monkeypatch):
    """Run commands as in an 80-column terminal (rich's TTY_COMPATIBLE), in the runs' folder."""
    monkeypatch.chdir(two_runs)
    monkeypatch.setenv("TK_CACHE_DIR", str(two_runs / "cache"))
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("NO_COLOR", "1")

    def run(*args: str) -> list[str]:
        result = run_cli(*args)
        assert result.exit_code == 0, result.output
        lines = ANSI.sub("", result.stdout).splitlines()
        assert lines and all(len(line) <= 80 for line in lines), "\n".join(l for l in lines if len(l) > 80)
        assert "…" not in result.stdout  # nothing cut short
        return lines

    return run


def _column_cells(lines: list[str], column: int, starts_row: int) -> list[str]:
    """The whole text of one column of a boxed table, a row per entry: a row begins on a line whose
    ``starts_row`` column starts with a digit (its cells may wrap onto the next lines; an interval
    wrapped under its value is joined with a space, a folded name or path without)."""
    rows: list[str] = []
    inside = False
    for line in lines:
        if line.startswith(("┡", "└", "├")):
            inside = line.startswith(("┡", "├"))
            continue
        if not inside or not line.startswith("│"):
            continue
        cells = [c.strip() for c in line.strip("│").split("│")]
        if cells[starts_row][:1].isdigit():
            rows.append(cells[column])
        elif rows and cells[column]:
            rows[-1] += (" " if cells[column].startswith("[") else "") + cells[column]
    return rows


def test_compare_at_80_columns_keeps_names_and_intervals_whole(at_80):
    lines = at_80("compare", "runs/m4-long-recipe-name/1", "runs/m4-long-recipe-name/2")
    runs = _column_cells(lines, 0, 1)
    assert runs[:2] == ["m4-long-recipe-name-1", "m4-long-recipe-name-2"]
    accuracy = _column_cells(lines, 1, 1)[:2]
    assert all(re.fullmatch(r"\d+\.\d\d% \[\d+\.\d%–\d+\.\d%\]", a) for a in accuracy), accuracy
    assert any("McNemar" in line for line in lines)


def test_eval_and_predict_at_80_columns_keep_class_names_apart(at_80, two_runs):
    lines = at_80("eval", "runs/m4-long-recipe-name/1")
    assert _column_cells(lines, 0, 4)[:len(LONG_CLASSES)] == sorted(LONG_CLASSES)  # whole, and so distinct
    intervals = [c for c in _column_cells(lines, 1, 4) if "[" in c]
    assert intervals and all(re.fullmatch(r"\d\.\d{3} ?\[\d\.\d\d–\d\.\d\d\]", c) for c in intervals), intervals
    images = [str(next((two_runs / "images" / name).iterdir()).relative_to(two_runs)) for name in sorted(LONG_CLASSES)]
    lines = at_80("predict", "runs/m4-long-recipe-name/1", *images, "--top-k", "3")
    answers = _column_cells(lines, 1, 2)
    assert len(answers) == len(images) and set(answers) <= set(LONG_CLASSES)
    assert _column_cells(lines, 0, 2) == images  # paths fold, whole


def test_bench_at_80_columns_says_why_rows_are_empty(at_80):
    lines = at_80("bench", "runs/m4-long-recipe-name/1", "--iters", "2", "--warmup", "0", "--batch", "1")
    header = next(line for line in lines if line.startswith("┃") and "status" in line)
    assert "notes" in header
    text = " ".join(lines)
    assert "unavailable" in text and "needs macOS" in re.sub(r"[│\s]+", " ", text)
    assert not any("left out" in line and ("notes" in line or "status" in line) for line in lines)


def test_the_live_bar_and_best_epoch_lines_fit_80_columns():
    import io

    from rich.console import Console

    from toolkit.engine.console import RunConsole

    console = RunConsole()
    console.console = Console(file=io.StringIO(), width=80, force_terminal=True, color_system=None)
    console.live = True
    console.epoch_times = [12.0]
    with console.epoch_bar(3, 6, 40, 32) as on_batch:
        on_batch(12, 40, 0.41234, 0.912)
        probe = Console(file=io.StringIO(), width=80, record=True, color_system=None)
        probe.print(on_batch.__self__.progress.get_renderable())
    bar, = probe.export_text().splitlines()
    assert len(bar) <= 80 and "…" not in bar
    assert bar.startswith("epoch 3/6 ") and "12/40" in bar and "loss 0.4123 acc 0.912" in bar and "run ETA" in bar
    m = dict(train_loss=0.1693, train_accuracy=0.955, val_loss=0.3137, val_accuracy=0.910, val_macro_f1=0.912,
             lr=2.51e-5, epoch_time=5.4, images_per_sec=49)
    text = console.epoch_line(15, 15, m, True, width=80)
    assert all(len(line) <= 80 for line in text.splitlines())
    for part in ("train loss 0.1693 acc 0.955", "val loss 0.3137", "lr 2.51e-05", "5.4s 49 img/s", "* best"):
        assert part in text

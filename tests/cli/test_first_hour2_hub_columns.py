"""The first hour, round two (issue #30): what a new user tried, driven through the CLI as they did —
no hub, and an 80-column terminal.

- item 4: without the hub, found in one short probe, a run stops before the data in one line that
  says what to do without the weights (and with HF_HUB_OFFLINE, probes nothing);
- item 10: every command readable at 80 columns: `tk compare`, `eval`, `predict` and `bench`
  keep names and intervals whole, and the live bar and epoch lines fit.

Items 3 (recipe checks) and 6 (paths): test_first_hour2.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from toolkit.testing import make_image_folder, run_cli

from .first_hour2_common import RECIPE_IN_SUB, _error_line

# -- item 4: no hub: found in one short probe, one line that says what to do without the weights -------
NO_HUB = "http://127.0.0.1:9"  # loopback, the discard port: nothing listens, the connection is refused


@pytest.fixture
def no_hub(monkeypatch, tmp_path):
    """The hub unreachable (HF_ENDPOINT at a closed loopback port, HF_HUB_OFFLINE unset), an empty
    Hugging Face cache, and every connection the probe opens counted with its timeout."""
    import socket

    from tk_timm import weights

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", NO_HUB)
    for proxy in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(proxy, raising=False)
    cache = tmp_path / "hf-hub"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(weights, "_PROBED", {})
    attempts: list[tuple[tuple[str, int], float]] = []
    real = socket.create_connection

    def counted(address, timeout=None, *args, **kwargs):
        attempts.append((tuple(address), timeout))
        return real(address, timeout, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", counted)
    return attempts


def _pretrained_recipe(tmp_path, backbone: str) -> Path:
    make_image_folder(tmp_path / "images", {"a": 4, "b": 4}, size=32)
    recipe = tmp_path / "r.toml"
    recipe.write_text(RECIPE_IN_SUB.replace('root = "images"', f'root = "{(tmp_path / "images").as_posix()}"')
                      .replace("test_efficientnet", backbone).replace("pretrained = false", "pretrained = true"),
                      encoding="utf-8")
    return recipe


def test_without_the_hub_a_run_stops_before_the_data_in_one_line(no_hub, tmp_path):
    recipe = _pretrained_recipe(tmp_path, "mobilenetv4_conv_small.e2400_r224_in1k")
    result = run_cli("run", recipe, "--dry-run")
    assert result.exit_code == 1
    line = _error_line(result)
    assert line.startswith(f"Error: {recipe}:8: model.pretrained: cannot load the pretrained weights of "
                           f"'mobilenetv4_conv_small.e2400_r224_in1k'")
    assert f"the hub ({NO_HUB}) cannot be reached" in line
    assert "--set model.pretrained=false" in line and "recipes/slides_scratch.toml" in line
    assert "model.pretrained_path" in line and "--download" not in line  # never the download that just failed
    assert "Classes" not in result.output and "Data:" not in result.output  # before any data was read
    assert no_hub == [(("127.0.0.1", 9), 1.5)]  # one short probe of HF_ENDPOINT, for the whole process
    again = run_cli("models", "--download", "mobilenetv4_conv_small.e2400_r224_in1k")
    assert again.exit_code == 1 and len(no_hub) == 1  # asked once per process
    line = _error_line(again)
    assert line.startswith("Error: tk models --download: cannot load the pretrained weights")
    assert "--set model.pretrained=false" in line and "tk models --download mobilenet" not in line


def test_with_hf_hub_offline_the_line_says_so_and_nothing_is_probed(no_hub, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = run_cli("run", _pretrained_recipe(tmp_path, "resnet18.a1_in1k"), "--dry-run")
    line = _error_line(result)
    assert "HF_HUB_OFFLINE is set and they are not in the Hugging Face cache" in line
    assert "--set model.pretrained=false" in line and no_hub == []


def test_from_scratch_and_recipes_check_need_no_hub(no_hub, tmp_path):
    recipe = _pretrained_recipe(tmp_path, "resnet18.a1_in1k")
    assert run_cli("recipes", "check", recipe).exit_code == 0  # the recipe is fine; only this machine lacks weights
    scratch = run_cli("run", recipe, "--dry-run", "--set", "model.pretrained=false")
    assert scratch.exit_code == 0, scratch.output
    assert no_hub == []


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

"""The first hour, round two (issue #30): what a new user tried, driven through the CLI as they did."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from toolkit.testing import make_image_folder, run_cli

# -- item 3: `tk recipes check` makes the checks `tk run` makes before it reads data ------------------
POLY = '''\
from toolkit import RecipeError, hookimpl


def poly1(epsilon: float = 1.0, label_smoothing: float = 0.0):
    """Poly-1 cross-entropy; checks its own values, as docs/plugins.md's five-minute plugin does."""
    import torch
    import torch.nn.functional as F

    if epsilon < -1:
        raise RecipeError(f"loss.epsilon: must be >= -1, not {epsilon}.")

    def loss(logits, targets):
        onehot = F.one_hot(targets, logits.shape[1]).to(logits.dtype)
        return F.cross_entropy(logits, onehot) + epsilon * (1 - (torch.softmax(logits, 1) * onehot).sum(1)).mean()

    return loss


def check_poly1(epsilon: float = 1.0, label_smoothing: float = 0.0):
    if not 0 <= label_smoothing < 1:
        raise RecipeError(f"loss.label_smoothing: must be in [0, 1), not {label_smoothing}.")


def needs_counts(class_counts, epsilon: float = 1.0):
    """Takes run context and has no check=: cannot be built before the data."""
    raise AssertionError("built before the data was read")


@hookimpl
def tk_register_losses(register):
    register("poly1", poly1)
    register("poly1_checked", poly1, check=check_poly1)
    register("needs_counts", needs_counts)
'''

POLY_RECIPE = '''\
# a recipe with a loss of the user's own
[data]
root = "images"
image_size = 32
workers = 0

[model]
backbone = "test_efficientnet"
pretrained = false

[train]
epochs = 1
device = "cpu"

[loss]
name = "poly1"
epsilon = 1.0

[plugins]
modules = ["poly.py"]
'''


@pytest.fixture
def poly_recipe(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "poly.py").write_text(POLY, encoding="utf-8")
    make_image_folder(tmp_path / "images", {"a": 4, "b": 4}, size=32)
    recipe = Path("poly.toml")  # as the user types it, relative to the working directory
    recipe.write_text(POLY_RECIPE, encoding="utf-8")
    return recipe


def _error_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.output
    return lines[0]


def test_recipes_check_runs_a_file_plugins_own_check_like_run_does(poly_recipe):
    checked = run_cli("recipes", "check", poly_recipe, "--set", "loss.epsilon=-5")
    dry = run_cli("run", poly_recipe, "--dry-run", "--set", "loss.epsilon=-5")
    assert checked.exit_code == dry.exit_code == 1
    assert _error_line(checked) == _error_line(dry) == "Error: --set: loss.epsilon: must be >= -1, not -5."
    assert "Data:" not in dry.output and "Classes" not in dry.output  # refused before the data was read
    assert run_cli("recipes", "check", poly_recipe).exit_code == 0


def test_a_value_written_in_the_file_is_placed_on_its_line(poly_recipe):
    poly_recipe.write_text(POLY_RECIPE.replace("epsilon = 1.0", "epsilon = -3.0"), encoding="utf-8")
    checked = run_cli("recipes", "check", poly_recipe)
    assert _error_line(checked) == f"Error: {poly_recipe.name}:17: loss.epsilon: must be >= -1, not -3.0."


def test_a_misspelt_set_key_is_blamed_on_set_not_on_the_file(poly_recipe):
    for command in (["recipes", "check", poly_recipe], ["run", poly_recipe, "--dry-run"]):
        result = run_cli(*command, "--set", "loss.epsilom=1")
        assert result.exit_code == 1
        assert _error_line(result).startswith("Error: --set: loss.epsilom: loss 'poly1' has no parameter 'epsilom'. "
                                              "Did you mean 'epsilon'?"), result.output


def test_a_registered_check_and_a_factory_that_needs_the_run(poly_recipe):
    checked = run_cli("recipes", "check", poly_recipe, "--set", 'loss.name="poly1_checked"',
                      "--set", "loss.label_smoothing=2")
    assert _error_line(checked) == "Error: --set: loss.label_smoothing: must be in [0, 1), not 2."
    # a factory that takes run context and registered no check= is not built by the checks
    assert run_cli("recipes", "check", poly_recipe, "--set", 'loss.name="needs_counts"').exit_code == 0


@pytest.mark.parametrize("override, message", [
    ("loss.label_smoothing=1.5", "--set: loss.label_smoothing: must be a number in [0, 1), not 1.5."),
    ('loss.class_weights="inverse"', "--set: loss.class_weights: must be 'inverse_frequency', 'none' or a list"),
])
def test_tks_own_losses_check_before_the_data(poly_recipe, override, message):
    poly_recipe.write_text(POLY_RECIPE.replace("epsilon = 1.0\n", ""), encoding="utf-8")
    result = run_cli("recipes", "check", poly_recipe, "--set", 'loss.name="cross_entropy"', "--set", override)
    assert _error_line(result).startswith(f"Error: {message}"), result.output


def test_a_focal_gamma_and_an_augmentation_are_checked_too(poly_recipe):
    poly_recipe.write_text(POLY_RECIPE.replace("epsilon = 1.0\n", ""), encoding="utf-8")
    focal = run_cli("recipes", "check", poly_recipe, "--set", 'loss.name="focal"', "--set", "loss.gamma=-1")
    assert _error_line(focal) == "Error: --set: loss.gamma: must be a number in [0, 10], not -1."
    poly_recipe.write_text(POLY_RECIPE + '\n[[augment.ops]]\nname = "hflip"\np = 2.0\n', encoding="utf-8")
    flip = run_cli("recipes", "check", poly_recipe)
    assert _error_line(flip).startswith(f"Error: {poly_recipe.name}:22: augment.ops[0]: augmentation 'hflip' "
                                        f"rejected its parameters: p must be a number in [0.0, 1.0]"), flip.output


# -- item 6: one rule for paths: --set relative to the working directory, the file's relative to it -----
RECIPE_IN_SUB = '''\
[data]
root = "images"
image_size = 32
workers = 0

[model]
backbone = "test_efficientnet"
pretrained = false

[train]
epochs = 1
device = "cpu"
'''


@pytest.fixture
def recipe_in_sub(tmp_path, monkeypatch) -> Path:
    """recipes/r.toml names images/ (which is not there); ./images is in the working directory."""
    monkeypatch.chdir(tmp_path)
    make_image_folder(tmp_path / "images", {"a": 4, "b": 4}, size=32)
    (tmp_path / "recipes").mkdir()
    recipe = Path("recipes/r.toml")
    recipe.write_text(RECIPE_IN_SUB, encoding="utf-8")
    return recipe


def test_augment_preview_resolves_set_paths_like_run(recipe_in_sub):
    preview = run_cli("augment", "preview", recipe_in_sub, "--set", "data.root=images", "--n", "2", "--out", "p.png")
    assert preview.exit_code == 0, preview.output
    dry = run_cli("run", recipe_in_sub, "--dry-run", "--set", "data.root=images")
    assert dry.exit_code == 0, dry.output
    # the root written in the file is relative to the file: recipes/images, which is missing, for both
    for command in (["augment", "preview", recipe_in_sub], ["run", recipe_in_sub, "--dry-run"]):
        missing = run_cli(*command)
        assert _error_line(missing) == ("Error: recipes/r.toml:2: data.root: dataset folder recipes/images does not "
                                        "exist: check the path"), missing.output
    gone = run_cli("augment", "preview", recipe_in_sub, "--set", "data.root=nowhere")
    assert _error_line(gone) == (f"Error: --set: data.root: dataset folder {Path.cwd() / 'nowhere'} does not exist: "
                                 f"check the path")


def test_a_missing_data_folder_is_said_before_torch_loads(recipe_in_sub):
    import subprocess
    import sys

    probe = ("import atexit, sys\n"
             "atexit.register(lambda: print('torch imported:', 'torch' in sys.modules, file=sys.stderr))\n"
             "from toolkit.cli import main\n"
             "main(sys.argv[1:])\n")
    for command in (["augment", "preview", str(recipe_in_sub)], ["run", str(recipe_in_sub), "--dry-run"],
                    ["run", str(recipe_in_sub)]):
        done = subprocess.run([sys.executable, "-c", probe, *command, "--set", "data.root=nowhere"],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 1, done.stderr
        assert "data.root: dataset folder" in done.stderr and "torch imported: False" in done.stderr, done.stderr
    # a typo in the recipe still comes first
    typo = run_cli("run", recipe_in_sub, "--set", "data.root=nowhere", "--set", 'loss.name="cross_entropyy"')
    assert "unknown loss 'cross_entropyy'" in _error_line(typo)


def test_every_recipe_path_follows_the_rule(recipe_in_sub, tmp_path):
    from toolkit.engine.data_pipeline import cache_root, data_root
    from toolkit.plugin.manager import load_plugins
    from toolkit.recipe.load import load_recipe

    written = recipe_in_sub.read_text().replace('root = "images"', 'root = "images"\nunknown_root = "u"\n'
                                                'cache_dir = "c"')
    recipe_in_sub.write_text(written + '\n[loss]\nname = "distill"\nteacher = "t/best.pt"\n'
                             'teacher_pretrained_path = "w.pt"\n', encoding="utf-8")
    plugins = load_plugins()
    in_file = load_recipe(recipe_in_sub)
    here = Path("recipes")
    assert (data_root(in_file), cache_root(in_file), in_file.path_of("data", "unknown_root")) == \
        (here / "images", here / "c", here / "u")
    assert in_file.plugin_params("loss", plugins)["teacher"] == str(here / "t/best.pt")
    assert in_file.plugin_params("loss", plugins)["teacher_pretrained_path"] == "w.pt"  # no such file: as written
    (here / "w.pt").write_bytes(b"")
    assert in_file.plugin_params("loss", plugins)["teacher_pretrained_path"] == str(here / "w.pt")
    cwd = Path.cwd()
    given = load_recipe(recipe_in_sub, ["data.root=images", "data.unknown_root=u", "data.cache_dir=c",
                                        "loss.teacher=t/best.pt", 'model.pretrained_path="w/x.safetensors"'])
    assert (data_root(given), cache_root(given), given.path_of("data", "unknown_root")) == \
        (cwd / "images", cwd / "c", cwd / "u")
    assert given.plugin_params("loss", plugins)["teacher"] == str(cwd / "t/best.pt")
    assert given.plugin_params("model", plugins)["pretrained_path"] == str(cwd / "w/x.safetensors")
    named = load_recipe(recipe_in_sub, ["loss.teacher=resnet50"])
    assert named.plugin_params("loss", plugins)["teacher"] == "resnet50"  # a model name stays a name


def test_model_pretrained_path_in_the_file_is_relative_to_the_file(recipe_in_sub):
    recipe_in_sub.write_text(RECIPE_IN_SUB.replace("pretrained = false", 'pretrained = false\n'
                                                   'pretrained_path = "w/none.safetensors"'), encoding="utf-8")
    result = run_cli("run", recipe_in_sub, "--dry-run", "--set", "data.root=images")
    assert _error_line(result) == ("Error: recipes/r.toml:9: model.pretrained_path: no such weights file "
                                   "'recipes/w/none.safetensors'."), result.output


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

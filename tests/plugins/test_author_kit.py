"""The plugin author's kit (#27 items 5 and 6), as an author meets it: packages pip-installed into
a throw-away folder and driven through `tk`.

- the example package: it registers every kind, its own test file — the one line
  `toolkit.testing.check_every_entry` — passes on the installed package, and one recipe uses every
  part of it through `tk data check`, `tk run`, `tk export` and its own command;
- a plugin's bug is one line naming the plugin, its distribution and the hook: a bug in a
  ``check=`` function, an exporter factory returning the wrong type, an exported file its exporter
  cannot load back.

Elsewhere: the kit on deliberately broken entries and on docs/plugins.md's examples in
test_author_kit_checks.py; `tk data check RECIPE` and declared metrics in
test_author_kit_data_metrics.py; `toolkit.testing.assert_resume_identical` in
test_author_kit_resume.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from toolkit.testing import make_image_folder, make_recipe

from .author_kit import EXAMPLE, KINDS


def _pip_install(target: Path, *sources: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(target), *map(str, sources)], check=True, capture_output=True)


def _env(site: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(site), "OMP_NUM_THREADS": "1", "COLUMNS": "200", **extra}


def _tk(env: dict[str, str], *args: object, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "toolkit.cli", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def _one_error_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    assert "Traceback" not in text, text
    assert len(lines) == 1 and lines[0].startswith("Error: "), text
    return lines[0]


# -- the example package, installed ------------------------------------------------------------
@pytest.fixture(scope="module")
def example_site(tmp_path_factory) -> Path:
    """The example package pip-installed into a private folder (the shared environment untouched)."""
    site = tmp_path_factory.mktemp("site")
    src = tmp_path_factory.mktemp("src") / "tk-example-plugin"
    shutil.copytree(EXAMPLE, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    _pip_install(site, src)
    return site


def test_the_installed_example_registers_every_kind(example_site, tmp_path):
    listed = json.loads(_tk(_env(example_site), "plugins", "--json", cwd=tmp_path).stdout)
    example = next(p for p in listed["plugins"] if p["name"] == "example")
    assert example["dist"] == "tk-example-plugin"
    assert set(example["registered"]) == {*KINDS, "commands"}
    gap = next(e for e in listed["kinds"]["callbacks"] if e["name"] == "accuracy_gap")
    assert gap["metrics"] == ["accuracy_gap"] and gap["dist"] == "tk-example-plugin"  # declared metrics listed


def test_the_one_line_every_entry_check_passes_on_the_installed_example(example_site, tmp_path):
    """The example's own test file is the one line; run as an author would, on the installed package."""
    tests = tmp_path / "tests"
    tests.mkdir()
    shutil.copy(EXAMPLE / "tests" / "test_every_entry.py", tests)
    ran = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA", "--rootdir",
                          str(tmp_path), str(tests)], cwd=tmp_path, env=_env(example_site), capture_output=True,
                         text=True, timeout=600)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    passed = {line.split("[", 1)[1].split("]")[0] for line in ran.stdout.splitlines() if line.startswith("PASSED")}
    assert {p.split(":")[0] for p in passed} == set(KINDS), passed  # one entry at least of every kind
    assert "11 passed" in ran.stdout, ran.stdout


def test_a_run_of_every_part_of_the_installed_example(example_site, tmp_path):
    """One recipe using the example's backbone, augmentation, loss, sampler, optimiser, schedule,
    two callbacks, dataset and logger, through `tk run`; then its exporter and its command."""
    env = _env(example_site)
    flat = tmp_path / "flat"  # the filenames dataset: classes from file names, no class folders
    images = make_image_folder(tmp_path / "images", {"ant": 8, "bee": 8}, size=32)
    flat.mkdir()
    for path in images.rglob("*.png"):
        shutil.copy(path, flat / path.name)
    recipe = tmp_path / "every.toml"
    recipe.write_text("""\
[data]
source = "filenames"
root = "flat"
image_size = 32
workers = 0

[model]
backbone = "small_cnn"
width = 8

[[augment.ops]]
name = "grayscale"
p = 0.3

[loss]
name = "poly1"

[sampler]
name = "capped"
cap = 5

[optim]
name = "lion"
lr = 0.001

[schedule]
name = "linear_decay"

[train]
epochs = 3
batch_size = 4
device = "cpu"
threads = 1
early_stopping = false
best_metric = "val_accuracy"
loggers = ["csv_log"]

[[train.callbacks]]
name = "lr_log"

[[train.callbacks]]
name = "accuracy_gap"

[export]
formats = ["torchscript"]
""")
    checked = _tk(env, "data", "check", recipe, cwd=tmp_path)  # the dataset plugin's view of the data
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Dataset 'filenames' of" in checked.stdout and "(tk-example-plugin 0.2.0)" in checked.stdout
    assert "16 usable images in 2 classes" in checked.stdout

    ran = _tk(env, "run", recipe, "--out", tmp_path / "run", cwd=tmp_path)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    epoch_lines = [line for line in ran.stdout.splitlines() if line.startswith("epoch ")]
    assert len(epoch_lines) == 3 and all("accuracy_gap " in line for line in epoch_lines), ran.stdout
    assert "; accuracy_gap " in next(line for line in ran.stdout.splitlines() if line.startswith("Best: "))
    run = tmp_path / "run"
    assert (run / "epochs.csv").read_text().splitlines()[0].startswith("epoch,train_loss")  # the logger
    assert len((run / "epochs.csv").read_text().splitlines()) == 4 and (run / "status.txt").read_text() == "finished\n"
    assert len((run / "lr.csv").read_text().splitlines()) > 0  # the stateful callback
    history = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    assert all("accuracy_gap" in row for row in history)
    assert json.loads((run / "split.json").read_text())["class_names"] == ["ant", "bee"]

    exported = _tk(env, "export", run, "--out", tmp_path / "exports", cwd=tmp_path)
    assert exported.returncode == 0, exported.stdout + exported.stderr
    manifest = json.loads((tmp_path / "exports" / "torchscript" / "manifest.json").read_text())
    assert manifest["parity"]["passed"] is True
    assert manifest["exporter"] == {"plugin": "example", "dist": "tk-example-plugin", "version": "0.2.0"}
    # the exported file where the package is not installed (or switched off): its manifest names it
    model = next((tmp_path / "exports" / "torchscript").glob(f"*{manifest['file'][-3:]}"))
    gone = _tk(_env(tmp_path / "no-site"), "eval", model, cwd=tmp_path)
    assert _one_error_line(gone.stderr) == (f"Error: {model}: written by exporter 'torchscript' (plugin 'example' "
                                            f"(tk-example-plugin 0.2.0)), which is not installed here: pip install "
                                            f"'tk-example-plugin==0.2.0'.")
    off = _tk(_env(Path(env["PYTHONPATH"]), TK_DISABLE_PLUGINS="example"), "eval", model, cwd=tmp_path)
    assert "which is switched off here" in _one_error_line(off.stderr)
    # tk bench of the run: the export no exporter here loads is a row saying why (not the command's end);
    # the checkpoint needs the plugin's backbone, so nothing is measured, and the last line says whose
    benched = _tk(_env(tmp_path / "no-site"), "bench", run, "--warmup", "1", "--iters", "3", "--batch", "1", cwd=tmp_path)
    rows = json.loads((run / "bench.json").read_text())["rows"]
    ts = next(r for r in rows if r["format"] == "torchscript")
    assert ts["status"] == "failed" and "which is not installed here: pip install 'tk-example-plugin==0.2.0'" in ts["reason"]
    last = benched.stderr.strip().splitlines()[-1]
    assert benched.returncode == 1 and "unknown backbone 'small_cnn': the run was made with it from plugin 'example'" in last
    info = _tk(env, "example-info", run, cwd=tmp_path)
    assert info.returncode == 0 and "classes: ant, bee" in info.stdout, info.stderr


# -- bugs in an installed plugin: one line naming the plugin, its distribution and the hook -------
BUGS = '''\
from toolkit import RecipeError, hookimpl


def check_focal(gamma=2.0):
    if gamma.real < 0:      # fine for numbers ...
        raise RecipeError("loss.gamma: must be >= 0")
    return gamma.imag.bit_length()  # ... and a bug: float has no bit_length


def focal(num_classes, gamma=2.0):
    import torch.nn.functional as F

    return lambda logits, targets: F.cross_entropy(logits, targets)


class Unloadable:
    name, suffix, runtime = "acme_ts", ".acme", "acme"

    def __init__(self):
        self.options = {}

    def available(self):
        return True, ""

    def can_run(self):
        return True, ""

    def devices(self):
        return [("cpu", True, "")]

    def tolerance(self, options):
        from toolkit import Tolerance

        return Tolerance()

    def export(self, model, path, *, image_size, class_names, metadata, options):
        path.write_bytes(b"optimized for inference")
        return path

    def describe(self, path):
        return {}

    def load(self, path, *, device=None):
        raise RuntimeError("PytorchStreamReader failed reading zip archive: failed finding central directory")


class ListDescribed(Unloadable):
    name = "acme_list"

    def describe(self, path):
        return ["inputs", "outputs"]


class Unwritten(Unloadable):
    name = "acme_nofile"

    def export(self, model, path, *, image_size, class_names, metadata, options):
        return path.with_name("elsewhere.acme")


@hookimpl
def tk_register_losses(register):
    register("acme_focal", focal, check=check_focal)


@hookimpl
def tk_register_exporters(register):
    register("acme_ts", Unloadable)
    register("acme_dict", lambda: {"suffix": ".dict"})
    register("acme_list", ListDescribed)
    register("acme_nofile", Unwritten)
'''


@pytest.fixture(scope="module")
def bugs_site(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("bugs") / "tk-acme-bugs"
    (src / "tk_acme_bugs").mkdir(parents=True)
    (src / "tk_acme_bugs" / "__init__.py").write_text(BUGS)
    (src / "pyproject.toml").write_text('[build-system]\nrequires = ["setuptools>=68"]\n'
                                        'build-backend = "setuptools.build_meta"\n\n[project]\nname = "tk-acme-bugs"\n'
                                        'version = "1.0"\n\n[project.entry-points.tk]\nacme_bugs = "tk_acme_bugs"\n\n'
                                        '[tool.setuptools]\npackages = ["tk_acme_bugs"]\n')
    site = tmp_path_factory.mktemp("bugs-site")
    _pip_install(site, src)
    return site


def test_a_bug_in_a_check_function_is_the_plugins_fault_not_the_recipes(bugs_site, tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text('[loss]\nname = "acme_focal"\ngamma = 1.5\n')
    line = _one_error_line(_tk(_env(bugs_site), "recipes", "check", recipe, cwd=tmp_path).stderr)
    assert "loss 'acme_focal' (plugin 'acme_bugs' (tk-acme-bugs 1.0)) failed in its check=" in line
    assert "tk_register_losses" in line and "AttributeError" in line and "bug in the plugin" in line
    recipe.write_text('[loss]\nname = "acme_focal"\ngamma = -1.0\n')  # the check's own refusal stays the recipe's
    line = _one_error_line(_tk(_env(bugs_site), "recipes", "check", recipe, cwd=tmp_path).stderr)
    assert "loss.gamma: must be >= 0" in line and "bug in the plugin" not in line


def test_exporter_bugs_through_tk_export_are_one_line_each(bugs_site, tmp_path):
    from toolkit.engine.train import run_recipe
    from toolkit.recipe.load import load_recipe

    images = make_image_folder(tmp_path / "images", {"a": 6, "b": 6}, size=32)
    recipe = make_recipe(tmp_path / "r.toml", images, epochs=1, train_extra="threads = 1")
    run = run_recipe(load_recipe(recipe), out=tmp_path / "run", quiet=True).run_dir
    env = _env(bugs_site)
    line = _one_error_line(_tk(env, "export", run, "--format", "acme_dict", "--out", tmp_path / "x", cwd=tmp_path).stderr)
    assert "plugin 'acme_bugs' (tk-acme-bugs 1.0) returned dict for exporter 'acme_dict'" in line
    assert "tk_register_exporters" in line
    done = _tk(env, "export", run, "--format", "acme_ts", "--out", tmp_path / "x", cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "Error: Exporter 'acme_ts' (plugin 'acme_bugs' (tk-acme-bugs 1.0)) failed in load: RuntimeError: "
        "PytorchStreamReader failed reading zip archive: failed finding central directory")
    # what tk uses straight away is checked where the plugin returns it, not where it breaks inside tk
    line = _one_error_line(_tk(env, "export", run, "--format", "acme_list", "--out", tmp_path / "x", cwd=tmp_path).stderr)
    assert line.startswith("Error: Exporter 'acme_list' (plugin 'acme_bugs' (tk-acme-bugs 1.0)) returned list from "
                           "describe; it returns a dict"), line
    line = _one_error_line(_tk(env, "export", run, "--format", "acme_nofile", "--out", tmp_path / "x", cwd=tmp_path).stderr)
    assert line.startswith("Error: Exporter 'acme_nofile' (plugin 'acme_bugs' (tk-acme-bugs 1.0)) returned ") and \
        "elsewhere.acme" in line and "which is not a file or folder it wrote" in line, line

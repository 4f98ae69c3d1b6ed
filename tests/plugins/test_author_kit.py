"""The plugin author's kit (#27 items 5 and 6), as an author meets it.

- `toolkit.testing.check_every_entry`: one line checks every entry of a package, of every kind —
  run here on the example package pip-installed into a throw-away folder, whose own test file
  is that one line, and on deliberately broken entries, whose failures must name them;
- `toolkit.testing.assert_resume_identical`: in test_author_kit_resume.py;
- `tk data check RECIPE`: the data a recipe's dataset plugin supplies;
- metrics a callback declares: on the epoch line, the final ``Best:`` line, `tk plugins --json`,
  the recipe schema, and "did you mean" for a misspelt one;
- a plugin's bug is one line naming the plugin, its distribution and the hook: an exporter
  factory returning the wrong type, an exported file its exporter cannot load back, a bug in a
  ``check=`` function.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from toolkit import Callback, hookimpl
from toolkit.core.errors import PluginError
from toolkit.testing import EntryKit, entries_of, make_image_folder, make_recipe, run_cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "tk-example-plugin"
KINDS = ("backbones", "augmentations", "losses", "samplers", "optimizers", "schedulers", "exporters", "datasets",
         "loggers", "callbacks")


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
    info = _tk(env, "example-info", run, cwd=tmp_path)
    assert info.returncode == 0 and "classes: ant, bee" in info.stdout, info.stderr


# -- the kit finds the mistakes, and names the entry ---------------------------------------------
class _Wobbly:
    def __init__(self, n):
        self.n, self.calls = n, 0

    def indices(self, epoch):
        self.calls += 1
        return list(range(self.n))[self.calls % 2:]  # depends on how often it was asked


class _Forgetful(Callback):
    def __init__(self):
        self.seen = 0

    def on_train_batch_end(self, state):
        self.seen += 1

    def state_dict(self):
        return {"seen": self.seen}

    def load_state_dict(self, state):
        pass  # forgets: a resumed run would count from 0


class _Silent:  # a logger object without one event hook
    def tk_epoch_end(self, run, epoch, metrics):
        pass


class _Unloadable:
    """Writes a file its own load cannot read back (torch.jit.optimize_for_inference's output, say)."""

    name, suffix, runtime = "unloadable", ".unl", "nothing"
    options: dict = {}

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
        path.write_bytes(b"not a model")
        return path

    def describe(self, path):
        return {}

    def load(self, path, *, device=None):
        raise RuntimeError("PytorchStreamReader failed reading zip archive: failed finding central directory")


class Mistakes:
    """A plugin with one broken entry of each kind the kit checks by running it."""

    @hookimpl
    def tk_register_samplers(self, register):
        register("wobbly", lambda labels: _Wobbly(len(labels)))

    @hookimpl
    def tk_register_callbacks(self, register):
        register("forgetful", _Forgetful)
        register("boasting", Callback, metrics=["boast_score"])  # declares a metric it never reports

    @hookimpl
    def tk_register_loggers(self, register):
        register("silent", lambda run_dir: _Silent())

    @hookimpl
    def tk_register_exporters(self, register):
        register("wrong_type", lambda: {"suffix": ".wt"})
        register("unloadable", _Unloadable)


@pytest.fixture(scope="module")
def mistakes_kit(tmp_path_factory) -> EntryKit:
    return EntryKit(tmp_path_factory.mktemp("kit"), Mistakes())


def test_entries_of_lists_a_package_by_kind(mistakes_kit):
    assert entries_of(Mistakes(), plugins=mistakes_kit.plugins) == [
        ("samplers", "wobbly"), ("exporters", "unloadable"), ("exporters", "wrong_type"), ("loggers", "silent"),
        ("callbacks", "boasting"), ("callbacks", "forgetful")]
    with pytest.raises(LookupError, match="registers no entries"):
        entries_of(sys.modules["json"])
    with pytest.raises(LookupError, match="neither an installed distribution"):
        entries_of("tk_no_such_thing")


@pytest.mark.parametrize("kind,name,says", [
    ("samplers", "wobbly", "sampler 'wobbly': indices(epoch) must be deterministic"),
    ("callbacks", "forgetful", "callback 'forgetful': load_state_dict(state_dict()) does not give back the same state"),
    ("callbacks", "boasting", "callback 'boasting' declares the metric 'boast_score', which no epoch"),
    ("loggers", "silent", "logger 'silent': its object implements no callback method"),
])
def test_the_kit_fails_a_broken_entry_naming_it(mistakes_kit, kind, name, says):
    with pytest.raises(AssertionError) as caught:
        mistakes_kit.check(kind, name)
    assert says in str(caught.value)


def test_an_exporter_returning_the_wrong_type_is_one_line_naming_the_plugin_and_hook(mistakes_kit):
    with pytest.raises(PluginError) as caught:
        mistakes_kit.check("exporters", "wrong_type")
    message = str(caught.value)
    assert "plugin 'Mistakes' returned dict for exporter 'wrong_type'" in message and "tk_register_exporters" in message
    assert "\n" not in message


def test_an_export_that_cannot_load_back_is_one_line_naming_the_plugin_and_method(mistakes_kit):
    with pytest.raises(PluginError) as caught:
        mistakes_kit.check("exporters", "unloadable")
    message = str(caught.value)
    assert message.startswith("Exporter 'unloadable' (plugin ") and "failed in load: RuntimeError: Pytorch" in message
    assert "\n" not in message


def test_check_every_entry_of_nothing_is_one_failing_test(tmp_path):
    (tmp_path / "test_nothing.py").write_text("from toolkit.testing import check_every_entry\n"
                                             "test_all = check_every_entry('tk_no_such_package')\n")
    ran = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
                          str(tmp_path / "test_nothing.py")], cwd=tmp_path, capture_output=True, text=True)
    assert ran.returncode == 1 and "1 failed" in ran.stdout
    assert "test_all[no-entries]" in ran.stdout and "tk_no_such_package" in ran.stdout


def test_check_every_entry_skips_the_entries_named(tmp_path):
    """An entry that cannot pass a run (it raises on purpose) is left out with ``skip=``, as a skip."""
    (tmp_path / "tk_two_callbacks.py").write_text(
        "from toolkit import Callback, hookimpl\n\n"
        "class Quiet(Callback):\n    pass\n\n"
        "class Boom(Callback):\n    def on_train_batch_end(self, state):\n        raise ValueError('on purpose')\n\n"
        "@hookimpl\ndef tk_register_callbacks(register):\n"
        "    register('quiet', Quiet)\n    register('boom', Boom)\n")
    (tmp_path / "test_two.py").write_text("from toolkit.testing import check_every_entry\n"
                                         "test_all = check_every_entry('tk_two_callbacks', skip=['callbacks:boom'])\n")
    ran = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "--rootdir",
                          str(tmp_path), str(tmp_path / "test_two.py")], cwd=tmp_path, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "1 passed, 1 skipped" in ran.stdout
    assert "callbacks:boom left out with check_every_entry(..., skip=...)" in ran.stdout


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


@hookimpl
def tk_register_losses(register):
    register("acme_focal", focal, check=check_focal)


@hookimpl
def tk_register_exporters(register):
    register("acme_ts", Unloadable)
    register("acme_dict", lambda: {"suffix": ".dict"})
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


# -- tk data check through a dataset plugin ----------------------------------------------------
FLAT_DATASET = '''\
from toolkit import DataError, FolderIndex, RecipeError, hookimpl


def flat(root, min_images: int = 1):
    """Images in one folder, class before the first '-' of the name."""
    from pathlib import Path

    if min_images < 1:
        raise RecipeError("data.min_images: must be at least 1")
    files = sorted(p for p in Path(root).iterdir() if p.suffix == ".png")
    names = sorted({p.name.split("-")[0] for p in files})
    if len(files) < min_images:
        raise DataError(f"data.root: {root} has {len(files)} images, fewer than data.min_images")
    return FolderIndex(root=Path(root), class_names=names,
                       samples=[(str(p), names.index(p.name.split("-")[0])) for p in files])


@hookimpl
def tk_register_datasets(register):
    register("flat", flat)
'''


@pytest.fixture
def flat_recipe(tmp_path) -> Path:
    images = make_image_folder(tmp_path / "images", {"cat": 4, "dog": 3}, size=32)
    flat = tmp_path / "flat"
    flat.mkdir()
    for path in sorted(images.rglob("*.png")):
        shutil.copy(path, flat / path.name.replace("_", "-"))
    (tmp_path / "flat_ds.py").write_text(FLAT_DATASET)
    recipe = tmp_path / "flat.toml"
    recipe.write_text('[plugins]\nmodules = ["flat_ds.py"]\n\n[data]\nsource = "flat"\nroot = "flat"\n')
    return recipe


def test_data_check_reads_a_recipes_dataset_plugin(flat_recipe):
    shown = run_cli("data", "check", flat_recipe)
    assert shown.exit_code == 0, shown.output
    assert f"Dataset 'flat' of {flat_recipe} (plugin 'flat_ds')" in shown.output
    assert "7 usable images in 2 classes" in shown.output and "Imbalance: 1.3x" in shown.output
    as_json = json.loads(run_cli("data", "check", "--recipe", flat_recipe, "--json").output)
    assert as_json["source"] == "flat" and as_json["counts"] == [4, 3] and as_json["usable"] is True
    assert as_json["recipe"] == str(flat_recipe)


def test_data_check_of_a_recipe_says_where_a_plugin_refused(flat_recipe, tmp_path):
    from click.testing import CliRunner

    from toolkit.cli import cli

    def check(*args):
        return CliRunner().invoke(cli, ["data", "check", *map(str, args)])

    refused = check(flat_recipe, "--set", "data.min_images=100")
    assert refused.exit_code == 1 and "fewer than data.min_images" in refused.output
    bad_value = check(flat_recipe, "--set", "data.min_images=0")
    assert bad_value.exit_code == 1 and "data.min_images: must be at least 1" in bad_value.output
    assert "Traceback" not in refused.output + bad_value.output
    both = check(tmp_path, "--recipe", flat_recipe)
    assert both.exit_code == 2 and "not both" in both.output
    folder_set = check(tmp_path / "images", "--set", "data.root=x")
    assert folder_set.exit_code == 2 and "--set applies to a recipe" in folder_set.output
    plain = check(tmp_path / "images")  # a folder is still a folder
    assert plain.exit_code == 0 and "7 usable images in 2 classes" in plain.output


# -- declared metrics ------------------------------------------------------------------------
def test_declared_metrics_on_the_epoch_line_best_line_and_in_checks(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLE))  # the example's module, named in the recipe
    images = make_image_folder(tmp_path / "images", {"a": 6, "b": 6}, size=32)
    recipe = make_recipe(tmp_path / "gap.toml", images, epochs=2,
                         train_extra='threads = 1\nmonitor = "accuracy_gap"',
                         extra='[plugins]\nmodules = ["tk_example_plugin"]\n\n'
                               '[[train.callbacks]]\nname = "accuracy_gap"\n')
    ran = run_cli("run", recipe, "--out", tmp_path / "run")
    assert ran.exit_code == 0, ran.output
    epochs = [line for line in ran.output.splitlines() if line.startswith("epoch ")]
    assert len(epochs) == 2 and all(" | accuracy_gap " in line for line in epochs)
    best = next(line for line in ran.output.splitlines() if line.startswith("Best: "))
    assert "; accuracy_gap " in best

    misspelt = run_cli("recipes", "check", recipe, "--set", 'train.monitor="acuracy_gap"')
    assert misspelt.exit_code == 1
    assert "train.monitor: unknown metric 'acuracy_gap'. Did you mean 'accuracy_gap'?" in misspelt.stderr
    unlisted = run_cli("recipes", "check", recipe, "--set", "train.callbacks=[]")
    assert unlisted.exit_code == 1
    assert "It comes from the callback 'accuracy_gap' (plugin 'tk_example_plugin'), which the recipe does not list" \
        in unlisted.stderr
    swa = run_cli("recipes", "check", recipe, "--set", 'train.best_metric="swa_val_acc"')
    assert "Did you mean 'swa_val_accuracy'? It comes from the callback 'swa'" in swa.stderr


def test_declared_metrics_in_tk_plugins_and_the_recipe_schema():
    from toolkit.plugin.manager import load_plugins
    from toolkit.recipe.json_schema import recipe_schema

    listed = json.loads(run_cli("plugins", "--json").output)
    swa = next(e for e in listed["kinds"]["callbacks"] if e["name"] == "swa")
    assert swa["metrics"] == ["swa_val_loss", "swa_val_accuracy", "swa_val_macro_f1"]
    train = recipe_schema(load_plugins())["properties"]["train"]["properties"]
    for key in ("best_metric", "monitor"):
        assert {"val_loss", "val_accuracy", "ema_val_accuracy", "swa_val_accuracy"} <= set(train[key]["enum"])
    assert "swa_val_accuracy" in run_cli("plugins", "--kind", "callbacks", "-v").output


# -- docs/plugins.md: its worked examples work as printed ---------------------------------------
def _doc_modules() -> dict[str, str]:
    """Every complete plugin module printed in docs/plugins.md (a python block whose first line
    names its file, ``# tk_x.py``), by file name."""
    import re

    text = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(# (tk_\w+\.py)\n.*?)```", text, re.S)
    return {name: body for body, name in blocks}


def test_the_docs_print_a_worked_example_of_every_kind():
    import re

    text = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    registered = set(re.findall(r"def (tk_register_\w+)\(register\)", text))
    assert {f"tk_register_{k}" for k in KINDS} <= registered, registered
    assert "`[plugins] disable" in text or "[plugins] disable" in text
    assert "binary" in text and "check(**values)" in text


@pytest.mark.parametrize("module", ["tk_lr_log.py", "tk_csv_log.py", "tk_torchscript.py", "tk_flat.py"])
def test_a_docs_example_module_passes_the_every_entry_check(module, tmp_path):
    import importlib.util

    path = tmp_path / module
    path.write_text(_doc_modules()[module])
    spec = importlib.util.spec_from_file_location(path.stem, path)
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    kit = EntryKit(tmp_path / "kit", loaded)
    found = entries_of(loaded, plugins=kit.plugins)
    assert found
    for kind, name in found:
        kit.check(kind, name)

"""A third-party package, installed for real, shows up in `tk plugins` and in a run's registry."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tk-example-plugin"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """pip-install the example package into a private folder put on PYTHONPATH (the shared
    environment is left untouched)."""
    target = tmp_path_factory.mktemp("site")
    src = tmp_path_factory.mktemp("src") / "pkg"
    shutil.copytree(EXAMPLE, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(target), str(src)], check=True)
    return {**os.environ, "PYTHONPATH": str(target), "COLUMNS": "200"}


def tk(env, *args):
    return subprocess.run([sys.executable, "-m", "toolkit.cli", *args], capture_output=True, text=True, env=env)


def test_installed_package_is_listed_with_its_version(installed):
    data = json.loads(tk(installed, "plugins", "--json").stdout)
    example = next(p for p in data["plugins"] if p["name"] == "example")
    assert example["dist"] == "tk-example-plugin" and example["version"] == "0.2.0"
    assert example["registered"] == {
        "backbones": ["small_cnn"], "augmentations": ["grayscale"], "losses": ["poly1"], "samplers": ["capped"],
        "optimizers": ["lion"], "schedulers": ["linear_decay"], "exporters": ["torchscript"],
        "datasets": ["filenames"], "loggers": ["csv_log"], "callbacks": ["lr_log", "accuracy_gap"],
        "commands": ["example-info"]}


def test_disable_removes_it(installed):
    env = {**installed, "TK_DISABLE_PLUGINS": "example"}
    data = json.loads(tk(env, "plugins", "--json").stdout)
    assert "example" not in [p["name"] for p in data["plugins"]] and data["disabled"] == ["example"]


def test_a_recipe_can_use_it(installed, tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text('[loss]\nname = "poly1"\nepsilon = 2.0\n[sampler]\nname = "capped"\ncap = 10\n')
    result = tk(installed, "recipes", "check", str(recipe), "--show")
    assert result.returncode == 0, result.stderr
    assert 'name = "poly1"' in result.stdout and "cap = 10" in result.stdout
    recipe.write_text('[sampler]\nname = "capped"\ncapp = 10\n')
    result = tk(installed, "recipes", "check", str(recipe))
    assert "sampler.capp: sampler 'capped' has no parameter 'capp'. Did you mean 'cap'? Accepted: cap." in result.stderr


def test_its_own_tests_pass_with_the_fixture_kit(installed):
    # its one-line every-entry check (tests/test_every_entry.py) runs in tests/plugins/test_author_kit.py
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             str(EXAMPLE / "tests" / "test_example_plugin.py")],
                            capture_output=True, text=True, env=installed)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 passed" in result.stdout


def test_its_command_callback_and_exporter_work_with_no_change_to_tk(installed, tmp_path):
    """The open-core promise: a pip-installed package adds a command, a callback that logs the
    learning rate after every optimiser step and stops the run, and an exporter with an option."""
    from toolkit.testing import make_image_folder, make_recipe

    helped = tk(installed, "--help")
    assert "example-info" in helped.stdout
    assert "Print a run's classes" in tk(installed, "example-info", "--help").stdout

    images = make_image_folder(tmp_path / "images", {"a": 8, "b": 8}, size=32)
    recipe = make_recipe(tmp_path / "r.toml", images, epochs=6, batch_size=4,
                         train_extra="early_stopping = false",
                         extra='[schedule]\nname = "step"\nstep_size = 1\ngamma = 0.1\n\n'
                               '[[train.callbacks]]\nname = "lr_log"\nstop_below = 0.0005\n\n'
                               '[export]\nformats = ["torchscript"]\n\n[export.torchscript]\nfreeze = false\n')
    ran = tk(installed, "run", str(recipe), "--out", str(tmp_path / "run"), "--quiet")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "lr_log: the learning rate fell below 0.0005" in ran.stdout
    rates = [float(line.split(",")[1]) for line in (tmp_path / "run" / "lr.csv").read_text().splitlines()]
    assert rates[0] == 0.01 and rates[-1] < 0.0005 and len(rates) < 6 * 3  # stopped before epoch 6
    info = tk(installed, "example-info", str(tmp_path / "run"))
    assert info.returncode == 0 and f"{len(rates)} learning rates logged" in info.stdout

    exported = tk(installed, "export", str(tmp_path / "run"), "--out", str(tmp_path / "exports"))
    assert exported.returncode == 0, exported.stdout + exported.stderr
    manifest = json.loads((tmp_path / "exports" / "torchscript" / "manifest.json").read_text())
    assert manifest["exporter_options"] == {"freeze": False} and manifest["parity"]["passed"] is True
    (model,) = (tmp_path / "exports" / "torchscript").glob("*.ts")
    predicted = tk(installed, "predict", str(model),
                   str(next((images / "a").iterdir())))
    assert predicted.returncode == 0, predicted.stderr

    recipe.write_text(recipe.read_text().replace("freeze = false", "frezee = false"))
    refused = tk(installed, "recipes", "check", str(recipe))
    assert refused.returncode == 1
    assert "export.torchscript.frezee: exporter 'torchscript' has no parameter 'frezee'. Did you mean 'freeze'?" \
        in refused.stderr

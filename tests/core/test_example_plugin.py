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
    assert example["registered"] == {"losses": ["poly1"], "samplers": ["capped"]}


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
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests")],
                            capture_output=True, text=True, env=installed)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout

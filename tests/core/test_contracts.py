"""The import contracts of pyproject.toml ``[tool.importlinter]`` hold, and cover every module.

`lint-imports` checks the contracts (layers one way, the core never importing a plugin, plugins
independent and using only the facade, no cycles between siblings); tests/core/import_rules.py
checks what it cannot see (imports by name, cycles between a package and its modules). The
contracts are only as good as their lists, so these tests also fail when a module is on no floor,
when the floors disagree with test_layers.py's ``LAYERS``, or when a plugin is left out.
test_contracts_bite.py shows that each contract reports a planted break.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
PLUGINS = sorted(p.name for p in (ROOT / "plugins").iterdir() if (p / "__init__.py").exists())


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


rules = _load("import_rules")


def _contract(contract_id: str) -> dict:
    return next(c for c in CONFIG["contracts"] if c["id"] == contract_id)


def _floors(contract_id: str, *, optional: bool = True) -> list[list[str]]:
    """The contract's floors, highest first, as full module names (``optional=False``: without the
    names in parentheses, which may be absent)."""
    contract = _contract(contract_id)
    prefix = "".join(f"{c}." for c in contract.get("containers", []))
    return [[prefix + m.strip("()") for m in (m.strip() for m in floor.replace("|", ":").split(":"))
             if optional or not m.startswith("(")] for floor in contract["layers"]]


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """`lint-imports` on the checkout at ``root`` (its own toolkit/ and plugins/ first on the path)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(root / "plugins")])}
    exe = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(exe), "--no-cache", "--config", str(root / "pyproject.toml")], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)


def test_lint_imports_keeps_every_contract():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(CONFIG['contracts'])} kept, 0 broken." in result.stdout


def test_no_two_modules_import_each_other_anywhere():
    assert rules.module_cycles(CONFIG["root_packages"]) == []


def test_no_tk_module_is_imported_by_name_where_no_contract_sees_it():
    assert rules.problems(ROOT) == []


def test_the_contracts_name_every_first_party_plugin():
    assert CONFIG["root_packages"] == ["toolkit", *PLUGINS]
    assert sorted(_contract("plugins-independent")["modules"]) == PLUGINS
    assert sorted(_contract("plugins-public-api")["source_modules"]) == PLUGINS
    assert sorted(_contract("core-without-plugins")["forbidden_modules"]) == PLUGINS
    assert _contract("no-sibling-cycles")["ancestors"] == CONFIG["root_packages"]


@pytest.mark.parametrize("package, contract_id", [("toolkit", "layers"), ("toolkit.engine", "engine-layers")])
def test_every_module_stands_on_one_floor(package, contract_id):
    """A new module must be given a floor: a layers contract says nothing of modules it does not list."""
    folder = ROOT.joinpath(*package.split("."))
    children = {f"{package}.{p.stem}" for p in folder.glob("*.py") if p.stem != "__init__"}
    children |= {f"{package}.{p.name}" for p in folder.iterdir() if (p / "__init__.py").exists()}
    listed = [m for floor in _floors(contract_id) for m in floor]
    assert sorted(children - set(listed)) == [], f"add these to a floor of [tool.importlinter] '{contract_id}'"
    required = {m for floor in _floors(contract_id, optional=False) for m in floor}
    assert sorted(required - children) == [], f"'{contract_id}' lists modules that do not exist"
    assert len(listed) == len(set(listed))


def test_the_floors_are_test_layers_layers_in_the_same_order():
    """Each floor lies within one layer of test_layers.py's LAYERS, and the floors descend through them."""
    layers = _load("test_layers")
    ranks = [{layers._layer(m) for m in floor} for floor in _floors("layers")]
    assert all(len(r) == 1 for r in ranks), ranks
    ranks = [r.pop() for r in ranks]
    assert ranks == sorted(ranks, reverse=True), ranks


def test_the_import_picture_in_docs_is_current():
    """docs/imports.md is what docs/make_import_graph.py draws from this code."""
    spec = importlib.util.spec_from_file_location("make_import_graph", ROOT / "docs" / "make_import_graph.py")
    drawer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(drawer)
    committed = (ROOT / "docs" / "imports.md").read_text(encoding="utf-8")
    assert drawer.render(ROOT) == committed, "docs/imports.md is out of date: run python docs/make_import_graph.py"

"""Layers that point one way, checked on the source: every import of every module is parsed.

- Lower layers never import higher ones: core → plugin → recipe → data → engine → export →
  assess → orchestrate → cli (`LAYERS`, one package each), so the engine cannot reach export or
  bench, and orchestration that spans layers (export after training: `toolkit.orchestrate.workflow`)
  lives above them. A module in no package of `LAYERS` (a new ``toolkit/x.py``) fails until it
  is given one.
- No two tk modules import each other in a cycle (imports inside functions count too).
- Plugins (tk's own and the example package) import from tk only ``from toolkit import NAME``
  with NAME in ``toolkit.__all__``: the public API that docs/plugins.md lists.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import toolkit

ROOT = Path(__file__).resolve().parents[2]

LAYERS = [
    ("core", ("toolkit.core",)),
    ("plugin", ("toolkit", "toolkit.plugin")),  # `toolkit` itself: the facade, the plugins' door
    ("recipe", ("toolkit.recipe",)),
    ("data", ("toolkit.data",)),
    ("engine", ("toolkit.engine",)),
    ("export", ("toolkit.export",)),
    ("assess", ("toolkit.assess",)),
    ("orchestrate", ("toolkit.orchestrate",)),
    ("cli", ("toolkit.cli",)),
    ("testing", ("toolkit.testing",)),
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _layer(module: str) -> int:
    best, rank = -1, None
    for i, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            inside = module == prefix or (prefix != "toolkit" and module.startswith(prefix + "."))
            if inside and len(prefix) > best:
                best, rank = len(prefix), i
    assert rank is not None, f"{module} is in no layer: add it to LAYERS"
    return rank


def _imports(path: Path) -> list[tuple[int, str, tuple[str, ...]]]:
    """``(line, imported module, names)`` of every import in the file, relative ones resolved."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = tuple(a.name for a in node.names)
            found.append((node.lineno, target, names))
            for name in names:  # `from . import x` / `from .export import run`: x may be a module
                found.append((node.lineno, f"{target}.{name}", ()))
    return found


TK_FILES = sorted((ROOT / "toolkit").rglob("*.py"))
MODULES = {_module_name(p) for p in TK_FILES}


def _tk_edges(path: Path) -> set[str]:
    return {target for _, target, _ in _imports(path) if target in MODULES and target != _module_name(path)}


@pytest.mark.parametrize("path", TK_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_imports_a_higher_layer(path):
    me = _module_name(path)
    mine = _layer(me)
    bad = [f"{path.relative_to(ROOT)}:{line} imports {target} ({LAYERS[_layer(target)][0]}) from {LAYERS[mine][0]}"
           for line, target, _ in _imports(path) if target in MODULES and _layer(target) > mine]
    assert not bad, "\n".join(bad)


def test_no_import_cycles():
    graph = {_module_name(p): _tk_edges(p) for p in TK_FILES}
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                scc.append(w)
                if w == v:
                    break
            if len(scc) > 1:
                cycles.append(sorted(scc))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not cycles, f"modules that import each other: {cycles}"


PLUGIN_FILES = sorted([*(ROOT / "plugins").rglob("*.py"), *(ROOT / "examples").rglob("*.py")])


@pytest.mark.parametrize("path", PLUGIN_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_plugins_use_only_the_public_api(path):
    public = set(toolkit.__all__)
    bad = []
    for line, target, names in _imports(path):
        if target.startswith("toolkit.") and target.split(".")[1] not in public and not (
                path.parts[-2] == "tests" and (target == "toolkit.testing" or target.startswith("toolkit.testing."))):
            bad.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
        elif target == "toolkit":
            bad += [f"{path.relative_to(ROOT)}:{line} imports toolkit.{n}, not in toolkit.__all__"
                    for n in names if n not in public and n != "hookimpl"]
    assert not bad, "\n".join(bad)


def test_the_public_api_is_documented():
    doc = (ROOT / "docs" / "plugins.md").read_text()
    missing = [name for name in toolkit.__all__ if f"`{name}`" not in doc]
    assert not missing, f"public names missing from docs/plugins.md: {missing}"

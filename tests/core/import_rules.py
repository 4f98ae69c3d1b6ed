"""What `lint-imports` cannot check: tk modules imported by name, and cycles between any two modules.

**Imports by name** (``importlib.import_module``, ``__import__``).

import-linter reads ``import`` statements only, so ``importlib.import_module("toolkit.engine.trainer")``
in the data layer would be an upward arrow no contract reports. This check parses every file of
``toolkit/`` and ``plugins/`` and reports:

- a call of ``import_module`` / ``__import__`` whose arguments name a tk module (a string starting
  with ``toolkit`` or a first-party plugin, a relative ``".x"``, ``__name__``/``__package__``, or a
  variable assigned such a string in the same file), outside the files listed in `ALLOWED`;
- in the lazy tables of `LAZY_TABLES` (PEP 562 facades that import by name on first use), a
  target above the floor of the table's ceiling in the ``layers`` contract of pyproject.toml:
  the facade ``toolkit`` may name modules up to the export layer, a package only what lies below
  it or inside it.

**Cycles** (`module_cycles`): import-linter's ``acyclic_siblings`` contract finds cycles between
siblings, not between a package and its own modules; grimp's graph (import-linter's own) of every
root package finds both.

Used by tests/core/test_contracts.py on this checkout and by test_contracts_bite.py on a copy
with planted breaks; ``python tests/core/import_rules.py [ROOT]`` prints what it finds.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from pathlib import Path

ALLOWED = {
    "toolkit/plugin/manager.py": "the plugin manager imports the modules a recipe or entry point names",
    "toolkit/cli/plugin_commands.py": "a plugin command's module, imported when that command runs",
}
"""Files that may import modules by name: the plugin manager and what it hands modules to."""

LAZY_TABLES = {
    "toolkit/__init__.py": ("_LAZY", "toolkit.export"),
    "toolkit/export/__init__.py": ("_LAZY", "toolkit.export"),
    "toolkit/data/__init__.py": ("_EXPORTS", "toolkit.data"),
    "toolkit/cli/__init__.py": ("COMMANDS", "toolkit.cli"),
    "plugins/tk_screens/__init__.py": ("_LAZY", "tk_screens"),
}
"""File → (the dict naming what it imports lazily, the highest module its targets may reach)."""


def _package(rel: str) -> str:
    """The package a file's relative imports resolve against (``toolkit/data/__init__.py`` → ``toolkit.data``)."""
    parts = list(Path(rel).with_suffix("").parts)
    if parts[0] == "plugins":
        parts = parts[1:]
    return ".".join(parts[:-1])


def _floors(root: Path) -> list[tuple[str, ...]]:
    """The toolkit layers contract's floors, highest first."""
    config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    layers = next(c for c in config["contracts"] if c["id"] == "layers")["layers"]
    return [tuple(m.strip() for m in floor.replace("|", ":").split(":")) for floor in layers]


def _floor(module: str, floors: list[tuple[str, ...]]) -> int | None:
    for i, floor in enumerate(floors):
        if any(module == m or module.startswith(m + ".") for m in floor):
            return i
    return None


def _is_tk_name(text: str, roots: set[str]) -> bool:
    head = text.split(".")[0]
    return text.startswith(".") or head in roots


def _names_tk(node: ast.AST, assigned: dict[str, list[str]], roots: set[str]) -> bool:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str) and _is_tk_name(sub.value, roots):
            return True
        if isinstance(sub, ast.Name) and sub.id in ("__name__", "__package__"):
            return True
        if isinstance(sub, ast.Name) and any(_is_tk_name(v, roots) for v in assigned.get(sub.id, ())):
            return True
    return False


def _is_dynamic_import(call: ast.Call) -> bool:
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    return name in ("import_module", "__import__")


def _assigned_strings(tree: ast.AST) -> dict[str, list[str]]:
    """Name → every string constant assigned to it anywhere in the file."""
    found: dict[str, list[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            strings = [c.value for c in ast.walk(node.value) if isinstance(c, ast.Constant) and isinstance(c.value, str)]
            for target in targets:
                if isinstance(target, ast.Name):
                    found.setdefault(target.id, []).extend(strings)
    return found


def _table_targets(tree: ast.AST, table: str, package: str) -> list[tuple[int, str]]:
    """``(line, module)`` of each value of the module-level dict ``table``, resolved to a full name."""
    for node in getattr(tree, "body", []):
        value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        if isinstance(value, ast.Dict) and any(isinstance(t, ast.Name) and t.id == table for t in targets):
            out = []
            for item in value.values:
                if isinstance(item, ast.Constant) and isinstance(item.value, str):
                    module = item.value.partition(":")[0]
                    if module.startswith("."):
                        module = package + module
                    elif not module.startswith(("toolkit", "tk_")):
                        module = f"{package}.{module}"  # toolkit.data's table names its own modules
                    out.append((item.lineno, module))
            return out
    raise AssertionError(f"lazy table {table} not found")


def root_packages(root: Path) -> list[str]:
    """The packages import-linter reads (``[tool.importlinter] root_packages``)."""
    return tomllib.loads((Path(root) / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]["root_packages"]


def module_cycles(packages: list[str]) -> list[list[str]]:
    """Every set of modules that import each other in a cycle (Tarjan's strongly connected components).

    Builds grimp's graph of ``packages`` as importable from ``sys.path``: imports inside functions
    and under TYPE_CHECKING count.
    """
    import grimp

    graph = grimp.build_graph(*packages, cache_dir=None)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []
    for start in sorted(edges):  # iterative, so a deep import chain cannot hit the recursion limit
        if start in index:
            continue
        work = [(start, iter(edges[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges.get(child, ()))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    return sorted(cycles)


def problems(root: Path) -> list[str]:
    """Every tk module imported by name where no contract sees it, as ``file:line what``."""
    root = Path(root)
    roots = {"toolkit", *(p.name for p in (root / "plugins").iterdir() if p.name.startswith("tk_"))}
    floors = _floors(root)
    found = []
    files = sorted([*(root / "toolkit").rglob("*.py"), *(root / "plugins").rglob("*.py")])
    for path in files:
        rel = path.relative_to(root).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if rel in LAZY_TABLES:
            table, ceiling = LAZY_TABLES[rel]
            top = _floor(ceiling, floors)
            for line, module in _table_targets(tree, table, _package(rel)):
                inside = module == ceiling or module.startswith(ceiling + ".")
                floor = _floor(module, floors)
                if not inside and (top is None or floor is None or floor < top):
                    found.append(f"{rel}:{line} lazily imports {module}, above {ceiling} ({table})")
            continue
        if rel in ALLOWED:
            continue
        assigned = _assigned_strings(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _is_dynamic_import(node) and _names_tk(
                    ast.Tuple(elts=[*node.args, *(k.value for k in node.keywords)]), assigned, roots):
                found.append(f"{rel}:{node.lineno} imports a tk module by name ({ast.unparse(node)}), "
                             f"which no import contract sees: import it with an import statement")
    return found


if __name__ == "__main__":
    where = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2]
    bad = problems(where) + [f"modules that import each other: {c}" for c in module_cycles(root_packages(where))]
    print("\n".join(bad) or "no tk module imported by name, no import cycle")
    sys.exit(1 if bad else 0)

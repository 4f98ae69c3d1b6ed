"""Draw docs/imports.md: tk's package imports on the floors of the import contracts, from the code.

    python docs/make_import_graph.py            # rewrite docs/imports.md from this checkout
    python docs/make_import_graph.py --check    # exit 1 when docs/imports.md is not current

grimp (import-linter's graph) reads every import of ``toolkit`` and the first-party plugins,
imports inside functions included; each module is drawn as the top-level module or package it
belongs to, on the floor the ``layers`` contract of pyproject.toml gives it. An arrow that a
longer path of arrows already implies is left out, so what remains reads as the structure. The
facade's lazy names (``toolkit._LAZY``, imported by name on first use) are dotted arrows to the
highest modules they name. A second
picture shows the engine's own floors. tests/core/test_contracts.py fails when the committed
picture differs from what this script draws.
"""

from __future__ import annotations

import argparse
import ast
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "imports.md"


def _config(root: Path) -> dict:
    return tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]


TITLES = {
    "toolkit.testing": "testing: the plugin author's kit",
    "toolkit.cli": "cli: the tk command",
    "toolkit.orchestrate": "orchestrate: train then ship, several processes, cross-validation, tune",
    "toolkit.assess": "assess: evaluate, compare, bench, doctor, video",
    "toolkit.export": "export: ONNX, Core ML, predictors, parity",
    "toolkit.engine": "engine: the training loop and its callbacks",
    "toolkit.data": "data: folders, splits, decoding, the image store",
    "toolkit.recipe": "recipe: what a recipe says, loading it",
    "toolkit.plugin": "plugin: hooks, kinds, registries, the manager",
    "toolkit.core": "core: errors, files, checkpoints, input spec, threads",
    "toolkit.engine.trainer": "a run",
    "toolkit.engine.batches": "the parts a run shares",
}
"""A floor's title, by its first module (a floor of one module is titled by its name)."""


INSIDES = [
    ("core-floors", "Inside the core",
     "The checkpoint format writes through atomic files; everything may raise tk's errors; the rest "
     "stand alone."),
    ("plugin-floors", "Inside the plugin system",
     "The manager loads plugins into registries; hooks and registries are defined by the kinds; "
     "the callback base class is a kind's contract."),
    ("recipe-floors", "Inside recipes",
     "Loading and the JSON Schema both read what a recipe may say; loading writes and locates TOML text."),
    ("engine-layers", "Inside the engine",
     "A run's driver above tk's own callbacks (EMA, early stopping, checkpoints, reporting), above "
     "the parts they share; the parts on the lowest floor may import each other."),
    ("assess-floors", "Inside assess",
     "Each command's report above the evaluation and label-quality parts they share."),
]
"""(contract id, heading, one line) of each package drawn on its own floors, in order."""


def _floors(contract: dict) -> list[tuple[str, list[str]]]:
    """``(title, modules)`` per floor, highest first; optional names in parentheses are kept."""
    prefix = "".join(f"{c}." for c in contract.get("containers", []))
    floors = []
    for floor in contract["layers"]:
        names = [prefix + m.strip().strip("()") for m in floor.replace("|", ":").split(":")]
        floors.append((TITLES.get(names[0]) or names[0].rpartition(".")[2], names))
    return floors


def _lazy_targets(root: Path) -> set[str]:
    """The modules the facade's ``_LAZY`` table names."""
    tree = ast.parse((root / "toolkit" / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "_LAZY" for t in node.targets):
            return {v.value for v in node.value.values}
    return set()


def _reduce(edges: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """The transitive reduction: drop u→v when v is reachable from u another way (the graph is acyclic)."""
    succ: dict[str, set[str]] = {}
    for u, v in edges:
        succ.setdefault(u, set()).add(v)

    def reachable(start: str, skip: tuple[str, str]) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            node = todo.pop()
            for nxt in succ.get(node, ()):
                if (node, nxt) != skip and nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    return {(u, v) for u, v in edges if v not in reachable(u, (u, v))}


def _reachable(edges: set[tuple[str, str]], start: str) -> set[str]:
    """Every node reached from ``start`` by ``edges``."""
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        for u, v in edges:
            if u == node and v not in seen:
                seen.add(v)
                todo.append(v)
    return seen


def _id(node: str) -> str:
    return node.replace(".", "_")


def _label(node: str, packages: set[str]) -> str:
    if node == "toolkit":
        return "toolkit<br/>(the facade)"
    short = node.rpartition(".")[2]
    return f"{short}/" if node in packages else short


def _chart(floors: list[tuple[str, list[str]]], nodes: list[str], edges: set[tuple[str, str]],
           dotted: set[tuple[str, str]], packages: set[str], labels: dict[str, str]) -> list[str]:
    lines = ["```mermaid", "flowchart TB"]
    where = {}
    for i, (title, members) in enumerate(floors):
        present = [m for m in members if m in nodes]
        if not present:
            continue
        lines.append(f'    subgraph F{i}["{title}"]')
        lines.append("        direction LR")
        for m in present:
            lines.append(f'        {_id(m)}["{labels.get(m) or _label(m, packages)}"]')
            where[m] = i
        lines.append("    end")
    shown = [i for i in range(len(floors)) if any(m in nodes for m in floors[i][1])]
    lines += [f"    F{a} ~~~ F{b}" for a, b in zip(shown, shown[1:])]  # keeps the floors in order
    lines += [f"    {_id(u)} --> {_id(v)}" for u, v in sorted(edges)]
    lines += [f"    {_id(u)} -.-> {_id(v)}" for u, v in sorted(dotted)]
    lines.append("```")
    return lines


def render(root: Path = ROOT) -> str:
    """docs/imports.md for the checkout at ``root`` (its packages must be the ones on ``sys.path``)."""
    import grimp

    config = _config(root)
    contracts = {c["id"]: c for c in config["contracts"]}
    plugins = [p for p in config["root_packages"] if p != "toolkit"]
    graph = grimp.build_graph(*config["root_packages"], cache_dir=None)
    packages = {m for m in graph.modules if graph.find_children(m)}

    # tk: the plugins, the facade, then the floors of the layers contract
    floors = [("plugins (independent of each other)", ["plugins"]), ("the public API", ["toolkit"]),
              *_floors(contracts["layers"])]

    def top(module: str) -> str:
        if module.split(".")[0] in plugins:
            return "plugins"
        return ".".join(module.split(".")[:2])

    nodes = [m for _, members in floors for m in members if m in {top(x) for x in graph.modules}]
    edges = {(top(a), top(b)) for a in graph.modules for b in graph.find_modules_directly_imported_by(a)
             if top(a) != top(b)}
    reduced = _reduce(edges)
    lazy = {top(t) for t in _lazy_targets(root)}
    below = set().union(*(_reachable(reduced, t) for t in lazy)) if lazy else set()
    dotted = {("toolkit", t) for t in lazy - below}  # the rest is reached through these
    labels = {"plugins": "tk_*: " + " · ".join(p.removeprefix("tk_") for p in plugins)}
    tk = _chart(floors, nodes, reduced, dotted, packages, labels)

    # inside each package that has floors of its own
    insides = []
    for cid, title, text in INSIDES:
        contract = contracts[cid]
        container = contract["containers"][0]
        depth = container.count(".") + 2

        def inside(module: str, _c=container, _d=depth) -> str | None:
            return ".".join(module.split(".")[:_d]) if module.startswith(_c + ".") else None

        inner_floors = _floors(contract)
        present = {inside(x) for x in graph.modules}
        inner_nodes = [m for _, members in inner_floors for m in members if m in present]
        inner_edges = {(inside(a), inside(b)) for a in graph.modules for b in graph.find_modules_directly_imported_by(a)
                       if inside(a) and inside(b) and inside(a) != inside(b)}
        insides += [f"## {title}", "", text, "",
                    *_chart(inner_floors, inner_nodes, _reduce(inner_edges), set(), packages, {}), ""]

    return "\n".join([
        "# How tk's packages import each other",
        "",
        "Drawn from the code by `python docs/make_import_graph.py` (do not edit by hand; "
        "tests/core/test_contracts.py fails when this page is out of date). Each box is a floor of "
        "the import contracts in pyproject.toml (`[tool.importlinter]`, checked by `lint-imports` in "
        "`make test`): arrows point down only, never up, and never between two plugins. An arrow that "
        "a longer path already implies is left out. The dotted arrows reach the facade's lazy names "
        "(`toolkit._LAZY`, imported on first use; the names below them are reached through them): "
        "plugins import only the facade, and tk's own modules never do.",
        "",
        *tk,
        "",
        *insides,
    ])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when docs/imports.md is not current")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to draw (default: this one)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    text = render(args.root)
    if args.check:
        current = args.out.is_file() and args.out.read_text(encoding="utf-8") == text
        print(f"{args.out} is {'current' if current else 'out of date: run python docs/make_import_graph.py'}")
        return 0 if current else 1
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

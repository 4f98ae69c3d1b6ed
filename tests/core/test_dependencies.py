"""Every third-party module tk imports is declared in pyproject.toml, never borrowed from a dependency's dependency.

``pip install tk-train`` then ``import toolkit.engine.metrics`` must work because tk asked for
scipy, not because timm happened to pull it in. The imports of every file of ``toolkit/`` and
``plugins/`` are parsed (inside functions too), each top-level module is mapped to the
distributions that provide it (``importlib.metadata.packages_distributions()``), and one of those
must be in ``[project] dependencies`` or an extra. A module declared only in an optional extra
must fail, where it is first imported, with one line naming that extra.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
FIRST_PARTY = {"toolkit", *(p.name for p in (ROOT / "plugins").iterdir() if p.name.startswith("tk_"))}
FILES = sorted([*(ROOT / "toolkit").rglob("*.py"), *(ROOT / "plugins").rglob("*.py")])


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    return _normal(re.match(r"[A-Za-z0-9._-]+", requirement).group(0))


CORE = {_requirement_name(r) for r in PROJECT["dependencies"]}
EXTRAS = {extra: {_requirement_name(r) for r in reqs} for extra, reqs in PROJECT["optional-dependencies"].items()}


def _imported_modules() -> dict[str, list[str]]:
    """Third-party top-level module → ``file:line`` of each import of it."""
    found: dict[str, list[str]] = {}
    for path in FILES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in FIRST_PARTY and top != "__future__":
                    found.setdefault(top, []).append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


IMPORTED = _imported_modules()
PROVIDERS = importlib.metadata.packages_distributions()


def _distributions(module: str) -> set[str]:
    """The distributions that provide ``module`` here; one named like it when none is installed."""
    return {_normal(d) for d in PROVIDERS.get(module, [module])}


def test_every_imported_module_is_declared():
    declared = CORE.union(*EXTRAS.values())
    missing = [f"{module} (distribution {' or '.join(sorted(_distributions(module)))}), imported at "
               f"{', '.join(where[:3])}" for module, where in sorted(IMPORTED.items())
               if not _distributions(module) & declared]
    assert not missing, "declare these in pyproject.toml (core, or the extra of the command that needs them):\n" + \
        "\n".join(missing)


def test_the_scan_sees_what_tk_imports():
    """The check is only as good as its scan: the imports #26 found undeclared are among those it reads."""
    assert {"scipy", "huggingface_hub", "torch", "PIL", "sklearn"} <= set(IMPORTED)
    assert "scipy" in _distributions("scipy") & CORE and "huggingface-hub" in _distributions("huggingface_hub") & CORE


def _guarded_by_extra(module: str, extras: set[str]) -> list[str]:
    """``file:line`` of each place that imports ``module`` and, when that fails, names one of ``extras``."""
    marks = {f"[{e}]" for e in extras}

    def names_extra(node: ast.AST) -> bool:
        return any(isinstance(c, ast.Constant) and isinstance(c.value, str)
                   and (c.value in extras or any(m in c.value for m in marks)) for c in ast.walk(node))

    def imports(node: ast.AST) -> bool:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Import) and any(a.name.split(".")[0] == module for a in sub.names):
                return True
            if isinstance(sub, ast.ImportFrom) and (sub.module or "").split(".")[0] == module and not sub.level:
                return True
        return False

    sites = []
    for path in FILES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Try) and any(imports(s) for s in node.body) and any(
                    names_extra(h) for h in node.handlers):
                sites.append(f"{path.relative_to(ROOT)}:{node.lineno}")
            elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "require" and node.args \
                    and isinstance(node.args[0], ast.Constant) and node.args[0].value == module and names_extra(node):
                sites.append(f"{path.relative_to(ROOT)}:{node.lineno}")  # tk_loggers' require(module, logger, extra)
    return sites


def test_a_module_only_an_extra_installs_fails_in_one_line_naming_the_extra():
    optional = {module: {e for e, dists in EXTRAS.items() if _distributions(module) & dists and e != "dev"}
                for module in IMPORTED if not _distributions(module) & CORE}
    # pytest is the dev extra's: toolkit.testing is the pytest plugin, loaded only by pytest itself
    optional = {module: extras for module, extras in optional.items() if extras}
    assert optional, "no optional extra found: the scan is broken"
    unguarded = [f"{module} (extra {', '.join(sorted(extras))}), imported at {', '.join(IMPORTED[module][:3])}"
                 for module, extras in sorted(optional.items()) if not _guarded_by_extra(module, extras)]
    assert not unguarded, "no one-line error naming the extra where these are first imported:\n" + "\n".join(unguarded)


def test_pip_check_finds_no_broken_requirement():
    """What is installed here satisfies every declared requirement (tk's and its dependencies')."""
    import subprocess

    result = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr

"""Every pyproject.toml example in the docs depends on tk by its distribution name, tk-train
(#30 item 9): `dependencies = ["tk"]` installs another project from the package index."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _distribution() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["name"]


def _example_pyprojects() -> list[tuple[str, dict]]:
    """``(where, parsed)`` of every TOML block of the Markdown docs that has a [project] table,
    and of every example package's pyproject.toml."""
    found = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")), *sorted((ROOT / "examples").rglob("*.md"))]:
        for n, block in enumerate(re.findall(r"```toml\n(.*?)```", page.read_text(encoding="utf-8"), re.S)):
            if re.search(r"^\[project\]", block, re.M):
                found.append((f"{page.relative_to(ROOT)} block {n + 1}", tomllib.loads(block)))
    for path in sorted((ROOT / "examples").rglob("pyproject.toml")):
        found.append((str(path.relative_to(ROOT)), tomllib.loads(path.read_text(encoding="utf-8"))))
    return found


def _name(requirement: str) -> str:
    return re.match(r"\s*([A-Za-z0-9._-]+)", requirement).group(1).lower().replace("_", "-")


def test_the_docs_example_pyprojects_depend_on_tk_train():
    assert _distribution() == "tk-train"
    examples = _example_pyprojects()
    assert any("docs/plugins.md" in where for where, _ in examples)  # the five-minute plugin
    for where, parsed in examples:
        names = [_name(r) for r in parsed["project"].get("dependencies", [])]
        assert "tk" not in names, f"{where}: dependencies name 'tk', another project on the package index"
        assert "tk-train" in names, f"{where}: a plugin package should depend on tk-train, not {names}"

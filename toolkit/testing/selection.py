"""Which entries a plugin package registers, for the every-entry check (`toolkit.testing.entries`).

A package is named as a module (or any object with hookimpls), an importable module's name, or
a distribution's name (``tk-acme``); `entries_of` lists the ``(kind, name)`` of everything it
registers, loading it as a plugin for the check when it is not installed.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from importlib import metadata
from types import ModuleType
from typing import Any

__all__ = ["entries_of"]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class _Selection:
    """The plugin names a package stands for, and the modules to load that are not installed."""

    names: set[str]
    extra: list[tuple[str, Any]]
    label: str


def _select(package: Any) -> _Selection:
    """``package``: a module (or any object with hookimpls), an importable module's name, or a
    distribution's name (``tk-acme``)."""
    if isinstance(package, str):
        wanted = _canonical(package)
        names = set()
        for ep in metadata.entry_points(group="tk"):
            dist = _canonical(ep.dist.name) if ep.dist else ""
            if dist == wanted or ep.value == package or ep.value.split(":")[0].startswith(package + "."):
                names.add(ep.name)
        if names:
            return _Selection(names, [], package)
        try:
            module = importlib.import_module(package)
        except ImportError as exc:
            raise LookupError(f"{package!r} is neither an installed distribution with tk entry points nor an "
                              f"importable module ({exc}).") from None
    else:
        module = package
    name = _name(module)
    for ep in metadata.entry_points(group="tk"):  # installed: the entry point loads it, under its own name
        if ep.value.split(":")[0] == name:
            return _Selection({ep.name}, [], name)
    return _Selection({name}, [(name, module)], name)


def _name(plugin: Any) -> str:
    """A plugin module's name, or an object's class name (a plugin may be any object with hookimpls)."""
    return getattr(plugin, "__name__", None) or type(plugin).__name__


def _load(selection: _Selection) -> Any:
    from ..plugin.manager import load_plugins

    return load_plugins(extra=selection.extra)


def entries_of(package: str | ModuleType, kinds: Any = None, plugins: Any = None) -> list[tuple[str, str]]:
    """``(kind, name)`` of every entry ``package`` registers (tk's own ``builtin`` callbacks aside), in
    `toolkit.plugin.kinds.KINDS` order; a LookupError when it registers nothing or is broken."""
    from ..plugin.kinds import KINDS

    selection = _select(package)
    plugins = plugins or _load(selection)
    broken = [b for b in plugins.broken if b.name in selection.names]
    if broken:
        b = broken[0]
        raise LookupError(f"plugin '{b.name}'" + (f" ({b.dist} {b.version})" if b.dist else "") + f" is broken: {b.error}")
    found = [(k.name, entry.name) for k in KINDS if kinds is None or k.name in kinds
             for entry in plugins.registry(k.name) if entry.plugin in selection.names and not entry.info.get("builtin")]
    if not found:
        raise LookupError(f"{selection.label!r} registers no entries" + (f" of kinds {', '.join(kinds)}" if kinds else "")
                          + f" (plugins looked at: {', '.join(sorted(selection.names))}).")
    return found

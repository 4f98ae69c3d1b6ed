"""The `tk` subcommands that plugins add, listed from a cache and imported only when run.

`tk --help` and shell completion need each plugin command's name and one-line help, not its
code. Importing every installed plugin to learn them made `tk --help` pay for whatever those
modules import at their top (torch: ~2 s). So the listing comes from a small JSON file under
the tk cache folder (``$TK_CACHE_DIR`` or ``~/.cache/tk``), kept while its key holds:

* the ``*.dist-info`` / ``*.egg-info`` folders on ``sys.path`` (name, version and the time
  they were written: any install, upgrade, reinstall or removal changes it),
* the modification time of every plugin module file the commands came from (an editable or
  path install whose source changed), and
* ``TK_DISABLE_PLUGINS``.

Checking the key costs a directory listing per ``sys.path`` entry and a few ``stat`` calls;
nothing is imported, not even ``importlib.metadata``. When it no longer holds (or the file is
missing, corrupt or unreadable), the listing is rebuilt once: the ``tk`` entry points are
loaded as `tk plugins` loads them and their ``tk_register_commands`` called, then the file is
written atomically (a folder that cannot be written just means rebuilding next time).

A distribution may also declare its commands as entry-point metadata (group ``tk.commands``,
``command-name = "pkg.module:command"``): tk then reads the command's help from the module's
source (the decorator's ``help=``/``short_help=`` or the function's docstring) and imports
neither that module nor the distribution's ``tk`` plugins to list it, even when rebuilding.

Running a listed command imports only the plugin that adds it (`load_command`).

This module holds the listing, its stubs for `tk --help` and loading the real command; the cache
file itself (where it lives, its key, reading and writing it) is `toolkit.cli.plugin_cache`.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from ..core.errors import PluginError
from ..plugin.kinds import COMMANDS_GROUP
from .plugin_cache import FORMAT, _installed, _key, _read, _write, cache_path

__all__ = ["COMMANDS_GROUP", "CachedCommand", "Listing", "cache_path", "listing", "load_command"]


# -- what the cache holds -------------------------------------------------------------------


@dataclass
class Listing:
    """Plugin commands by name: ``{"help", "short_help", "hidden", "deprecated", "plugin", "dist",
    "version", "source"}``, where ``source`` is ``"hook"`` (the ``tk`` entry point ``target``
    adds it in ``tk_register_commands``) or ``"entry point"`` (``tk.commands``: ``target`` is
    the command object), and the warnings to repeat on each listing."""

    commands: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    shadowed: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def names(self) -> list[str]:
        return sorted(self.commands)

    def stub(self, name: str) -> CachedCommand | None:
        entry = self.commands.get(name)
        return CachedCommand(name, entry) if entry is not None else None


class CachedCommand(click.Command):
    """A plugin command as the cache knows it: its name and help, for `tk --help` and completion.

    `toolkit.cli.LazyGroup.resolve_command` swaps it for the real command before anything runs
    it; should anything else reach for more than the listing, it loads the real one the same way.
    """

    def __init__(self, name: str, entry: dict[str, Any]):
        super().__init__(name, help=entry.get("help") or None, short_help=entry.get("short_help") or None,
                         hidden=bool(entry.get("hidden")), deprecated=entry.get("deprecated") or False)
        self.entry = entry
        self._real: click.Command | None = None

    def load(self) -> click.Command:
        if self._real is None:
            self._real = load_command(self.name or "", self.entry)
        return self._real

    def make_context(self, info_name, args, parent=None, **extra):
        return self.load().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx: click.Context):
        return self.load().invoke(ctx)

    def get_params(self, ctx: click.Context):
        return self.load().get_params(ctx)

    def get_help(self, ctx: click.Context) -> str:
        return self.load().get_help(ctx)


def listing(own: set[str] | frozenset[str] = frozenset()) -> Listing:
    """The plugin commands, from the cache when its key holds, else rebuilt (and cached).

    ``own`` are tk's own command names: a plugin command of the same name is left out and
    reported in ``shadowed``.
    """
    installed = _installed()
    path = cache_path(installed)
    data = _read(path)
    if data is not None and data.get("key") == _key(installed, data["files"]):
        found = Listing(data["commands"], [str(w) for w in data.get("warnings") or []], files=data["files"])
    else:
        found = build()
        _write(path, {"format": FORMAT, "key": _key(installed, found.files), "files": found.files,
                      "commands": found.commands, "warnings": found.warnings})
    found.shadowed = sorted(name for name in found.commands if name in own)
    for name in found.shadowed:
        del found.commands[name]
    return found


# -- building it ----------------------------------------------------------------------------


def _describe(cmd: click.Command) -> dict[str, Any]:
    return {"help": cmd.help or "", "short_help": cmd.short_help or "", "hidden": bool(cmd.hidden),
            "deprecated": cmd.deprecated if isinstance(cmd.deprecated, str) else bool(cmd.deprecated)}


def _module_files(module: Any) -> list[str]:
    """The source files behind an imported module: its file and, for a package, the ``.py``
    files beside its ``__init__`` (where a command is usually defined)."""
    origin = getattr(module, "__file__", None)
    if not origin:
        return []
    files = [str(Path(origin).resolve())]
    if Path(origin).name == "__init__.py":
        try:
            files += sorted(str(p.resolve()) for p in Path(origin).parent.glob("*.py") if p.name != "__init__.py")
        except OSError:
            pass
    return files


def _find_source(module: str) -> str | None:
    """The file of ``module`` without importing it (nor its parent packages)."""
    import importlib.machinery
    import importlib.util

    parts = module.split(".")
    try:
        spec = importlib.util.find_spec(parts[0])
        for i in range(1, len(parts)):
            if spec is None or not spec.submodule_search_locations:
                return None
            spec = importlib.machinery.PathFinder.find_spec(".".join(parts[: i + 1]),
                                                            list(spec.submodule_search_locations))
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.has_location:
        return None
    return spec.origin


def _const(node: ast.AST) -> Any:
    return node.value if isinstance(node, ast.Constant) else None


def help_from_source(path: str, attr: str) -> dict[str, Any]:
    """Help of the click command ``attr`` defined in the source file ``path``, read without running it:
    ``help=``/``short_help=``/``hidden=``/``deprecated=`` of its decorator, else the docstring."""
    try:
        tree = ast.parse(Path(path).read_bytes(), filename=path)
    except (OSError, SyntaxError, ValueError):
        return {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == attr:
            found: dict[str, Any] = {"help": "", "short_help": "", "hidden": False, "deprecated": False}
            for deco in node.decorator_list:
                if isinstance(deco, ast.Call):
                    for kw in deco.keywords:
                        if kw.arg in found and _const(kw.value) is not None:
                            found[kw.arg] = _const(kw.value)
            if not found["help"]:
                doc = ast.get_docstring(node) or ""
                found["help"] = doc.split("\f", 1)[0].strip()
            return found
    return {}


def _declared(ep: Any) -> dict[str, Any]:
    module, _, attr = ep.value.partition(":")
    module = module.strip()
    attr = attr.split("[", 1)[0].strip()
    entry = {"help": "", "short_help": "", "hidden": False, "deprecated": False}
    source = _find_source(module)
    if source and attr and "." not in attr:
        entry.update(help_from_source(source, attr))
    return {**entry, "source": "entry point", "target": f"{module}:{attr}", "plugin": ep.name,
            "dist": ep.dist.name if ep.dist else "", "version": ep.dist.version if ep.dist else "",
            "file": source or ""}


def build() -> Listing:
    """Import the ``tk`` plugins (as `tk plugins` does) and record the commands they add."""
    from importlib import metadata

    from ..plugin.manager import ENTRY_POINT_GROUP, disabled_from_env, load_plugins

    found = Listing()
    claims: dict[str, list[str]] = {}  # command name → the plugins that add it
    files: set[str] = set()
    declaring: set[str] = set()  # distributions that list their commands in tk.commands
    plugin_eps = list(metadata.entry_points(group=ENTRY_POINT_GROUP))
    disabled = disabled_from_env()
    for ep in metadata.entry_points(group=COMMANDS_GROUP):
        entry = _declared(ep)
        if entry["dist"]:
            declaring.add(entry["dist"])
        # the plugin a declared command belongs to: its distribution's `tk` entry point, else the distribution
        entry["plugin"] = next((p.name for p in plugin_eps if p.dist and p.dist.name == entry["dist"]),
                               entry["dist"] or ep.name)
        source = entry.pop("file")
        if source:
            files.add(source)
        if entry["plugin"] not in disabled:
            claims.setdefault(ep.name, []).append(entry["plugin"])
            found.commands.setdefault(ep.name, entry)
    skip = [ep.name for ep in plugin_eps if ep.dist and ep.dist.name in declaring]
    try:
        loaded = load_plugins(disable=skip)
    except Exception as exc:  # noqa: BLE001 - the listing must not take `tk --help` down
        found.warnings.append(f"plugin commands could not be listed: {type(exc).__name__}: {exc}")
        found.files = sorted(f for f in files if f)
        return found
    targets = {ep.name: ep.value for ep in plugin_eps}
    for plugin in loaded.info:
        module = sys.modules.get(targets.get(plugin, "").partition(":")[0].strip())
        if module is not None:
            files.update(_module_files(module))
    for impl in loaded.pm.hook.tk_register_commands.get_hookimpls():
        collector = click.Group()
        try:
            impl.function(cli=collector)
        except Exception as exc:  # noqa: BLE001 - one plugin's bug must not take the command line down
            found.warnings.append(f"plugin '{impl.plugin_name}' failed to add its commands: "
                                  f"{type(exc).__name__}: {exc}")
            continue
        info = loaded.info.get(impl.plugin_name)
        for name, cmd in collector.commands.items():
            if impl.plugin_name not in claims.setdefault(name, []):
                claims[name].append(impl.plugin_name)
            if name in found.commands:
                continue
            found.commands[name] = {**_describe(cmd), "source": "hook", "plugin": impl.plugin_name,
                                    "target": targets.get(impl.plugin_name, ""),
                                    "dist": info.dist if info else "", "version": info.version if info else ""}
    for name, plugins in claims.items():  # two plugins, one command: which ran depended on the order they loaded
        if len(plugins) > 1 and name in found.commands:
            del found.commands[name]
            found.warnings.append(f"command '{name}' is added by plugins {' and '.join(repr(p) for p in plugins)}: tk "
                                  f"adds neither until one is switched off (TK_DISABLE_PLUGINS={plugins[-1]}).")
    found.files = sorted(f for f in files if f)
    return found


# -- running one ----------------------------------------------------------------------------


def _origin(entry: dict[str, Any]) -> str:
    where = f"{entry.get('dist', '')} {entry.get('version', '')}".strip()
    return f"plugin '{entry.get('plugin', '?')}'" + (f" ({where})" if where else "")


def _import(target: str) -> Any:
    import importlib

    module, _, attr = target.partition(":")
    obj = importlib.import_module(module.strip())
    for part in filter(None, attr.split("[", 1)[0].strip().split(".")):
        obj = getattr(obj, part)
    return obj


def load_command(name: str, entry: dict[str, Any]) -> click.Command:
    """The real command ``name``: imports the one plugin that adds it, no other."""
    target = str(entry.get("target") or "")
    try:
        obj = _import(target)
    except Exception as exc:  # any import failure is the plugin's, said in one line
        raise PluginError(f"Command '{name}' of {_origin(entry)}: {target} failed to import: "
                          f"{type(exc).__name__}: {exc}") from exc
    if entry.get("source") == "entry point":
        if not isinstance(obj, click.Command):
            raise PluginError(f"Command '{name}' of {_origin(entry)}: {target} is a {type(obj).__name__}, "
                              f"not a click command.")
        return obj
    import pluggy

    from ..plugin import hookspecs
    from ..plugin.manager import ENTRY_POINT_GROUP

    pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
    pm.add_hookspecs(hookspecs)
    collector = click.Group()
    try:
        pm.register(obj, name=str(entry.get("plugin") or name))
        for impl in pm.hook.tk_register_commands.get_hookimpls():
            impl.function(cli=collector)
    except Exception as exc:  # the plugin's bug, said in one line
        raise PluginError(f"Command '{name}': {_origin(entry)} failed in tk_register_commands: "
                          f"{type(exc).__name__}: {exc}") from exc
    cmd = collector.commands.get(name)
    if cmd is None:
        try:
            cache_path().unlink()
        except OSError:
            pass
        raise PluginError(f"{_origin(entry)} no longer adds the command '{name}'; the list of plugin "
                          f"commands is rebuilt on the next `tk --help`.")
    return cmd

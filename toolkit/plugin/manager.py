"""Build the plugin manager: entry points, recipe modules, disabled names, broken plugins.

Loading is explicit and repeatable: `load_plugins()` makes a fresh `pluggy.PluginManager`
every time (nothing happens at import), registers every module of the `tk` entry-point group
(first-party plugins are listed there exactly like third-party ones), then the modules a
recipe names, then runs `check_pending()` so a misspelt hook name is an error rather than a
silent no-op. A plugin that fails to import or raises while registering is kept out and
reported by name and distribution; the rest still load, so `tk plugins` can show what is
broken next to what works.

Modules named inside a file tk was *given* (a checkpoint's stored recipe, a run folder's
``recipe.toml``, a distillation teacher) are never imported on that file's say-so: a model file
is data, not code. `load_stored_plugins` loads the entry points (installed, so already trusted)
and refuses such a module in one line unless the user trusts it for this command
(``--trust-plugins``, ``TK_TRUST_PLUGINS=1``) or named the same module in their own recipe
(`trusting` records those).

Callers use the typed facade `Plugins` (``plugins.registry("losses")``,
``plugins.create("losses", ...)``, ``plugins.emit("tk_epoch_end", ...)``), never ``pm.hook``
with loose keyword arguments.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable

import pluggy

from ..core.errors import PluginError, TkError
from . import hookspecs
from .kinds import BY_NAME, COMMANDS_GROUP
from .registry import DISTRIBUTION, Entry, Registry, origin_text
from .trust import TRUST_ENV, _is_file_spec, _module_key, _module_path, check_trusted, trusting  # noqa: F401 - re-exported

__all__ = ["BrokenPlugin", "PluginInfo", "Plugins", "load_plugins", "load_stored_plugins", "check_trusted", "trusting",
           "ENTRY_POINT_GROUP", "TRUST_ENV", "disabled_from_env"]

ENTRY_POINT_GROUP = "tk"


def load_stored_plugins(recipe: dict[str, Any] | None, *, origin: str, parts: Any = None) -> "Plugins":
    """Plugins for a recipe stored in a file tk was given (``origin``, e.g. a checkpoint's path).

    Entry points load as always. Each ``[plugins] modules`` entry is imported only when trusted
    (`check_trusted`). Relative ``.py`` paths are never resolved against a folder the file names.
    ``parts``: the checkpoint's record of which plugin provided each part (`Plugins.expect`).
    """
    section = (recipe or {}).get("plugins") or {}
    modules = [str(m) for m in section.get("modules") or []]
    disable = [str(d) for d in section.get("disable") or []]
    plugins = load_plugins(modules, disable=disable, origin=origin)
    plugins.expect(parts)
    return plugins


@dataclass
class PluginInfo:
    """A loaded plugin: its name, where it came from, and what it registered per kind."""

    name: str
    dist: str = ""
    version: str = ""
    source: str = "entry point"
    registered: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class BrokenPlugin:
    """A plugin that could not be used, and why (one sentence)."""

    name: str
    dist: str
    version: str
    error: str

    def __post_init__(self) -> None:  # pluggy's validation errors span lines; a listing and an Error: line do not
        self.error = " ".join(self.error.split())


def disabled_from_env() -> set[str]:
    """Plugin names listed in ``TK_DISABLE_PLUGINS`` (comma-separated)."""
    raw = os.environ.get("TK_DISABLE_PLUGINS", "")
    return {part.strip() for part in raw.split(",") if part.strip()}


class Plugins:
    """A loaded set of plugins and the registries they filled."""

    def __init__(self, pm: pluggy.PluginManager):
        self.pm = pm
        self.registries: dict[str, Registry] = {kind: Registry(kind) for kind in hookspecs.REGISTRATION_HOOKS}
        self.info: dict[str, PluginInfo] = {}
        self.broken: list[BrokenPlugin] = []
        self.disabled: list[str] = []
        self._note_broken = False
        for reg in self.registries.values():  # an unknown name is then blamed on them (Registry.get)
            reg.broken = self.broken
            reg.disabled = self.disabled

    # -- registries ------------------------------------------------------------------------
    def registry(self, kind: str) -> Registry:
        """The registry of ``kind`` (``"backbones"``, ``"losses"`` …)."""
        try:
            return self.registries[kind]
        except KeyError:
            raise PluginError(f"Unknown plugin kind '{kind}'; kinds are: {', '.join(self.registries)}.") from None

    def entry(self, kind: str, name: str, where: str) -> Entry:
        """The entry for ``name`` in ``kind``, or a one-line error naming the recipe key ``where``."""
        return self.registry(kind).get(name, where)

    def clashes(self) -> dict[str, dict[str, list[str]]]:
        """Names two or more third-party plugins registered, by kind: name → the plugins' origins."""
        return {kind: {name: [e.origin for e in claims] for name, claims in sorted(reg.clashes.items())}
                for kind, reg in self.registries.items() if reg.clashes}

    def provenance(self) -> dict[str, dict[str, dict[str, str]]]:
        """Which plugin (and distribution, version) provided each part looked up so far, by kind and
        name: stored in a run's checkpoints, so that a machine without that plugin is told which."""
        return {kind: {name: {"plugin": e.plugin, "dist": e.dist, "version": e.version} for name, e in sorted(reg.used.items())}
                for kind, reg in self.registries.items() if reg.used}

    def changed_since(self, parts: Any) -> list[str]:
        """For a stored run's ``parts`` (`provenance`): one line per part looked up here whose plugin
        is another version (or another plugin) than the one the run was made with."""
        out: list[str] = []
        if not isinstance(parts, dict):
            return out
        for kind, reg in self.registries.items():
            stored = parts.get(kind)
            if not isinstance(stored, dict):
                continue
            for name, entry in sorted(reg.used.items()):
                was = stored.get(name)
                if not isinstance(was, dict):
                    continue
                then = (str(was.get("plugin", "")), str(was.get("dist", "")), str(was.get("version", "")))
                if then != (entry.plugin, entry.dist, entry.version):
                    out.append(f"{BY_NAME[kind].singular if kind in BY_NAME else kind} '{name}' was {origin_text(*then)} "
                               f"when the run was made; here it is {entry.origin}")
        return out

    def expect(self, parts: Any) -> None:
        """``parts``: a stored run's `provenance`; a name of it not found here is then an error that
        names the plugin the run was made with (instead of "did you mean")."""
        if not isinstance(parts, dict):
            return
        for kind, names in parts.items():
            reg = self.registries.get(str(kind))
            if reg is not None and isinstance(names, dict):
                reg.expected = {str(n): dict(v) for n, v in names.items() if isinstance(v, dict)}

    def create(self, kind: str, name: str, params: dict[str, Any] | None = None, *, where: str,
               context: dict[str, Any] | None = None) -> Any:
        """Build ``name`` of ``kind`` with recipe ``params`` and run ``context``."""
        self.note_broken()
        return self.entry(kind, name, where).create(dict(params or {}), dict(context or {}), where)

    def build(self, kind: str, name: str, params: dict[str, Any] | None = None, *, where: str,
              context: dict[str, Any] | None = None) -> Any:
        """`create`, then check the object is what a factory of ``kind`` must return; a run's parts
        are built with this, so a plugin returning the wrong type is named with its distribution."""
        from .blame import blamed_part

        self.note_broken()
        entry = self.entry(kind, name, where)
        made = entry.check_made(entry.create(dict(params or {}), dict(context or {}), where), where)
        return blamed_part(kind, made, name, where, entry.origin)  # a loss or op failing later names itself

    # -- events ----------------------------------------------------------------------------
    def emit(self, hook: str, **kwargs: Any) -> None:
        """Call an event hook on every plugin, naming the plugin if one raises.

        Calls run in pluggy's order (last registered first). A `TkError` raised by a plugin
        passes through unchanged (it is already a message for the user).

        Why not ``pm.hook.<name>(**kwargs)``: pluggy's call loop (``_multicall``) re-raises the
        first implementation's exception as it is, with nothing saying which plugin raised it,
        and a hook wrapper sees the exception only after the loop, equally unnamed. tk's promise
        is that every plugin failure names the plugin and its distribution, so this loop uses
        pluggy's own dispatch data (`HookCaller.get_hookimpls`: the order, each implementation's
        plugin name and argument names) and calls each implementation itself. tk's event hooks are
        neither ``firstresult`` nor ``historic`` (tests/core/test_hookspecs.py), so nothing of
        pluggy's semantics is lost; a hook wrapper on an event hook is refused, naming its plugin.
        """
        caller = getattr(self.pm.hook, hook)
        for impl in reversed(caller.get_hookimpls()):
            if impl.hookwrapper or getattr(impl, "wrapper", False):
                raise PluginError(f"Plugin '{impl.plugin_name}'{self._dist_suffix(impl.plugin_name)} wraps the event "
                                  f"hook {hook}; event hooks take plain implementations (drop wrapper=True).")
            args = {name: kwargs[name] for name in impl.argnames}
            try:
                impl.function(**args)
            except TkError:
                raise
            except Exception as exc:
                raise PluginError(
                    f"Plugin '{impl.plugin_name}'{self._dist_suffix(impl.plugin_name)} failed in {hook}: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc

    def add_run_plugin(self, obj: Any, name: str) -> None:
        """Register an object (a logger, a callback) for the events of one run."""
        try:
            self.pm.register(obj, name=name)
        except ValueError:  # already registered under that name
            return
        except pluggy.PluginValidationError as exc:
            raise PluginError(f"Logger '{name}' has an invalid hook: {exc}") from exc

    def _dist_suffix(self, plugin: str) -> str:
        info = self.info.get(plugin)
        if info and info.dist:
            return f" ({info.dist} {info.version})".rstrip()
        return ""

    # -- loading ---------------------------------------------------------------------------
    def _register_module(self, module: Any, info: PluginInfo) -> None:
        try:
            self.pm.register(module, name=info.name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            self.broken.append(BrokenPlugin(info.name, info.dist, info.version, f"invalid hook: {exc}"))
            return
        self.info[info.name] = info

    def _fill_registries(self) -> None:
        for kind, hook in hookspecs.REGISTRATION_HOOKS.items():
            caller = getattr(self.pm.hook, hook)
            for impl in caller.get_hookimpls():  # registration order: of two claims on a name, the first stands
                info = self.info.get(impl.plugin_name) or PluginInfo(impl.plugin_name)
                staged: list[Entry] = []

                def register(name: str, factory: Any, _staged=staged, _kind=kind, _info=info, **extra: Any) -> None:
                    _staged.append(Entry(_kind, name, factory, _info.name, _info.dist, _info.version, extra))

                try:
                    returned = impl.function(register=register)
                    if returned is not None:  # e.g. a dict of factories: nothing would be registered, silently
                        raise PluginError(f"{hook} returned {type(returned).__name__} instead of calling "
                                          f"register(name, factory) for each entry; nothing was registered")
                    for entry in staged:
                        self.registries[kind].add(entry)
                        info.registered.setdefault(kind, []).append(entry.name)
                except Exception as exc:  # a plugin's bug must not take down the others
                    message = str(exc) if isinstance(exc, TkError) else f"{type(exc).__name__} in {hook}: {exc}"
                    self._mark_broken(impl.plugin_name, message)

    def note_commands(self, own: frozenset[str] | set[str] = frozenset()) -> None:
        """Record the `tk` subcommands each plugin adds (``tk_register_commands``) in what it
        registered, for `tk plugins` (the only caller: a run has no use for them); the command
        line itself adds them to its group (`toolkit.cli.LazyGroup`). A name in ``own`` (tk's own
        commands, which win) is recorded as not added."""
        import click

        for impl in self.pm.hook.tk_register_commands.get_hookimpls():
            collector = click.Group()
            try:
                impl.function(cli=collector)
            except Exception as exc:
                self._mark_broken(impl.plugin_name, f"{type(exc).__name__} in tk_register_commands: {exc}")
                continue
            info = self.info.get(impl.plugin_name)
            if info is not None and collector.commands:
                info.registered["commands"] = sorted(name if name not in own else f"{name} (not added: tk has its own)"
                                                     for name in collector.commands)

    def _mark_broken(self, name: str, error: str) -> None:
        info = self.info.pop(name, None) or PluginInfo(name)
        for kind, names in info.registered.items():
            for entry_name in names:
                if kind in self.registries:
                    self.registries[kind]._entries.pop(entry_name, None)
        try:
            self.pm.unregister(name=name)
        except ValueError:
            pass
        self.broken.append(BrokenPlugin(name, info.dist, info.version, error))

    def raise_if_broken(self, *, strict: bool = False) -> None:
        """For a command about to use these plugins (a run, `tk recipes check`).

        A broken plugin registered nothing, so it stops only what names one of its parts: such a
        name is unknown, and `Registry.get` says which plugin is broken instead of "did you mean".
        Everything else goes on, with one ``Note:`` line on stderr (`note_broken`) naming the
        broken plugins, printed when the first part is built or the command says it is done —
        never before an ``Error:`` line. ``strict``: raise for any broken plugin (tests, tools).
        """
        if not self.broken:
            return
        if strict:
            b = self.broken[0]
            where = f" ({b.dist} {b.version})" if b.dist else ""
            more = f" (and {len(self.broken) - 1} more; see `tk plugins`)" if len(self.broken) > 1 else ""
            raise PluginError(
                f"Plugin '{b.name}'{where} is broken: {b.error}{more}. "
                f"Fix or uninstall it, or switch it off with TK_DISABLE_PLUGINS={b.name}."
            )
        self._note_broken = True

    def note_broken(self) -> None:
        """Print the ``Note:`` line `raise_if_broken` promised (once per process for the same plugins)."""
        if not self._note_broken or not self.broken:
            return
        self._note_broken = False
        key = tuple(sorted((b.name, b.error) for b in self.broken))
        if key in _NOTED:
            return
        _NOTED.add(key)
        import click

        names = ", ".join(f"'{b.name}'" + (f" ({f'{b.dist} {b.version}'.strip()})" if b.dist else "")
                          for b in self.broken)
        many = len(self.broken) > 1
        why = "" if many else f" ({self.broken[0].error.rstrip('.')})"
        click.echo(f"Note: plugin{'s' if many else ''} {names} {'are' if many else 'is'} broken and "
                   f"{'were' if many else 'was'} left out{why}; nothing this command uses comes from "
                   f"{'them' if many else 'it'}. `tk plugins` lists {'them' if many else 'it'}; "
                   f"TK_DISABLE_PLUGINS={','.join(b.name for b in self.broken)} silences this.", err=True)


_NOTED: set[tuple[tuple[str, str], ...]] = set()


def _entry_points() -> Iterable[metadata.EntryPoint]:
    return metadata.entry_points(group=ENTRY_POINT_GROUP)


def _dist_name(ep: metadata.EntryPoint) -> str:
    return ep.dist.name if ep.dist else ""


def _load_recipe_module(spec: str, base_dir: Path | None) -> Any:
    """Import ``spec``: a path to a ``.py`` file (relative to the recipe) or a dotted module."""
    if _is_file_spec(spec):
        path = _module_path(spec, base_dir)
        if not path.is_file():
            raise PluginError(f"plugins.modules: no such file '{path}'.")
        mod_name = f"tk_recipe_plugin_{path.stem}"
        module_spec = importlib.util.spec_from_file_location(mod_name, path)
        assert module_spec and module_spec.loader
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[mod_name] = module
        module_spec.loader.exec_module(module)
        return module
    return importlib.import_module(spec)


def load_plugins(
    modules: Iterable[str] = (),
    *,
    base_dir: Path | None = None,
    disable: Iterable[str] = (),
    extra: Iterable[tuple[str, Any]] = (),
    entry_points: bool = True,
    origin: str | None = None,
) -> Plugins:
    """A fresh `Plugins`: entry points, then ``modules`` (recipe ``[plugins] modules``), then
    ``extra`` (``(name, plugin object)`` pairs, used by tests), less the disabled names.

    ``disable`` adds to the names in ``TK_DISABLE_PLUGINS``. ``origin`` names the file the modules
    were read from when it is not the user's own recipe (a checkpoint, a run folder, a study):
    each module must then be trusted (`check_trusted`), checked as the very file it will import.
    """
    if origin is not None:
        check_trusted(modules, origin=origin, base_dir=base_dir)
    pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
    pm.add_hookspecs(hookspecs)
    plugins = Plugins(pm)
    disabled = disabled_from_env() | set(disable)

    if entry_points:
        # tk's own plugins register first: a third party that claims one of their names is the one
        # marked broken, instead of knocking out tk's plugin and everything it registered.
        known: set[str] = set()
        for ep in sorted(_entry_points(), key=lambda e: (_dist_name(e) != DISTRIBUTION, e.name)):
            dist = ep.dist.name if ep.dist else ""
            version = ep.dist.version if ep.dist else ""
            known.update({ep.name, dist})
            if ep.name in disabled or (dist and dist in disabled and dist != DISTRIBUTION):  # its package's name works too
                plugins.disabled.append(ep.name)
                continue
            try:
                module = ep.load()
            except Exception as exc:
                plugins.broken.append(BrokenPlugin(ep.name, dist, version, f"failed to import: {type(exc).__name__}: {exc}"))
                continue
            plugins._register_module(module, PluginInfo(ep.name, dist, version, "entry point"))

    for spec in modules:
        name = Path(spec).stem if spec.endswith(".py") else spec
        if name in disabled:
            plugins.disabled.append(name)
            continue
        try:
            module = _load_recipe_module(spec, base_dir)
        except PluginError:
            raise
        except Exception as exc:
            raise PluginError(f"plugins.modules: '{spec}' failed to import: {type(exc).__name__}: {exc}") from exc
        plugins._register_module(module, PluginInfo(name, "", "", "recipe"))

    for name, obj in extra:
        if name not in disabled:
            plugins._register_module(obj, PluginInfo(name, "", "", "extra"))

    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        plugin_name = pm.get_name(exc.plugin) or "?"
        plugins._mark_broken(plugin_name, f"implements a hook that does not exist ({exc}); hook names start with tk_")

    plugins._fill_registries()
    if entry_points and disabled:  # a name switched off that nothing here is called: said (only then looked up)
        known.update(Path(m).stem if m.endswith(".py") else m for m in modules)
        known.update(name for name, _ in extra)
        known.update(_declared_command_dists())
        _note_unknown_disabled(disabled - known, sorted(n for n in known if n))
    return plugins


def _declared_command_dists() -> set[str]:
    """Distributions that declare commands in ``tk.commands`` (switched off by their name)."""
    return {ep.dist.name for ep in metadata.entry_points(group=COMMANDS_GROUP) if ep.dist}


def _note_unknown_disabled(unknown: set[str], known: list[str]) -> None:
    """One ``Note:`` line (once per process) for names switched off that no plugin here has: a
    misspelt name switches nothing off, silently."""
    if not unknown or tuple(sorted(unknown)) in _NOTED_OFF:
        return
    _NOTED_OFF.add(tuple(sorted(unknown)))
    import difflib

    import click

    close = sorted({m for name in unknown for m in difflib.get_close_matches(name, known, n=1, cutoff=0.6)})
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    names = ", ".join(f"'{n}'" for n in sorted(unknown))
    click.echo(f"Note: TK_DISABLE_PLUGINS or [plugins] disable names {names}, which no plugin here is called: "
               f"nothing was switched off for {'them' if len(unknown) > 1 else 'it'}.{hint} `tk plugins` lists the "
               f"names.", err=True)


_NOTED_OFF: set[tuple[str, ...]] = set()

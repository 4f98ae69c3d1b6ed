"""Named factories per kind, with provenance, "did you mean" errors and checked parameters.

The core never imports a concrete backbone, loss or exporter: it asks a `Registry` for a name
from the recipe. Each `Entry` remembers which plugin (and which distribution and version)
registered it, so two plugins claiming one name is an error that names both, and `tk plugins`
can say where everything comes from. A factory's signature is its parameter list: recipe keys
are checked against it before any work starts.
"""

from __future__ import annotations

import difflib
import fnmatch
import inspect
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from ..core.errors import PluginError, RecipeError, TkError
from .hookspecs import CONTEXT
from .kinds import BY_NAME

__all__ = ["DISTRIBUTION", "Entry", "Param", "Registry", "origin_text", "singular", "unavailable"]


def _finite(value: Any) -> bool:
    """False for NaN or an infinity, also inside lists and tables (TOML can spell both)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, (list, tuple)):
        return all(_finite(v) for v in value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    return True


DISTRIBUTION = "tk-train"
"""tk's own distribution name on the package index (``pip install tk-train``)."""


def _own(entry: Entry) -> bool:
    """An entry of tk's own distribution (a third party claiming its name is the one refused)."""
    return entry.dist == DISTRIBUTION


def origin_text(plugin: str, dist: str = "", version: str = "") -> str:
    """``plugin 'x' (dist version)``: how messages name where a part comes (or came) from."""
    where = f"{dist} {version}".strip()
    return f"plugin '{plugin}'" + (f" ({where})" if where else "")


def unavailable(made_with: dict[str, Any], disabled: list[str]) -> str:
    """``, which is not installed here: pip install 'dist==version'.`` (or switched off, or a recipe's
    module not loaded): the end of a message naming a stored run's or an export's maker
    (`origin_text`) that this machine lacks, and how to get it."""
    plugin, dist, version = (str(made_with.get(k) or "") for k in ("plugin", "dist", "version"))
    if plugin in disabled:
        return ", which is switched off here (TK_DISABLE_PLUGINS or [plugins] disable)."
    if dist:
        return f", which is not installed here: pip install '{dist}{f'=={version}' if version else ''}'."
    return " (a plugin module of its recipe, not a package), which is not loaded here."


_SIMPLE = {"float": float, "int": int, "bool": bool, "str": str, "None": type(None)}


def _simple_types(annotation: str) -> tuple[type, ...] | None:
    """The types a parameter annotated with only ``float``, ``int``, ``bool``, ``str`` and ``None``
    (``float | None``, ``Optional[int]``) accepts; None for any other annotation (not checked)."""
    text = annotation.strip()
    if text.startswith("Optional[") and text.endswith("]"):
        text = text[len("Optional["):-1] + " | None"
    parts = [part.strip() for part in text.split("|")] if text else []
    if not parts or not all(part in _SIMPLE for part in parts):
        return None
    return tuple(_SIMPLE[part] for part in parts)


def _is(value: Any, wanted: type) -> bool:
    """``value`` fits a parameter of type ``wanted``: an int is a float too, a bool is no number."""
    if wanted is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if wanted is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, wanted)


def _hook(kind: str) -> str:
    """The registration hook of ``kind`` (``tk_register_losses``), for messages."""
    known = BY_NAME.get(kind)
    return known.hook if known else f"tk_register_{kind}"


def singular(kind: str) -> str:
    """``"losses"`` → ``"loss"``, for messages."""
    known = BY_NAME.get(kind)
    return known.singular if known else kind.rstrip("s")


@dataclass(frozen=True)
class Param:
    """One recipe parameter of a factory, read from its signature."""

    name: str
    default: Any = inspect.Parameter.empty
    annotation: str = ""

    @property
    def required(self) -> bool:
        return self.default is inspect.Parameter.empty

    def describe(self) -> str:
        text = self.name
        if self.annotation:
            text += f": {self.annotation}"
        return text + ("" if self.required else f" = {self.default!r}")


@dataclass
class Entry:
    """A named factory and where it came from."""

    kind: str
    name: str
    factory: Callable[..., Any]
    plugin: str
    dist: str = ""
    version: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def description(self) -> str:
        text = self.info.get("description")
        if text:
            return str(text)
        doc = inspect.getdoc(self.factory) or ""
        return doc.strip().splitlines()[0] if doc.strip() else ""

    @property
    def origin(self) -> str:
        """``plugin (dist version)`` for messages."""
        return origin_text(self.plugin, self.dist, self.version)

    def _signature(self) -> inspect.Signature:
        try:
            return inspect.signature(self.factory)
        except (TypeError, ValueError):  # builtins without a signature accept anything
            return inspect.Signature([inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD)])

    def params(self) -> list[Param]:
        """Recipe parameters: the signature less the run context of this kind."""
        context = set(CONTEXT.get(self.kind, ()))
        out = []
        for p in self._signature().parameters.values():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name in context:
                continue
            ann = p.annotation
            ann_text = "" if ann is p.empty else (ann if isinstance(ann, str) else getattr(ann, "__name__", str(ann)))
            out.append(Param(p.name, p.default, str(ann_text)))
        return out

    def accepts_any(self) -> bool:
        return any(p.kind is p.VAR_KEYWORD for p in self._signature().parameters.values())

    def check_params(self, params: dict[str, Any], where: str, *, build: bool = True, own: list[str] | None = None) -> None:
        """Raise `RecipeError` for keys the factory does not take, required ones missing, and values
        the factory's own checks refuse (`_run_check`).

        ``where`` is the recipe table, e.g. ``"loss"`` or ``"augment.ops[1]"``. ``build=False``:
        never call the factory itself to check (`create` is about to call it anyway).
        """
        accepted = {p.name: p for p in self.params()}
        context = set(CONTEXT.get(self.kind, ()))
        for key in params:
            if key in context:
                raise RecipeError(
                    f"{where}.{key}: '{key}' is supplied by the run to {singular(self.kind)} "
                    f"'{self.name}' and cannot be set in the recipe."
                )
            if key not in accepted and not self.accepts_any():
                # ``own``: the table's own keys (``[data] image_size``), beside the plugin's parameters
                close = difflib.get_close_matches(key, [*accepted, *(own or [])], n=1)
                hint = f" Did you mean '{close[0]}'?" if close else ""
                mention_own = own and (not accepted or (close and close[0] not in accepted))
                allowed = (f"Its parameters: {', '.join(accepted) or 'none'}; the [{where}] table's own keys: "
                           f"{', '.join(own)}." if mention_own else f"Accepted: {', '.join(accepted) or 'none'}.")
                raise RecipeError(
                    f"{where}.{key}: {singular(self.kind)} '{self.name}' has no parameter '{key}'.{hint} {allowed}"
                )
        for p in accepted.values():
            if p.required and p.name not in params:
                raise RecipeError(f"{where}.{p.name}: {singular(self.kind)} '{self.name}' needs '{p.name}'.")
        for key, value in params.items():
            if not _finite(value):
                raise RecipeError(f"{where}.{key}: must be a finite number, not {value!r}.")
            wanted = _simple_types(accepted[key].annotation) if key in accepted else None
            if wanted is not None and not any(_is(value, t) for t in wanted):
                raise RecipeError(f"{where}.{key}: {singular(self.kind)} '{self.name}' takes {accepted[key].annotation} "
                                  f"for '{key}', not {value!r}.")
        self._run_check(params, accepted, where, build=build)

    def _run_check(self, params: dict[str, Any], accepted: dict[str, Param], where: str, *, build: bool = True) -> None:
        """The factory's own value checks, so that `tk recipes check` and `tk run` (before it reads
        data) refuse what the factory would refuse when the run builds it.

        A ``check=`` registered with the entry (see `toolkit.plugin.hookspecs`) is called with the
        recipe's values over the factory's defaults. Without one, a factory of a kind that is cheap
        to build (`toolkit.plugin.kinds.PluginKind.built_to_check`: losses, augmentations, samplers,
        callbacks) that takes nothing from the run is itself the check: it is called with exactly
        the arguments the run will give it, and what it raises is what the run would raise. A
        factory that needs run context (class counts, labels) cannot be built before the data is
        read; register a ``check=`` for it.
        """
        check = self.info.get("check")
        if check is None:
            if build and self._builds_to_check():
                self.check_made(self._call_factory(dict(params), {}, where), where)
            return
        values = {p.name: p.default for p in accepted.values() if not p.required}
        values.update(params)
        try:
            wanted = inspect.signature(check).parameters
            if not any(q.kind is q.VAR_KEYWORD for q in wanted.values()):
                values = {k: v for k, v in values.items() if k in wanted}
        except (TypeError, ValueError):
            pass
        try:
            check(**values)
        except TkError:
            raise
        except Exception as exc:  # check= refuses a value with RecipeError: anything else is the plugin's own bug
            raise PluginError(
                f"{where}: {singular(self.kind)} '{self.name}' ({self.origin}) failed in its check= "
                f"(registered in {_hook(self.kind)}): {type(exc).__name__}: {exc}. That is a bug in the plugin, "
                f"not a mistake in the recipe (check= must raise RecipeError for a value it refuses)."
            ) from exc

    def _builds_to_check(self) -> bool:
        """Whether the factory is called to check its parameters (see `_run_check`)."""
        known = BY_NAME.get(self.kind)
        if known is None or not known.built_to_check:
            return False
        needs = set(known.context) - {"name"}
        return not any(p.name in needs for p in self._signature().parameters.values())

    def create(self, params: dict[str, Any], context: dict[str, Any], where: str) -> Any:
        """Call the factory with recipe ``params`` and the ``context`` values it declares."""
        self.check_params(params, where, build=False)
        return self._call_factory(params, context, where)

    def _call_factory(self, params: dict[str, Any], context: dict[str, Any], where: str) -> Any:
        sig = self._signature().parameters
        kwargs = dict(params)
        for key, value in context.items():
            if key in sig or (self.accepts_any() and key == "name"):
                kwargs[key] = value
        if "name" in sig and "name" not in kwargs:
            kwargs["name"] = self.name
        try:
            return self.factory(**kwargs)
        except (RecipeError, PluginError):
            raise
        except (TypeError, ValueError) as exc:
            if self.dist in ("", DISTRIBUTION):  # tk's own parts (and tests'): the message is the value's
                raise RecipeError(f"{where}: {singular(self.kind)} '{self.name}' rejected its parameters: {exc}") from exc
            # a third party's: the value, or a bug in its factory — either way the user learns whose
            raise RecipeError(f"{where}: {singular(self.kind)} '{self.name}' ({self.origin}) rejected its parameters: "
                              f"{type(exc).__name__}: {exc}") from exc

    def check_made(self, made: Any, where: str) -> Any:
        """``made`` if it is what a factory of this kind must return (toolkit.plugin.hookspecs), else a
        `PluginError` blaming this entry's plugin and distribution.

        Checked where a run builds its parts, so a wrong type is a one-line error naming who
        is at fault instead of an AttributeError deep in the training loop.
        """
        wanted = _unlike(self.kind, made)
        if wanted:
            raise PluginError(f"{where}: {self.origin} returned {type(made).__name__} for {singular(self.kind)} "
                              f"'{self.name}' (the factory it registered in {_hook(self.kind)}), not {wanted} "
                              f"(see toolkit.plugin.hookspecs); the plugin is broken.")
        return made


def _unlike(kind: str, made: Any) -> str | None:
    """What a factory of ``kind`` must return (`toolkit.plugin.kinds`), when ``made`` is not that; else None."""
    known = BY_NAME.get(kind)
    if known is None or known.made_ok(made):
        return None
    return known.returns


class Registry:
    """The entries of one kind (``"losses"``, ``"backbones"`` …), by name."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Entry] = {}
        self.broken: list[Any] = []
        self.disabled: list[str] = []  # plugins switched off here (TK_DISABLE_PLUGINS, [plugins] disable)
        """Plugins that could not be loaded (`toolkit.plugin.manager.BrokenPlugin`), shared by every kind's
        registry: any of them might have provided a name that is not here."""
        #: names looked up (and found), by name: which plugin gave the run each part (`Plugins.provenance`)
        self.used: dict[str, Entry] = {}
        #: where a stored run's parts came from when it was made (`Plugins.expect`): named when missing here
        self.expected: dict[str, dict[str, str]] = {}
        #: names two third-party plugins both registered: neither is used until one is switched off
        self.clashes: dict[str, list[Entry]] = {}

    def add(self, entry: Entry) -> None:
        if not isinstance(entry.name, str) or not entry.name:
            raise PluginError(f"{entry.origin} registered a {singular(self.kind)} with an invalid name {entry.name!r}.")
        if not callable(entry.factory):
            raise PluginError(
                f"{entry.origin} registered {singular(self.kind)} '{entry.name}' with a factory that is not callable "
                f"({type(entry.factory).__name__})."
            )
        if entry.name in self.clashes:
            self.clashes[entry.name].append(entry)
            return
        old = self._entries.get(entry.name)
        if old is not None and not _own(old) and not _own(entry):
            # two third parties claim one name: the name is theirs to settle (switch one off), but
            # neither plugin loses its other parts — whichever loaded first would otherwise win
            self.clashes[entry.name] = [self._entries.pop(entry.name), entry]
            return
        if old is not None:
            raise PluginError(
                f"{singular(self.kind).capitalize()} '{entry.name}' is registered twice: by {old.origin} and by "
                f"{entry.origin}. Disable one with TK_DISABLE_PLUGINS."
            )
        self._entries[entry.name] = entry

    def __contains__(self, name: str) -> bool:
        return self.find(name) is not None

    def __iter__(self) -> Iterator[Entry]:
        return iter(sorted(self._entries.values(), key=lambda e: e.name))

    def __len__(self) -> int:
        return len(self._entries)

    def names(self, pattern: str = "*") -> list[str]:
        """Registered names matching a shell-style wildcard."""
        return sorted(n for n in self._entries if fnmatch.fnmatchcase(n, pattern))

    def find(self, name: str) -> Entry | None:
        """The entry for ``name``: an exact name, else the first entry whose ``resolve`` accepts it."""
        entry = self._entries.get(name)
        if entry is not None:
            return entry
        for candidate in self:
            resolve = candidate.info.get("resolve")
            if resolve is not None and resolve(name):
                return candidate
        return None

    def get(self, name: str, where: str) -> Entry:
        """The entry for ``name`` or a one-line `RecipeError` with close matches."""
        entry = self.find(name)
        if entry is not None:
            self.used[name] = entry
            return entry
        claims = self.clashes.get(name)
        if claims:
            off = " or ".join(f"TK_DISABLE_PLUGINS={e.plugin}" for e in claims)
            raise RecipeError(f"{where}: {singular(self.kind)} '{name}' is registered by {len(claims)} plugins: "
                              f"{', '.join(e.origin for e in claims)}; tk uses neither until one is switched off "
                              f"({off}, or [plugins] disable in the recipe).")
        made_with = self.expected.get(name)
        if made_with:  # a stored run's part whose plugin is not here: say which and how to get it
            made = origin_text(*(str(made_with.get(k) or "") for k in ("plugin", "dist", "version")))
            raise RecipeError(f"{where}: unknown {singular(self.kind)} '{name}': the run was made with it from "
                              f"{made}{unavailable(made_with, self.disabled)}")
        if self.broken:  # a broken plugin registered nothing: the name may well be one of its own
            raise RecipeError(f"{where}: unknown {singular(self.kind)} '{name}', and {_blame(self.broken)}")
        pool = list(self._entries)
        for candidate in self:
            suggest = candidate.info.get("suggest")
            if suggest is not None:
                pool.extend(suggest(name))
        close = difflib.get_close_matches(name, pool, n=3, cutoff=0.6)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        if self.disabled:  # a plugin switched off may be the one that provides it: say which are off
            names = ", ".join(f"'{d}'" for d in sorted(set(self.disabled)))
            hint += (f" Switched off here (TK_DISABLE_PLUGINS or [plugins] disable): plugin{'s' if len(set(self.disabled)) > 1 else ''} "
                     f"{names}, which might provide it.")
        raise RecipeError(
            f"{where}: unknown {singular(self.kind)} '{name}'.{hint} "
            f"See them all with `tk plugins --kind {self.kind}`."
        )


def _blame(broken: list[Any]) -> str:
    """The end of an "unknown name" message when plugins are broken: each one named with its
    distribution and error, and how to get past it."""

    def named(b: Any) -> str:
        return f"'{b.name}'" + (f" ({f'{b.dist} {b.version}'.strip()})" if b.dist else "")

    off = f"TK_DISABLE_PLUGINS={','.join(b.name for b in broken)}"
    if len(broken) == 1:
        return (f"plugin {named(broken[0])}, which might provide it, is broken: {broken[0].error.rstrip('.')}. "
                f"Fix or uninstall it, or switch it off with {off}.")
    return (f"{len(broken)} plugins that might provide it are broken: "
            + "; ".join(f"{named(b)}: {b.error.rstrip('.')}" for b in broken)
            + f". Fix or uninstall them, or switch them off with {off}.")

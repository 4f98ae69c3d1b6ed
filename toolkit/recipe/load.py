"""TOML recipe → validated, resolved recipe.

`load_recipe(path, overrides)` reads the file with `tomllib`, applies ``--set section.key=value``
overrides (values parsed as TOML, so ``3`` is an int and ``[1, 2]`` a list), fills defaults, and
checks every core key's type and range. `Recipe.validate(plugins)` then checks the plugin
names and parameters against the registries. Every mistake is one `RecipeError` line that
starts with ``FILE:LINE:`` (or ``--set:``), names the key and says what is allowed, so a typo
fails in well under a second, before any data is read or any model is built.
"""

from __future__ import annotations

import copy
import difflib
import re
import tomllib
from pathlib import Path
from typing import Any, Iterable

from ..core.errors import RecipeError
from .schema import SCHEMA, check_cross as _check_cross, check_value as _check_value, compile_group_pattern
from .toml_text import dumps_toml, locate as _locate, parse_override, toml_value as _toml_value, tomlable as _tomlable

__all__ = ["Recipe", "load_recipe", "find_recipe", "parse_override", "dumps_toml", "compile_group_pattern", "RECIPE_DIRS"]

RECIPE_DIRS = (Path("recipes"), Path(__file__).resolve().parents[2] / "recipes")
"""Where a bare recipe name (``tk run quickstart``) is looked up: ./recipes, then tk's own."""


def find_recipe(arg: str | Path) -> Path:
    """A recipe path from a file path or a bare name such as ``quickstart``."""
    path = Path(arg)
    if path.is_file():
        return path
    if path.suffix == "" and len(path.parts) == 1:
        for folder in RECIPE_DIRS:
            candidate = folder / f"{path.name}.toml"
            if candidate.is_file():
                return candidate
    if path.is_dir():
        raise RecipeError(f"{path}: is a folder, not a recipe file.")
    known = sorted({p.stem for d in RECIPE_DIRS if d.is_dir() for p in d.glob("*.toml")})
    hint = f" Bundled recipes: {', '.join(known)}." if known else ""
    raise RecipeError(f"{path}: no such recipe file.{hint}")


class Recipe:
    """A recipe: sections of keys, with defaults filled in, and where each key was written."""

    def __init__(self, sections: dict[str, dict[str, Any]], *, path: Path | None = None, text: str = "",
                 overridden: Iterable[tuple[str, str]] = ()):
        self.sections = sections
        self.path = path
        self._text = text
        self._overridden = set(overridden)

    # -- access ----------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The recipe's name: its file stem, except for the resolved ``recipe.toml`` inside a run
        folder (``runs/quickstart/3/recipe.toml``), which is named after its run
        (``quickstart``), so that repeating a run (`tk run runs/x/3/recipe.toml`) lands beside it."""
        if self.path is None:
            return "recipe"
        folder = self.path.parent
        if (self.path.name == "recipe.toml" and folder.name.isdigit() and folder.parent.name
                and any((folder / marker).exists() for marker in ("split.json", "last.pt", "best.pt"))):
            return folder.parent.name
        return self.path.stem

    @property
    def base_dir(self) -> Path:
        """The recipe file's folder (the working directory for a recipe without a file)."""
        return self.path.parent if self.path else Path.cwd()

    def base_for(self, section: str, key: str) -> Path:
        """The folder a relative path in ``section.key`` is relative to — the one rule for every path
        a recipe names (data.root, data.unknown_root, data.cache_dir, plugins.modules, and plugin
        parameters registered as ``paths``: model.pretrained_path, loss.teacher …): the working
        directory when the value was given with ``--set`` (a path typed on the command line means
        what the shell means), else the recipe file's folder (a recipe works from anywhere).
        ``train.out`` and ``export.out`` name where output goes and stay relative to the working
        directory."""
        if (section, key) in self._overridden or self.path is None:
            return Path.cwd()
        return self.path.parent

    def path_of(self, section: str, key: str, value: Any = None) -> Path | None:
        """``section.key`` as a path by the rule of `base_for` (``value``: one item of it, e.g. a
        ``plugins.modules`` entry); None when it is unset or empty."""
        value = self.get(f"{section}.{key}") if value is None else value
        if value is None or value == "":
            return None
        found = Path(str(value)).expanduser()
        return found if found.is_absolute() else self.base_for(section, key) / found

    def __getitem__(self, section: str) -> dict[str, Any]:
        return self.sections[section]

    def get(self, dotted: str, default: Any = None) -> Any:
        section, _, key = dotted.partition(".")
        return self.sections.get(section, {}).get(key, default)

    def plugin_params(self, section: str, plugins: Any = None) -> dict[str, Any]:
        """The keys of a plugin-selecting section that go to the plugin's factory.

        Given ``plugins``, the parameters the entry registered as ``paths`` are resolved by the
        rule of `base_for` (`plugin_path`), so the factory gets a path that works from here."""
        core = SCHEMA[section].keys
        params = {k: v for k, v in self.sections[section].items() if k not in core}
        spec = SCHEMA[section]
        entry = plugins.registry(spec.kind).find(self.sections[section][spec.plugin]) if plugins and spec.plugin else None
        for key in (entry.info.get("paths") or ()) if entry is not None else ():
            if isinstance(params.get(key), str) and params[key]:
                params[key] = self.plugin_path(section, key, params[key])
        return params

    def plugin_path(self, section: str, key: str, value: str) -> str:
        """A plugin's path parameter resolved by the rule of `base_for`. A relative value is taken as
        a path when it has a folder part (``runs/x/1/best.pt``), starts with ``~``, or names a file
        or folder that exists there; otherwise it is passed on as written (``loss.teacher`` may also
        be a model name such as ``resnet50``)."""
        given = Path(value).expanduser()
        if given.is_absolute():
            return str(given)
        there = self.base_for(section, key) / given
        if len(given.parts) > 1 or value.startswith("~") or there.exists():
            return str(there)
        return value

    def resolve_path(self, value: str | None) -> Path | None:
        """A path written in the recipe file, relative to its folder (prefer `path_of`, which also
        knows ``--set``)."""
        if value is None:
            return None
        path = Path(value).expanduser()
        return path if path.is_absolute() else (self.base_dir / path)

    # -- messages --------------------------------------------------------------------------
    def override_args(self) -> list[str]:
        """The ``--set SECTION.KEY=VALUE`` arguments this recipe was loaded with, as a command line
        repeats them (a suggested ``--resume`` command must load the same recipe)."""
        args = []
        for section, key in sorted(self._overridden):
            value = self.sections.get(section, {}).get(key)
            if value is not None:
                args += ["--set", f"{section}.{key}={_toml_value(value)}"]
        return args

    def where(self, section: str, key: str | None = None) -> str:
        """``file:line: `` (or ``--set: ``) for messages about ``section.key``."""
        if key is not None and (section, key) in self._overridden:
            return "--set: "
        if self.path is None:
            return ""
        line = _locate(self._text, section, key)
        return f"{self.path}:{line}: " if line else f"{self.path}: "

    def locate(self, message: str) -> str:
        """``message`` with ``FILE:LINE:`` in front when it starts with a recipe key and says no place yet.

        Plugins and the engine word errors about a key (``model.drop_rate: must be ...``,
        ``data.root: dataset folder ... does not exist``) without knowing which file it came
        from; the commands that hold the recipe call this so every such line names the file too.
        """
        if self.path is None or message.startswith((str(self.path), "--set")):
            return message
        found = re.match(r"([A-Za-z_]+)\.([A-Za-z0-9_]+)", message)
        if not found or found.group(1) not in SCHEMA:
            return message
        return f"{self.where(found.group(1), found.group(2))}{message}"

    def error(self, section: str, key: str | None, message: str) -> RecipeError:
        dotted = f"{section}.{key}" if key else section
        return RecipeError(f"{self.where(section, key)}{dotted}: {message}")

    # -- validation against plugins --------------------------------------------------------
    def validate(self, plugins: Any, *, before_model: Any = None) -> None:
        """Check plugin names and parameters against the loaded registries.

        The backbone is checked last: resolving an arbitrary model name may import a model
        library (timm imports torch, seconds), and a typo elsewhere should fail at once.
        ``before_model``: a callable run just before that (a run checks its data folder there).
        """
        plugin_sections = [s for s, spec in SCHEMA.items() if spec.plugin is not None]
        for section in plugin_sections:
            if section != "model":
                self._validate_section(section, plugins)
        for i, op in enumerate(self.sections["augment"]["ops"]):
            where = f"augment.ops[{i}]"
            entry = self._wrap("augment", "ops", lambda: plugins.entry("augmentations", op["name"], f"{where}.name"))
            params = {k: v for k, v in op.items() if k != "name"}
            self._wrap("augment", "ops", lambda: entry.check_params(params, where))
        listed: dict[str, int] = {}
        for i, cb in enumerate(self.sections["train"]["callbacks"]):
            where = f"train.callbacks[{i}]"
            entry = self._wrap("train", "callbacks", lambda: plugins.entry("callbacks", cb["name"], f"{where}.name"))
            if entry.info.get("builtin"):
                extra = sorted(set(cb) - {"name", "before", "after", "enabled"})
                if extra:
                    raise RecipeError(f"{self.where('train', 'callbacks')}{where}.{extra[0]}: '{cb['name']}' is built "
                                      f"in and set by [train] keys (e.g. train.ema_decay, train.patience); list it "
                                      f"only to place it (before/after) or switch it off (enabled = false).")
                if cb.get("enabled", True) is not True and (cb.get("enabled") is not False or entry.info.get("required")):
                    raise RecipeError(f"{self.where('train', 'callbacks')}{where}.enabled: " + (
                        f"'{cb['name']}' cannot be switched off: it writes the checkpoint that evaluation, export "
                        f"and --resume read; place your callback after it instead." if entry.info.get("required")
                        else "must be true or false."))
            if cb["name"] in listed and not entry.info.get("repeatable"):
                raise RecipeError(f"{self.where('train', 'callbacks')}{where}.name: '{cb['name']}' is listed twice "
                                  f"(also as train.callbacks[{listed[cb['name']]}]); two copies would write over each "
                                  f"other's state and metrics, so list it once.")
            listed.setdefault(cb["name"], i)
            for how in ("before", "after"):  # placement, not the factory's: checked here, applied by the engine
                target = cb.get(how)
                if target is None:
                    continue
                if not isinstance(target, str) or plugins.registry("callbacks").find(target) is None:
                    raise RecipeError(f"{self.where('train', 'callbacks')}{where}.{how}: {target!r} is not a callback "
                                      f"name (tk's own: {', '.join(_builtin_callbacks(plugins))}).")
                if cb.get("after" if how == "before" else "before") is not None:
                    raise RecipeError(f"{self.where('train', 'callbacks')}{where}: give 'before' or 'after', not both.")
            if entry.info.get("builtin"):
                continue  # its parameters come from [train] keys
            params = {k: v for k, v in cb.items() if k not in ("name", "before", "after")}
            self._wrap("train", "callbacks", lambda: entry.check_params(params, where))
        for name in self.sections["train"]["loggers"]:
            self._wrap("train", "loggers", lambda: plugins.entry("loggers", name, "train.loggers"))
        for name in self.sections["export"]["formats"]:
            self._wrap("export", "formats", lambda: plugins.entry("exporters", name, "export.formats"))
        for name, table in self.sections["export"].items():
            if isinstance(table, dict):  # [export.onnx] opset = 18: the exporter's factory parameters
                entry = self._wrap("export", name, lambda: plugins.entry("exporters", name, f"export.{name}"))
                self._wrap("export", name, lambda: entry.check_params(table, f"export.{name}"))
        if before_model is not None:
            before_model()
        self._validate_section("model", plugins)

    def _validate_section(self, section: str, plugins: Any) -> None:
        spec = SCHEMA[section]
        name = self.sections[section][spec.plugin]
        entry = self._wrap(section, spec.plugin, lambda: plugins.entry(spec.kind, name, f"{section}.{spec.plugin}"))
        params = self.plugin_params(section, plugins)
        first_key = next(iter(params), spec.plugin)
        self._wrap(section, first_key, lambda: entry.check_params(params, section, own=list(spec.keys)))

    def _wrap(self, section: str, key: str, check: Any) -> Any:
        """``check()``, its `RecipeError` placed at the key it names (``loss.epsilom: ...`` given with
        ``--set`` is a ``--set:`` line) or else at ``section.key``."""
        try:
            return check()
        except RecipeError as exc:
            named = re.match(rf"{re.escape(section)}\.([A-Za-z0-9_]+)", str(exc))
            if named and (section, named.group(1)) in self._overridden:
                key = named.group(1)
            elif named and _locate(self._text, section, named.group(1)) != _locate(self._text, section, None):
                key = named.group(1)  # written in the file: its own line
            raise RecipeError(f"{self.where(section, key)}{exc}") from None

    def resolved(self, plugins: Any | None = None) -> dict[str, dict[str, Any]]:
        """Every value the run will use: core defaults and, given ``plugins``, factory defaults."""
        out = copy.deepcopy(self.sections)
        if plugins is None:
            return out
        for section, spec in SCHEMA.items():
            if spec.plugin is None:
                continue
            entry = plugins.registry(spec.kind).find(out[section][spec.plugin])
            if entry is None:
                continue
            for p in entry.params():
                if p.name not in out[section] and not p.required and _tomlable(p.default):
                    out[section][p.name] = p.default
        return out

    def to_toml(self, plugins: Any | None = None) -> str:
        return dumps_toml(self.resolved(plugins))


def _builtin_callbacks(plugins: Any) -> list[str]:
    return [e.name for e in plugins.registry("callbacks") if e.info.get("builtin")]


def load_recipe(path: str | Path | None = None, overrides: Iterable[str] = (), *, text: str | None = None) -> Recipe:
    """Read, override, default and type-check a recipe (see module docstring).

    ``path=None`` gives the all-defaults recipe (still subject to ``overrides``).
    """
    file = Path(path) if path is not None else None
    if text is None:
        text = ""
        if file is not None:
            try:
                text = file.read_text(encoding="utf-8")
            except FileNotFoundError:
                raise RecipeError(f"{file}: no such recipe file.") from None
            except (OSError, UnicodeDecodeError) as exc:
                raise RecipeError(f"{file}: cannot be read: {exc}.") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError(f"{file or 'recipe'}: not valid TOML: {exc}.") from None

    sections: dict[str, dict[str, Any]] = {}
    where_file = f"{file}" if file else "recipe"
    for section, table in raw.items():
        if section not in SCHEMA:
            close = difflib.get_close_matches(section, list(SCHEMA), n=1)
            hint = f" Did you mean [{close[0]}]?" if close else ""
            line = _locate(text, section, None)
            raise RecipeError(f"{where_file}:{line or '?'}: [{section}]: unknown section.{hint} "
                              f"Sections: {', '.join(SCHEMA)}.")
        if not isinstance(table, dict):
            raise RecipeError(f"{where_file}: {section} must be a table ([{section}]), not {table!r}.")
        sections[section] = dict(table)

    overridden = []
    for item in overrides:
        section, key, value = parse_override(item)
        if section not in SCHEMA:
            close = difflib.get_close_matches(section, list(SCHEMA), n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise RecipeError(f"--set: {section}.{key}: unknown section '{section}'.{hint}")
        if "." in key:  # export.NAME.OPTION: into the [export.NAME] table
            table, _, option = key.partition(".")
            target = sections.setdefault(section, {}).setdefault(table, {})
            if not isinstance(target, dict):
                raise RecipeError(f"--set {section}.{key}: {section}.{table} is not a table.")
            target[option] = value
            overridden.append((section, table))
            continue
        sections.setdefault(section, {})[key] = value
        overridden.append((section, key))

    recipe = Recipe({}, path=file, text=text, overridden=overridden)
    for section, spec in SCHEMA.items():
        given = sections.get(section, {})
        values: dict[str, Any] = {}
        for key, value in given.items():
            if key in spec.keys:
                problem = _check_value(spec.keys[key], value)
                if problem:
                    raise recipe.error(section, key, problem + f" ({spec.keys[key].doc}).")
            elif section == "export" and isinstance(value, dict):
                pass  # [export.NAME]: an exporter's options, checked against its factory in validate()
            elif spec.plugin is None and not spec.free_form:
                close = difflib.get_close_matches(key, list(spec.keys), n=1)
                hint = f" Did you mean '{close[0]}'?" if close else ""
                raise recipe.error(section, key, f"unknown key.{hint} Keys of [{section}]: {', '.join(spec.keys)}.")
            values[key] = value
        for key, spec_key in spec.keys.items():
            values.setdefault(key, copy.deepcopy(spec_key.default))
        recipe.sections[section] = values

    _check_cross(recipe)
    return recipe

"""Machine-readable descriptions: each plugin entry's parameters, and a JSON Schema of a recipe.

`param_json` is what `tk plugins --json` prints for a parameter: its name, JSON type, default,
and choices or range where the factory declares them (a ``typing.Literal`` annotation, or
``register(..., ranges={"gamma": [0, 10]})``). `recipe_schema` turns the recipe schema
(`toolkit.recipe.schema.SCHEMA`) and the loaded plugins into a JSON Schema (draft 2020-12):
every section and key with its type, default, range and documentation, and each plugin's
parameters under the table that names it, so an editor with a TOML language server (taplo,
"Even Better TOML") completes and checks recipes. Bundled recipes point at
``recipes/tk-recipe.schema.json`` with a ``#:schema`` comment; `tk recipes schema` writes it.
"""

from __future__ import annotations

import inspect
import json
import typing
from types import UnionType
from typing import Any

from .schema import SCHEMA, Key

__all__ = ["param_json", "entry_json", "recipe_schema", "SCHEMA_FILE"]

SCHEMA_FILE = "tk-recipe.schema.json"
"""The schema's file name next to the bundled recipes."""

_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object",
          tuple: "array", type(None): "null"}


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except TypeError:
        return repr(value)


def _annotation_types(annotation: Any) -> tuple[list[str], list[Any] | None]:
    """JSON types (and Literal choices) of a parameter annotation; empty when unknown."""
    if annotation is inspect.Parameter.empty or annotation is None:
        return [], None
    if isinstance(annotation, str):  # postponed annotations: map the simple spellings
        names = {"bool": "boolean", "int": "integer", "float": "number", "str": "string", "list": "array",
                 "dict": "object"}
        parts = [p.strip() for p in annotation.replace("Optional[", "").rstrip("]").split("|")]
        types = [names[p.split("[")[0]] for p in parts if p.split("[")[0] in names]
        if "None" in parts:
            types.append("null")
        return types, None
    if typing.get_origin(annotation) is typing.Literal:
        choices = list(typing.get_args(annotation))
        return sorted({_TYPES.get(type(c), "string") for c in choices}), choices
    args = typing.get_args(annotation) if typing.get_origin(annotation) in (typing.Union, UnionType) else (annotation,)
    types = []
    for arg in args:
        origin = typing.get_origin(arg) or arg
        if origin in _TYPES:
            types.append(_TYPES[origin])
    return types, None


def param_json(param: Any, annotation: Any, ranges: dict[str, Any]) -> dict[str, Any]:
    """One factory parameter as JSON: name, type, default (or required), choices, minimum/maximum."""
    types, choices = _annotation_types(annotation)
    if not types and not param.required and param.default is not None:
        types = [_TYPES.get(type(param.default), "string")]
    if "number" in types and "integer" not in types:
        types.append("integer")  # TOML writes 1 for 1.0
    out: dict[str, Any] = {"name": param.name, "type": types[0] if len(types) == 1 else (types or None),
                           "annotation": param.annotation, "required": param.required}
    if not param.required:
        out["default"] = _jsonable(param.default)
    if choices is not None:
        out["choices"] = choices
    if param.name in ranges:
        low, high = ranges[param.name]
        out.update({k: v for k, v in (("minimum", low), ("maximum", high)) if v is not None})
    return out


def entry_json(entry: Any) -> dict[str, Any]:
    """A registry entry as JSON: name, plugin, distribution, description and every parameter."""
    try:
        hints = typing.get_type_hints(entry.factory)
    except Exception:  # a hint that cannot be resolved: fall back on the annotation text
        hints = {}
    signature = entry._signature().parameters
    ranges = dict(entry.info.get("ranges") or {})
    params = []
    for p in entry.params():
        annotation = hints.get(p.name, signature[p.name].annotation if p.name in signature else inspect.Parameter.empty)
        params.append(param_json(p, annotation, ranges))
    out = {"name": entry.name, "plugin": entry.plugin, "dist": entry.dist, "version": entry.version,
           "description": entry.description, "accepts_any": entry.accepts_any(), "params": params}
    if entry.info.get("metrics"):  # what a callback adds to the epoch's metrics (train.best_metric may name them)
        out["metrics"] = [str(m) for m in entry.info["metrics"]]
    return out


# -- the recipe schema ---------------------------------------------------------------------------
def _key_schema(key: Key) -> dict[str, Any]:
    types = key.type if isinstance(key.type, tuple) else (key.type,)
    json_types = sorted({_TYPES[t] for t in types})
    if key.optional:
        json_types.append("null")
    out: dict[str, Any] = {"type": json_types[0] if len(json_types) == 1 else json_types,
                           "description": key.doc}
    if key.default is not None:
        out["default"] = key.default
    if key.choices is not None:
        out["enum"] = list(key.choices)
    if key.min is not None:
        out["minimum"] = key.min
    if key.max is not None:
        out["maximum"] = key.max
    return out


def _params_schema(entry_js: dict[str, Any]) -> dict[str, Any]:
    props = {}
    for p in entry_js["params"]:
        one: dict[str, Any] = {}
        if p["type"]:
            one["type"] = p["type"]
        if "default" in p:
            one["default"] = p["default"]
        if "choices" in p:
            one["enum"] = p["choices"]
        for bound in ("minimum", "maximum"):
            if bound in p:
                one[bound] = p[bound]
        one["description"] = f"{entry_js['name']}: {p['name']}"
        props[p["name"]] = one
    return props


def _picked(section: str, key: str, keys: dict[str, Any], entries: list[dict[str, Any]],
            resolver: dict[str, Any] | None) -> dict[str, Any]:
    """A table that names one plugin with ``key``: the keys of the chosen entry only."""
    names = [e["name"] for e in entries]
    every = dict(keys)
    for e in entries + ([resolver] if resolver else []):
        for name, prop in _params_schema(e).items():
            every.setdefault(name, prop)
    branches = []
    for e in entries:
        allowed = {**keys, **_params_schema(e)}
        branches.append({"if": {"properties": {key: {"const": e["name"]}}, "required": [key]},
                         "then": {"propertyNames": {"enum": sorted(allowed)}}})
    default = keys.get(key, {}).get("default")
    chosen = next((e for e in entries if e["name"] == default), None) or resolver
    if chosen is not None:  # the table does not name one: its default entry's parameters
        allowed = {**keys, **_params_schema(chosen)}
        branches.append({"if": {"not": {"required": [key]}}, "then": {"propertyNames": {"enum": sorted(allowed)}}})
    if resolver is not None:  # names it answers for (any timm model): its parameters
        allowed = {**keys, **_params_schema(resolver)}
        branches.append({"if": {"properties": {key: {"not": {"enum": names}}}},
                         "then": {"propertyNames": {"enum": sorted(allowed)}}})
    name_schema = dict(every.get(key) or {"type": "string"})
    if resolver is None:
        name_schema["enum"] = names
    every[key] = name_schema
    return {"type": "object", "properties": every, "allOf": branches, "additionalProperties": resolver is not None
            or any(e["accepts_any"] for e in entries)}


def _listed(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """A list of tables each naming an entry (``augment.ops``, ``train.callbacks``)."""
    branches = [{"if": {"properties": {"name": {"const": e["name"]}}},
                 "then": {"properties": {"name": {"const": e["name"]}, **_params_schema(e)},
                          "additionalProperties": e["accepts_any"]}} for e in entries]
    return {"type": "array", "items": {"type": "object", "required": ["name"],
                                       "properties": {"name": {"enum": [e["name"] for e in entries]}},
                                       "allOf": branches}}


def _metrics(callbacks: list[dict[str, Any]]) -> list[str]:
    """Every metric ``train.best_metric``/``train.monitor`` may name: the loop's, the EMA's
    (``train.ema``) and those callbacks declare (``tk recipes check`` then asks that the recipe
    lists the callback, `toolkit.engine.components.check_metric_keys`)."""
    from .schema import LOOP_METRICS

    names = list(LOOP_METRICS) + [f"ema_{m}" for m in LOOP_METRICS if m.startswith("val_")]
    for entry in callbacks:
        names += [m for m in entry.get("metrics", []) if m not in names]
    return names


def recipe_schema(plugins: Any) -> dict[str, Any]:
    """The JSON Schema of a recipe, with the parameters of every loaded plugin entry."""
    from ..plugin.kinds import KINDS

    # tk's own callbacks (registered with builtin=True) take their parameters from [train] keys
    entries = {k.name: [entry_json(e) for e in plugins.registry(k.name) if not e.info.get("resolve")
                        and not e.info.get("builtin")] for k in KINDS}
    resolvers = {k.name: next((entry_json(e) for e in plugins.registry(k.name) if e.info.get("resolve")), None)
                 for k in KINDS}
    sections: dict[str, Any] = {}
    for name, spec in SCHEMA.items():
        keys = {k: _key_schema(v) for k, v in spec.keys.items()}
        if spec.free_form:
            sections[name] = {"type": "object", "description": spec.doc}
            continue
        if spec.plugin is not None:
            table = _picked(name, spec.plugin, keys, entries[spec.kind], resolvers[spec.kind])
        else:
            table = {"type": "object", "properties": keys, "additionalProperties": False}
        table["description"] = spec.doc
        sections[name] = table
    sections["augment"]["properties"]["ops"] = {**_listed(entries["augmentations"]),
                                                "description": SCHEMA["augment"].keys["ops"].doc}
    callbacks = _listed(entries["callbacks"])
    everyone = sorted(e.name for e in plugins.registry("callbacks"))
    own = sorted(e.name for e in plugins.registry("callbacks") if e.info.get("builtin"))
    callbacks["items"]["properties"]["name"]["enum"] += own  # tk's own: listed to place or switch them off
    callbacks["items"]["allOf"].append({
        "if": {"properties": {"name": {"enum": own}}},
        "then": {"properties": {"name": {"enum": own}, "enabled": {
            "type": "boolean", "description": "false switches tk's own callback off (not best_checkpoint or "
                                              "last_checkpoint)"}}, "additionalProperties": False}})
    for how in ("before", "after"):  # placement keys every callback table takes (not its factory's)
        place = {"enum": everyone, "description": f"run this callback just {how} the named one"}
        callbacks["items"]["properties"][how] = place
        for branch in callbacks["items"]["allOf"]:
            branch["then"]["properties"][how] = place
    sections["train"]["properties"]["callbacks"] = {**callbacks, "description": SCHEMA["train"].keys["callbacks"].doc}
    metrics = _metrics(entries["callbacks"] + [entry_json(e) for e in plugins.registry("callbacks") if e.info.get("builtin")])
    for key in ("best_metric", "monitor"):  # a misspelt metric is flagged in the editor, as tk recipes check refuses it
        sections["train"]["properties"][key]["enum"] = metrics
    exporters = entries["exporters"]
    sections["export"]["properties"]["formats"]["items"] = {"enum": [e["name"] for e in exporters]}
    for e in exporters:  # [export.NAME]: that exporter's options
        sections["export"]["properties"][e["name"]] = {
            "type": "object", "properties": _params_schema(e), "additionalProperties": e["accepts_any"],
            "description": f"options of the {e['name']} exporter"}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "https://tk-train/recipe.schema.json",
            "title": "tk recipe", "description": "A tk training recipe (TOML); see README.md#recipes.",
            "type": "object", "properties": sections, "additionalProperties": False}

"""Recipe validation: tk's hand-written checks against a pydantic v2 model generated from tk's SCHEMA.

Issue #26, item 4: should a typed model (pydantic) replace `toolkit/recipe/`'s hand-written validation,
"if it keeps every error message as good as today's — measure that"? In one run this script
1. builds the pydantic model from `toolkit.recipe.schema.SCHEMA` (`create_model` per section: strict
   types, defaults, Literal choices, Field ranges, descriptions, extra="forbid" on tk's own tables), plus
   what SCHEMA's types cannot say (image_size pairs, threads "adaptive", device, list items, NUL, '..',
   group_by) and the cross-field checks as model validators;
2. runs 30 bad recipes from tk's tests through `load_recipe` and through the model and scores each message
   on what tk's messages promise: key path, place (FILE:LINE or --set), what is allowed, "did you mean",
   one line;
3. times import + validation of recipes/quickstart.toml in fresh processes, and compares the JSON Schemas;
4. writes benchmarks/results/recipe_validation.json and prints a table.

    PYTHONPATH=.:plugins .venv/bin/python benchmarks/recipe_validation.py

pydantic (2.x) is not a tk dependency: install it to run this. No network.
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
QUICKSTART = ROOT / "recipes" / "quickstart.toml"
TK_SCHEMA_FILE = ROOT / "recipes" / "tk-recipe.schema.json"
OUT = ROOT / "benchmarks" / "results" / "recipe_validation.json"
RUNS = 7
PROPERTIES = ("key_path", "place", "allowed", "did_you_mean", "one_line")


# -- 1. the pydantic model, generated from SCHEMA ------------------------------------------------
def build_model() -> Any:
    """The recipe as pydantic models, one per SCHEMA section; returns the root model."""
    from typing import Annotated, Literal

    from pydantic import AfterValidator, ConfigDict, Field, create_model, model_validator

    from toolkit.core.errors import RecipeError
    from toolkit.recipe.schema import SCHEMA, compile_group_pattern

    def no_nul(v: str) -> str:
        if "\x00" in v:
            raise ValueError("holds a NUL byte (\\0), which no path or name can contain")
        return v

    def no_climb(v: str) -> str:
        if ".." in Path(v).parts:
            raise ValueError(f"must not climb out with '..' ({v!r})")
        return v

    def group_pattern(v: str) -> str:
        if v not in ("near_duplicates", "none"):
            try:
                compile_group_pattern(v)
            except RecipeError as exc:
                raise ValueError(str(exc).removeprefix("data.group_by: ")) from None
        return v

    Str = Annotated[str, AfterValidator(no_nul)]
    side = Annotated[int, Field(ge=16, le=4096)]
    item = create_model("item", __config__=ConfigDict(extra="allow", strict=True), name=(Str, ...))
    refine: dict[str, Any] = {  # what SCHEMA's Key.type cannot say; a replacement has to write these too
        "data.image_size": side | Annotated[list[side], Field(min_length=2, max_length=2)],
        "data.group_by": Annotated[Str, AfterValidator(group_pattern)],
        "train.threads": Annotated[int, Field(ge=0, le=1024)] | Literal["adaptive"],
        "train.device": Annotated[Str, Field(pattern=r"^(auto|cpu|mps|cuda(:\d+)?)$")],
        "train.out": Annotated[Str, AfterValidator(no_climb)], "export.out": Annotated[Str, AfterValidator(no_climb)],
        "augment.ops": list[item], "train.callbacks": list[item],
        "bench.batches": Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=1)],
    }
    base = {int: int, float: float, str: Str, bool: bool, list: list[Str]}

    def field_type(section: str, name: str, key: Any) -> Any:
        t = refine.get(f"{section}.{name}")
        if t is None:
            types = key.type if isinstance(key.type, tuple) else (key.type,)
            t = float if set(types) == {int, float} else base[types[0]]
            if key.choices is not None:
                t = Literal[key.choices]
            elif key.min is not None or key.max is not None:
                t = Annotated[t, Field(ge=key.min, le=key.max)]
        return t | None if key.optional else t

    def data_cross(m: Any) -> Any:
        if m.val_fraction + m.test_fraction >= 0.95:
            raise ValueError("val_fraction + test_fraction must leave images to train on (< 0.95)")
        if m.folds == 1 or m.fold > m.folds or (m.folds and not m.fold):
            raise ValueError(f"fold {m.fold} of {m.folds}: folds is 0 (no cross-validation) or 2..100, and fold "
                             f"between 1 and folds")
        return m

    def export_tables(m: Any) -> Any:  # [export.NAME] tables are an exporter's options; nothing else is extra
        for k, v in (m.__pydantic_extra__ or {}).items():
            if not isinstance(v, dict):
                raise ValueError(f"{k}: unknown key")  # noqa: TRY004 (pydantic reports ValueError only)
        return m

    cross = {"data": data_cross, "export": export_tables}
    sections: dict[str, Any] = {}
    for section, spec in SCHEMA.items():
        if spec.free_form:
            sections[section] = (dict[str, Any], Field(default_factory=dict, description=spec.doc))
            continue
        fields = {name: (field_type(section, name, key), Field(default=key.default, description=key.doc))
                  for name, key in spec.keys.items()}
        extra = "allow" if spec.plugin is not None or section == "export" else "forbid"
        validators = {"cross": model_validator(mode="after")(cross[section])} if section in cross else None
        model = create_model(section, __config__=ConfigDict(extra=extra, strict=True, allow_inf_nan=False),
                             __doc__=spec.doc, __validators__=validators, **fields)
        sections[section] = (model, Field(default_factory=model, description=spec.doc))
    return create_model("recipe", __config__=ConfigDict(extra="forbid", strict=True), **sections)


def pydantic_check(model: Any, text: str, sets: tuple[str, ...]) -> tuple[str | None, str | None, str | None]:
    """(str of the ValidationError, its first error made one line by the obvious adapter, that error's type),
    or Nones if accepted. TOML parsing and the --set parser stay tk's: pydantic has neither."""
    import tomllib

    from pydantic import ValidationError

    from toolkit.recipe.toml_text import parse_override

    raw = tomllib.loads(text)
    for s in sets:
        section, key, value = parse_override(s)
        raw.setdefault(section, {})[key] = value
    try:
        model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        return str(exc), f"{loc}: {first['msg']}, not {repr(first['input'])[:60]}", first["type"]
    return None, None, None


def tk_check(path: Path | None, sets: tuple[str, ...]) -> str | None:
    from toolkit import RecipeError
    from toolkit.recipe.load import load_recipe
    try:
        load_recipe(path, list(sets))
    except RecipeError as exc:
        return str(exc)
    return None


# -- 2. the corpus: bad recipes from tk's tests ----------------------------------------------------
BASE = ('# a recipe with one mistake\n[data]\nroot = "images"\nimage_size = 32\nval_fraction = 0.25\nworkers = 0\n\n'
        '[model]\nbackbone = "test_efficientnet"\npretrained = false\n\n[optim]\nlr = 0.01\n\n'
        '[train]\nepochs = 1\nbatch_size = 4\ndevice = "cpu"\n')  # tests/faults/recipe_mistakes.py's BASE
N, AT_LEAST, AT_MOST = r"(?<![\d.])", "(at least|greater than or equal to) ", "(at most|less than or equal to) "


def edit(section: str, line: str) -> str:
    """BASE with ``line`` written in ``[section]`` (replacing the key it sets), or a new table."""
    key = line.split("=")[0].strip()
    if f"[{section}]\n" not in BASE:
        return BASE + f"\n[{section}]\n{line}\n"
    head, _, rest = BASE.partition(f"[{section}]\n")
    body, sep, tail = rest.partition("\n\n")
    kept = [ln for ln in body.splitlines() if ln.split("=")[0].strip() != key]
    return head + f"[{section}]\n" + "\n".join(kept + [line]) + sep + tail


SRC = {"R": "core/test_recipe", "M": "faults/recipe_mistakes", "P": "faults/test_probe_findings",
       "T": "engine/test_threads", "L": "cli/test_leakage"}
ANY4 = ("auto", "cpu", "cuda", "mps")
# name, tests/ file (SRC), section the line goes in ("--set": a --set argument), line, key path, what the
# message must say of the allowed values (regexes), the key a "did you mean" must offer
CASES: list[tuple[str, str, str, str, str, tuple[str, ...], str | None]] = [
    ("wrong-type", "R", "train", "epochs = 'ten'", "train.epochs", ("integer",), None),
    ("below-range", "R", "train", "epochs = 0", "train.epochs", (AT_LEAST + "1",), None),
    ("typo-key", "R", "train", "epoch = 3", "train.epoch", ("batch_size",), "epochs"),
    ("typo-section", "R", "trian", "epochs = 3", "trian", ("calibration",), "train"),
    ("bad-choice", "R", "data", "on_bad_image = 'ignore'", "data.on_bad_image", ("'skip'", "'fail'"), None),
    ("int-for-bool", "R", "train", "channels_last = 1", "train.channels_last", ("true or false|boolean",), None),
    ("bool-for-int", "R", "train", "batch_size = true", "train.batch_size", ("integer",), None),
    ("bad-device", "R", "train", "device = 'tpu'", "train.device", ANY4, None),
    ("fractions-conflict", "R", "data", "val_fraction = 0.5\ntest_fraction = 0.5", "data.test_fraction",
     (r"0\.95",), None),
    ("ops-item-not-table", "R", "augment", "ops = ['hflip']", "augment.ops", ("table|dictionary", "name"), None),
    ("out-climbs", "R", "train", "out = '../../etc'", "train.out", (r"'\.\.'",), None),
    ("section-not-table", "M", "", "train = 3", "train", ("table|dictionary",), None),
    ("above-range", "M", "data", "val_fraction = 1.5", "data.val_fraction", (AT_MOST + r"0\.9",), None),
    ("bad-choice-amp", "M", "train", "amp = 'fp8'", "train.amp", ("'auto'", "'off'", "'bf16'", "'fp16'"), None),
    ("bad-device-gpu", "M", "train", "device = 'gpu'", "train.device", ANY4, None),
    ("export-out-climbs", "M", "export", "out = '../outside'", "export.out", (r"'\.\.'",), None),
    ("nul-byte", "P", "export", 'out = "exp\\u0000orts"', "export.out", ("NUL",), None),
    ("set-wrong-type", "R", "--set", "train.epochs=lots", "train.epochs", ("integer",), None),
    ("set-typo-section", "R", "--set", "trian.epochs=2", "trian", ("calibration",), "train"),
    ("set-typo-key", "M", "--set", "train.epochz=3", "train.epochz", ("batch_size",), "epochs"),
    ("set-nan-fraction", "P", "--set", "data.val_fraction=nan", "data.val_fraction", ("finite",), None),
    ("set-nan-min-delta", "P", "--set", "train.min_delta=nan", "train.min_delta", ("finite",), None),
    ("set-nan-ema-decay", "P", "--set", "train.ema_decay=nan", "train.ema_decay", ("finite",), None),
    ("set-seed-2**64", "P", "--set", "train.seed=18446744073709551616", "train.seed",
     (AT_MOST + "18446744073709551615",), None),
    ("set-seed-negative", "P", "--set", "data.seed=-1", "data.seed", (AT_LEAST + N + "0",), None),
    ("set-inf-grad-clip", "P", "--set", "train.grad_clip=inf", "train.grad_clip", ("finite",), None),
    ("set-threads-negative", "T", "--set", "train.threads=-1", "train.threads", (AT_LEAST + N + "0", "adaptive"), None),
    ("set-threads-word", "T", "--set", 'train.threads="fast"', "train.threads", ("adaptive", "integer|number"), None),
    ("set-group-by-no-group", "L", "--set", r"data.group_by='rec\d'", "data.group_by", ("capture group",), None),
    ("set-group-by-invalid", "L", "--set", "data.group_by='(rec'", "data.group_by", ("regular expression",), None),
]
NOT_COMPARED = {"toml-syntax": "tomllib", "duplicate-key": "tomllib", "set-malformed": "tk's parse_override"}
"""Mistakes of the tests refused before any schema check, by code either side keeps: the same message both ways."""


def case_text(section: str, line: str) -> tuple[str, int | None]:
    """The recipe file's text and the line the mistake is written on (None: the mistake is a --set)."""
    if section == "--set":
        return BASE, None
    text = line + "\n" if not section else edit(section, line)
    return text, text.splitlines().index("[trian]" if section == "trian" else line.splitlines()[-1]) + 1


def score(msg: str | None, line: int | None, path: str, allowed: tuple[str, ...], suggest: str | None) -> dict:
    if msg is None:  # accepted: a miss on every property
        return {p: (False if p != "did_you_mean" or suggest else None) for p in PROPERTIES}
    place = (re.search(rf"\br\.toml:{line}\b|\bline {line}\b", msg) if line else msg.startswith("--set"))
    return {"key_path": path in msg, "place": bool(place),
            "allowed": all(re.search(a, msg) for a in allowed),
            "did_you_mean": bool(re.search(rf"[Dd]id you mean \W?{suggest}\b", msg)) if suggest else None,
            "one_line": "\n" not in msg}


def run_corpus(model: Any) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, source, section, line_or_set, path, allowed, suggest in CASES:
            text, line = case_text(section, line_or_set)
            sets = (line_or_set,) if section == "--set" else ()
            (Path(tmp) / "r.toml").write_text(text)
            tk = tk_check(Path(tmp) / "r.toml", sets)
            tk = tk and tk.replace(f"{Path(tmp)}/", "")  # the file as a user would name it: r.toml
            raw, adapted, kind = pydantic_check(model, text, sets)
            rows.append({"case": name, "from": f"tests/{SRC[source]}.py", "set": list(sets), "line": line, "path": path,
                         "tk": tk, "pydantic": raw, "pydantic_one_line": adapted, "pydantic_error_type": kind,
                         "score": {side: score(m, line, path, allowed, suggest)
                                   for side, m in (("tk", tk), ("pydantic", raw), ("pydantic_one_line", adapted))}})
    return rows


def totals(rows: list[dict[str, Any]], side: str) -> dict[str, str]:
    marks = {p: [r["score"][side][p] for r in rows if r["score"][side][p] is not None] for p in PROPERTIES}
    return {**{p: f"{sum(m)}/{len(m)}" for p, m in marks.items()},
            "rejected": f"{sum(r[side] is not None for r in rows)}/{len(rows)}"}


# -- 3. timing in fresh processes, and the JSON Schemas ---------------------------------------------
def child(which: str) -> None:
    """One fresh process: import, (build,) validate the quickstart recipe; prints seconds as JSON."""
    t0 = time.perf_counter()
    if which == "tk":
        from toolkit.recipe.load import load_recipe
        t1 = time.perf_counter()
        load_recipe(QUICKSTART)
        out = {"import": t1 - t0, "validate": time.perf_counter() - t1}
    else:
        import tomllib

        import pydantic  # noqa: F401
        t1 = time.perf_counter()
        import toolkit.recipe.schema  # noqa: F401  (the source the model is generated from)
        t2 = time.perf_counter()
        model = build_model()
        t3 = time.perf_counter()
        model.model_validate(tomllib.loads(QUICKSTART.read_text()))
        out = {"import": t1 - t0, "import_tk_schema": t2 - t1, "build": t3 - t2, "validate": time.perf_counter() - t3}
    out["total"] = time.perf_counter() - t0
    print(json.dumps(out))


def time_fresh() -> dict[str, Any]:
    samples: dict[str, list[dict[str, float]]] = {"tk": [], "pydantic": []}
    for _ in range(RUNS):
        for which in ("tk", "pydantic"):  # in turns, so background load hits both alike
            start = time.perf_counter()
            done = subprocess.run([sys.executable, __file__, "--child", which], capture_output=True, text=True,
                                  check=True, cwd=ROOT)
            wall = time.perf_counter() - start
            samples[which].append({**json.loads(done.stdout), "process_wall": wall})
    return {which: {k: round(statistics.median(s[k] for s in runs), 4) for k in runs[0]}
            for which, runs in samples.items()}


def time_warm(model: Any, n: int = 200) -> dict[str, float]:
    """Seconds per validation of quickstart once everything is imported (median of 5 batches of n)."""
    import tomllib

    from toolkit.recipe.load import load_recipe

    text = QUICKSTART.read_text()
    calls = {"tk": lambda: load_recipe(QUICKSTART, text=text),
             "pydantic": lambda: model.model_validate(tomllib.loads(text))}

    def batch(call: Any) -> float:
        start = time.perf_counter()
        for _ in range(n):
            call()
        return (time.perf_counter() - start) / n
    return {which: statistics.median(batch(call) for _ in range(5)) for which, call in calls.items()}


def schema_facts(schema: dict[str, Any], key_schema: Any) -> dict[str, Any]:
    """Of SCHEMA's core keys: how many carry a description, default, enum (for choices) and range."""
    from toolkit.recipe.schema import SCHEMA

    def has(node: Any, field: str) -> bool:
        if isinstance(node, dict):
            if "$ref" in node:
                node = {**node, **schema["$defs"][node["$ref"].rsplit("/", 1)[1]]}
                node.pop("$ref")
            return field in node or any(has(v, field) for k, v in node.items() if k in ("anyOf", "oneOf", "allOf"))
        return isinstance(node, list) and any(has(v, field) for v in node)

    want = {"description": lambda k: True, "default": lambda k: k.default is not None,
            "enum": lambda k: k.choices is not None, "minimum": lambda k: k.min is not None,
            "maximum": lambda k: k.max is not None}
    keys = [(s, n, k) for s, spec in SCHEMA.items() for n, k in spec.keys.items()]
    text = json.dumps(schema, indent=1)
    out: dict[str, Any] = {"bytes": len(text), "enum_lists": text.count('"enum"'), "core_keys": len(keys)}
    for field, applies in want.items():
        wanted = [key_schema(s, n) for s, n, k in keys if applies(k)]
        out[field] = f"{sum(has(node, field) for node in wanted)}/{len(wanted)}"
    out["section_descriptions"] = sum(has(key_schema(s, None), "description") for s in SCHEMA)
    return out


def compare_schemas(model: Any) -> dict[str, Any]:
    tk = json.loads(TK_SCHEMA_FILE.read_text())
    pyd = model.model_json_schema()

    def tk_key(s: str, n: str | None) -> Any:
        node = tk["properties"][s]
        return node if n is None else node.get("properties", {}).get(n, {})

    def pyd_key(s: str, n: str | None) -> Any:
        node = pyd["properties"][s]
        ref = node.get("$ref", "").rsplit("/", 1)[-1]
        return node if n is None else pyd["$defs"].get(ref, {}).get("properties", {}).get(n, {})

    return {"tk (recipes/tk-recipe.schema.json)": schema_facts(tk, tk_key),
            "pydantic (model_json_schema)": schema_facts({"$defs": {}, **pyd}, pyd_key),
            "note": "tk's file also carries every loaded plugin's parameters and enums of plugin, metric and "
                    "exporter names (from the registries); a model generated from SCHEMA alone has none of them"}


# -- 4. the run ---------------------------------------------------------------------------------------
def main() -> None:
    import pydantic

    model = build_model()
    bundled = {p.name: pydantic_check(model, p.read_text(), ())[1] for p in sorted((ROOT / "recipes").glob("*.toml"))}
    rows = run_corpus(model)
    sides = ("tk", "pydantic", "pydantic_one_line")
    result = {
        "pydantic": pydantic.VERSION, "python": sys.version.split()[0], "cases": len(rows),
        "not_compared": NOT_COMPARED,
        "bundled_recipes_refused_by_pydantic": {k: v for k, v in bundled.items() if v} or "none",
        "properties": {side: totals(rows, side) for side in sides},
        "pydantic_messages_written_by_hand": sum(r["pydantic_error_type"] == "value_error" for r in rows),
        "timing_fresh_process_median_s": time_fresh(), "runs": RUNS,
        "timing_warm_per_validation_s": time_warm(model),
        "json_schema": compare_schemas(model), "rows": rows,
    }
    OUT.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")

    t, w = result["timing_fresh_process_median_s"], result["timing_warm_per_validation_s"]
    print(f"{len(rows)} bad recipes from tk's tests; pydantic {pydantic.VERSION}; bundled recipes the model refuses: "
          f"{result['bundled_recipes_refused_by_pydantic']}; pydantic messages that are hand-written ValueErrors "
          f"in its validators: {result['pydantic_messages_written_by_hand']}/{len(rows)}")
    print(f"\n{'property':<14}" + "".join(f"{s:>20}" for s in sides))
    for p in (*PROPERTIES, "rejected"):
        print(f"{p:<14}" + "".join(f"{result['properties'][s][p]:>20}" for s in sides))
    print(f"\nfresh process, median of {RUNS} (s):")
    for which, parts in t.items():
        print(f"  {which:<9}" + ", ".join(f"{k} {v:.4f}" for k, v in parts.items()))
    print(f"warm, per validation: tk {w['tk'] * 1e6:.0f} µs, pydantic {w['pydantic'] * 1e6:.0f} µs\nJSON Schema:")
    for side, facts in result["json_schema"].items():
        if isinstance(facts, dict):
            print(f"  {side}: " + ", ".join(f"{k} {v}" for k, v in facts.items()))
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2])
    else:
        main()

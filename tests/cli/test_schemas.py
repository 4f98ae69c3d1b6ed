"""Schemas tools can read: `tk plugins --json` carries every parameter; `tk recipes schema` checks recipes."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import jsonschema
import pytest

from toolkit.testing import run_cli

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = sorted((ROOT / "recipes").glob("*.toml"))


@pytest.fixture(scope="module")
def schema():
    result = run_cli("recipes", "schema")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    jsonschema.Draft202012Validator.check_schema(data)
    return data


def test_plugins_json_carries_every_parameter_of_every_entry():
    from toolkit.plugin.manager import load_plugins

    data = json.loads(run_cli("plugins", "--json").output)
    loaded = load_plugins()
    for kind, entries in data["kinds"].items():
        for entry in entries:
            expected = [p.name for p in loaded.registry(kind).get(entry["name"], "x").params()]
            assert [p["name"] for p in entry["params"]] == expected, (kind, entry["name"])
            assert entry["description"], (kind, entry["name"])
    focal = next(e for e in data["kinds"]["losses"] if e["name"] == "focal")
    gamma = next(p for p in focal["params"] if p["name"] == "gamma")
    assert gamma["type"] in ("number", ["number", "integer"]) and gamma["default"] == 2.0 and not gamma["required"]
    onnx = next(e for e in data["kinds"]["exporters"] if e["name"] == "onnx")
    assert {p["name"]: p["default"] for p in onnx["params"]} == {"opset": 23, "uint8_input": False}


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.name)
def test_every_bundled_recipe_validates_and_names_the_schema(path, schema):
    text = path.read_text(encoding="utf-8")
    assert text.startswith("#:schema ./tk-recipe.schema.json\n")
    errors = [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(tomllib.loads(text))]
    assert errors == []


@pytest.mark.parametrize(("toml", "says"), [
    ('[train]\nepochz = 3\n', "'epochz' was unexpected"),
    ('[loss]\nname = "focal"\ngama = 2\n', "'gama' is not one of"),
    ('[train]\nepochs = 0\n', "less than the minimum"),
    ('[[augment.ops]]\nname = "hflip"\nprob = 0.5\n', "'prob' was unexpected"),
    ('[export.onnx]\nopst = 18\n', "'opst' was unexpected"),
    ('[losss]\nname = "focal"\n', "'losss' was unexpected"),
    # tk's own callbacks may be listed to place or switch them off, never given parameters (#27):
    # their parameters are [train]/[calibration] keys, and `tk run` refuses them in the list too
    ('[[train.callbacks]]\nname = "calibration"\ntemperature = true\n', "'temperature' was unexpected"),
])
def test_the_schema_rejects_a_misspelt_key(schema, toml, says):
    messages = [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(tomllib.loads(toml))]
    messages += [c.message for e in jsonschema.Draft202012Validator(schema).iter_errors(tomllib.loads(toml))
                 for c in e.context or []]
    assert any(says in m for m in messages), messages


def test_the_committed_schema_file_is_current(schema):
    """recipes/tk-recipe.schema.json is what `tk recipes schema --out` writes (regenerate it after a change)."""
    from toolkit.plugin.manager import DISTRIBUTION, load_plugins

    if any(info.dist != DISTRIBUTION for info in load_plugins().info.values()):
        pytest.skip("other plugin packages are installed here: the schema then covers them too")
    assert json.loads((ROOT / "recipes" / "tk-recipe.schema.json").read_text()) == schema

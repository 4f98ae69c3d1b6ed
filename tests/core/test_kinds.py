"""One definition per plugin kind (`toolkit.plugin.kinds.KINDS`): everything else agrees with it."""

from __future__ import annotations

import inspect
import re

import pytest

from toolkit.plugin import hookspecs
from toolkit.plugin.kinds import KINDS
from toolkit.recipe.schema import SCHEMA


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_the_hook_exists_and_documents_the_context(kind):
    spec = getattr(hookspecs, kind.hook)
    doc = inspect.getdoc(spec) or ""
    line = re.search(r"Context: (.*?)\.\n", doc.replace("\n    ", " ") + "\n", re.S)
    assert line, f"{kind.hook}: no 'Context:' line"
    named = [t for t in re.findall(r"``(\w+)``", line.group(1)) if t != "None"]
    assert named == list(kind.context)


def test_registries_context_and_recipe_sections_are_derived():
    assert hookspecs.REGISTRATION_HOOKS == {k.name: k.hook for k in KINDS}
    assert hookspecs.CONTEXT == {k.name: k.context for k in KINDS}
    picked = {(name, s.plugin, s.kind) for name, s in SCHEMA.items() if s.plugin}
    assert picked == {(k.section, k.key, k.name) for k in KINDS if k.section}


def test_every_registration_hook_is_a_kind():
    hooks = {n for n in dir(hookspecs) if n.startswith("tk_register_") and n != "tk_register_commands"}
    assert hooks == {k.hook for k in KINDS}


def test_a_wrong_return_is_named_from_the_kind():
    from toolkit.plugin.registry import _unlike

    assert _unlike("samplers", object()) == "an object with indices(epoch)"
    assert _unlike("callbacks", object()).startswith("a callback")
    assert _unlike("losses", lambda a, b: a) is None

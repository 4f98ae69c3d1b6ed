"""Every hook is tested and documented (datasette's rule): adding a hook without both fails here."""

import inspect
import re
from pathlib import Path

import pytest

from toolkit.plugin import hookspecs

ROOT = Path(__file__).resolve().parents[2]
HOOKS = sorted(n for n, f in vars(hookspecs).items() if n.startswith("tk_") and callable(f))


def test_there_are_hooks():
    assert "tk_register_losses" in HOOKS and "tk_epoch_end" in HOOKS


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_docstring_saying_when_it_was_added(hook):
    doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
    assert len(doc) > 60 and "Added in" in doc


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented_for_plugin_authors(hook):
    assert f"`{hook}" in (ROOT / "docs" / "plugins.md").read_text()


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test(hook):
    this = Path(__file__).resolve()
    users = [p for p in (ROOT / "tests").rglob("test_*.py")
             if p.resolve() != this and re.search(rf"\b{hook}\b", p.read_text(errors="ignore"))]
    assert users, f"no test exercises {hook}; add one"


@pytest.mark.parametrize("hook", hookspecs.EVENT_HOOKS)
def test_event_hooks_have_plain_call_semantics_so_plugins_emit_loses_nothing_of_pluggy(hook):
    """`Plugins.emit` calls each implementation itself (to name a raising plugin): that equals
    pluggy's call only while an event hook returns nothing first-wins and is not historic."""
    import pluggy

    opts = pluggy.PluginManager("tk")
    opts.add_hookspecs(hookspecs)
    spec = getattr(opts.hook, hook).spec
    assert spec is not None and not spec.opts.get("firstresult") and not spec.opts.get("historic")

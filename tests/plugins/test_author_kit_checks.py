"""The plugin author's kit (#27 items 5 and 6): `toolkit.testing.EntryKit`, `entries_of` and
`check_every_entry` find the mistakes and name the entry.

- deliberately broken entries (a sampler that is not deterministic, a callback that forgets its
  state or declares a metric it never reports, a logger without one hook, an exporter factory
  returning the wrong type, an export that cannot load back): each failure names its entry;
- `check_every_entry` of a package with no entries, and with entries left out by ``skip=``;
- docs/plugins.md: it prints a worked example of every kind, and its example modules pass the
  every-entry check as printed.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from toolkit import Callback, hookimpl
from toolkit.core.errors import PluginError
from toolkit.testing import EntryKit, entries_of

from .author_kit import KINDS, ROOT


# -- the kit finds the mistakes, and names the entry ---------------------------------------------
class _Wobbly:
    def __init__(self, n):
        self.n, self.calls = n, 0

    def indices(self, epoch):
        self.calls += 1
        return list(range(self.n))[self.calls % 2:]  # depends on how often it was asked


class _Forgetful(Callback):
    def __init__(self):
        self.seen = 0

    def on_train_batch_end(self, state):
        self.seen += 1

    def state_dict(self):
        return {"seen": self.seen}

    def load_state_dict(self, state):
        pass  # forgets: a resumed run would count from 0


class _Silent:  # a logger object without one event hook
    def tk_epoch_end(self, run, epoch, metrics):
        pass


class _Unloadable:
    """Writes a file its own load cannot read back (torch.jit.optimize_for_inference's output, say)."""

    name, suffix, runtime = "unloadable", ".unl", "nothing"
    options: dict = {}

    def available(self):
        return True, ""

    def can_run(self):
        return True, ""

    def devices(self):
        return [("cpu", True, "")]

    def tolerance(self, options):
        from toolkit import Tolerance

        return Tolerance()

    def export(self, model, path, *, image_size, class_names, metadata, options):
        path.write_bytes(b"not a model")
        return path

    def describe(self, path):
        return {}

    def load(self, path, *, device=None):
        raise RuntimeError("PytorchStreamReader failed reading zip archive: failed finding central directory")


class Mistakes:
    """A plugin with one broken entry of each kind the kit checks by running it."""

    @hookimpl
    def tk_register_samplers(self, register):
        register("wobbly", lambda labels: _Wobbly(len(labels)))

    @hookimpl
    def tk_register_callbacks(self, register):
        register("forgetful", _Forgetful)
        register("boasting", Callback, metrics=["boast_score"])  # declares a metric it never reports

    @hookimpl
    def tk_register_loggers(self, register):
        register("silent", lambda run_dir: _Silent())

    @hookimpl
    def tk_register_exporters(self, register):
        register("wrong_type", lambda: {"suffix": ".wt"})
        register("unloadable", _Unloadable)


@pytest.fixture(scope="module")
def mistakes_kit(tmp_path_factory) -> EntryKit:
    return EntryKit(tmp_path_factory.mktemp("kit"), Mistakes())


def test_entries_of_lists_a_package_by_kind(mistakes_kit):
    assert entries_of(Mistakes(), plugins=mistakes_kit.plugins) == [
        ("samplers", "wobbly"), ("exporters", "unloadable"), ("exporters", "wrong_type"), ("loggers", "silent"),
        ("callbacks", "boasting"), ("callbacks", "forgetful")]
    with pytest.raises(LookupError, match="registers no entries"):
        entries_of(sys.modules["json"])
    with pytest.raises(LookupError, match="neither an installed distribution"):
        entries_of("tk_no_such_thing")


@pytest.mark.parametrize("kind,name,says", [
    ("samplers", "wobbly", "sampler 'wobbly': indices(epoch) must be deterministic"),
    ("callbacks", "forgetful", "callback 'forgetful': load_state_dict(state_dict()) does not give back the same state"),
    ("callbacks", "boasting", "callback 'boasting' declares the metric 'boast_score', which no epoch"),
    ("loggers", "silent", "logger 'silent': its object implements no callback method"),
])
def test_the_kit_fails_a_broken_entry_naming_it(mistakes_kit, kind, name, says):
    with pytest.raises(AssertionError) as caught:
        mistakes_kit.check(kind, name)
    assert says in str(caught.value)


def test_an_exporter_returning_the_wrong_type_is_one_line_naming_the_plugin_and_hook(mistakes_kit):
    with pytest.raises(PluginError) as caught:
        mistakes_kit.check("exporters", "wrong_type")
    message = str(caught.value)
    assert "plugin 'Mistakes' returned dict for exporter 'wrong_type'" in message and "tk_register_exporters" in message
    assert "\n" not in message


def test_an_export_that_cannot_load_back_is_one_line_naming_the_plugin_and_method(mistakes_kit):
    with pytest.raises(PluginError) as caught:
        mistakes_kit.check("exporters", "unloadable")
    message = str(caught.value)
    assert message.startswith("Exporter 'unloadable' (plugin ") and "failed in load: RuntimeError: Pytorch" in message
    assert "\n" not in message


def test_check_every_entry_of_nothing_is_one_failing_test(tmp_path):
    (tmp_path / "test_nothing.py").write_text("from toolkit.testing import check_every_entry\n"
                                             "test_all = check_every_entry('tk_no_such_package')\n")
    ran = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
                          str(tmp_path / "test_nothing.py")], cwd=tmp_path, capture_output=True, text=True)
    assert ran.returncode == 1 and "1 failed" in ran.stdout
    assert "test_all[no-entries]" in ran.stdout and "tk_no_such_package" in ran.stdout


def test_check_every_entry_skips_the_entries_named(tmp_path):
    """An entry that cannot pass a run (it raises on purpose) is left out with ``skip=``, as a skip."""
    (tmp_path / "tk_two_callbacks.py").write_text(
        "from toolkit import Callback, hookimpl\n\n"
        "class Quiet(Callback):\n    pass\n\n"
        "class Boom(Callback):\n    def on_train_batch_end(self, state):\n        raise ValueError('on purpose')\n\n"
        "@hookimpl\ndef tk_register_callbacks(register):\n"
        "    register('quiet', Quiet)\n    register('boom', Boom)\n")
    (tmp_path / "test_two.py").write_text("from toolkit.testing import check_every_entry\n"
                                         "test_all = check_every_entry('tk_two_callbacks', skip=['callbacks:boom'])\n")
    ran = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "--rootdir",
                          str(tmp_path), str(tmp_path / "test_two.py")], cwd=tmp_path, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "1 passed, 1 skipped" in ran.stdout
    assert "callbacks:boom left out with check_every_entry(..., skip=...)" in ran.stdout


# -- docs/plugins.md: its worked examples work as printed ---------------------------------------
def _doc_modules() -> dict[str, str]:
    """Every complete plugin module printed in docs/plugins.md (a python block whose first line
    names its file, ``# tk_x.py``), by file name."""
    import re

    text = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(# (tk_\w+\.py)\n.*?)```", text, re.S)
    return {name: body for body, name in blocks}


def test_the_docs_print_a_worked_example_of_every_kind():
    import re

    text = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    registered = set(re.findall(r"def (tk_register_\w+)\(register\)", text))
    assert {f"tk_register_{k}" for k in KINDS} <= registered, registered
    assert "`[plugins] disable" in text or "[plugins] disable" in text
    assert "binary" in text and "check(**values)" in text


@pytest.mark.parametrize("module", ["tk_lr_log.py", "tk_csv_log.py", "tk_torchscript.py", "tk_flat.py"])
def test_a_docs_example_module_passes_the_every_entry_check(module, tmp_path):
    import importlib.util

    path = tmp_path / module
    path.write_text(_doc_modules()[module])
    spec = importlib.util.spec_from_file_location(path.stem, path)
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    kit = EntryKit(tmp_path / "kit", loaded)
    found = entries_of(loaded, plugins=kit.plugins)
    assert found
    for kind, name in found:
        kit.check(kind, name)

"""Loading plugins: entry points, recipe modules, disabling, broken plugins, every hook kind."""

import textwrap

import pytest

from toolkit import PluginError, hookimpl
from toolkit.plugin.hookspecs import CONTEXT, REGISTRATION_HOOKS
from toolkit.plugin.manager import load_plugins


class Everything:
    """A plugin that registers one entry of every kind through every registration hook."""

    def _reg(self, register, kind):
        register(f"my_{kind}", lambda name: (kind, name), description=f"one {kind}")

    @hookimpl
    def tk_register_backbones(self, register):
        self._reg(register, "backbones")

    @hookimpl
    def tk_register_augmentations(self, register):
        self._reg(register, "augmentations")

    @hookimpl
    def tk_register_losses(self, register):
        self._reg(register, "losses")

    @hookimpl
    def tk_register_samplers(self, register):
        self._reg(register, "samplers")

    @hookimpl
    def tk_register_optimizers(self, register):
        self._reg(register, "optimizers")

    @hookimpl
    def tk_register_schedulers(self, register):
        self._reg(register, "schedulers")

    @hookimpl
    def tk_register_exporters(self, register):
        self._reg(register, "exporters")

    @hookimpl
    def tk_register_datasets(self, register):
        self._reg(register, "datasets")

    @hookimpl
    def tk_register_loggers(self, register):
        self._reg(register, "loggers")

    @hookimpl
    def tk_register_callbacks(self, register):
        self._reg(register, "callbacks")


def test_every_registration_hook_fills_its_registry_with_provenance(tk_plugins):
    plugins = tk_plugins(Everything(), names=["everything"])
    for kind in REGISTRATION_HOOKS:
        e = plugins.entry(kind, f"my_{kind}", "x")
        assert e.plugin == "everything" and e.description == f"one {kind}"
        assert plugins.create(kind, f"my_{kind}", where="x") == (kind, f"my_{kind}")
    assert plugins.info["everything"].registered["losses"] == ["my_losses"]
    assert set(CONTEXT) == set(REGISTRATION_HOOKS)


def test_builtins_come_from_entry_points_with_distribution():
    plugins = load_plugins()
    assert not plugins.broken
    assert plugins.info["losses"].dist == "tk-train" and plugins.info["losses"].version
    for kind, name in [("backbones", "timm"), ("losses", "cross_entropy"), ("samplers", "random"),
                       ("augmentations", "color_jitter"), ("optimizers", "adamw"), ("schedulers", "cosine"),
                       ("exporters", "onnx"), ("exporters", "coreml"), ("datasets", "folder")]:
        assert plugins.entry(kind, name, "x").dist == "tk-train"


def test_disable_by_environment(monkeypatch):
    monkeypatch.setenv("TK_DISABLE_PLUGINS", "losses, samplers")
    plugins = load_plugins()
    assert "losses" not in plugins.info and "cross_entropy" not in plugins.registry("losses")
    assert sorted(plugins.disabled) == ["losses", "samplers"]


def test_recipe_module_by_path(tmp_path):
    (tmp_path / "mine.py").write_text(textwrap.dedent('''
        from toolkit import hookimpl
        @hookimpl
        def tk_register_losses(register):
            register("mine", lambda: "mine")
    '''))
    plugins = load_plugins(["mine.py"], base_dir=tmp_path)
    assert plugins.entry("losses", "mine", "x").plugin == "mine"
    assert plugins.info["mine"].source == "recipe"


def test_missing_recipe_module_is_one_line(tmp_path):
    with pytest.raises(PluginError, match="plugins.modules: no such file"):
        load_plugins(["nope.py"], base_dir=tmp_path)


def test_misspelt_hook_marks_plugin_broken(tk_plugins):
    class Typo:
        @hookimpl
        def tk_register_lossess(self, register):
            pass

    plugins = tk_plugins(Typo(), names=["typo"])
    assert plugins.broken[0].name == "typo" and "does not exist" in plugins.broken[0].error
    with pytest.raises(PluginError, match="Plugin 'typo' is broken"):
        plugins.raise_if_broken(strict=True)


def test_plugin_raising_while_registering_is_isolated(tk_plugins):
    class Boom:
        @hookimpl
        def tk_register_losses(self, register):
            register("half", lambda: 1)
            raise RuntimeError("kaput")

    class Fine:
        @hookimpl
        def tk_register_losses(self, register):
            register("fine", lambda: 1)

    plugins = tk_plugins(Boom(), Fine(), names=["boom", "fine"])
    assert "fine" in plugins.registry("losses") and "half" not in plugins.registry("losses")
    assert plugins.broken[0].name == "boom" and "RuntimeError in tk_register_losses: kaput" in plugins.broken[0].error


def test_two_third_party_plugins_one_name_keep_their_other_parts_and_the_name_names_both(tk_plugins):
    """Neither plugin is knocked out (which one was depended on the order they loaded in): the
    disputed name is refused, naming both and how to switch one off; their other parts work."""
    from toolkit.core.errors import RecipeError

    class A:
        @hookimpl
        def tk_register_losses(self, register):
            register("same", lambda: 1)
            register("only_alpha", lambda: 3)

    class B:
        @hookimpl
        def tk_register_losses(self, register):
            register("same", lambda: 2)
            register("only_beta", lambda: 4)

    plugins = tk_plugins(A(), B(), names=["alpha", "beta"])
    assert not plugins.broken
    losses = plugins.registry("losses")
    assert "only_alpha" in losses and "only_beta" in losses and "same" not in losses
    with pytest.raises(RecipeError) as err:
        plugins.entry("losses", "same", "loss")
    message = str(err.value)
    assert "loss 'same' is registered by 2 plugins: plugin 'alpha', plugin 'beta'" in message
    assert "TK_DISABLE_PLUGINS=alpha or TK_DISABLE_PLUGINS=beta" in message
    assert "same" in plugins.clashes()["losses"]


def test_non_callable_factory_marks_plugin_broken(tk_plugins):
    class Wrong:
        @hookimpl
        def tk_register_samplers(self, register):
            register("s", "not a function")

    plugins = tk_plugins(Wrong(), names=["wrong"])
    assert plugins.broken and "not callable" in plugins.broken[0].error


def test_event_hook_errors_name_the_plugin(tk_plugins):
    class Bad:
        @hookimpl
        def tk_epoch_end(self, run, epoch, metrics):
            raise KeyError("val_f1")

    plugins = tk_plugins(Bad(), names=["bad-logger"])
    with pytest.raises(PluginError, match=r"Plugin 'bad-logger' failed in tk_epoch_end: KeyError"):
        plugins.emit("tk_epoch_end", run=None, epoch=0, metrics={})


def test_a_wrapper_on_an_event_hook_is_refused_naming_the_plugin(tk_plugins):
    calls = []

    class Plain:
        @hookimpl
        def tk_epoch_end(self, run, epoch, metrics):
            calls.append(epoch)

    class Wrapping:
        @hookimpl(wrapper=True)
        def tk_epoch_end(self, run, epoch, metrics):
            return (yield)

    assert tk_plugins(Plain(), names=["plain"]).emit("tk_epoch_end", run=None, epoch=3, metrics={}) is None
    assert calls == [3]
    plugins = tk_plugins(Wrapping(), names=["wrapping"])
    with pytest.raises(PluginError, match=r"Plugin 'wrapping' wraps the event hook tk_epoch_end"):
        plugins.emit("tk_epoch_end", run=None, epoch=0, metrics={})


def test_fresh_manager_each_time():
    a, b = load_plugins(), load_plugins()
    assert a.pm is not b.pm and a.registry("losses") is not b.registry("losses")


def test_tk_register_commands_is_listed_per_plugin():
    """A plugin's `tk_register_commands` adds click commands; `tk plugins` lists them as its own."""
    import types

    import click

    from toolkit import hookimpl
    from toolkit.testing import make_plugins

    @click.command("hello")
    def hello():
        click.echo("hi")

    module = types.SimpleNamespace(tk_register_commands=hookimpl(lambda cli: cli.add_command(hello)))
    loaded = make_plugins(module, names=["greeter"])
    loaded.note_commands()
    assert loaded.info["greeter"].registered == {"commands": ["hello"]}

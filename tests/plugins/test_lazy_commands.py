"""Plugin commands listed without importing plugins; a broken plugin stops only what uses it.

Real packages are written here and pip-installed (``--target`` a private folder put on
PYTHONPATH, as tests/faults/plugin_packages.py does), then `tk` runs as a subprocess, as a
user's would, and report the modules they imported (`sys.modules` at exit).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from toolkit import hookimpl
from toolkit.testing import make_image_folder, make_recipe

LAZY_BODY = '''\
"""A plugin written as most are: torch imported at the top of its module."""
import click
import torch

from toolkit import hookimpl


def lazy_loss(num_classes=None):
    """Cross-entropy, from a plugin that imports torch at its top."""
    return torch.nn.CrossEntropyLoss()


@click.command("lazy-hello")
@click.option("--name", default="world")
def hello(name):
    """{help}"""
    click.echo(f"hello {{name}} from torch {{torch.__version__.split('+')[0]}}")
{more}

@hookimpl
def tk_register_losses(register):
    register("lazy_loss", lazy_loss)


@hookimpl
def tk_register_commands(cli):
    cli.add_command(hello)
'''

BROKEN_BODY = 'raise ImportError("tk-lazy-broken needs libacme, which is not installed")\n'


def _install(site: Path, work: Path, dist: str, module: str, entry: str, body: str, version: str = "1.0") -> None:
    src = work / f"{dist}-{version}"
    (src / module).mkdir(parents=True)
    (src / module / "__init__.py").write_text(body)
    (src / "pyproject.toml").write_text(f"""\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "{dist}"
version = "{version}"

[project.entry-points.tk]
{entry} = "{module}"

[tool.setuptools]
packages = ["{module}"]
""")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--upgrade", "--target", str(site), str(src)], check=True, capture_output=True)


def _lazy(help_text: str = "Greet from a plugin that imports torch at its top.", more: str = "") -> str:
    return LAZY_BODY.format(help=help_text, more=more)


DRIVER = """\
import atexit, json, sys
atexit.register(lambda: open(sys.argv[1], "w").write(json.dumps(sorted(sys.modules))))
from toolkit.cli import main
main(sys.argv[2:])
"""


def tk(site: Path, *args: str, cwd: Path, modules: list[set[str]] | None = None,
       **env: str) -> subprocess.CompletedProcess:
    """``tk ARGS`` in a fresh process with ``site`` installed; appends to ``modules`` the names
    of every module the process had imported when it exited (`sys.modules`)."""
    full = dict(os.environ, PYTHONPATH=str(site), OMP_NUM_THREADS="1", COLUMNS="200", **env)
    out = cwd / "modules.json"
    ran = subprocess.run([sys.executable, "-c", DRIVER, str(out), *args], cwd=cwd, env=full,
                         capture_output=True, text=True, timeout=300, check=False)
    if modules is not None:
        modules.append(set(json.loads(out.read_text())))
    return ran


@pytest.fixture
def lazy_site(tmp_path) -> Path:
    site = tmp_path / "site"
    _install(site, tmp_path / "src", "tk-lazy-demo", "tk_lazy_demo", "lazy_demo", _lazy())
    return site


def test_help_lists_a_plugin_command_without_importing_the_plugin_or_torch(lazy_site, tmp_path):
    first = tk(lazy_site, "--help", cwd=tmp_path)  # may build the cache (imports the plugins once)
    assert first.returncode == 0, first.stderr
    assert "lazy-hello" in first.stdout and "Greet from a plugin that imports torch at its top." in first.stdout

    seen: list[set[str]] = []
    second = tk(lazy_site, "--help", cwd=tmp_path, modules=seen)
    assert second.returncode == 0, second.stderr
    assert second.stdout == first.stdout
    assert "toolkit.cli" in seen[0]  # the check sees imports at all
    assert not {"tk_lazy_demo", "torch", "tk_timm", "tk_losses"} & seen[0], \
        sorted(m for m in seen[0] if m.startswith(("tk_", "torch")))

    # shell completion lists it with its help, from the same cache
    completed = tk(lazy_site, cwd=tmp_path, modules=seen, _TK_COMPLETE="zsh_complete", COMP_WORDS="tk lazy",
                   COMP_CWORD="1")
    assert completed.returncode == 0, completed.stderr
    assert "lazy-hello" in completed.stdout and "Greet from a plugin" in completed.stdout
    assert not {"tk_lazy_demo", "torch"} & seen[1]


def test_switching_a_plugin_off_and_on_keeps_both_listings_cached(lazy_site, tmp_path):
    """``TK_DISABLE_PLUGINS`` set for one command and unset for the next: each state's listing is
    built once, then read back without importing the plugin (one cache held one state and every
    switch imported every plugin again)."""
    off = {"TK_DISABLE_PLUGINS": "lazy_demo"}
    assert "lazy-hello" in tk(lazy_site, "--help", cwd=tmp_path).stdout
    assert "lazy-hello" not in tk(lazy_site, "--help", cwd=tmp_path, **off).stdout
    seen: list[set[str]] = []
    on_again = tk(lazy_site, "--help", cwd=tmp_path, modules=seen)
    off_again = tk(lazy_site, "--help", cwd=tmp_path, modules=seen, **off)
    assert "lazy-hello" in on_again.stdout and "lazy-hello" not in off_again.stdout
    assert not {"tk_lazy_demo", "torch"} & (seen[0] | seen[1])


def test_two_packages_claiming_one_command_and_one_loss_are_named_and_neither_is_knocked_out(lazy_site, tmp_path):
    """A second package adding the same command and loss: which one ran depended on the order the
    plugins loaded (and the loss clash marked a whole plugin broken). Now neither claim is used, both
    plugins are named, and switching one off gives the other's."""
    twin = _lazy("The twin's greeting.").replace("lazy_loss", "lazy_loss").replace("from torch", "from the twin")
    _install(lazy_site, tmp_path / "src", "tk-lazy-twin", "tk_lazy_twin", "lazy_twin", twin)
    helped = tk(lazy_site, "--help", cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr
    assert "lazy-hello" not in helped.stdout
    assert ("Warning: command 'lazy-hello' is added by plugins 'lazy_demo' and 'lazy_twin': tk adds neither until one "
            "is switched off (TK_DISABLE_PLUGINS=lazy_twin).") in " ".join(helped.stderr.split())
    listed = tk(lazy_site, "plugins", cwd=tmp_path)
    flat = " ".join(listed.stdout.split())
    assert "(broken)" not in flat and "Not used: losses 'lazy_loss' is registered by plugin 'lazy_demo' (tk-lazy-demo " \
        "1.0) and plugin 'lazy_twin' (tk-lazy-twin 1.0)" in flat, flat
    one = tk(lazy_site, "lazy-hello", cwd=tmp_path, TK_DISABLE_PLUGINS="lazy_twin")
    assert one.returncode == 0 and "hello world from torch" in one.stdout, one.stderr


def test_running_the_command_imports_only_its_plugin(lazy_site, tmp_path):
    assert tk(lazy_site, "--help", cwd=tmp_path).returncode == 0
    seen: list[set[str]] = []
    ran = tk(lazy_site, "lazy-hello", "--name", "tk", cwd=tmp_path, modules=seen)
    assert ran.returncode == 0, ran.stderr
    assert "hello tk from torch" in ran.stdout
    assert "tk_lazy_demo" in seen[0] and not {"tk_timm", "tk_losses", "tk_exporters"} & seen[0]

    helped = tk(lazy_site, "lazy-hello", "--help", cwd=tmp_path)
    assert helped.returncode == 0 and "--name" in helped.stdout, helped.stderr
    # a name no plugin adds is click's usual error, with no plugin imported
    unknown = tk(lazy_site, "lazy-nope", cwd=tmp_path, modules=seen)
    assert unknown.returncode == 2 and "No such command 'lazy-nope'" in unknown.stderr
    assert "tk_lazy_demo" not in seen[1]


def test_upgrading_or_editing_the_plugin_refreshes_the_listing(lazy_site, tmp_path):
    assert "Greet from a plugin" in tk(lazy_site, "--help", cwd=tmp_path).stdout

    _install(lazy_site, tmp_path / "src", "tk-lazy-demo", "tk_lazy_demo", "lazy_demo",
             _lazy("Greet, as version two does."), version="2.0")
    upgraded = tk(lazy_site, "--help", cwd=tmp_path)
    assert "Greet, as version two does." in upgraded.stdout and "imports torch at its top" not in upgraded.stdout

    # the module's source changes in place (an editable or path install): listed again from it
    module = lazy_site / "tk_lazy_demo" / "__init__.py"
    more = ('\n\n@click.command("lazy-bye")\ndef bye():\n    """Say goodbye."""\n\n\n'
            '@hookimpl\ndef tk_register_commands(cli):\n    cli.add_command(bye)\n')
    module.write_text(module.read_text() + more)
    stat = module.stat()
    os.utime(module, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))  # a coarse file-system clock
    edited = tk(lazy_site, "--help", cwd=tmp_path)
    assert "lazy-bye" in edited.stdout and "Say goodbye." in edited.stdout, edited.stdout

    # a corrupt cache is rebuilt without a word
    cached = list(Path(os.environ["TK_CACHE_DIR"]).glob("plugin-commands-*.json"))
    assert cached
    for path in cached:
        path.write_bytes(b"\x00{not json")
    again = tk(lazy_site, "--help", cwd=tmp_path)
    assert again.returncode == 0 and again.stderr == "" and "lazy-bye" in again.stdout


def test_tk_commands_entry_point_is_listed_without_importing_anything(tmp_path):
    """A package that declares its command in the ``tk.commands`` group is never imported to list it."""
    src = tmp_path / "src" / "tk-declared"
    (src / "tk_declared").mkdir(parents=True)
    (src / "tk_declared" / "__init__.py").write_text("import torch\n")
    (src / "tk_declared" / "cli.py").write_text(
        'import click\nimport torch\n\n\n@click.command()\n@click.argument("n", type=int)\n'
        'def square(n):\n    """Square a number with torch."""\n    click.echo(int(torch.tensor(n) ** 2))\n')
    (src / "pyproject.toml").write_text("""\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "tk-declared"
version = "1.0"

[project.entry-points."tk.commands"]
square = "tk_declared.cli:square"

[project.entry-points.tk]
declared = "tk_declared"

[tool.setuptools]
packages = ["tk_declared"]
""")
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(site), str(src)], check=True, capture_output=True)
    seen: list[set[str]] = []
    first = tk(site, "--help", cwd=tmp_path, modules=seen)  # builds the cache
    assert first.returncode == 0, first.stderr
    assert "square" in first.stdout and "Square a number with torch." in first.stdout
    assert not {"tk_declared", "tk_declared.cli", "torch"} & seen[0]
    ran = tk(site, "square", "7", cwd=tmp_path)
    assert ran.returncode == 0 and ran.stdout.strip() == "49", ran.stderr
    listed = tk(site, "plugins", "--json", cwd=tmp_path)  # tk plugins lists it under its plugin
    declared = next(p for p in json.loads(listed.stdout)["plugins"] if p["name"] == "declared")
    assert declared["registered"]["commands"] == ["square"], declared


# -- a broken plugin stops only the recipes that use it ------------------------------------------


@pytest.fixture
def broken_site(tmp_path) -> Path:
    site = tmp_path / "site"
    _install(site, tmp_path / "src", "tk-lazy-broken", "tk_lazy_broken", "lazy_broken", BROKEN_BODY)
    return site


def _one_line(stderr: str, prefix: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr and len(lines) == 1 and lines[0].startswith(prefix), stderr
    return lines[0]


def test_a_broken_plugin_does_not_stop_a_recipe_that_does_not_use_it(broken_site, tmp_path):
    images = make_image_folder(tmp_path / "images", {"a": 4, "b": 4}, size=32)
    recipe = make_recipe(tmp_path / "ok.toml", images, epochs=1, backbone="test_efficientnet")

    checked = tk(broken_site, "recipes", "check", str(recipe), cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert f"{recipe}: ok" in checked.stdout
    note = _one_line(checked.stderr, "Note: ")
    assert "'lazy_broken' (tk-lazy-broken 1.0)" in note and "libacme" in note

    dry = tk(broken_site, "run", str(recipe), "--dry-run", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "Dry run of" in dry.stdout
    assert "'lazy_broken' (tk-lazy-broken 1.0)" in _one_line(dry.stderr, "Note: ")


def test_a_recipe_naming_what_the_broken_plugin_would_provide_is_one_error_line(broken_site, tmp_path):
    images = make_image_folder(tmp_path / "images", {"a": 4, "b": 4}, size=32)
    recipe = make_recipe(tmp_path / "uses.toml", images, epochs=1, backbone="test_efficientnet",
                         extra='[loss]\nname = "acme_focal"\n')
    for args in (["recipes", "check", str(recipe)], ["run", str(recipe), "--dry-run"]):
        result = tk(broken_site, *args, cwd=tmp_path)
        assert result.returncode == 1, result.stderr
        line = _one_line(result.stderr, "Error: ")
        assert "unknown loss 'acme_focal'" in line and "plugin 'lazy_broken' (tk-lazy-broken 1.0)" in line, line
        assert "libacme" in line and "Did you mean" not in line and str(recipe) in line
    assert not (tmp_path / "runs").exists()


# -- exporters: one file suffix, one exporter ---------------------------------------------------


class _TsExporter:
    suffix = ".ts"

    def __init__(self, name: str):
        self.name = name


def test_two_exporters_with_one_suffix_are_an_error_naming_both(tk_plugins, tmp_path):
    """Reading a file two exporters could have written is refused naming both, unless its manifest says."""
    from toolkit.core.errors import PluginError
    from toolkit.export.loading import exporter_for_path

    class First:
        @hookimpl
        def tk_register_exporters(self, register):
            register("torchscript", lambda: _TsExporter("torchscript"))

    class Second:
        @hookimpl
        def tk_register_exporters(self, register):
            register("ts_fast", lambda: _TsExporter("ts_fast"))

    plugins = tk_plugins(First(), Second(), names=["first_ts", "second_ts"])
    model = tmp_path / "model.ts"
    model.write_bytes(b"x")
    with pytest.raises(PluginError) as caught:  # a file with no manifest: neither may guess it is theirs
        exporter_for_path(model, plugins)
    message = str(caught.value)
    assert "'torchscript' (plugin 'first_ts')" in message and "'ts_fast' (plugin 'second_ts')" in message
    assert "'.ts'" in message and "TK_DISABLE_PLUGINS" in message

    # exporting picks the exporter by name (never ambiguous); the export's manifest then says whose file it is
    (tmp_path / "manifest.json").write_text('{"format": "ts_fast", "file": "model.ts"}')
    assert exporter_for_path(model, plugins)[0] == "ts_fast"

    alone = tk_plugins(First(), names=["first_ts"])
    assert exporter_for_path(model, alone)[0] == "torchscript"

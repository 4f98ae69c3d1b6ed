"""The `tk` command line: a click group whose commands are imported only when used.

Each command lives in its own small module under `toolkit.cli`; `COMMANDS` maps a command
name to ``module:attribute``. Command modules import only click and light parts of tk at the
top (torch and plugins are imported inside the command), so `tk --help` stays well under a
second. A `TkError` raised anywhere becomes one ``Error: ...`` line and exit status 1,
without a traceback.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from .. import __version__
from ..errors import TkError

COMMANDS: dict[str, str] = {
    "plugins": "toolkit.cli.plugins_cmd:plugins",
    "recipes": "toolkit.cli.recipes_cmd:recipes",
    "run": "toolkit.cli.run_cmd:run",
    "data": "toolkit.cli.data_cmd:data",
    "models": "toolkit.cli.models_cmd:models",
    "augment": "toolkit.cli.augment_cmd:augment",
    "tune": "toolkit.cli.tune_cmd:tune",
    "export": "toolkit.cli.export_cmd:export",
    "predict": "toolkit.cli.predict_cmd:predict",
    "eval": "toolkit.cli.eval_cmd:eval_",
    "bench": "toolkit.cli.bench_cmd:bench",
    "compare": "toolkit.cli.compare_cmd:compare",
}
"""Command name → ``module:attribute`` of its click command. Only commands that work are listed."""


class LazyGroup(click.Group):
    """A group that imports a command's module only when that command is asked for.

    Commands that plugins add (``tk_register_commands``) are collected only when the full list
    is needed (``tk --help``) or a name is not one of tk's: ``tk run`` never loads them.
    """

    _plugin_commands_loaded = False
    shadowed: list[str] = []

    def _load_plugin_commands(self) -> None:
        if self._plugin_commands_loaded:
            return
        self._plugin_commands_loaded = True
        from ..plugins import load_plugins

        before = dict(self.commands)
        loaded = load_plugins()
        for impl in loaded.pm.hook.tk_register_commands.get_hookimpls():
            try:
                impl.function(cli=self)
            except Exception as exc:  # one plugin's bug must not take the command line down
                click.echo(f"Warning: plugin '{impl.plugin_name}' failed to add its commands: "
                           f"{type(exc).__name__}: {exc}", err=True)
        self.shadowed = sorted(name for name in self.commands if name in COMMANDS and name not in before)
        for name in self.shadowed:  # tk's own command keeps its name
            del self.commands[name]

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_plugin_commands()
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in COMMANDS:
            module, _, attr = COMMANDS[name].partition(":")
            return getattr(importlib.import_module(module), attr)
        found = super().get_command(ctx, name)
        if found is None:
            self._load_plugin_commands()
            found = super().get_command(ctx, name)
        return found

    def invoke(self, ctx: click.Context):  # noqa: ANN201 - click's signature
        try:
            return super().invoke(ctx)
        except TkError as exc:
            raise click.ClickException(str(exc)) from None
        except OSError as exc:
            # A file-system refusal (read-only mount, permission, full disk) while creating a
            # folder or file: one line naming it, as for every other fault a user can fix.
            if exc.filename is None or isinstance(exc, (BlockingIOError, InterruptedError)):
                raise
            target = exc.filename if exc.filename2 is None else exc.filename2
            raise click.ClickException(f"{os.fsdecode(target)}: {exc.strerror or exc}.") from None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="tk")
def cli() -> None:
    """Train image classifiers from a folder of images and ship them to devices.

    \b
    Start:   tk run quickstart          (generated data, a few minutes on a CPU)
    Yours:   tk run recipes/slides_m4.toml --set data.root=path/to/images
    """


def _print_any_file_name() -> None:
    """Let stdout print file names that are not UTF-8 (as their own bytes) instead of crashing.

    Python hands such names over as surrogate escapes and, outside the C locale, a UTF-8
    stdout refuses them with UnicodeEncodeError: `tk data check` on a folder unpacked from an
    old zip would die on the one file it should report. (stderr already escapes them.)
    """
    if getattr(sys.stdout, "errors", None) == "strict" and hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="surrogateescape")


def main(args: list[str] | None = None) -> None:
    """Console-script entry point (``args``: the command line after ``tk``; default ``sys.argv[1:]``)."""
    _print_any_file_name()
    try:
        cli.main(args, prog_name="tk")
    except TkError as exc:  # raised outside a command's invoke (e.g. while resolving it)
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)

"""The `tk` command line: a click group whose commands are imported only when used.

Each command lives in its own small module under `toolkit.cli`; `COMMANDS` maps a command
name to ``module:attribute``. Command modules import only click and light parts of tk at the
top (torch and plugins are imported inside the command), so `tk --help` stays well under a
second. A `TkError` raised anywhere becomes one ``Error: ...`` line and exit status 1,
without a traceback; ``tk --debug`` (or ``TK_DEBUG=1``) prints the traceback behind it first,
e.g. the plugin code that failed.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from ..core.errors import TkError
from ..core.version import __version__

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

    Commands that plugins add (``tk_register_commands``) are listed from a cache of their names
    and help (`toolkit.cli.plugin_commands`): ``tk --help`` and shell completion import no
    plugin, ``tk run`` never looks at them, and a plugin's module is imported only when one of
    its commands runs (`resolve_command`).
    """

    _listing: tuple[tuple[Any, ...], Any] | None = None

    def _plugin_listing(self) -> Any:
        """The plugin commands (`toolkit.cli.plugin_commands.Listing`), read once per environment."""
        from .plugin_commands import listing

        where = (tuple(sys.path), os.environ.get("TK_CACHE_DIR"), os.environ.get("TK_DISABLE_PLUGINS"))
        if self._listing is None or self._listing[0] != where:
            found = listing(set(COMMANDS))
            for warning in found.warnings:
                click.echo(f"Warning: {warning}", err=True)
            self._listing = (where, found)
        return self._listing[1]

    @property
    def shadowed(self) -> list[str]:
        """Plugin commands named like one of tk's own (tk's wins; they are left out)."""
        return list(self._plugin_listing().shadowed)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS, *self._plugin_listing().names()})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in COMMANDS:
            module, _, attr = COMMANDS[name].partition(":")
            return getattr(importlib.import_module(module), attr)
        found = super().get_command(ctx, name)
        if found is None:
            found = self._plugin_listing().stub(name)  # name and help only, for listings
        return found

    def resolve_command(self, ctx: click.Context, args: list[str]):  # noqa: ANN201 - click's signature
        from .plugin_commands import CachedCommand

        name, cmd, rest = super().resolve_command(ctx, args)
        if isinstance(cmd, CachedCommand):  # a listed plugin command about to run: import its plugin now
            from .plugin_commands import _origin

            try:
                real = cmd.load()
            except TkError as exc:
                raise click.ClickException(str(exc)) from None
            ctx.meta["tk.plugin_command"] = f"The command '{name}' ({_origin(cmd.entry)})"  # for `invoke`'s blame
            cmd = real
        return name, cmd, rest

    def invoke(self, ctx: click.Context):  # noqa: ANN201 - click's signature
        try:
            return super().invoke(ctx)
        except TkError as exc:
            _show_traceback(exc)
            raise click.ClickException(str(exc)) from None
        except KeyboardInterrupt as exc:
            # Ctrl-C in any command: one line and the shell's status for it (130), as `tk run` says it;
            # click would print "Aborted!" and exit 1. Files tk writes are written whole or not at all.
            _show_traceback(exc)
            click.echo("\nInterrupted (Ctrl-C).", err=True)
            sys.exit(130)
        except OSError as exc:
            # A file-system refusal (read-only mount, permission, full disk) while creating a
            # folder or file: one line naming it, as for every other fault a user can fix.
            if exc.filename is None or isinstance(exc, (BlockingIOError, InterruptedError)):
                raise
            target = exc.filename if exc.filename2 is None else exc.filename2
            raise click.ClickException(f"{os.fsdecode(target)}: {exc.strerror or exc}.") from None
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:
            blamed = ctx.meta.get("tk.plugin_command")
            if blamed is None:  # tk's own bug: the traceback is what a report needs
                raise
            from ..plugin.blame import part_failure

            _show_traceback(exc)  # a plugin command's failure: one line naming it and its plugin
            raise click.ClickException(str(part_failure(blamed, exc))) from None


DEBUG_ENV = "TK_DEBUG"
"""Set (to anything but ``0``) by ``tk --debug``, and inherited by the processes a command starts."""


def _show_traceback(exc: BaseException) -> None:
    """With ``--debug``: the traceback behind a one-line error (the plugin's own code included) on stderr."""
    if os.environ.get(DEBUG_ENV, "0") not in ("", "0"):
        import traceback

        click.echo("".join(traceback.format_exception(exc)).rstrip(), err=True)


def _debug(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        os.environ[DEBUG_ENV] = "1"


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="tk")
@click.option("--debug", is_flag=True, expose_value=False, is_eager=True, callback=_debug,
              help="On an error, print the traceback behind its one line (e.g. the plugin code that failed).")
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
    from ..core.threads import set_wait_policy

    argv = sys.argv[1:] if args is None else list(args)
    command = next((a for a in argv if not a.startswith("-")), None)
    if any(a in ("-h", "--help") for a in argv):
        command = None  # only help is printed: no 0.3 s load sample for a run that never starts
    set_wait_policy(command)  # OpenMP reads it when torch loads, which no command has done yet
    _print_any_file_name()
    try:
        cli.main(args, prog_name="tk")
    except TkError as exc:  # raised outside a command's invoke (e.g. while resolving it)
        _show_traceback(exc)
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)

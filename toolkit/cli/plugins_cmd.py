"""`tk plugins`: every plugin, its version, and what it registered; broken ones marked."""

from __future__ import annotations

import json

import click

from ..plugin.hookspecs import REGISTRATION_HOOKS


@click.command(short_help="Plugins, what they registered, and every parameter (--json).")
@click.option("--json", "as_json", is_flag=True,
              help="Print machine-readable JSON: plugins, and every entry of every kind (or of --kind) with its "
                   "parameters (type, default, choices, range).")
@click.option("--kind", type=click.Choice(sorted(REGISTRATION_HOOKS)), help="List the entries of one kind.")
@click.option("-v", "--verbose", is_flag=True, help="Show each entry's parameters and defaults (of every kind, or "
                                                  "of --kind's).")
def plugins(as_json: bool, kind: str | None, verbose: bool) -> None:
    """List plugins and what they registered (backbones, losses, samplers ...).

    Plugins come from the `tk` entry-point group; switch one off with
    TK_DISABLE_PLUGINS=name[,name...].
    """
    from ..plugin.manager import load_plugins
    from . import COMMANDS

    loaded = load_plugins()
    loaded.note_commands(set(COMMANDS))  # a plugin command named like tk's own is not added: say so
    _note_declared_commands(loaded)
    if as_json:
        from ..recipe.json_schema import entry_json

        payload = {
            "plugins": [
                {"name": i.name, "dist": i.dist, "version": i.version, "source": i.source, "registered": i.registered}
                for i in loaded.info.values()
            ],
            "broken": [{"name": b.name, "dist": b.dist, "version": b.version, "error": b.error} for b in loaded.broken],
            "disabled": loaded.disabled,
            "clashes": loaded.clashes(),
        }
        if kind:
            payload["entries"] = [entry_json(e) for e in loaded.registry(kind)]
        else:  # every entry of every kind, with its parameters: what editors and scripts need
            payload["kinds"] = {k: [entry_json(e) for e in loaded.registry(k)] for k in REGISTRATION_HOOKS}
        click.echo(json.dumps(payload, indent=2))
        return

    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(soft_wrap=False)
    if kind or verbose:  # -v alone: every kind's entries with their parameters
        for one in [kind] if kind else sorted(REGISTRATION_HOOKS):
            table = Table(title=f"{one}", show_lines=verbose)
            table.add_column("name", style="bold")
            table.add_column("plugin")
            table.add_column("parameters" if verbose else "description")
            for entry in loaded.registry(one):
                detail = "\n".join(p.describe() for p in entry.params()) if verbose else entry.description
                if verbose and entry.description:
                    detail = f"{entry.description}\n{detail}".strip()
                if entry.info.get("metrics"):  # what a callback adds to the epoch's metrics
                    detail = f"{detail}\nmetrics: {', '.join(map(str, entry.info['metrics']))}".strip()
                table.add_row(escape(entry.name), entry.plugin, escape(detail) or "-")  # "[0.1, 2.0]" is not markup
            console.print(table)
        return

    table = Table(title="tk plugins")
    table.add_column("plugin", style="bold")
    table.add_column("distribution")
    table.add_column("registered")
    for info in loaded.info.values():
        what = "\n".join(f"{k}: {', '.join(v)}" for k, v in info.registered.items()) or "(event hooks only)"
        table.add_row(info.name, f"{info.dist} {info.version}".strip() or info.source, what)
    for b in loaded.broken:
        table.add_row(f"[red]{b.name} (broken)[/red]", f"{b.dist} {b.version}".strip(), f"[red]{b.error}[/red]")
    for name in loaded.disabled:
        table.add_row(f"[dim]{name} (disabled)[/dim]", "", "[dim]switched off by TK_DISABLE_PLUGINS or the recipe[/dim]")
    console.print(table)
    for kind, names in loaded.clashes().items():
        for name, origins in names.items():
            click.echo(f"Not used: {kind} '{name}' is registered by {' and '.join(origins)}; switch one off "
                       f"(TK_DISABLE_PLUGINS) to use the other's.")


def _note_declared_commands(loaded) -> None:
    """Commands a distribution declares in the ``tk.commands`` entry-point group (listed without
    importing it): under its ``tk`` plugin when it has one, else as a plugin of their own (the
    distribution's name, which is also what TK_DISABLE_PLUGINS takes for them)."""
    from importlib import metadata

    from ..plugin.manager import PluginInfo, disabled_from_env
    from . import COMMANDS
    from .plugin_commands import COMMANDS_GROUP, _declared

    off = disabled_from_env()
    for ep in metadata.entry_points(group=COMMANDS_GROUP):
        entry = _declared(ep)
        owner = next((i for i in loaded.info.values() if entry["dist"] and i.dist == entry["dist"]), None)
        name = owner.name if owner else (entry["dist"] or ep.name)
        if name in off:
            continue
        if owner is None:
            owner = loaded.info.setdefault(name, PluginInfo(name, entry["dist"], entry["version"], "tk.commands"))
        listed = owner.registered.setdefault("commands", [])
        if ep.name not in listed and not any(c.startswith(f"{ep.name} (") for c in listed):
            listed.append(ep.name if ep.name not in COMMANDS else f"{ep.name} (not added: tk has its own)")

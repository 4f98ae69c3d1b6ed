"""`tk models [PATTERN]`: the backbone names a recipe may use, with shell-style wildcards.

The names come from the backbone registry, not from timm directly: an entry that stands for
many models (the first-party ``timm`` entry answers for every timm architecture) registers a
``list_models(pattern, pretrained) -> list[str]`` callable in its info, and every other entry
is listed under its own name. So the core never imports a concrete plugin, and a third-party
backbone package (say, one serving Hugging Face transformers) shows up here the moment it is
installed, the same way its names are accepted by ``model.backbone``.
"""

from __future__ import annotations

import fnmatch
import json

import click


def collect_models(plugins, pattern: str, pretrained: bool) -> list[tuple[str, str]]:
    """``(name, entry)`` pairs of every backbone name matching ``pattern``, sorted by name."""
    found: dict[str, str] = {}
    for entry in plugins.registry("backbones"):
        lister = entry.info.get("list_models")
        if callable(lister):
            names = lister(pattern, pretrained)
        elif pretrained:  # a plain entry says nothing about weights
            names = []
        else:
            names = [entry.name] if fnmatch.fnmatchcase(entry.name, pattern) else []
        for name in names:
            found.setdefault(name, entry.name)
    return sorted(found.items())


@click.command(short_help="List backbone names (timm and plugins), cached weights, downloads.")
@click.argument("pattern", default="*")
@click.option("--pretrained", is_flag=True, help="Only names with pretrained weights (arch.tag).")
@click.option("--cached", is_flag=True, help="Only names whose pretrained weights are already downloaded "
                                            "(usable offline).")
@click.option("--download", "fetch", metavar="NAME", help="Fetch NAME's pretrained weights now, for offline runs later.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def models(pattern: str, pretrained: bool, cached: bool, fetch: str | None, as_json: bool) -> None:
    """List backbone names matching PATTERN (wildcards: 'resnet*', '*mobilenetv4*').

    \b
    tk models 'efficientnet_b*'
    tk models 'mobilenetv4*' --pretrained
    tk models --cached                   weights already downloaded (usable offline)
    tk models --download mobilenetv4_conv_medium.e500_r256_in1k
    """
    from ..plugin.manager import load_plugins

    plugins = load_plugins()
    if fetch:
        for entry in plugins.registry("backbones"):
            if callable(entry.info.get("download")) and entry.info["resolve"](fetch):
                click.echo(entry.info["download"](fetch))
                return
        raise click.ClickException(f"No backbone plugin can download '{fetch}' (see `tk models '{fetch}*'`).")
    if cached:
        rows = [(name, entry.name) for entry in plugins.registry("backbones")
                if callable(entry.info.get("cached_models")) for name in entry.info["cached_models"](pattern)]
        if not rows and not as_json:  # an empty cache is an answer, not a failure
            which = "are cached yet" if pattern == "*" else f"matching '{pattern}' are cached"
            click.echo(f"No pretrained weights {which}: `tk models --download NAME` fetches one (names: "
                       f"tk models --pretrained), and a run with model.pretrained = true on a machine that reaches "
                       f"the Hugging Face hub caches what it uses.")
            return
    else:
        rows = collect_models(plugins, pattern, pretrained)
    if as_json:
        click.echo(json.dumps([{"name": n, "entry": e} for n, e in rows], indent=2))
        return
    if not rows:
        what = "pretrained weights" if pretrained else "backbones"
        click.echo(f"No {what} match '{pattern}'. Try a wildcard, e.g. tk models '*{pattern.strip('*')}*'.", err=True)
        raise SystemExit(1)
    for name, _ in rows:
        click.echo(name)
    entries = sorted({e for _, e in rows})
    click.echo(f"{len(rows)} {'pretrained weights' if pretrained else 'models'} ({', '.join(entries)})", err=True)

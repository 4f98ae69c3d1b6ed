"""`tk recipes`: list the bundled recipes and check a recipe without running it."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def recipes() -> None:
    """List and check recipes."""


@recipes.command("list")
def list_recipes() -> None:
    """List bundled recipes (usable by name: `tk run quickstart`)."""
    import shutil
    import textwrap
    import tomllib

    from ..recipe.load import RECIPE_DIRS

    seen: dict[str, tuple[str, str]] = {}
    for folder in RECIPE_DIRS:
        for path in sorted(folder.glob("*.toml")) if folder.is_dir() else []:
            if path.stem in seen:
                continue
            lines = [line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#:")]
            first = lines[:1]  # the first comment line, past a `#:schema` directive for editors
            about = first[0].lstrip("# ").strip() if first and first[0].startswith("#") else ""
            try:
                tomllib.loads(path.read_text(encoding="utf-8"))
            except tomllib.TOMLDecodeError:
                about = "(invalid TOML) " + about
            seen[path.stem] = (str(path), about)
    if not seen:
        return
    name_w = max(len(n) for n in seen)
    path_w = max(len(p) for p, _ in seen.values())
    width = shutil.get_terminal_size((100, 24)).columns
    indent = name_w + path_w + 4
    for name, (path, about) in seen.items():  # aligned columns; the description wraps under itself
        wrapped = textwrap.wrap(about, max(30, width - indent)) or [""]
        click.echo(f"{name:<{name_w}}  {path:<{path_w}}  {wrapped[0]}")
        for more in wrapped[1:]:
            click.echo(" " * indent + more)


@recipes.command("check")
@click.argument("recipe")
@click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE", help="Override a recipe key.")
@click.option("--show", is_flag=True, help="Print the resolved recipe (every default spelt out). A recipe that names "
                                          "its own plugin modules is shown without importing them: look before you run "
                                          "a recipe from elsewhere.")
def check(recipe: str, overrides: tuple[str, ...], show: bool) -> None:
    """Validate RECIPE (keys, types, plugin names and parameters) without running it."""
    from ..core.errors import TkError
    from ..engine.train import load_run_plugins
    from ..recipe.load import find_recipe, load_recipe

    loaded_recipe = load_recipe(find_recipe(recipe), overrides)
    if show and loaded_recipe["plugins"]["modules"]:
        _show_unimported(loaded_recipe)
        return
    try:
        plugins = load_run_plugins(loaded_recipe, reads_data=False)  # the checks `tk run` makes before it reads data
    except TkError as exc:
        located = loaded_recipe.locate(str(exc))
        if located == str(exc):
            raise
        raise TkError(located) from None
    plugins.note_broken()  # a broken plugin this recipe does not use: one Note: line, and it passes
    if show:
        click.echo(loaded_recipe.to_toml(plugins))
    click.echo(f"{loaded_recipe.path}: ok")


def _show_unimported(recipe) -> None:
    """``--show`` of a recipe that names plugin modules: the recipe and the files it would import,
    importing none of them (installed plugin packages load as always: they are already trusted)."""
    from ..plugin.manager import _is_file_spec, load_plugins

    modules = recipe["plugins"]["modules"]
    click.echo(f"# {recipe.path} imports these plugin modules when it runs or is checked (not imported here):")
    for spec in modules:
        where = recipe.resolve_path(spec) if _is_file_spec(spec) else None
        click.echo(f"#   {spec}" + (f"  ->  {where.resolve()}" if where is not None else "  (a module on sys.path)"))
    click.echo(recipe.to_toml(load_plugins()))
    click.echo(f"{recipe.path}: not checked yet: read those modules, then run tk recipes check {recipe.path} "
               f"(without --show), which imports and checks them.")


@recipes.command("schema")
@click.option("--out", type=click.Path(path_type=Path), help="Write it to this file instead of printing it.")
def schema(out: Path | None) -> None:
    """Print the JSON Schema of a recipe, with the parameters of every installed plugin.

    \b
    Editors with a TOML language server (taplo, VS Code's "Even Better TOML") read a first line
    #:schema ./tk-recipe.schema.json and then complete and check recipes as you type:
      tk recipes schema --out recipes/tk-recipe.schema.json
    """
    import json

    from ..core.atomic import atomic_write
    from ..plugin.manager import load_plugins
    from ..recipe.json_schema import recipe_schema

    loaded = load_plugins()
    loaded.raise_if_broken()
    loaded.note_broken()  # the schema then lacks what a broken plugin would have added
    text = json.dumps(recipe_schema(loaded), indent=1) + "\n"
    if out is None:
        click.echo(text, nl=False)
        return
    atomic_write(out, lambda fh: fh.write(text.encode("utf-8")))
    click.echo(f"Wrote {out}.")

"""`tk data check DIR|RECIPE`: what a training run would see in a folder of class folders, or in
the data a recipe's dataset plugin supplies; `tk data doctor` and `tk data apply`: find what is
wrong with a folder and fix a copy."""

from __future__ import annotations

import json

import click


@click.group()
def data() -> None:
    """Inspect datasets."""


@data.command("check", short_help="Images per class, imbalance, unusable files, near-duplicates.")
@click.argument("target", required=False, metavar="FOLDER|RECIPE")
@click.option("--recipe", "recipe", metavar="RECIPE",
              help="Check the data this recipe's dataset plugin (data.source) supplies (same as giving RECIPE).")
@click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE",
              help="Override a key of the recipe (e.g. --set data.root=other/folder).")
@click.option("--thorough", is_flag=True, help="Decode every image fully (slower; finds damage deep inside files).")
@click.option("--near-duplicate-bits", "bits", type=click.IntRange(0, 32), default=8, hidden=True,
              help="No longer used: near-duplicates are images verified to show the same frame.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def check(target: str | None, recipe: str | None, overrides: tuple[str, ...], thorough: bool, bits: int,
          as_json: bool) -> None:
    """Count images per class, show the imbalance, list every unusable or odd file, and the
    groups of exact or near-duplicate images — above all those whose labels disagree.

    \b
    FOLDER: a folder of class folders, scanned as tk's `folder` dataset does.
    RECIPE: a recipe file or a bundled recipe's name (or --recipe): its dataset plugin
    (data.source, with data.root and the plugin's parameters) supplies the images, exactly
    as `tk run` would get them; --set overrides recipe keys.

    Exit status 0 when the data can be trained on; otherwise 1 with a one-line reason
    (no class folders, fewer than 2 classes with usable images ...). `tk run` runs the same
    scan first and, with data.on_bad_image = "skip", leaves the unusable images out.
    """
    from ..data.images import inspect_image
    from ..engine.data_pipeline import bad_and_ignored

    index, source = _index(target, recipe, overrides)
    if thorough:
        kept = []
        noted = set(index.notes)
        for path, label in index.samples:
            report = inspect_image(path, thorough=True)
            if report.error:
                index.skipped.append((path, report.error))
            else:
                kept.append((path, label))
                index.notes += [(path, n) for n in report.notes if (path, n) not in noted]  # e.g. real transparency
        index.samples = kept
    counts = index.counts()
    bad, ignored = bad_and_ignored(index.skipped)
    present = [c for c in counts if c]
    ratio = max(present) / min(present) if present else 0.0
    usable = len(present) >= 2
    dups, failed = _duplicates(index, bits, quiet=as_json)
    bad += failed
    if as_json:
        click.echo(json.dumps({
            **source, "root": str(index.root), "class_names": index.class_names, "counts": counts,
            "images": len(index.samples), "imbalance": ratio, "presplit": bool(index.presplit),
            "bad_images": [[p, r] for p, r in bad], "ignored": [[p, r] for p, r in ignored],
            "notes": [[p, n] for p, n in index.notes], "empty_classes": index.empty_classes, "usable": usable,
            "near_duplicates": {"detector": "same_frame", **dups.to_json(index.paths, index.labels,
                                                                          index.class_names)},
        }, indent=2))
    else:
        if source:
            click.echo(f"Dataset '{source['source']}' of {source['recipe']} ({source['plugin']}):")
        _print(index, counts, ratio, bad, ignored)
        crossing = _print_duplicates(index, dups, bits)
        if not bad and not ignored and not dups.conflicts and not crossing:
            click.echo("No problems found.")
    if not usable:
        raise click.ClickException(f"{index.root}: fewer than 2 classes have usable images; nothing to train.")


def _index(target: str | None, recipe: str | None, overrides: tuple[str, ...]):
    """``(FolderIndex, facts)``: a folder scanned as tk's ``folder`` dataset does (facts ``{}``), or
    what a recipe's dataset plugin returns (facts: ``recipe``, ``source``, ``plugin``)."""
    from pathlib import Path

    from ..core.errors import TkError
    from ..data import scan_folder
    from ..recipe.load import find_recipe

    if target is not None and recipe is not None:
        raise click.UsageError("give a FOLDER or a RECIPE, not both.")
    if target is None and recipe is None:
        raise click.UsageError("give a FOLDER of class folders, or a RECIPE (its dataset plugin supplies the data).")
    if recipe is None:
        path = Path(target)
        named = not path.is_dir() and (path.is_file() or path.suffix == ".toml")
        if not named and not path.is_dir():  # a bundled recipe's name (`tk data check quickstart`)?
            try:
                find_recipe(target)
                named = True
            except TkError:
                named = False
        if not named:
            if overrides:
                raise click.UsageError("--set applies to a recipe; FOLDER is not one.")
            return scan_folder(target), {}
        recipe = target
    return _recipe_index(find_recipe(recipe), overrides)


def _recipe_index(path, overrides: tuple[str, ...]):
    """The `FolderIndex` a recipe's dataset plugin returns, after the recipe's own checks (one
    line naming the file and key when they fail, before any data is read)."""
    from ..core.errors import TkError
    from ..engine.data_pipeline import load_index
    from ..plugin.manager import load_plugins
    from ..recipe.load import load_recipe

    rec = load_recipe(path, overrides)
    base = rec.base_for("plugins", "modules") if hasattr(rec, "base_for") else rec.base_dir
    plugins = load_plugins(rec["plugins"]["modules"], base_dir=base, disable=rec["plugins"]["disable"])
    plugins.raise_if_broken()
    rec.validate(plugins)
    name = rec["data"]["source"]
    try:
        index = load_index(rec, plugins)
    except TkError as exc:  # a plugin's complaint about a key: say where it was written
        located = rec.locate(str(exc))
        if located == str(exc):
            raise
        raise TkError(located) from exc  # the cause stays for `tk --debug`
    entry = plugins.entry("datasets", name, "data.source")
    return index, {"recipe": str(path), "source": name, "plugin": entry.origin}


def _duplicates(index, bits: int, *, quiet: bool):
    """Near-duplicate groups of the folder's images, with a progress bar (`toolkit.assess.doctor.find_duplicates`)."""
    from rich.progress import Progress

    from ..assess.doctor import find_duplicates

    with Progress(transient=True, disable=quiet) as bar:
        task = bar.add_task("hashing images", total=len(index.paths))
        return find_duplicates(index.paths, index.labels, bits,
                               on_progress=lambda done, total: bar.update(task, completed=done))


def _print_duplicates(index, report, bits: int) -> int:
    """Print the groups; returns how many straddle the folder's own train/val split (a problem)."""
    import os

    from rich.console import Console

    console = Console(highlight=False, soft_wrap=True)
    from ..core.text import shown

    rel = lambda i: shown(os.path.relpath(index.paths[i], index.root))  # noqa: E731
    if not report.groups:
        console.print("Near-duplicates: none (no two images show the same frame).", markup=False)
        return 0
    if index.presplit:  # the folder's own train/ and val/ are kept as they are: say where groups cross them
        from ..data.split import straddling_groups

        group_of = {i: g for g, members in enumerate(report.groups) for i in members}
        ids = [group_of.get(i, len(report.groups) + i) for i in range(len(index.paths))]
        crossing = straddling_groups(index.presplit, ids)
        where = (f"{len(crossing)} of them straddle the folder's own {' / '.join(index.presplit)} split, which tk run "
                 f"keeps as it is: validation then sees copies of training images; move each group to one side"
                 if crossing else f"none straddles the folder's own {' / '.join(index.presplit)} split")
        console.print(f"Near-duplicates: {report.summary()} (images showing the same frame); {where}.", markup=False)
    else:
        console.print(f"Near-duplicates: {report.summary()} (images showing the same frame). tk run keeps each group "
                      f"on one side of the split (data.group_by).", markup=False)
    for group in report.groups[:5]:
        more = f" and {len(group) - 4} more" if len(group) > 4 else ""
        console.print(f"  {len(group)} images: {', '.join(rel(i) for i in group[:4])}{more}", markup=False)
    if len(report.groups) > 5:
        console.print(f"  … and {len(report.groups) - 5} more groups (tk data doctor shows every group with thumbnails)",
                      markup=False)
    if report.conflicts:
        console.print(f"{len(report.conflicts)} group(s) of near-duplicates carry different labels "
                      f"(the same picture in two classes):", markup=False)
        for group in report.conflicts:
            console.print("  " + ", ".join(rel(i) for i in group), markup=False)
    return len(crossing) if index.presplit else 0


def _print(index, counts, ratio, bad, ignored) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, soft_wrap=True)
    total = sum(counts)
    layout = " (pre-split: " + ", ".join(f"{k} {len(v)}" for k, v in index.presplit.items()) + ")" \
        if index.presplit else ""
    table = Table(title=f"{index.root}: {total} usable images in {len(index.class_names)} classes{layout}")
    table.add_column("class")
    table.add_column("images", justify="right")
    table.add_column("share", justify="right")
    for name, n in zip(index.class_names, counts):
        table.add_row(name, str(n), f"{n / total:.1%}" if total else "-")
    for name in index.empty_classes:
        table.add_row(f"[dim]{name}[/dim]", "0", "[dim]no usable images: left out[/dim]")
    console.print(table)
    smallest = index.class_names[counts.index(min(counts))] if counts else "-"
    largest = index.class_names[counts.index(max(counts))] if counts else "-"
    if counts and max(counts) == min(counts):
        console.print(f"Balanced: every class has {counts[0]} image{'' if counts[0] == 1 else 's'}.", markup=False)
    else:
        console.print(f"Imbalance: {ratio:.1f}x (largest class '{largest}' {max(counts, default=0)}, "
                      f"smallest '{smallest}' {min(counts, default=0)})", markup=False)
    from ..core.text import shown  # a file name's newline or escape sequence printed as text, not obeyed

    if bad:
        console.print(f"{len(bad)} unusable image(s) (tk run leaves them out with data.on_bad_image = \"skip\"):",
                      markup=False)
        for path, reason in bad:
            console.print(f"  {shown(path)}: {reason}", markup=False)
    if ignored:
        console.print(f"{len(ignored)} other file(s) ignored:", markup=False)
        for path, reason in ignored:
            console.print(f"  {shown(path)}: {reason}", markup=False)
    if index.notes:
        console.print(f"{len(index.notes)} note(s) on usable files:", markup=False)
        for path, note in index.notes:
            console.print(f"  {shown(path)}: {note}", markup=False)
    tiny = [n for n, c in zip(index.class_names, counts) if 0 < c < 5]
    if tiny:
        console.print(f"Classes with fewer than 5 images ({', '.join(tiny)}): their validation scores will be "
                      f"noisy; a class of 1 image cannot be validated.", markup=False)



@data.command("doctor", short_help="One page on what is wrong with a dataset, and a fixes.csv.")
@click.argument("target", type=click.Path(exists=True, file_okay=False, path_type=str))
@click.option("--out", type=click.Path(file_okay=False, path_type=str),
              help="Where to write doctor.html, doctor.json and fixes.csv [TARGET/doctor for a run or "
                   "cross-validation folder, ./doctor-<folder> for an image folder, beside it when run from inside it].")
@click.option("--near-duplicate-bits", "bits", type=click.IntRange(0, 32), default=8, hidden=True,
              help="No longer used: near-duplicates are images verified to show the same frame.")
@click.option("--json", "as_json", is_flag=True, help="Also print doctor.json.")
def doctor(target: str, out: str | None, bits: int, as_json: bool) -> None:
    """One page on what is wrong with TARGET: class balance, image sizes and aspect ratios,
    near-duplicate groups, label conflicts, likely label errors and unusable files.

    \b
    TARGET is an image folder (one sub-folder per class), a run folder (label errors among its
    validation images) or a cross-validation folder from `tk run --folds K` (label errors
    among all images). Writes doctor.html (self-contained), doctor.json and fixes.csv
    (file, problem, suggestion); edit fixes.csv, then `tk data apply fixes.csv --out CLEAN_DIR`
    writes a corrected copy of the folder.
    """
    from pathlib import Path

    from rich.progress import Progress

    from ..assess.doctor import diagnose, write_doctor

    target_path = Path(target)
    with Progress(transient=True, disable=as_json) as bar:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done)

        diag = diagnose(target_path, bits=bits, progress=progress)
    if out is None:
        out_dir = target_path / "doctor" if diag.source != "folder" else Path(f"doctor-{target_path.resolve().name}")
        if diag.source == "folder" and Path.cwd().resolve().is_relative_to(target_path.resolve()):
            # run from inside the image folder: the page goes beside it, where no scan takes it for a class
            out_dir = target_path.resolve().parent / f"doctor-{target_path.resolve().name}"
    else:
        out_dir = Path(out)
    written = write_doctor(diag, out_dir)
    fixes = diag.fixes()
    if as_json:
        click.echo(written["json"].read_text(encoding="utf-8"))
        return
    flagged = sum(i.flagged for i in diag.issues)
    click.echo(f"{diag.root}: {len(diag.paths)} images in {len(diag.class_names)} classes ({diag.source}).")
    click.echo(f"  near-duplicate groups: {len(diag.groups)} ({sum(len(g) for g in diag.groups)} images); "
               f"label conflicts: {len(diag.conflicts)}; unusable files: {len(diag.unusable)}")
    click.echo(f"  likely label errors: {flagged} flagged (from the {diag.issues_from})" if diag.issues
               else f"  {diag.issues_note}")
    if diag.issues and diag.issues_trust:
        from ..assess.doctor import trust_text

        click.echo(f"  how much to trust them: the model is right on {trust_text(diag.issues_trust)}, 95% intervals")
    if diag.issues and diag.issues_caution:
        click.echo(diag.issues_caution)
    if diag.skipped:
        from ..core.text import printable

        names = ", ".join(printable(p) for p, _ in diag.skipped[:3]) + (" ..." if len(diag.skipped) > 3 else "")
        click.echo(f"  left out {len(diag.skipped)} file(s) the run names outside the data folder {diag.root} "
                   f"(not looked at, not in fixes.csv): {names}")
    click.echo(f"Wrote {written['html']} and {written['json']}.")
    click.echo(f"Wrote {written['fixes']} ({len(fixes)} suggested change(s)); apply them to a copy with "
               f"tk data apply {written['fixes']} --out CLEAN_DIR")


@data.command("apply", short_help="Write a corrected copy of a folder from a fixes.csv.")
@click.argument("fixes", type=click.Path(exists=True, dir_okay=False, path_type=str))
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=str),
              help="New folder for the corrected copy (must not exist, or be empty).")
@click.option("--data", "data_dir", type=click.Path(exists=True, file_okay=False, path_type=str),
              help="The data folder the fixes are for [the one recorded in doctor.json beside FIXES].")
def apply(fixes: str, out: str, data_dir: str | None) -> None:
    """Write a corrected copy of the data folder: rows of FIXES (a fixes.csv from tk data doctor)
    saying `remove` leave the file out, `move to CLASS` file it under CLASS, `review` or `keep`
    copy it as it is; files not listed are copied as they are. The original is never changed.
    """
    from pathlib import Path

    from ..assess.doctor import apply_fixes

    counts = apply_fixes(Path(fixes), Path(out), data=Path(data_dir) if data_dir else None)
    click.echo(f"Wrote {out}: {counts['written']} images ({counts['moved']} moved to another class, "
               f"{counts['removed']} left out, {counts['reviewed']} marked for review copied as they are). "
               f"The original folder is unchanged.")
    if counts.get("unmatched"):
        from ..core.text import shown

        click.echo(f"Note: {counts['unmatched']} row(s) of {fixes} name a file the folder does not have (first: "
                   f"{shown(counts['first_unmatched'])}): nothing was done for them.")

"""Which recipe a resumed run uses, and the resolved recipe every run records.

A resumed run continues with the recipe it was started with (stored in its checkpoint), not
with whatever the recipe file says today: anything else would not be the same run. Only keys
that do not change what is being trained may differ (`RESUME_MUTABLE`: more epochs, another
device, loggers, more patience …), and only when ``--set`` says so on the resuming command
line. Any other key set with ``--set`` is an error naming it; a key that merely differs in the
recipe file (``tk run slides_scratch --resume runs/x/3`` on a run trained with
``--set train.epochs=3``) is reported as a note and the run's own value is kept.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from ..core.errors import RecipeError

__all__ = ["RESUME_MUTABLE", "resolved_sections", "resumed_recipe"]

RESUME_MUTABLE = frozenset({
    ("train", "epochs"), ("train", "patience"), ("train", "early_stopping"), ("train", "loggers"),
    ("train", "device"), ("train", "amp"), ("train", "compile"), ("train", "channels_last"), ("train", "out"),
    ("data", "workers"), ("data", "cache"), ("data", "cache_dir"),
    ("export", "formats"), ("export", "after_train"), ("export", "out"),
    ("bench", "batches"), ("bench", "iters"), ("bench", "warmup"), ("bench", "runtimes"),
})
"""``(section, key)`` pairs a resumed run may take from the recipe given to ``--resume``."""


def resolved_sections(recipe: Any, plugins: Any) -> dict[str, dict[str, Any]]:
    """Every value of the run, plugin defaults included, with paths made absolute.

    Paths are made absolute because the resolved recipe is written into the run folder and
    must still work from there (``tk run runs/x/3/recipe.toml`` repeats the run).
    """
    from ..recipe.schema import SCHEMA

    out = recipe.resolved(plugins)
    data = out["data"]
    for key in ("root", "cache_dir", "unknown_root"):
        if data.get(key):
            data[key] = str(recipe.path_of("data", key).resolve())
    modules = out["plugins"]["modules"]
    out["plugins"]["modules"] = [str(recipe.path_of("plugins", "modules", m).resolve()) if m.endswith(".py") else m
                                 for m in modules]
    for section, spec in SCHEMA.items():  # plugin parameters that name files (model.pretrained_path …)
        if spec.plugin is not None and section in out:
            out[section].update({k: str(Path(v).resolve()) for k, v in recipe.plugin_params(section, plugins).items()
                                 if v != recipe[section].get(k)})
    return out


def resumed_recipe(ckpt: dict[str, Any], given: Any, plugins: Any) -> tuple[Any, list[str]]:
    """``(recipe to run, notes)`` for resuming ``ckpt`` when the user passed ``given``."""
    from ..recipe.load import Recipe

    saved = copy.deepcopy(ckpt["recipe"])
    current = resolved_sections(given, plugins)
    notes: list[str] = []
    for section, table in current.items():
        for key, value in table.items():
            old = saved.get(section, {}).get(key)
            if old == value or ((section, key) == ("train", "threads") and value == 0):
                continue  # threads = 0 (the default) means "the machine's count": the run's recorded count stays
            if (section, key) in RESUME_MUTABLE and (given.where(section, key) == "--set: " or old is None):
                saved.setdefault(section, {})[key] = value  # said on this command line (or a key the run predates)
                if old is not None:
                    notes.append(f"resuming with {section}.{key} = {value!r} (the run had {old!r})")
            elif (section, key) in RESUME_MUTABLE:
                notes.append(f"{section}.{key} differs in {given.path or 'the recipe'} ({value!r}); the run's own "
                             f"value {old!r} is kept (--set {section}.{key}=… changes it)")
            elif given.where(section, key) == "--set: ":
                raise RecipeError(
                    f"--set {section}.{key}: a resumed run keeps its recipe ({section}.{key} = {old!r}); only "
                    f"{', '.join(sorted(f'{s}.{k}' for s, k in RESUME_MUTABLE if s == 'train'))} and data/export/"
                    f"bench settings that do not change the training may change. Start a new run to change it."
                )
            else:
                notes.append(f"{section}.{key} differs in {given.path or 'the recipe'} ({value!r}); the run's own "
                             f"value {old!r} is kept")
    recipe_path = Path(ckpt.get("recipe_path") or given.path or "recipe.toml")
    return Recipe(saved, path=recipe_path), notes

"""The folder dataset: one sub-folder per class (or train/ val/ test/ each with class folders)."""

from __future__ import annotations

from toolkit import RecipeError, hookimpl


def folder(root, on_progress=None):
    """Images in class sub-folders under data.root."""
    from toolkit.data import scan_folder

    if root is None:
        raise RecipeError("data.root: the folder dataset needs data.root, the folder holding one sub-folder per class.")
    return scan_folder(root)


@hookimpl
def tk_register_datasets(register):
    register("folder", folder)

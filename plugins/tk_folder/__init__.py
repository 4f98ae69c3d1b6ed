"""The folder dataset: one sub-folder per class (or train/ val/ test/ each with class folders)."""

from __future__ import annotations

from toolkit import RecipeError, hookimpl


def folder(root):
    """Images in class sub-folders under data.root."""
    from toolkit import DataError
    from toolkit import scan_folder

    if root is None:
        raise RecipeError("data.root: the folder dataset needs data.root, the folder holding one sub-folder per class.")
    try:
        return scan_folder(root)
    except DataError as exc:  # the folder as a whole is unusable: that is about the recipe's data.root
        raise DataError(f"data.root: {exc}") from None


@hookimpl
def tk_register_datasets(register):
    register("folder", folder, needs_root=True)  # a missing data.root is refused before torch loads

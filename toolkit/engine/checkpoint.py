"""Rebuilding a trained model from a checkpoint; the format itself lives in `toolkit.core.checkpoint`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core.checkpoint import load_checkpoint

__all__ = ["load_model"]


def load_model(path: str | Path, plugins: Any | None = None, map_location: Any = "cpu"):
    """Rebuild the trained `Classifier` from a checkpoint: ``(model in eval mode, checkpoint)``."""
    from ..plugin.manager import load_stored_plugins
    from .model import build_model

    ckpt = load_checkpoint(path, map_location)
    recipe = ckpt["recipe"]
    if plugins is None:  # its [plugins] modules are imported only if the user trusts them
        plugins = load_stored_plugins(recipe, origin=str(path), parts=ckpt.get("parts"))
    model = build_model(recipe, plugins, len(ckpt["class_names"]), for_loading=True)
    model.load_state_dict(ckpt["model"])
    model.eval()
    return model, ckpt

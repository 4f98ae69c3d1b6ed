"""Which plugin modules a command may import: trust for modules named inside files tk was given.

A model file is data, not code. Modules named inside a file tk was *given* (a checkpoint's
stored recipe, a run folder's ``recipe.toml``, a distillation teacher) are imported only when
the user trusts them for this command (``--trust-plugins``, ``TK_TRUST_PLUGINS=1``) or named the
same module in their own recipe (`trusting` records those). The check and the import resolve a
module entry through the one function `_module_path`, so what is checked is what is imported.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from pathlib import Path
from typing import Iterable

from ..core.errors import PluginError

__all__ = ["TRUST_ENV", "check_trusted", "trusting"]

TRUST_ENV = "TK_TRUST_PLUGINS"
"""``TK_TRUST_PLUGINS=1``: import the plugin modules stored checkpoints name (like ``--trust-plugins``)."""

_TRUSTED: contextvars.ContextVar[tuple[bool, frozenset[str]]] = contextvars.ContextVar(
    "tk_trusted_modules", default=(False, frozenset()))


def _is_file_spec(spec: str) -> bool:
    return spec.endswith(".py") or "/" in spec or os.sep in spec


def _module_path(spec: str, base_dir: Path | None) -> Path:
    """The file a ``.py`` module entry names: relative entries are relative to ``base_dir``.

    The one place that decides which file an entry means: the trust check and the import both
    call it with the same ``base_dir``, so what is checked is exactly what is imported.
    """
    path = Path(spec)
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    return path


def _module_key(spec: str, base_dir: Path | None = None) -> str:
    """A module named in a recipe, as one comparable string (a file's resolved path, or the dotted name)."""
    if _is_file_spec(spec):
        path = _module_path(spec, base_dir)
        try:
            return str(path.resolve())
        except (OSError, RuntimeError):
            return str(path)
    return spec


@contextlib.contextmanager
def trusting(everything: bool = False, modules: Iterable[str] = (), base_dir: Path | None = None):
    """Within the block, stored recipes may import ``modules`` (the user's own recipe's), or any
    module when ``everything`` (``--trust-plugins``). Nested blocks add to the outer one."""
    outer_all, outer = _TRUSTED.get()
    token = _TRUSTED.set((outer_all or everything,
                          outer | frozenset(_module_key(m, base_dir) for m in modules)))
    try:
        yield
    finally:
        _TRUSTED.reset(token)


def _trusts(key: str) -> bool:
    everything, modules = _TRUSTED.get()
    return everything or key in modules or os.environ.get(TRUST_ENV, "").strip().lower() in ("1", "true", "yes")


def check_trusted(modules: Iterable[str], *, origin: str, base_dir: Path | None = None) -> None:
    """Raise a one-line `PluginError` for the first of ``modules`` (named in ``origin``, a file tk was
    given) that the user has not trusted for this command (see `trusting`).

    ``base_dir`` must be the folder the loader will resolve relative entries against: a stored
    recipe's ``plugins.modules = ["plug.py"]`` is the user's ``plug.py`` only if it resolves to the
    very file the user's own recipe named, wherever the checkpoint says its recipe lived.
    """
    for spec in modules:
        if not _trusts(_module_key(str(spec), base_dir)):
            raise PluginError(
                f"{origin} asks to import the plugin module {str(spec)!r}; tk never runs code named inside a "
                f"checkpoint or run folder on its own say-so. If you trust where the file came from, add "
                f"--trust-plugins (or set {TRUST_ENV}=1), or name the module in your own recipe's [plugins] modules."
            )

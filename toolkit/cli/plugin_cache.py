"""The plugin-command cache file: where it lives, the key that keeps it, reading and writing it.

One JSON file per environment (and ``TK_DISABLE_PLUGINS`` value) under ``$TK_CACHE_DIR`` (else ``~/.cache/tk``); its key is the
distributions' metadata folders on ``sys.path``, the modification times of the plugin module
files the commands came from, and ``TK_DISABLE_PLUGINS`` (`toolkit.cli.plugin_commands` says
why). Checking it imports nothing. `toolkit.cli.plugin_commands` builds what goes in it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["FORMAT", "cache_dir", "cache_path"]

FORMAT = 1
"""Version of the cache file's layout; a file of another version is rebuilt."""


def cache_dir() -> Path:
    """``$TK_CACHE_DIR``, else ``~/.cache/tk`` — `toolkit.engine.data_pipeline.default_cache_dir`,
    repeated here because importing the engine would cost `tk --help` 30 ms."""
    return Path(os.environ.get("TK_CACHE_DIR") or Path.home() / ".cache" / "tk").expanduser()


def cache_path(installed: list[list[Any]] | None = None) -> Path:
    """The command cache of this environment: one file per interpreter, set of folders that hold
    installed distributions (``PYTHONPATH`` included) and ``TK_DISABLE_PLUGINS`` value, so two
    environments sharing a cache folder, or a plugin switched off now and then, do not keep
    rebuilding each other's."""
    folders = sorted({str(row[0]) for row in (_installed() if installed is None else installed)})
    # and one per TK_DISABLE_PLUGINS state: switching a plugin off for one command and back does
    # not rebuild (import every plugin) each time
    raw = "\0".join([sys.prefix, sys.executable, *folders, "disable=" + os.environ.get("TK_DISABLE_PLUGINS", "")])
    digest = hashlib.sha256(raw.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return cache_dir() / f"plugin-commands-{digest}.json"


# -- the key --------------------------------------------------------------------------------


def _installed() -> list[list[Any]]:
    """Every distribution's metadata folder on ``sys.path``: ``[folder, name, mtime_ns]``."""
    out: list[list[Any]] = []
    for entry in sys.path:
        try:
            with os.scandir(entry or ".") as it:
                for item in it:
                    if item.name.endswith((".dist-info", ".egg-info")):
                        try:
                            mtime = item.stat().st_mtime_ns
                        except OSError:
                            mtime = 0
                        out.append([entry, item.name, mtime])
        except (OSError, ValueError):  # not a folder (a zip, a missing entry)
            continue
    out.sort()
    return out


def _mtimes(files: list[str]) -> list[int]:
    out = []
    for name in files:
        try:
            out.append(os.stat(name).st_mtime_ns)
        except OSError:
            out.append(-1)
    return out


def _key(installed: list[list[Any]], files: list[str]) -> str:
    raw = json.dumps([FORMAT, installed, files, _mtimes(files), os.environ.get("TK_DISABLE_PLUGINS", "")])
    return hashlib.sha256(raw.encode("utf-8", "surrogateescape")).hexdigest()


# -- the file -------------------------------------------------------------------------------


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return None
    if not isinstance(data.get("commands"), dict) or not isinstance(data.get("files"), list):
        return None
    if not all(isinstance(f, str) for f in data["files"]):
        return None
    for entry in data["commands"].values():
        if not isinstance(entry, dict) or not all(isinstance(entry.get(k, ""), str) for k in _TEXT):
            return None
    return data


_TEXT = ("help", "short_help", "plugin", "dist", "version", "source", "target")


def _write(path: Path, data: dict[str, Any]) -> None:
    from ..core.atomic import atomic_write

    text = json.dumps(data, indent=1, sort_keys=True).encode("utf-8", "surrogateescape")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda fh: fh.write(text))
    except OSError:  # a read-only cache folder: rebuild next time, say nothing
        pass

"""Shared fixtures. Plugin-author fixtures come from `toolkit.testing` (a pytest11 entry point)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path_factory):
    """No test reads the user's plugin switches, caches or hub: each gets its own cache dir."""
    monkeypatch.delenv("TK_DISABLE_PLUGINS", raising=False)
    monkeypatch.setenv("TK_CACHE_DIR", str(tmp_path_factory.mktemp("tk-cache")))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

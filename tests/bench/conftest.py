"""Fixtures for the bench and compare tests: the same shared tiny run as the export tests.

The fixtures live in tests/export/conftest.py; they are loaded from there (the test folders
are not packages) so both folders share one trained and exported run per session.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location("tk_tests_export_conftest", Path(__file__).parent.parent / "export" / "conftest.py")
_export = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_export)

tiny_run = _export.tiny_run
shared = _export.shared
in_shared = _export.in_shared
workdir = _export.workdir
_macos_only = _export._macos_only

"""Shared pieces of the first-hour, round two tests (test_first_hour2*.py): the one ``Error:`` line
a refused command prints, and a plain recipe naming ``images`` relative to itself."""

from __future__ import annotations

RECIPE_IN_SUB = '''\
[data]
root = "images"
image_size = 32
workers = 0

[model]
backbone = "test_efficientnet"
pretrained = false

[train]
epochs = 1
device = "cpu"
'''


def _error_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.output
    return lines[0]

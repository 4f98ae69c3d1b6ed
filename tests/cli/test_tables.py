"""`tk bench` and `tk compare` tables: whole columns dropped to fit a terminal; plain full width when piped."""

from __future__ import annotations

import io

from rich.console import Console

from toolkit.cli._tables import _plain, print_table

HEADERS = ["model", "format", "runtime", "device", "p50 ms (b1)", "p90 ms (b1)", "load s", "accuracy", "notes"]
ROWS = [["quickstart-1", "onnx", "ONNX Runtime", "cpu", "1.23", "1.50", "0.031", "92.54%", "parity ok"],
        ["quickstart-1", "pytorch", "PyTorch eager", "cpu", "4.56", "5.01", "0.420", "92.54%", ""]]
RIGHT = {"p50 ms (b1)", "p90 ms (b1)", "load s", "accuracy"}


def test_a_narrow_terminal_loses_whole_columns_and_says_which():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=70, soft_wrap=False, color_system=None)
    print_table("bench", HEADERS, ROWS, right=RIGHT, drop_first=["p90 ms (b1)", "load s", "notes", "runtime"],
                console=console)
    text = out.getvalue()
    assert all(len(line) <= 70 for line in text.splitlines()), text
    assert "ONNX Runtime" not in text or "onnx" in text  # cells are whole, never "onn"
    assert "1.23" in text and "92.54%" in text and "left out to fit 70 columns: p90 ms (b1)" in text


def test_piped_output_is_plain_and_full_width():
    text = _plain("bench", HEADERS, ROWS, RIGHT)
    lines = text.splitlines()
    assert lines[0] == "bench" and "ONNX Runtime" in text and "PyTorch eager" in text and "parity ok" in text
    assert "│" not in text and "┃" not in text  # no box drawing in logs
    assert lines[2].index("1.23") == lines[3].index("4.56")  # columns line up

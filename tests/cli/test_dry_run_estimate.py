"""`tk run --dry-run`'s time estimate (#30 item 5): steps timed after a warm-up, the median per
step, and a range that says how sure the estimate is. Only properties are asserted, never a time."""

from __future__ import annotations

import re

import pytest

from toolkit.testing import make_image_folder, run_cli


def _seconds(text: str) -> float:
    """Back from `toolkit.engine.console.format_seconds`: ``0.4s``, ``42s``, ``3m05s``, ``1h02m``."""
    match = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:([\d.]+)s)?", text)
    assert match and text, text
    hours, minutes, seconds = match.groups()
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0)


ESTIMATE = re.compile(r"^Estimated time: about (\S+) per epoch \((\S+)–(\S+)\), about (\S+) for 3 epochs "
                      r"\((\S+)–(\S+)\); (95% interval on the median of (\d+) timed steps|rough: the fastest and "
                      r"slowest of only (\d+) timed steps)(; steps varied over 2×, so a busy machine may stretch it)?$",
                      re.M)
STEP = re.compile(r"^Step time: (\d+) ms \((\d+)–(\d+) ms\), the median of (\d+) timed steps after 2 warm-up steps; "
                  r"2 batches and 2 optimiser steps per epoch$", re.M)


def test_dry_run_estimate_is_a_median_of_timed_steps_with_a_range_around_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    root = make_image_folder(tmp_path / "images", {"a": 12, "b": 6}, size=40)
    (tmp_path / "r.toml").write_text(f"""\
[data]
root = "{root.as_posix()}"
image_size = 32
workers = 0
[model]
backbone = "test_efficientnet"
[train]
epochs = 3
batch_size = 8
device = "cpu"
""")
    result = run_cli("run", "r.toml", "--dry-run")
    assert result.exit_code == 0, result.output
    step = STEP.search(result.output)
    assert step, result.output
    median, low, high, timed = (int(v) for v in step.groups())
    assert timed >= 5 and low <= median <= high
    line = ESTIMATE.search(result.output)
    assert line, result.output
    epoch, epoch_low, epoch_high, run, run_low, run_high = (_seconds(v) for v in line.groups()[:6])
    assert epoch_low <= epoch <= epoch_high and run_low <= run <= run_high
    assert int(line.group(8) or line.group(9)) == timed  # the same steps, said the same way
    assert (line.group(8) is not None) == (timed >= 6)  # six timed steps are the fewest for a 95% interval


def test_a_step_too_large_for_the_free_memory_is_refused_before_it_runs(monkeypatch):
    """The dry run measures one step at batch 2 (the process's peak memory reset first) and scales it
    to the batch size: at data.image_size 4096 a dry run had used up a 23 GB machine and been killed.
    Here the step is 256 MB of real, touched memory and the machine is said to have 50 MB free (the
    kernel's resident-memory counters are batched: a measured step can read some tens of MB low)."""
    import sys

    import numpy as np
    import torch

    from toolkit.core.errors import TkError
    from toolkit.engine import dry_run

    if not sys.platform.startswith("linux"):
        pytest.skip("peak memory is reset and read through /proc")
    monkeypatch.setattr(dry_run, "_available_memory", lambda: 50_000_000)
    model = torch.nn.Linear(4, 2)
    weights = model.weight.detach().clone()

    def step():
        block = np.ones(256_000_000 // 8)  # allocated and written: resident
        torch.nn.init.zeros_(model.weight)  # a step changes the model; the check puts it back
        return float(block[-1])

    with pytest.raises(TkError) as err:
        dry_run._check_step_memory(step, model, 8, {"data": {"image_size": 4096}})
    message = str(err.value)
    assert message.startswith("One training step at train.batch_size 8 and data.image_size 4096 would need about ")
    need = float(message.split("would need about ")[1].split(" GB")[0])
    assert need >= 0.5  # four times the 256 MB step at batch 2, give or take the counters' lag
    assert "GB this machine has free: lower data.image_size or train.batch_size." in message
    assert torch.equal(model.weight, weights)
    dry_run._check_step_memory(step, model, 2, {"data": {"image_size": 4096}})  # batch 2: what was measured

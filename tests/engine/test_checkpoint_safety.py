"""A checkpoint is data, never code: a hostile pickle is refused before it can run."""

from __future__ import annotations

import os
import pickle

import pytest
import torch

from toolkit.core.checkpoint import CheckpointError, load_checkpoint
from toolkit.testing import run_cli


class Payload:
    """Unpickling this would run ``touch MARKER`` (what a malicious checkpoint does)."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _hostile_files(tmp_path):
    marker = tmp_path / "pwned"
    zip_style = tmp_path / "evil.pt"
    torch.save({"format": "tk-checkpoint", "model": Payload(str(marker))}, zip_style)
    legacy = tmp_path / "evil-legacy.pt"
    legacy.write_bytes(pickle.dumps({"format": "tk-checkpoint", "model": Payload(str(marker))}))
    return marker, [zip_style, legacy]


def test_the_payload_is_real(tmp_path):
    """Guard against a test that proves nothing: plain pickle really does run the payload."""
    marker, (_, legacy) = _hostile_files(tmp_path)
    pickle.loads(legacy.read_bytes())
    assert marker.exists()


def test_hostile_pickle_is_refused_by_the_loader(tmp_path):
    marker, files = _hostile_files(tmp_path)
    for path in files:
        with pytest.raises(CheckpointError, match="refused") as info:
            load_checkpoint(path)
        assert str(path) in str(info.value) and "\n" not in str(info.value)
    assert not marker.exists()


def test_hostile_pickle_is_refused_by_resume(tmp_path, tiny_recipe):
    marker, files = _hostile_files(tmp_path)
    recipe = tiny_recipe()
    for path in files:
        result = run_cli("run", recipe, "--resume", path)
        assert result.exit_code == 1
        out = result.output.strip()
        assert out.startswith("Error: ") and len(out.splitlines()) == 1 and "Traceback" not in out
        assert "refused" in out and "weights_only" in out
    assert not marker.exists()

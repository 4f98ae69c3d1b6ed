"""Seeding and RNG snapshots that survive `torch.load(weights_only=True)`.

Exact resume needs every random stream a run draws from — torch's CPU generator (weights
init, dropout, augmentation), each CUDA generator, Python's `random` and NumPy's global
state — saved with the checkpoint and put back before the next epoch. The native state
objects are tuples and NumPy arrays, which the safe loader refuses, so they are stored as
tensors, lists and ints and rebuilt on the way back.
"""

from __future__ import annotations

import random
from typing import Any

__all__ = ["seed_everything", "capture_rng", "restore_rng"]


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA), Python's `random` and NumPy from one integer."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def capture_rng() -> dict[str, Any]:
    """Every RNG state as plain data (tensors, lists, ints)."""
    import numpy as np
    import torch

    version, state, gauss = random.getstate()
    np_kind, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    out: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": {"version": int(version), "state": [int(v) for v in state], "gauss": gauss},
        "numpy": {"kind": str(np_kind), "keys": torch.from_numpy(np.asarray(np_keys, dtype=np.int64)),
                  "pos": int(np_pos), "has_gauss": int(np_has_gauss), "gauss": float(np_gauss)},
        "cuda": [],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        out["cuda"] = list(torch.cuda.get_rng_state_all())
    return out


def restore_rng(saved: dict[str, Any]) -> None:
    """Put back what `capture_rng` returned."""
    import numpy as np
    import torch

    torch.set_rng_state(saved["torch"].cpu() if hasattr(saved["torch"], "cpu") else saved["torch"])
    py = saved["python"]
    random.setstate((py["version"], tuple(py["state"]), py["gauss"]))
    nps = saved["numpy"]
    keys = nps["keys"].numpy().astype(np.uint32) if hasattr(nps["keys"], "numpy") else np.asarray(nps["keys"], np.uint32)
    np.random.set_state((nps["kind"], keys, nps["pos"], nps["has_gauss"], nps["gauss"]))
    cuda = saved.get("cuda") or []
    if cuda and torch.cuda.is_available():
        count = torch.cuda.device_count()
        for index, state in enumerate(cuda[:count]):
            torch.cuda.set_rng_state(state.cpu(), index)

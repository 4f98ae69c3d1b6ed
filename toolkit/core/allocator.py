"""Keep freed memory for the next batch: glibc's malloc settings for a training process.

Every training step allocates the same tensors again (the batch, the augmentation's
intermediates, activations, gradients) and frees them. glibc hands large blocks straight back
to the operating system (``munmap``, or trimming the heap top), so the next step's identical
allocation is fresh memory again: the kernel zero-fills it one 4 KiB page fault at a time.
`benchmarks/train_speed.py` counted 120k–300k such faults per epoch of the reference CPU run
(0.2–0.6 s of system time in a 3.5 s epoch) against almost none once freed memory is kept.
PyTorch's CPU performance guide suggests swapping in jemalloc or tcmalloc for the same
reason; `keep_freed_memory` gets the effect from the C library already loaded, with two
``mallopt`` settings (glibc ``mallopt(3)``):

* ``M_MMAP_THRESHOLD`` 256 MiB — blocks below it come from the heap, where freed memory can
  be reused, instead of their own mappings;
* ``M_TRIM_THRESHOLD`` 1 GiB — free memory at the heap's top is returned to the system only
  beyond that.

The cost: the process keeps, for reuse, the memory its busiest step needed, rather than
returning it between steps — its resident size stays near its peak, which it reaches every
step anyway. The trainer calls it once its data is loaded, so decoding's buffers are returned
as before. Only glibc (Linux) has these settings; elsewhere, and with ``TK_MALLOC=system``,
nothing changes.
"""

from __future__ import annotations

import os
import platform

__all__ = ["keep_freed_memory"]

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 256 << 20
TRIM_THRESHOLD = 1 << 30

_applied: bool | None = None


def keep_freed_memory() -> bool:
    """Apply the settings above once per process; True when they are in force."""
    global _applied
    if _applied is not None:
        return _applied
    _applied = False
    if os.environ.get("TK_MALLOC", "").strip().lower() == "system":
        return False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
        mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
        _applied = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    except (OSError, AttributeError):
        _applied = False
    return _applied

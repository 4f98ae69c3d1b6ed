"""Recipe-local test plugin: once epoch 2 has ended, fill the disk under the run folder so that
only half a checkpoint's worth of space is left: the next checkpoint write fails half-way.

Inert unless the run folder sits on a small test tmpfs (see `tests/faults/disks.py`).
"""

from __future__ import annotations

import errno
import os

from toolkit import hookimpl


@hookimpl
def tk_epoch_end(run, epoch, metrics):
    st = os.statvfs(run.dir)
    if epoch != 1 or st.f_blocks * st.f_frsize >= 100 * 2**20:
        return
    filler = run.dir.parent / "filler.bin"
    with open(filler, "wb", buffering=0) as fh:
        for chunk in (1 << 20, 1 << 12):
            block = b"\0" * chunk
            try:
                while True:
                    fh.write(block)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
    half = (run.dir / "last.pt").stat().st_size // 2
    os.truncate(filler, max(0, filler.stat().st_size - half))

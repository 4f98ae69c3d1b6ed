"""Recipe-local test plugin: fills the disk under the run folder once epoch 2 has ended.

Inert unless the run folder sits on a small test tmpfs (see `tests/faults/disks.py`), so the
same recipe trains normally anywhere else (the uninterrupted reference run uses it too).
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
    with open(run.dir.parent / "filler.bin", "wb", buffering=0) as fh:
        for chunk in (1 << 20, 1 << 12, 1):
            block = b"\0" * chunk
            try:
                while True:
                    fh.write(block)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise

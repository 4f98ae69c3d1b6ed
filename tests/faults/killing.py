"""Kill a real `tk run` at a chosen moment, look at what it left, resume it, compare with a clean run.

The implementation is `toolkit.testing.resume`, shared with plugin authors (their
`toolkit.testing.assert_resume_identical` is built on the same pieces); this module keeps the
fault suite's imports (``from .killing import Moment, kill_at, ...``) working.
"""

from __future__ import annotations

from toolkit.testing.resume import (CHECKPOINTS, Aftermath, Moment, Watched, after_line, after_start, differences,
                                    file_appears, history_without_clock, inspect_checkpoints, just_written, kill_at,
                                    leftover_temp_files, lost_files, resume_to_end, same, temp_target, writing)

__all__ = ["CHECKPOINTS", "Aftermath", "Moment", "Watched", "after_line", "after_start", "differences", "file_appears",
           "history_without_clock", "inspect_checkpoints", "just_written", "kill_at", "leftover_temp_files",
           "lost_files", "resume_to_end", "same", "temp_target", "writing"]

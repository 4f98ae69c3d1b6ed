"""Same-frame detection for near-duplicate groups: the features stored per image, the cheap
candidate pairs, the pixel checks after alignment (at 160×90, then at 320×180 on the pairs that
pass), and complete-linkage groups.

`toolkit.data.duplicates` describes the method and re-exports the public names; the code lives in

* `toolkit.data.frame_spec`: the sizes and tolerances;
* `toolkit.data.frame_features`: the features of one image, their hash, the frames derived from them;
* `toolkit.data.frame_pairs`: candidate pairs and the test at 160×90;
* `toolkit.data.frame_fine`: the fine check at 320×180 (panel and cursor forgiven);
* `toolkit.data.frame_groups`: complete linkage;
* `toolkit.data.frame_ops`: the array operations they share.

This module gathers them, so that ``from toolkit.data.frames import …`` keeps working.
"""

from __future__ import annotations

from toolkit.data.frame_candidates import candidate_pairs
from toolkit.data.frame_features import decode_features, features_hash, frame_features
from toolkit.data.frame_groups import same_frame_groups
from toolkit.data.frame_pairs import same_frame_pairs
from toolkit.data.frame_spec import (  # noqa: F401  (the sizes and tolerances, importable from here as before)
    BLUR_BUDGET,
    CANDIDATE_RADIUS,
    CHANGED_BUDGET,
    COLOUR_HW,
    COLOUR_TOLERANCE,
    CURSOR_WH,
    FEATURE_BYTES,
    FEATURE_DECODE,
    FEATURE_VERSION,
    FINE_BUDGET,
    FINE_BYTES,
    FINE_HW,
    FINE_TOLERANCE,
    FRAME_HW,
    GREY_BYTES,
    GREY_TOLERANCE,
    MAX_SHIFT,
    MOVED_EXPLAINED,
    RETRY_CHANGED,
    THUMB_HW,
)

__all__ = ["FEATURE_BYTES", "FEATURE_DECODE", "FEATURE_VERSION", "candidate_pairs", "decode_features",
           "features_hash", "frame_features", "same_frame_groups", "same_frame_pairs"]


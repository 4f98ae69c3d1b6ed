"""What counts as the same frame, in numbers: the sizes of the frame features and the tolerances of
the same-frame test (`toolkit.data.duplicates` describes the method; `toolkit.data.frames` gathers
the code)."""

from __future__ import annotations

#: The fine grey frame (height, width) the features hold; the grey frame the first checks use is
#: its 2×2 means (160×90), thumbnails are 10×10 blocks of that, and the colour frame is 32×18.
FINE_HW = (180, 320)
FRAME_HW = (90, 160)
COLOUR_HW = (18, 32)
THUMB_HW = (9, 16)
FINE_BYTES = FINE_HW[0] * FINE_HW[1]
GREY_BYTES = FRAME_HW[0] * FRAME_HW[1]
FEATURE_BYTES = FINE_BYTES + COLOUR_HW[0] * COLOUR_HW[1] * 3
#: The decode the features are computed from (`toolkit.data.images.load_rgb`'s ``reduce_for``):
#: one for every recipe, so that features (and groups) do not depend on ``data.image_size``.
FEATURE_DECODE = FINE_HW
#: Bump when the features or the test change: stored features are then computed again.
FEATURE_VERSION = 2
#: Candidate pairs: thumbnails within this Euclidean distance (grey levels over the 144 blocks).
CANDIDATE_RADIUS = 700
#: A pixel differs when it is outside its neighbourhood's range in the other frame by more than this.
GREY_TOLERANCE = 24
COLOUR_TOLERANCE = 20
#: Share of the frame's pixels that may differ outside a forgiven panel (a cursor, artefacts).
CHANGED_BUDGET = 0.004
#: Pairs that fail the 160×90 test with at most this share of pixels changed are tried the other way round.
RETRY_CHANGED = 0.03
#: The fine check (320×180): a pixel differs when it lies outside the range its aligned twin spans
#: within half a pixel by more than this many grey levels ...
FINE_TOLERANCE = 40
#: ... and the pair is the same frame when, besides one notification panel and one cursor-sized
#: patch (at most this share of the frame's width and height), at most this many pixels differ.
CURSOR_WH = (0.05, 0.10)
FINE_BUDGET = 6
#: A pair moved by a fraction of a pixel when one shift explains this share of its differences;
#: compared blurred, at most this many pixels may differ.
MOVED_EXPLAINED = 0.03
BLUR_BUDGET = 32
MAX_SHIFT = 4  # the largest shift searched each way, pixels of the 160×90 frame

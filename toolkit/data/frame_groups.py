"""Same-frame groups: complete linkage over verified same-frame pairs (`toolkit.data.duplicates`
describes the method)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from toolkit.data.frame_candidates import candidate_pairs
from toolkit.data.frame_features import _coarse, _split
from toolkit.data.frame_pairs import _scored_pairs
from toolkit.data.frame_spec import FEATURE_BYTES

if TYPE_CHECKING:
    import numpy as np


def same_frame_groups(features: np.ndarray) -> list[int]:
    """Group id per image (0, 1, … in order of first member): complete linkage over verified
    same-frame pairs (module docstring). ``features``: N×`FEATURE_BYTES` uint8."""
    import hashlib

    import numpy as np

    features = np.ascontiguousarray(np.asarray(features, dtype=np.uint8).reshape(-1, FEATURE_BYTES))
    digests = [hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in features]
    unique = sorted(set(digests))  # nodes in digest order: the result does not depend on the input order
    node_of = {d: k for k, d in enumerate(unique)}
    first = {}
    for i, d in enumerate(digests):
        first.setdefault(d, i)
    reps = features[[first[d] for d in unique]]
    coarse = _coarse(_split(reps)[0])
    pairs = candidate_pairs(reps, coarse=coarse)
    same, _, score = _scored_pairs(reps, pairs, coarse=coarse)
    edges = sorted(zip(score[same].tolist(), pairs[same, 0].tolist(), pairs[same, 1].tolist()))
    verified = {(i, j) for _, i, j in edges}
    parent = list(range(len(unique)))
    members = {k: [k] for k in range(len(unique))}
    for _, i, j in edges:
        a, b = parent[i], parent[j]
        if a == b:
            continue
        if all((min(u, v), max(u, v)) in verified for u in members[a] for v in members[b]):
            keep, gone = min(a, b), max(a, b)
            for u in members[gone]:
                parent[u] = keep
            members[keep] += members.pop(gone)
    ids: dict[int, int] = {}
    return [ids.setdefault(parent[node_of[d]], len(ids)) for d in digests]

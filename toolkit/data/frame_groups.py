"""Same-frame groups: complete linkage over verified same-frame pairs (`toolkit.data.duplicates`
describes the method)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from toolkit.data.frame_candidates import candidate_pairs
from toolkit.data.frame_features import _coarse, _split
from toolkit.data.frame_ops import _keep_temporaries_on_the_heap
from toolkit.data.frame_pairs import _scored_pairs
from toolkit.data.frame_spec import FEATURE_BYTES

if TYPE_CHECKING:
    import numpy as np


def same_frame_groups(features: np.ndarray) -> list[int]:
    """Group id per image (0, 1, … in order of first member): complete linkage over verified
    same-frame pairs (module docstring). ``features``: N×`FEATURE_BYTES` uint8."""
    import numpy as np

    _keep_temporaries_on_the_heap()
    features = np.ascontiguousarray(np.asarray(features, dtype=np.uint8).reshape(-1, FEATURE_BYTES))
    node, unique = _distinct_rows(features)
    reps = features[unique]
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
    return [ids.setdefault(parent[k], len(ids)) for k in node.tolist()]


def _distinct_rows(features: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """(node of each row, the first row of each node): rows with identical features are one node,
    and nodes are numbered in the order of a 64-bit fingerprint of their features (rows that share
    a fingerprint but differ: of the features themselves), so that the groups do not depend on the
    order the images were listed in. The fingerprint: the features as 64-bit words, each times a
    fixed odd number, summed (all modulo 2**64)."""
    import numpy as np

    words = features.view(np.uint64)
    weights = np.arange(words.shape[1], dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15) | np.uint64(1)
    prints = np.concatenate([(words[s:s + 16] * weights).sum(axis=1, dtype=np.uint64)  # a few rows at a time:
                             for s in range(0, len(words), 16)] or [np.zeros(0, np.uint64)])  # no 8-byte copy of all
    by_print: dict[int, list[int]] = {}
    for i, fp in enumerate(prints.tolist()):
        by_print.setdefault(fp, []).append(i)
    key_of: dict[int, tuple[int, bytes]] = {}
    for fp, rows in by_print.items():
        alike = all(np.array_equal(features[rows[0]], features[r]) for r in rows[1:])
        for r in rows:  # a fingerprint shared by different rows (never seen): tell them apart by their bytes
            key_of[r] = (fp, b"" if alike else features[r].tobytes())
    firsts: dict[tuple[int, bytes], int] = {}
    for i in range(len(features)):
        firsts.setdefault(key_of[i], i)
    order = sorted(firsts)
    number = {key: n for n, key in enumerate(order)}
    return np.array([number[key_of[i]] for i in range(len(features))], dtype=np.int64), [firsts[k] for k in order]

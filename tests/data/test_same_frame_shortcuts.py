"""The same-frame test's shortcuts change no answer (#29): each is checked against the plain
computation it stands for.

* the array operations (neighbourhood ranges, 3×3 means, the 160×90 triangle filter, the strict
  thresholds) against straightforward ones;
* the shift search that skips shifts whose score on every fourth row already loses, against the
  rule applied to every full score;
* what a panel and a cursor can forgive at most (`_unforgivable`) against what `_unforgiven`
  leaves, and the quick "no panel here" against looking for one;
* the fine check, and the panel, cursor and least-squares steps it is made of, against the plain
  versions in `plain_frames` (the check as first written);
* the pre-test (`_alike`) and the answers reused for a pair's other order (``views.memo``)
  against the test run on every pair, every time, on the fixture screenshots and copies of them;
* a copy moved by 28 or 32 px of 1280 (3.5 or 4 px at 160×90) passes the pre-test unaligned and
  is the same frame; so are the drawn screens' copies moved by half a pixel at 160×90 (their thin
  lines change grey level: only compared as 3×3 means are they alike).
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from toolkit.data import frame_fine, frame_forgive, frame_pairs
from toolkit.data.duplicates import (
    candidate_pairs,
    decode_features,
    frame_features,
    same_frame_groups,
    same_frame_pairs,
)
from toolkit.data.frame_features import _coarse, _split
from toolkit.data.frame_forgive import _panel_box, _unforgivable, _unforgiven
from toolkit.data.frame_ops import _blur3, _range3, _search_shift
from toolkit.data.frame_views import FrameViews, strict_thresholds

from . import plain_frames as plain

FIXTURES = Path(__file__).parent / "fixtures"
IMAGES = sorted(FIXTURES.glob("*/*.png")) + sorted(FIXTURES.glob("*/*.jpg"))


@pytest.mark.parametrize("shape", [(3, 9, 11), (2, 45, 80), (2, 90, 160), (1, 180, 320), (4, 3, 3)])
@pytest.mark.parametrize("dtype", [np.uint8, np.int16])
def test_ranges_and_means_are_those_of_the_neighbourhood(shape, dtype):
    x = np.random.default_rng(sum(shape)).integers(0, 256 if dtype == np.uint8 else 1020, shape).astype(dtype)
    for reach in (1, 2):
        lo, hi = _range3(x, reach)
        want_lo, want_hi = plain.window_range(x, reach)
        assert lo.dtype == x.dtype and (lo == want_lo).all() and (hi == want_hi).all()
    assert (_blur3(x) == plain.mean3(x)).all()


def test_the_160x90_frame_is_the_triangle_filter_rounded():
    fine = np.random.default_rng(1).integers(0, 256, (5, 180, 320)).astype(np.uint8)
    fine[0] = 255  # extremes: the sums reach their largest
    p = np.pad(fine.astype(np.int64), ((0, 0), (1, 1), (1, 1)), mode="edge")
    w = np.array([1, 3, 3, 1])
    rows = sum(w[k] * p[:, k:k + 180:2] for k in range(4))
    both = sum(w[k] * rows[:, :, k:k + 320:2] for k in range(4))
    assert (_coarse(fine) == (both + 32) // 64).all()


def test_strict_thresholds_are_the_half_pixel_range_test():
    """``v > s_hi`` or ``v < s_lo`` exactly when v lies more than 40 grey levels outside the range
    the frame spans within half a pixel (the test as first written, `_outside_half`)."""
    rng = np.random.default_rng(2)
    f = rng.integers(0, 256, (2, 30, 40)).astype(np.uint8)
    f[1] = np.clip(f[0].astype(int) + rng.integers(-60, 61, f[0].shape), 0, 255)  # near twins too
    lo, hi = plain.window_range(f, 1)
    s_hi, s_lo = strict_thresholds(f, lo, hi)
    b, bhi, blo = f.astype(int), hi.astype(int), lo.astype(int)
    for v in range(256):
        outside = np.maximum(2 * v - b - bhi, b + blo - 2 * v).clip(min=0) // 2 > 40
        assert ((v > s_hi) | (v < s_lo) == outside).all(), v


AROUND = [(0, 0)] + [(y, x) for y in range(-2, 3) for x in range(-2, 3) if (y, x) != (0, 0)]
NEAR = [(0, 0)] + [(y, x) for y in (-1, 0, 1) for x in (-1, 0, 1) if (y, x) != (0, 0)]


def _rule(a, b, start, steps, crop, clip, ratio, limit):
    """The shift search as first written: every shift's full score, the rule applied in order."""
    h, w = a.shape[1:]
    best = start.copy()
    for k in range(len(a)):
        best_score = None
        for e in steps:
            sy, sx = np.clip(start[k] + e, -limit, limit)
            d = np.abs(a[k, crop:h - crop, crop:w - crop].astype(int)
                       - b[k, crop - sy:h - crop - sy, crop - sx:w - crop - sx])
            score = int(np.minimum(d, clip).sum())
            if best_score is None:
                best_score = score
            elif score * ratio[0] < best_score * ratio[1]:
                best_score, best[k] = score, (sy, sx)
    return best


def test_the_shift_search_keeps_the_shift_the_rule_keeps():
    """Frames moved by up to a pixel with noise of every strength: the better shift wins by a little
    or by a lot, so the lower bound that skips a shift is tried at its margin too."""
    rng = np.random.default_rng(3)
    smooth = plain.mean3(rng.integers(0, 256, (1, 64, 84)).astype(np.uint8)).astype(np.uint8)[0]
    a, b = [], []
    for k in range(120):
        dy, dx = int(rng.integers(-1, 2)), int(rng.integers(-1, 2))
        noise = rng.integers(-1, 2, smooth.shape) * int(rng.integers(0, 60))
        a.append(smooth)
        b.append(np.clip(np.roll(smooth, (dy, dx), axis=(0, 1)).astype(int) + noise, 0, 255).astype(np.uint8))
    ramp = np.tile((np.arange(84) * 8 % 256).astype(np.uint8), (64, 1))  # 8 levels a column
    for k in range(240):  # the better shift's differences all on the rows the lower bound samples
        rows = np.zeros((64, 1), int)
        rows[(2 + k % 2 * 2) % 4::4] = int(rng.integers(0, 40))
        a.append(ramp)
        b.append(np.clip(np.roll(ramp, 1, axis=1).astype(int) + rows * rng.choice([-1, 1]), 0, 255).astype(np.uint8))
    a, b = np.stack(a), np.stack(b)
    n = len(a)
    for steps, crop, clip, ratio, limit, start in (
            (AROUND, 2, 32, (2, 1), 2, np.zeros((n, 2), np.int64)),
            (NEAR, 4, 32, (10, 9), 4, rng.integers(-2, 3, (n, 2))),
            (NEAR, 4, 8, (10, 9), 4, np.zeros((n, 2), np.int64))):
        got = _search_shift(a, b, start, steps, crop, clip, ratio, limit)
        assert (got == _rule(a, b, start, steps, crop, clip, ratio, limit)).all()
    a16, b16 = (x.astype(np.int16) * 4 for x in (a, b))  # the half-size frames: int16, four times as bright
    start = np.zeros((n, 2), np.int64)
    assert (_search_shift(a16, b16, start, AROUND, 2, 128, (2, 1), 2)
            == _rule(a16, b16, start, AROUND, 2, 128, (2, 1), 2)).all()


def _maps(seed: int, n: int = 40) -> list[np.ndarray]:
    """Changed-pixel maps at 320×180: scattered pixels, words, a cursor, panels at the edges."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        m = rng.random((180, 320)) < rng.choice([0.0, 0.001, 0.01])
        for _ in range(rng.integers(0, 4)):
            y, x = int(rng.integers(0, 170)), int(rng.integers(0, 300))
            hh, ww = int(rng.integers(2, 40)), int(rng.integers(2, 140))
            m[y:y + hh, x:x + ww] |= rng.random((min(hh, 180 - y), min(ww, 320 - x))) < rng.choice([0.3, 0.9])
        out.append(m)
    return out


def test_what_a_panel_and_a_cursor_can_forgive_is_bounded():
    """`_unforgivable` never exceeds what `_unforgiven` leaves, whatever panel is forgiven."""
    for m in _maps(4):
        for margin in ((2, 2), (5, 3)):
            bound = int(_unforgivable(m[None], margin, 3)[0])
            for panel in (None, _panel_box(m, dilate=4, min_height=0.05), _panel_box(m)):
                assert bound <= _unforgiven(m, panel, margin)


def test_no_panel_is_missed_by_the_quick_look(monkeypatch):
    maps = _maps(5) + [m[::2, ::2].copy() for m in _maps(6)]  # at 320×180 and 160×90
    found = [(_panel_box(m), _panel_box(m, dilate=4, min_height=0.05)) for m in maps]
    monkeypatch.setattr(frame_forgive, "_may_hold_panel", lambda differs, min_height: True)
    assert found == [(_panel_box(m), _panel_box(m, dilate=4, min_height=0.05)) for m in maps]


def _shifted(img: Image.Image, dx: int, dy: int) -> Image.Image:
    """``img`` moved right by ``dx`` and down by ``dy`` (≥ 0), the uncovered edge repeated."""
    out = Image.new("RGB", img.size)
    out.paste(img, (dx, dy))
    if dx:
        out.paste(img.crop((0, 0, 1, img.height)).resize((dx, img.height)), (0, dy))
    if dy:
        out.paste(out.crop((0, dy, img.width, dy + 1)).resize((img.width, dy)), (0, 0))
    return out


def _all_features() -> np.ndarray:
    """The fixture screenshots, and copies of the first deck page moved and re-encoded."""
    rows = [decode_features(str(p)) for p in IMAGES]
    with Image.open(FIXTURES / "one_word_slides" / "page_a.png") as im:
        page = im.convert("RGB")
    for dx, dy in ((16, 8), (28, 14), (32, 16)):
        rows.append(frame_features(_shifted(page, dx, dy)))
    return np.stack(rows)


def _every_pair(n: int) -> np.ndarray:
    return np.array([(i, j) for i in range(n) for j in range(n) if i != j])


class _Forgetful(dict):
    """A memo that keeps nothing: every test is computed for every pair, every time."""

    def __setitem__(self, key, value):
        pass


def _drawn_features(root: Path) -> np.ndarray:
    """Drawn 320×180 screens and their recorded copies (`tk_screens`: re-encoded, moved 2-3 px, a
    cursor), those of `tests/cli/test_leakage.py`: thin lines moved by half a pixel at 160×90
    change their grey level, which only the test's comparison of 3×3 means forgives."""
    from tk_screens import write_with_copies

    write_with_copies(root, {"slide": ("slide", 16, 8), "desktop": ("not_slide_desktop", 16, 8),
                             "others": ("not_slide_others", 16, 0)}, seed=2)
    return np.stack([decode_features(str(p)) for p in sorted(root.rglob("*.png"))])


@pytest.mark.parametrize("images", ["fixtures", "drawn"])
def test_shortcuts_change_no_answer(monkeypatch, tmp_path, images):
    if images == "fixtures":
        features = _all_features()
        pairs = _every_pair(len(features))
    else:  # the candidates, both ways round
        features = _drawn_features(tmp_path / "drawn")
        pairs = candidate_pairs(features)
        pairs = np.concatenate([pairs, pairs[:, ::-1]])
    same, _, score = frame_pairs._scored_pairs(features, pairs)
    init = FrameViews.__init__

    def forgetful(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.memo = _Forgetful()

    monkeypatch.setattr(FrameViews, "__init__", forgetful)
    monkeypatch.setattr(frame_pairs, "_alike", lambda views, pairs, **_: np.ones(len(pairs), bool))
    plain_same, _, plain_score = frame_pairs._scored_pairs(features, pairs)
    assert same.sum() >= 10  # the copies, the moved pages: some pairs are the same frame
    assert (same == plain_same).all()
    assert (score[same] == plain_score[same]).all()


@pytest.mark.parametrize("images", ["fixtures", "drawn"])
def test_plain_copies_are_answered_as_the_whole_test_answers_them(tmp_path, images):
    """Pairs that agree without being moved (`_plainly_same`: re-encoded copies of one screen) skip
    the alignment search, the rough test and the panel; run on them, the whole test finds each the
    same frame, with nothing changed and the same score — and re-encoded copies are among them."""
    if images == "fixtures":
        features = _all_features()
        with Image.open(FIXTURES / "one_word_slides" / "page_a.png") as im:
            page = im.convert("RGB")
        copies = []
        for quality in (60, 75, 90):
            path = tmp_path / f"q{quality}.jpg"
            page.save(path, "JPEG", quality=quality)
            copies.append(decode_features(str(path)))
        features = np.concatenate([features, np.stack(copies)])
        pairs = _every_pair(len(features))
    else:
        features = _drawn_features(tmp_path / "drawn")
        pairs = candidate_pairs(features)
        pairs = np.concatenate([pairs, pairs[:, ::-1]])
    plain, score = frame_pairs._plainly_same(FrameViews(features), pairs[:, 0], pairs[:, 1])
    rows = np.nonzero(plain)[0]
    assert len(rows) >= 6
    same, changed, full = frame_pairs._verify(FrameViews(features), pairs[rows, 0], pairs[rows, 1])
    assert same.all() and (changed == 0).all() and (full == score[rows]).all()
    assert (score[~plain] == 0).all()


def test_copies_moved_by_a_few_pixels_at_160x90_are_the_same_frame():
    """Moved by 16 px of 1280 (2 px at 160×90) or by 28-32 px (3.5-4 px, the most the test
    aligns): the pre-test lets them through without aligning them (their 3×3 means stay within
    each other's 9×9 range), and the test finds them the same frame."""
    with Image.open(FIXTURES / "one_word_slides" / "page_a.png") as im:
        page = im.convert("RGB")
    copies = [_shifted(page, dx, dy) for dx, dy in ((16, 8), (28, 14), (32, 16), (32, 0))]
    features = np.stack([frame_features(page)] + [frame_features(c) for c in copies])
    pairs = np.array([[0, k] for k in range(1, len(features))])
    assert frame_pairs._alike(FrameViews(features), pairs).all()
    same, changed = same_frame_pairs(features, pairs)
    assert same.all(), changed
    assert len(set(same_frame_groups(features))) == 1


def test_a_decode_that_names_its_format_gives_the_same_features():
    for path in IMAGES:
        from toolkit.data.images import load_rgb

        decoded = load_rgb(str(path), reduce_for=(128, 128))
        assert (decode_features(str(path), decoded, (128, 128)) == decode_features(str(path))).all(), path


def test_groups_do_not_depend_on_the_order_of_the_images():
    features = _all_features()
    features = np.concatenate([features, features[:2]])  # identical features: one node
    groups = same_frame_groups(features)
    order = list(range(len(features)))
    random.Random(7).shuffle(order)
    shuffled = same_frame_groups(features[order])
    members = {frozenset(k for k, g in enumerate(groups) if g == x) for x in set(groups)}
    again = {frozenset(order[k] for k, g in enumerate(shuffled) if g == x) for x in set(shuffled)}
    assert members == again
    assert groups[-2] == groups[0] and groups[-1] == groups[1]
    assert _split(features)[0].shape == (len(features), 180, 320)


def test_the_panel_cursor_and_shift_steps_are_the_plain_ones():
    for m in _maps(8) + [m[::2, ::2].copy() for m in _maps(9, 10)]:
        for dilate, min_height in ((2, 0.0), (4, 0.05)):
            assert _panel_box(m, dilate, min_height) == plain.panel_box(m, dilate, min_height)
        if m.shape == (180, 320):
            for panel in (None, plain.panel_box(m, 4, 0.05), (0, 30, 10, 120)):
                for margin in ((2, 2), (4, 7)):
                    assert _unforgiven(m, panel, margin) == plain.unforgiven(m, panel, margin)
    fine = _split(_all_features())[0]
    for k in range(len(fine) - 1):
        for panel in (None, (0, 30, 10, 120), (160, 180, 0, 100)):
            assert frame_fine._moved(fine[k], fine[k + 1], panel, 9) == plain.moved(fine[k], fine[k + 1], panel, 9)


def test_the_fine_check_is_the_plain_one():
    """Pairs of the deck pages (one word apart), their recorded and moved copies, the fixture frame
    and its copy, at no shift and at a few: same answers and scores as the check written plainly,
    either way round (the batch reuses answers at no shift for the other order)."""
    features = _all_features()
    names = [p.name for p in IMAGES] + ["moved 16", "moved 28", "moved 32"]
    keep = [k for k, n in enumerate(names) if n.startswith(("page_", "frame", "moved", "deck_page"))]
    fine = _split(features)[0]
    views = FrameViews(features)
    pairs = np.array([(i, j) for i in keep for j in keep if i != j])
    for shift in ((0, 0), (1, -1)):
        s = np.tile(np.array(shift, np.int64), (len(pairs), 1))
        same, score = frame_fine._fine_same(views, pairs[:, 0], pairs[:, 1], s)
        for k, (i, j) in enumerate(pairs.tolist()):
            want_same, want_score = plain.fine_same(fine[i], fine[j], shift)
            assert bool(same[k]) == want_same, (names[i], names[j], shift)
            if want_same:
                assert int(score[k]) == want_score, (names[i], names[j], shift)


def test_each_pair_keeps_its_own_differences_in_a_batch():
    """A batch mixing a pair that fits at once, one forgiven its cursor and one a word apart: each
    answered with its own differences (they are kept between the check's steps)."""
    names = ["page_a.png", "page_a_cursor.png", "page_b.png", "page_a_toast.png"]
    features = np.stack([decode_features(str(FIXTURES / "one_word_slides" / n)) for n in names])
    fine = _split(features)[0]
    for order in ([(0, 0), (0, 1), (0, 2), (0, 3)], [(0, 2), (0, 0), (0, 1), (2, 0), (3, 0)]):
        pairs = np.array(order)
        same, _ = frame_fine._fine_same(FrameViews(features), pairs[:, 0], pairs[:, 1], np.zeros((len(pairs), 2), np.int64))
        assert same.tolist() == [plain.fine_same(fine[i], fine[j], (0, 0))[0] for i, j in order], order

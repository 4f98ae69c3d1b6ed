"""Near-duplicates on real screenshots: only the same frame is grouped, never merely similar ones.

The images in ``fixtures/real_screens`` were made by ``benchmarks/real_screens.py --fixtures``
from content Debian ships (a beamer talk compiled with pdflatex, a texlive manual, the
gnome-backgrounds "oceans" stripes, LibreOffice's Candy template, capture-card frames; see
SOURCES.txt there), at 640x360: a black frame, a dark striped wallpaper, two pages of one deck,
its title page and "The End", a manual's title page, a blue screen and "No Signal" on that
blue, and one frame with a recorded copy (shifted 2 px, a mouse cursor drawn on). Filed into
class folders so that any false group would also be a false label conflict.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from toolkit.data.duplicates import (FEATURE_BYTES, decode_features, near_duplicate_groups, same_frame_groups,
                                     same_frame_pairs)
from .conftest import groups_and_conflicts
from toolkit.testing import make_recipe, run_cli

FIXTURES = Path(__file__).parent / "fixtures" / "real_screens"
LAYOUT = {
    "black.jpg": "not_slide_black_or_blue_screen", "blue.jpg": "not_slide_black_or_blue_screen",
    "oceans_dark.png": "not_slide_desktop", "no_signal_blue.png": "not_slide_no_signal",
    "deck_page_a.png": "slide", "deck_page_b.png": "slide", "deck_title.png": "slide", "deck_the_end.png": "slide",
    "frame.jpg": "slide", "frame_shifted_cursor.jpg": "slide", "manual_title.png": "not_slide_others",
}
DISTINCT = [("black.jpg", "oceans_dark.png"), ("deck_page_a.png", "deck_page_b.png"),
            ("deck_title.png", "deck_the_end.png"), ("manual_title.png", "deck_the_end.png"),
            ("blue.jpg", "no_signal_blue.png"), ("black.jpg", "blue.jpg")]


@pytest.fixture
def real_folder(tmp_path: Path) -> Path:
    root = tmp_path / "real"
    for name, cls in LAYOUT.items():
        (root / cls).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(FIXTURES / name, root / cls / name)
    return root


def _features(*names: str) -> np.ndarray:
    return np.stack([decode_features(str(FIXTURES / n)) for n in names])


def test_fixtures_are_small_and_complete():
    sizes = {p.name: p.stat().st_size for p in FIXTURES.iterdir() if p.suffix in (".png", ".jpg")}
    assert set(sizes) == set(LAYOUT)
    assert sum(sizes.values()) < 300_000


def test_the_copy_is_the_same_frame_and_look_alikes_are_not():
    names = ["frame.jpg", "frame_shifted_cursor.jpg"] + sorted({n for pair in DISTINCT for n in pair})
    features = _features(*names)
    index = {n: i for i, n in enumerate(names)}
    pairs = np.array([[0, 1]] + [[index[a], index[b]] for a, b in DISTINCT])
    same, changed = same_frame_pairs(features, pairs)
    assert same[0], f"the shifted copy with a cursor differs in {changed[0]} pixels"
    for (a, b), s, c in zip(DISTINCT, same[1:], changed[1:]):
        assert not s, f"{a} and {b} called the same frame ({c} pixels differ)"


def test_the_former_hash_test_was_fooled_by_these_images():
    """Why the test above matters: the former detector (phash within 8 bits) grouped look-alikes here."""
    from toolkit.data.cache import decode_images

    names = sorted(LAYOUT)
    decoded = decode_images([FIXTURES / n for n in names], 64, cache_dir=None)
    rows = decoded.images.numpy()
    from toolkit.data.duplicates import image_hash

    groups = near_duplicate_groups([image_hash(r) for r in rows], 8)
    together = {tuple(sorted(n for n, g in zip(names, groups) if g == k)) for k in set(groups)}
    assert any(len(g) > 1 and set(g) != {"frame.jpg", "frame_shifted_cursor.jpg"} for g in together), together


@pytest.mark.parametrize("command", ["check", "doctor"])
def test_only_the_recorded_copy_is_grouped_and_no_label_conflict(real_folder, tmp_path, command):
    args = ["data", command, real_folder, "--json"] + (["--out", tmp_path / "doctor"] if command == "doctor" else [])
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{"):])
    groups, conflicts = groups_and_conflicts(report, command)
    assert groups == [["frame.jpg", "frame_shifted_cursor.jpg"]]
    assert conflicts == []


def test_groups_do_not_depend_on_the_order_of_the_images():
    features = _features(*sorted(LAYOUT))
    base = same_frame_groups(features)
    order = np.random.default_rng(3).permutation(len(features))
    again = same_frame_groups(features[order])
    partition = lambda ids, names: {frozenset(n for n, g in zip(names, ids) if g == k) for k in set(ids)}  # noqa: E731
    names = np.array(sorted(LAYOUT))
    assert partition(again, names[order]) == partition(base, names)


def test_a_chain_of_small_changes_is_not_one_group():
    """A and B differ by a small mark, B and C by another: A and C differ by both, more than the
    one cursor-sized patch the same frame may hold; union-find would join all three, complete
    linkage keeps two apart."""
    from toolkit.data.frames import FINE_HW

    a = _features("frame.jpg")[0]
    fine = FINE_HW[0] * FINE_HW[1]
    grey = a[:fine].reshape(FINE_HW)
    b, c = a.copy(), a.copy()
    bg, cg = b[:fine].reshape(FINE_HW), c[:fine].reshape(FINE_HW)
    for img, spots in ((bg, [(80, 100)]), (cg, [(80, 100), (88, 200)])):  # 8x8 marks, black on light, white on dark
        for y, x in spots:
            img[y:y + 8, x:x + 8] = np.where(grey[y:y + 8, x:x + 8] > 127, 0, 255)
    features = np.stack([a, b, c])
    same, _ = same_frame_pairs(features, np.array([[0, 1], [1, 2], [0, 2]]))
    assert same.tolist() == [True, True, False]
    groups = same_frame_groups(features)
    assert len(set(groups)) == 2
    assert features.shape[1] == FEATURE_BYTES


def test_the_split_does_not_depend_on_the_recipe_image_size(real_folder, tmp_path, monkeypatch):
    """#30: the split is a property of the folder and the seed. Two recipes at different input
    sizes (and aspect ratios) validate on the same images, and tk data check, tk data doctor,
    tk run --dry-run and tk run count the same groups."""
    from tk_screens import write_with_copies

    monkeypatch.chdir(tmp_path)
    write_with_copies(real_folder, {"slide": ("slide", 10, 5), "not_slide_desktop": ("not_slide_desktop", 8, 4),
                                    "not_slide_others": ("not_slide_others", 8, 0)}, seed=4)
    square = make_recipe(tmp_path / "square.toml", real_folder, epochs=1, backbone="test_resnet")
    wide = make_recipe(tmp_path / "wide.toml", real_folder, epochs=1, backbone="test_resnet")
    wide.write_text(wide.read_text().replace("image_size = 32", "image_size = [24, 40]"))
    splits, outputs = {}, {}
    for recipe in (square, wide):
        result = run_cli("run", recipe, "--out", tmp_path / recipe.stem)
        assert result.exit_code == 0, result.output
        splits[recipe.stem] = json.loads((tmp_path / recipe.stem / "split.json").read_text())
        outputs[recipe.stem] = result.output
    assert splits["square"]["val"] == splits["wide"]["val"]
    assert splits["square"]["train"] == splits["wide"]["train"]
    grouping = splits["square"]["grouping"]
    assert grouping == splits["wide"]["grouping"]
    groups, images = grouping["groups_kept_together"], grouping["images_in_groups"]
    assert groups >= 9  # the recorded copies (and the real frame's copy), each with its original

    said = f"Split: {groups} groups of near-duplicate images (the same frame, checked pixel by pixel) kept on one " \
           f"side ({images} images)"
    for recipe in ("square", "wide"):
        assert said in outputs[recipe]
        dry = run_cli("run", tmp_path / f"{recipe}.toml", "--dry-run")
        assert dry.exit_code == 0, dry.output
        assert said in dry.output
    check = run_cli("data", "check", real_folder, "--json")
    dups = json.loads(check.output[check.output.index("{"):])["near_duplicates"]
    assert (dups["groups"], dups["images"], len(dups["conflicts"])) == (groups, images, grouping["label_conflicts"])
    doctor = run_cli("data", "doctor", real_folder, "--json", "--out", tmp_path / "doctor")
    report = json.loads(doctor.output[doctor.output.index("{"):])
    assert (len(report["near_duplicates"]["groups"]), report["near_duplicates"]["images"]) == (groups, images)


def test_every_store_holds_the_same_features_whatever_its_size(tmp_path):
    """The features come from the file (a JPEG decoded at the scale the features need), not from a
    store's rows: stores at 32x32 and 48x80 of one folder hold the same features, the ones
    `decode_features` computes."""
    from toolkit.data.store import open_store

    paths = [str(FIXTURES / n) for n in ("frame.jpg", "frame_shifted_cursor.jpg", "deck_page_a.png")]
    expected = np.stack([decode_features(p) for p in paths])
    for size in ((32, 32), (48, 80), (64, 64)):
        res = open_store(paths, size, cache_dir=tmp_path)
        assert np.array_equal(res.store.features(res.rows), expected), size
        again = open_store(paths, size, cache_dir=tmp_path)  # reused: read back and checked
        assert again.decoded == 0 and np.array_equal(again.store.features(again.rows), expected)


def test_a_store_of_the_former_format_is_not_trusted(tmp_path):
    """Stores written before the features existed (version 1) are never opened; the new store
    replaces them."""
    from toolkit.data.store import STORE_VERSION, open_store

    assert STORE_VERSION == 2
    stores = tmp_path / "stores"
    stores.mkdir()
    old = stores / "32x32-bicubic-v1-0123456789abcdef.tkstore"
    old.write_bytes(b"TKSTORE\0" + b"\0" * 64)
    res = open_store([str(FIXTURES / "black.jpg")], (32, 32), cache_dir=tmp_path)
    assert res.decoded == 1 and not old.exists()
    assert res.store.features(res.rows).shape == (1, FEATURE_BYTES)


def test_damaged_features_are_computed_again_not_trusted(tmp_path):
    from toolkit.data.store import ImageStore, open_store

    paths = [str(FIXTURES / n) for n in ("deck_page_a.png", "deck_page_b.png")]
    res = open_store(paths, (32, 32), cache_dir=tmp_path)
    header = res.store.header
    offset = header["data_offset"] + header["n"] * 3 * 32 * 32 + 100  # inside row 0's features
    with open(res.store.path, "r+b") as fh:
        fh.seek(offset)
        byte = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([byte[0] ^ 0xFF]))
    store = ImageStore(res.store.path)  # the index is intact: it opens
    got = store.features(res.rows)
    assert np.array_equal(got, np.stack([decode_features(p) for p in paths]))
    assert store.notes and "did not match their checksum" in store.notes[0]
    assert not res.store.path.exists()  # renamed aside: rebuilt on the next run

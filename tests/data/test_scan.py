"""toolkit.data.scan: layouts, every skipped file with its reason, and the user errors."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from toolkit.core.errors import DataError
from toolkit.data import FolderIndex, class_counts, scan_folder


def _reasons(index: FolderIndex, root: Path) -> dict[str, str]:
    return {os.path.relpath(p, root): r for p, r in index.skipped}


def test_flat_layout_labels_and_order(tmp_path, make_tree):
    make_tree(tmp_path, {"dog": 3, "cat": 2})
    index = scan_folder(tmp_path)
    assert index.class_names == ["cat", "dog"]
    assert [os.path.relpath(p, tmp_path) for p in index.paths] == [
        "cat/000.png", "cat/001.png", "dog/000.png", "dog/001.png", "dog/002.png"]
    assert index.labels == [0, 0, 1, 1, 1] and index.counts() == [2, 3]
    assert index.presplit is None and index.skipped == [] and index.empty_classes == []


def test_images_are_found_recursively(tmp_path, make_tree, make_image):
    make_tree(tmp_path, {"a": 1, "b": 1})
    make_image(tmp_path / "a" / "2024" / "march" / "deep.jpg")
    assert scan_folder(tmp_path).counts() == [2, 1]


def test_bad_files_are_skipped_with_reasons(tmp_path, make_tree, make_image):
    make_tree(tmp_path, {"a": 2, "b": 2})
    (tmp_path / "a" / "empty.png").write_bytes(b"")
    (tmp_path / "a" / "text.jpg").write_text("hello")
    (tmp_path / "a" / "dir.jpg").mkdir()
    (tmp_path / "a" / ".DS_Store").write_bytes(b"\0\0")
    (tmp_path / "a" / "Thumbs.db").write_bytes(b"\0\0")
    (tmp_path / "a" / "broken.png").symlink_to(tmp_path / "nowhere.png")
    (tmp_path / "b" / "loop.png").symlink_to(tmp_path / "b" / "loop.png")
    make_image(tmp_path / "b" / "tiny.png", (1, 1))
    make_image(tmp_path / "b" / "strip.png", (10, 400))
    make_image(tmp_path / "b" / ".hidden.png")
    make_image(tmp_path / "b" / ".thumbs" / "x.png")
    make_image(tmp_path / "loose.png")
    data = (tmp_path / "a" / "000.png").read_bytes()
    (tmp_path / "a" / "cut.png").write_bytes(data[: len(data) // 2])

    index = scan_folder(tmp_path)
    assert index.counts() == [2, 2]
    reasons = _reasons(index, tmp_path)
    assert reasons == {
        "loose.png": "not inside a class folder",
        "a/.DS_Store": "hidden file",
        "a/Thumbs.db": "not an image file (.db)",
        "a/broken.png": "broken symlink (its target does not exist)",
        "a/cut.png": reasons["a/cut.png"],
        "a/empty.png": "empty file (0 bytes)",
        "a/text.jpg": "not an image (the format is not recognised)",
        "b/.hidden.png": "hidden file",
        "b/.thumbs": "hidden folder, not scanned",
        "b/loop.png": "symlink loop",
        "b/strip.png": "extreme aspect ratio: 10x400 px is 40:1, the limit is 20:1",
        "b/tiny.png": "too small: 1x1 px, each side needs at least 8 px",
    }
    assert reasons["a/cut.png"].startswith("truncated or corrupt image")
    # a folder named like an image is just a sub-folder: searched, not reported (it is empty)


def test_check_false_trusts_image_names(tmp_path, make_tree):
    make_tree(tmp_path, {"a": 1, "b": 1})
    (tmp_path / "a" / "empty.png").write_bytes(b"")
    index = scan_folder(tmp_path, check=False)
    assert index.counts() == [2, 1]


def test_notes_for_odd_but_usable_files(tmp_path, make_tree, make_image):
    make_tree(tmp_path, {"a": 1, "b": 1})
    make_image(tmp_path / "a" / "print.jpg", mode="CMYK")
    index = scan_folder(tmp_path)
    assert index.counts() == [2, 1]
    assert [(os.path.basename(p), n) for p, n in index.notes] == [
        ("print.jpg", "cmyk image: converted to rgb")]


def test_directory_symlink_loops_do_not_hang(tmp_path, make_tree):
    make_tree(tmp_path, {"a": 2, "b": 1})
    (tmp_path / "a" / "up").symlink_to(tmp_path)  # back to the dataset root
    (tmp_path / "a" / "self").symlink_to(tmp_path / "a")
    (tmp_path / "a" / "other").symlink_to(tmp_path / "b")  # another class: not counted twice
    outside = tmp_path.parent / f"{tmp_path.name}-extra"
    (outside / "more").mkdir(parents=True)
    (outside / "more" / "x.png").write_bytes((tmp_path / "b" / "000.png").read_bytes())
    (tmp_path / "b" / "linked").symlink_to(outside / "more")  # a real link: followed
    index = scan_folder(tmp_path)
    assert index.counts() == [2, 2]
    reasons = _reasons(index, tmp_path)
    assert reasons["a/up"] == "symlink to a folder above it, not followed"
    assert reasons["a/self"] == reasons["a/other"] == "folder already scanned (symlink loop or duplicate)"


def test_symlinked_class_folder_is_followed(tmp_path, make_tree):
    store = tmp_path / "store"
    make_tree(store, {"cats": 2})
    root = tmp_path / "data"
    make_tree(root, {"dog": 1})
    (root / "cat").symlink_to(store / "cats")
    assert scan_folder(root).counts() == [2, 1]


def test_empty_class_is_listed_not_kept(tmp_path, make_tree):
    make_tree(tmp_path, {"a": 1, "b": 1})
    (tmp_path / "empty").mkdir()
    (tmp_path / "only_junk").mkdir()
    (tmp_path / "only_junk" / "readme.txt").write_text("x")
    index = scan_folder(tmp_path)
    assert index.class_names == ["a", "b"] and index.empty_classes == ["empty", "only_junk"]


def test_macos_archive_folders_are_not_classes(tmp_path, make_tree, make_image):
    make_tree(tmp_path, {"a": 1, "b": 1})
    make_image(tmp_path / "__MACOSX" / "a" / "000.png")
    index = scan_folder(tmp_path)
    assert index.class_names == ["a", "b"]
    assert _reasons(index, tmp_path) == {"__MACOSX": "system or archive folder, not scanned"}


def test_presplit_folder(tmp_path, make_tree):
    make_tree(tmp_path / "train", {"cat": 3, "dog": 2})
    make_tree(tmp_path / "Validation", {"cat": 1, "dog": 1})
    make_tree(tmp_path / "test", {"cat": 1, "bird": 1})
    index = scan_folder(tmp_path)
    assert index.class_names == ["bird", "cat", "dog"]
    assert set(index.presplit) == {"train", "val", "test"}
    by_split = {s: sorted(os.path.relpath(index.samples[i][0], tmp_path).split(os.sep)[0]
                          for i in idx) for s, idx in index.presplit.items()}
    assert by_split == {"train": ["train"] * 5, "val": ["Validation"] * 2, "test": ["test"] * 2}
    assert sorted(i for idx in index.presplit.values() for i in idx) == list(range(9))
    assert ("class 'bird' has no images in train" in {n for _, n in index.notes})


def test_empty_test_folder_is_ignored_but_empty_train_is_an_error(tmp_path, make_tree):
    make_tree(tmp_path / "train", {"a": 2, "b": 2})
    (tmp_path / "test").mkdir()
    index = scan_folder(tmp_path)
    assert set(index.presplit) == {"train"}
    assert _reasons(index, tmp_path) == {"test": "test folder has no class folders, not used"}
    (tmp_path / "train").rename(tmp_path / "old")
    (tmp_path / "old").rename(tmp_path / "test" / "x")
    (tmp_path / "train").mkdir()
    with pytest.raises(DataError, match="train has no class folders"):
        scan_folder(tmp_path)


def test_a_train_folder_beside_classes_is_a_class(tmp_path, make_tree):
    make_tree(tmp_path, {"train": 1, "boat": 1})
    index = scan_folder(tmp_path)
    assert index.presplit is None and index.class_names == ["boat", "train"]


def test_two_val_folders_are_an_error(tmp_path, make_tree):
    for split in ("train", "val", "valid"):
        make_tree(tmp_path / split, {"a": 1, "b": 1})
    with pytest.raises(DataError, match="has both val and valid"):
        scan_folder(tmp_path)


@pytest.mark.skipif(sys.platform != "linux", reason="bytes file names are a POSIX thing")
def test_non_utf8_names_are_kept(tmp_path, make_tree, make_image):
    make_tree(tmp_path, {"a": 1, "b": 1})
    make_image(os.path.join(os.fsencode(tmp_path), b"a", b"caf\xe9.png"))
    index = scan_folder(tmp_path)
    assert index.counts() == [2, 1] and index.skipped == []


def test_progress_is_reported(tmp_path, make_tree):
    make_tree(tmp_path, {"a": 2, "b": 1})
    calls = []
    scan_folder(tmp_path, on_progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 3), (2, 3), (3, 3)]


# ----------------------------------------------------------------- user errors


def test_missing_root(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        scan_folder(tmp_path / "nope")


def test_root_is_a_file(tmp_path):
    (tmp_path / "data.zip").write_bytes(b"PK")
    with pytest.raises(DataError, match="is a file, not a folder"):
        scan_folder(tmp_path / "data.zip")


def test_no_class_folders(tmp_path, make_image):
    make_image(tmp_path / "a.png")
    with pytest.raises(DataError, match="has no class folders"):
        scan_folder(tmp_path)


def test_fewer_than_two_usable_classes(tmp_path, make_tree):
    make_tree(tmp_path, {"a": 2})
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "bad.png").write_bytes(b"")
    with pytest.raises(DataError, match=r"at least 2 classes .* only 'a'; 1 files were skipped"):
        scan_folder(tmp_path)


def test_class_counts():
    assert class_counts([0, 2, 2, 1, 2], 4) == [1, 1, 3, 0]
    with pytest.raises(ValueError):
        class_counts([5], 3)

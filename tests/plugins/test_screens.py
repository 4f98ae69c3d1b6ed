"""The synthetic screen generator: deterministic, laid out like ImageFolder, cached, any size."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from PIL import Image

from tk_screens import CLASSES, REFERENCE_COUNTS, draw_screen, generate_dataset
from tk_screens.__main__ import main as cli_main

SMALL = (64, 36)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.png"))}


def test_classes_and_reference_counts():
    assert CLASSES == (
        "slide", "not_slide_others", "not_slide_desktop", "may_be_slide_powerpoint_edit_mode",
        "not_slide_no_signal", "may_be_slide_powerpoint_side_screen", "not_slide_black_or_blue_screen")
    assert tuple(REFERENCE_COUNTS) == CLASSES
    assert sum(REFERENCE_COUNTS.values()) == 3152


@pytest.mark.parametrize("size", [(1280, 720), (64, 64)])
def test_every_class_draws_at_size(size):
    for cls in CLASSES:
        for k in range(3):
            img = draw_screen(cls, random.Random(f"t:{cls}:{k}"), size)
            assert img.mode == "RGB" and img.size == size


def test_tiny_and_odd_sizes_do_not_crash():
    for size in [(1, 1), (3, 2), (7, 5), (100, 400)]:
        for cls in CLASSES:
            assert draw_screen(cls, random.Random(cls), size).size == size


def test_draw_screen_is_a_function_of_the_rng():
    for cls in CLASSES:
        a = draw_screen(cls, random.Random(f"x:{cls}"), (320, 180))
        b = draw_screen(cls, random.Random(f"x:{cls}"), (320, 180))
        assert a.tobytes() == b.tobytes()


def test_unknown_class_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown screen class 'slides'.*not_slide_desktop"):
        draw_screen("slides", random.Random(0))
    with pytest.raises(ValueError, match="unknown screen class"):
        generate_dataset("unused", counts={"slides": 1})
    with pytest.raises(ValueError, match="either counts or per_class"):
        generate_dataset("unused", counts={"slide": 1}, per_class=1)


def test_same_seed_same_bytes_any_thread_count(tmp_path):
    a = generate_dataset(tmp_path / "a", per_class=2, size=SMALL, seed=3, workers=1)
    b = generate_dataset(tmp_path / "b", per_class=2, size=SMALL, seed=3, workers=3)
    fa, fb = _files(a), _files(b)
    assert len(fa) == 14 and fa == fb


def test_different_seed_different_images(tmp_path):
    a = _files(generate_dataset(tmp_path / "a", per_class=2, size=SMALL, seed=0))
    b = _files(generate_dataset(tmp_path / "b", per_class=2, size=SMALL, seed=1))
    assert a.keys() == b.keys()
    assert sum(a[k] != b[k] for k in a) == len(a)


def test_layout_counts_and_marker(tmp_path):
    calls = []
    counts = {"slide": 3, "not_slide_no_signal": 1, "not_slide_desktop": 0}
    out = generate_dataset(tmp_path / "ds", counts=counts, size=(48, 30), seed=7,
                           on_progress=lambda d, t: calls.append((d, t)))
    assert out == tmp_path / "ds"
    assert sorted(p.name for p in out.iterdir()) == [".complete", "not_slide_no_signal", "slide"]
    assert sorted(p.name for p in (out / "slide").iterdir()) == [
        "slide_00000.png", "slide_00001.png", "slide_00002.png"]
    assert [p.name for p in (out / "not_slide_no_signal").iterdir()] == ["not_slide_no_signal_00000.png"]
    with Image.open(out / "slide" / "slide_00002.png") as im:
        assert im.size == (48, 30) and im.mode == "RGB"
    marker = json.loads((out / ".complete").read_text())
    assert marker["seed"] == 7 and marker["size"] == [48, 30]
    assert marker["counts"]["slide"] == 3 and marker["counts"]["not_slide_desktop"] == 0
    assert calls == [(i, 4) for i in range(1, 5)]
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]  # no temp folders left behind


def test_complete_marker_reuse_and_regeneration(tmp_path):
    out = generate_dataset(tmp_path / "ds", per_class=1, size=SMALL, seed=0)
    first = out / "slide" / "slide_00000.png"
    stamp = first.stat().st_mtime_ns
    progress = []
    generate_dataset(tmp_path / "ds", per_class=1, size=SMALL, seed=0, on_progress=lambda d, t: progress.append(d))
    assert progress == [] and first.stat().st_mtime_ns == stamp  # reused, nothing drawn

    before = _files(out)
    generate_dataset(tmp_path / "ds", per_class=2, size=SMALL, seed=1)
    after = _files(out)
    assert len(after) == 14 and after[str(first.relative_to(out))] != before[str(first.relative_to(out))]
    assert json.loads((out / ".complete").read_text())["seed"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]


def test_refuses_to_replace_a_folder_it_did_not_write(tmp_path):
    mine = tmp_path / "photos"
    mine.mkdir()
    (mine / "holiday.jpg").write_bytes(b"not ours")
    with pytest.raises(FileExistsError, match="not written by the screens generator"):
        generate_dataset(mine, per_class=1, size=SMALL)
    assert (mine / "holiday.jpg").read_bytes() == b"not ours"


def test_cli(tmp_path, capsys):
    assert cli_main([str(tmp_path / "cli"), "--per-class", "1", "--size", "40x30", "--seed", "2"]) == 0
    assert len(list((tmp_path / "cli").rglob("*.png"))) == 7
    assert "ready" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli_main([str(tmp_path / "x"), "--size", "big"])

"""`tk data doctor` suggests removing the recorded copies of a frame and keeping its clean original,
whatever the file names: real screenshots (a beamer page, and that page as later frames of a
recording — shifted, with a mouse cursor, with a notification, re-encoded as JPEG; see
``tests/data/fixtures/one_word_slides/SOURCES.txt``), named so that the original sorts last."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

from PIL import Image

from toolkit.testing import run_cli

ONE_WORD = Path(__file__).parents[1] / "data" / "fixtures" / "one_word_slides"
REAL = Path(__file__).parents[1] / "data" / "fixtures" / "real_screens"


def test_doctor_keeps_the_original_and_suggests_removing_its_copies(tmp_path, monkeypatch):
    root = tmp_path / "screens"
    slide, desktop = root / "slide", root / "desktop"
    slide.mkdir(parents=True)
    desktop.mkdir()
    for src, name in [("page_a_cursor.png", "a_frame_0101.png"), ("page_a_toast.png", "b_frame_0102.png"),
                      ("page_a_shift_cursor.png", "c_frame_0103.png"), ("page_a.png", "z_frame_0100.png"),
                      ("page_b.png", "m_next_page.png")]:
        shutil.copyfile(ONE_WORD / src, slide / name)
    with Image.open(ONE_WORD / "page_a.png") as im:  # the original once more, re-encoded as a JPEG frame
        im.convert("RGB").save(slide / "a_frame_0104.jpg", quality=70)
    for name in ("oceans_dark.png", "manual_title.png"):
        shutil.copyfile(REAL / name, desktop / name)
    monkeypatch.chdir(tmp_path)
    result = run_cli("data", "doctor", root)
    assert result.exit_code == 0, result.output
    with open(tmp_path / "doctor-screens" / "fixes.csv", newline="") as fh:
        fixes = {r["file"]: r for r in csv.DictReader(fh)}
    copies = {"slide/a_frame_0101.png", "slide/b_frame_0102.png", "slide/c_frame_0103.png", "slide/a_frame_0104.jpg"}
    assert set(fixes) == copies, fixes  # the next page (one word differs) and the desktops are no copies
    for row in fixes.values():
        assert (row["problem"], row["suggestion"]) == ("near-duplicate of slide/z_frame_0100.png", "remove"), row


def test_doctor_run_from_inside_the_folder_writes_beside_it(tmp_path, monkeypatch):
    """`tk data doctor .` from inside the image folder: the page goes beside the folder, where a
    later check or run does not take it for a class of its own."""
    root = tmp_path / "screens"
    for cls, name in (("slide", "page_a.png"), ("slide", "page_b.png"), ("desktop", "oceans_dark.png")):
        (root / cls).mkdir(parents=True, exist_ok=True)
        shutil.copyfile((ONE_WORD if name.startswith("page") else REAL) / name, root / cls / name)
    monkeypatch.chdir(root)
    result = run_cli("data", "doctor", ".")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "doctor-screens" / "doctor.html").is_file()
    assert sorted(p.name for p in root.iterdir()) == ["desktop", "slide"]
    again = run_cli("data", "check", ".")
    assert again.exit_code == 0 and "2 classes" in " ".join(again.output.split()), again.output


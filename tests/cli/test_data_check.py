"""`tk data check DIR`: counts, imbalance, and every file left out with its reason."""

from __future__ import annotations

import json

from PIL import Image

from toolkit.testing import make_image_folder, run_cli


def test_counts_imbalance_and_bad_files(tmp_path):
    root = make_image_folder(tmp_path / "shots", {"slide": 12, "desktop": 3, "black": 1}, size=32)
    (root / "slide" / "zero.png").write_bytes(b"")
    (root / "slide" / "fake.jpg").write_text("<html>not an image</html>")
    png = (root / "desktop" / "desktop_000.png").read_bytes()
    (root / "desktop" / "cut.png").write_bytes(png[: len(png) // 2])
    Image.new("RGB", (4, 300)).save(root / "black" / "strip.png")
    (root / "desktop" / "readme.txt").write_text("notes")
    (root / ".DS_Store").write_bytes(b"\0\0")

    result = run_cli("data", "check", root)
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())  # rich may wrap long lines
    assert "16 usable images in 3 classes" in out
    assert "slide │ 12" in out and "desktop │ 3" in out and "black │ 1" in out
    assert "Imbalance: 12.0x (largest class 'slide' 12, smallest 'black' 1)" in out
    assert "4 unusable image(s)" in out
    assert "zero.png: empty file (0 bytes)" in out
    assert "fake.jpg: " in out and "cut.png: " in out and "strip.png: " in out
    assert "readme.txt: not an image file (.txt)" in out
    assert "Classes with fewer than 5 images (black, desktop)" in out

    as_json = run_cli("data", "check", root, "--json")
    report = json.loads(as_json.output)
    assert report["counts"] == [1, 3, 12] and report["class_names"] == ["black", "desktop", "slide"]
    assert report["usable"] is True and report["imbalance"] == 12.0
    assert sorted(p.rsplit("/", 1)[1] for p, _ in report["bad_images"]) == ["cut.png", "fake.jpg", "strip.png",
                                                                           "zero.png"]


def test_unusable_folder_exits_non_zero_with_one_line(tmp_path):
    root = make_image_folder(tmp_path / "one", {"only": 3}, size=32)
    result = run_cli("data", "check", root)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "at least 2 classes" in lines[0]

    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_cli("data", "check", empty)
    assert result.exit_code == 1 and "has no class folders" in result.output

    missing = run_cli("data", "check", tmp_path / "missing")
    assert missing.exit_code == 1 and "does not exist" in missing.output


def test_copies_across_a_folders_own_split_are_a_problem_and_every_group_is_counted(tmp_path):
    """A folder already split into train/ and val/ is kept as it is by tk run: a copy on both sides
    is a problem `tk data check` names (not "No problems found"); more groups than it lists are counted."""
    import shutil

    root = tmp_path / "shots"
    for part, n in (("train", 10), ("val", 4)):
        make_image_folder(root / part, {"slide": n, "desktop": n}, size=32, seed=1 if part == "train" else 2)
    train = sorted((root / "train" / "slide").glob("*.png"))
    for k, src in enumerate(train[:6]):  # six groups inside train/
        shutil.copyfile(src, src.with_name(f"again_{k}.png"))
    shutil.copyfile(train[7], root / "val" / "slide" / "leaked.png")  # one group across the split
    result = run_cli("data", "check", root)
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "7 groups of near-duplicate images" in out, out
    assert "1 of them straddle the folder's own train / val split" in out, out
    assert "… and 2 more groups" in out, out
    assert "No problems found." not in out


def test_ctrl_c_in_any_command_is_one_line_and_status_130(tmp_path, monkeypatch, capsys):
    """Ctrl-C while a command works (here while `tk data check` groups the images): one line and the
    shell's status for an interrupt, as `tk run` gives — not click's "Aborted!" and status 1."""
    import pytest

    from toolkit.cli import data_cmd, main

    root = make_image_folder(tmp_path / "shots", {"a": 3, "b": 3}, size=32)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(data_cmd, "_duplicates", interrupted)
    with pytest.raises(SystemExit) as stopped:
        main(["data", "check", str(root)])
    assert stopped.value.code == 130
    err = capsys.readouterr().err
    assert err.strip() == "Interrupted (Ctrl-C)." and "Aborted" not in err

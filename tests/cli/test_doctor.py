"""`tk data doctor` and `tk data apply`: a page and a fixes.csv; a corrected copy, the original untouched."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from tk_screens import write_with_copies

from toolkit.testing import run_cli


def _tree_digest(root: Path) -> dict[str, str]:
    """Every file and folder under root with its bytes' hash (and its mode and mtime)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.stat()
            data = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            out[str(p.relative_to(root))] = f"{data} {st.st_mode} {st.st_mtime_ns}"
    return out


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    root = tmp_path / "screens"
    write_with_copies(root, {"slide": ("slide", 10, 4), "desktop": ("not_slide_desktop", 8, 0),
                             "others": ("not_slide_others", 8, 0)}, seed=5)
    shutil.copy(root / "slide" / "002.png", root / "desktop" / "misfiled.png")  # a label conflict
    (root / "others" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    return root


def test_doctor_on_a_folder_writes_page_json_and_fixes(tmp_path, messy, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_cli("data", "doctor", messy)
    assert result.exit_code == 0, result.output
    out = tmp_path / "doctor-screens"
    assert "near-duplicate groups: 4 (9 images); label conflicts: 1; unusable files: 1" in result.output
    assert "tk run RECIPE --folds 5" in result.output  # no predictions: how to get label errors
    page = (out / "doctor.html").read_text()
    for text in ("Class balance", "Image sizes and aspect ratios", "320×180", "Near-duplicate groups: 4",
                 "Label conflicts: 1", "desktop/misfiled.png", "Unusable files: 1", "others/broken.png"):
        assert text in page, text
    assert page.count("data:image/png;base64,") >= 9  # a thumbnail per grouped image at least
    report = json.loads((out / "doctor.json").read_text())
    assert report["counts"] == {"desktop": 9, "others": 8, "slide": 14} and report["source"] == "folder"
    assert report["label_conflicts"][0][0] == {"file": "desktop/misfiled.png", "label": "desktop"}
    with open(out / "fixes.csv", newline="") as fh:
        fixes = {r["file"]: r for r in csv.DictReader(fh)}
    assert fixes["others/broken.png"]["suggestion"] == "remove"
    assert fixes["desktop/misfiled.png"]["suggestion"] == "review"
    assert fixes["slide/copy_000_of_000.png"] == {"file": "slide/copy_000_of_000.png",
                                                 "problem": "near-duplicate of slide/000.png", "suggestion": "remove"}
    assert "slide/000.png" not in fixes  # one of each group is kept


def test_doctor_lists_a_decompression_bomb_instead_of_crashing_on_its_thumbnail(tmp_path, messy, monkeypatch):
    """A PNG whose header claims 100000×100000 pixels: `tk data check` names it; the doctor crashed
    with PIL's DecompressionBombError while drawing its thumbnail and left an empty folder."""
    import struct
    import zlib

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (16, 16)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    ihdr = bytearray(data[12:29])
    ihdr[4:12] = struct.pack(">II", 100_000, 100_000)
    data[12:29], data[29:33] = ihdr, struct.pack(">I", zlib.crc32(bytes(ihdr)))
    (messy / "others" / "huge.png").write_bytes(bytes(data))
    monkeypatch.chdir(tmp_path)
    result = run_cli("data", "doctor", messy)
    assert result.exit_code == 0, result.output
    assert "unusable files: 2" in result.output
    page = (tmp_path / "doctor-screens" / "doctor.html").read_text()
    assert "others/huge.png" in page and "decompression bomb" in page


def test_apply_writes_a_corrected_copy_and_leaves_the_original_byte_identical(tmp_path, messy, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run_cli("data", "doctor", messy, "--out", "doc").exit_code == 0
    before = _tree_digest(messy)
    fixes = tmp_path / "doc" / "fixes.csv"
    rows = fixes.read_text().splitlines()
    rows.append("slide/005.png,my own check,move to others")  # users add and edit rows
    rows.append("slide/nonexistent.png,a typo,remove")  # a row naming no file of the folder: said, not dropped
    fixes.write_text("\n".join(rows) + "\n")
    result = run_cli("data", "apply", fixes, "--out", "clean")
    assert result.exit_code == 0, result.output
    assert (f"Note: 1 row(s) of {fixes} name a file the folder does not have (first: slide/nonexistent.png): nothing "
            f"was done for them.") in " ".join(result.output.split())
    assert _tree_digest(messy) == before
    clean = tmp_path / "clean"
    assert not (clean / "others" / "broken.png").exists() and not (clean / "slide" / "copy_000_of_000.png").exists()
    # others/ has a 005.png of its own: the moved file keeps both
    assert (clean / "others" / "005.moved.png").read_bytes() == (messy / "slide" / "005.png").read_bytes()
    assert (clean / "others" / "005.png").read_bytes() == (messy / "others" / "005.png").read_bytes()
    assert (clean / "slide" / "000.png").is_file() and (clean / "desktop" / "misfiled.png").is_file()
    assert "1 moved to another class, 4 left out, 3 marked for review" in result.output
    assert "The original folder is unchanged." in result.output
    check = run_cli("data", "check", clean)
    assert "Near-duplicates: 1 group" in check.output  # only the conflict, left for review

    again = run_cli("data", "apply", fixes, "--out", "clean")
    assert again.exit_code == 1 and "already exists and is not empty" in again.output
    fixes.write_text("file,problem,suggestion\nslide/001.png,x,move to nowhere\n")
    bad = run_cli("data", "apply", fixes, "--out", "clean2")
    assert bad.exit_code == 1 and "line 2: there is no class folder 'nowhere'" in bad.output
    fixes.write_text("file,problem,suggestion\n../etc/passwd,x,remove\n")
    bad = run_cli("data", "apply", fixes, "--out", "clean2")
    assert bad.exit_code == 1 and "must be a path inside the data folder" in bad.output
    assert not (tmp_path / "clean2").exists()


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (.ci/run installs Debian's chromium)")
def test_doctor_page_renders_in_headless_chromium(tmp_path, messy, monkeypatch):
    from PIL import Image

    monkeypatch.chdir(tmp_path)
    assert run_cli("data", "doctor", messy, "--out", "doc").exit_code == 0
    shot = tmp_path / "doctor.png"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1000,1400",
                    (tmp_path / "doc" / "doctor.html").as_uri()], check=True, timeout=120, capture_output=True)
    with Image.open(shot) as im:
        assert im.size == (1000, 1400)
        colours = im.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 200  # text, bars and thumbnails, not a blank page

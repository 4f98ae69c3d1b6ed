"""Second outside probe (#25), `tk data doctor` and `tk data apply`: a copy never loses an image,
a run folder never sends doctor outside its data folder or into a FIFO, tk reads back every
fixes.csv it writes (names that are not UTF-8, names a spreadsheet would run as formulas), and a
hand-edited split.json, doctor.json or fixes.csv is one ``Error:`` line.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from toolkit.core.text import FORMULA_PREFIXES, csv_cell, csv_value
from toolkit.testing import make_image_folder, run_cli

from .conftest import one_error_line, record_figure, subprocess_env, tk, write_recipe

HOSTILE = "=2+5+cmd|'calc'!A0"
"""The probe's class folder name: a formula a spreadsheet would run."""


def digests(root: Path) -> dict[str, str]:
    """Every file under ``root`` (relative name) with the hash of its bytes."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def cells(path: Path) -> list[list[str]]:
    """The raw cells of a CSV tk wrote (names that are not UTF-8 as surrogate escapes)."""
    with open(path, newline="", encoding="utf-8", errors="surrogateescape") as fh:
        return list(csv.reader(fh))


def assert_spreadsheet_safe(path: Path) -> list[list[str]]:
    """No cell of ``path`` starts like a formula (unless it is a plain number); returns the cells."""
    rows = cells(path)
    for row in rows:
        for cell in row:
            if cell[:1] in FORMULA_PREFIXES:
                float(cell)  # only a number may start with + or -
    return rows


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, Path]:
    """One tiny real run shared by the tests: two classes, one of them named like a formula."""
    from toolkit.engine.train import run_recipe
    from toolkit.recipe.load import load_recipe

    root = tmp_path_factory.mktemp("probe2-data")
    images = make_image_folder(root / "images", {HOSTILE: 6, "plain": 6}, size=32)
    recipe = write_recipe(root / "r.toml", images, epochs=1)
    run = run_recipe(load_recipe(recipe), out=root / "run", quiet=True).run_dir
    return {"root": root, "images": images, "run": run}


def run_copy(trained: dict[str, Path], dest: Path, edit=None) -> Path:
    """A copy of the trained run folder (without checkpoints: doctor reads split.json, recipe.toml
    and predictions.csv), its split.json passed through ``edit``."""
    shutil.copytree(trained["run"], dest, ignore=shutil.ignore_patterns("*.pt"))
    if edit is not None:
        split = json.loads((dest / "split.json").read_text(encoding="utf-8"))
        split = edit(split)
        (dest / "split.json").write_text(split if isinstance(split, str) else json.dumps(split), encoding="utf-8")
    return dest


# -- 3. a moved file never overwrites another in the copy ---------------------------------------
def test_apply_never_overwrites_a_file_of_the_copy(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = make_image_folder(tmp_path / "data", {"cat": 8, "dog": 8, "bird": 8}, size=32)
    os.rename(data / "dog" / "dog_000.png", data / "dog" / "img2.png")
    os.rename(data / "dog" / "dog_001.png", data / "dog" / "img2.moved.png")  # a second round's name
    os.rename(data / "cat" / "cat_000.png", data / "cat" / "img2.png")
    os.rename(data / "bird" / "bird_000.png", data / "bird" / "img2.png")
    before = digests(data)
    fixes = tmp_path / "fixes.csv"
    fixes.write_text("file,problem,suggestion\ncat/img2.png,x,move to dog\nbird/img2.png,x,move to dog\n")
    result = run_cli("data", "apply", fixes, "--data", data, "--out", "clean")
    assert result.exit_code == 0, result.output
    after = digests(tmp_path / "clean")
    assert len(after) == len(before) == 24
    assert sorted(after.values()) == sorted(before.values())  # every image, none twice, none lost
    assert f"Wrote clean: {len(after)} images (2 moved" in result.output
    dog = tmp_path / "clean" / "dog"
    assert (dog / "img2.png").read_bytes() == (data / "dog" / "img2.png").read_bytes()
    assert (dog / "img2.moved.png").read_bytes() == (data / "dog" / "img2.moved.png").read_bytes()
    assert (dog / "img2.moved-2.png").read_bytes() == (data / "bird" / "img2.png").read_bytes()  # planned in order
    assert (dog / "img2.moved-3.png").read_bytes() == (data / "cat" / "img2.png").read_bytes()
    assert digests(data) == before
    record_figure("hostile files", "tk data apply moving files onto names the copy already has "
                  "(img2.png, img2.moved.png): no image overwritten, count printed = files written", 1, 1)


# -- 16. a fixes.csv that removes everything -----------------------------------------------------
def test_apply_refuses_a_fixes_csv_that_removes_every_image(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = make_image_folder(tmp_path / "data", {"a": 3, "b": 3}, size=32)
    rows = "".join(f"{p.relative_to(data)},x,remove\n" for p in sorted(data.rglob("*.png")))
    fixes = tmp_path / "fixes.csv"
    fixes.write_text("file,problem,suggestion\n" + rows)
    result = run_cli("data", "apply", fixes, "--data", data, "--out", "clean")
    assert result.exit_code == 1
    line = one_error_line(result.output)
    assert "removes every image" in line and "nothing would be left" in line and str(fixes) in line
    assert "No such file" not in line
    assert not (tmp_path / "clean").exists() and not list(tmp_path.glob(".clean*"))
    record_figure("hostile files", "fixes.csv removing every image: one line saying so, no folder left", 1, 1)


# -- 10. names that are not UTF-8 -------------------------------------------------------------
@pytest.mark.skipif(sys.platform == "darwin", reason="APFS refuses names that are not UTF-8")
def test_apply_reads_back_a_fixes_csv_naming_latin1_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = make_image_folder(tmp_path / "data", {"plain": 4, "cafe": 4}, size=32)
    latin = os.fsdecode(b"caf\xe9")
    os.rename(data / "cafe", data / latin)
    shutil.copy(data / latin / "cafe_000.png", data / latin / os.fsdecode(b"copie-\xe9.png"))  # a duplicate
    doctor = run_cli("data", "doctor", data, "--out", "doc")
    assert doctor.exit_code == 0, doctor.output
    assert b"caf\xe9/copie-\xe9.png" in (tmp_path / "doc" / "fixes.csv").read_bytes()  # the file's own bytes
    result = run_cli("data", "apply", tmp_path / "doc" / "fixes.csv", "--out", "clean")
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    clean = tmp_path / "clean"
    assert sorted(os.listdir(clean / latin)) == [f"cafe_{i:03d}.png" for i in range(4)]  # the copy left out
    assert "Wrote clean: 8 images" in result.output
    record_figure("hostile files", "tk data apply on tk's own fixes.csv naming a Latin-1 class and file", 1, 1)


# -- 17. cells a spreadsheet would run ---------------------------------------------------------
def test_the_neutralising_quote_is_an_exact_inverse():
    names = [HOSTILE, "+x", "-x", "@SUM(1)", "\tx", "\rx", "'", "''", "'x", "'=x", "''=x", "'-1", "-1.5", "+3",
             "-", "plain", "", "1e5", "-1.png"]
    for name in names:
        cell = csv_cell(name)
        assert csv_value(cell) == name, name
        assert cell[:1] not in FORMULA_PREFIXES or name in ("-1.5", "+3"), name
    assert csv_cell("'notes.png") == "'notes.png" and csv_value("'notes.png") == "'notes.png"  # typed by hand


def test_fixes_csv_never_holds_a_formula_and_round_trips_names_starting_with_a_quote(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    classes = [HOSTILE, "'=quoted", "'plain", "-1", "@SUM(1)", "+x"]
    data = make_image_folder(tmp_path / "data", {f"c{i}": 3 for i in range(len(classes))}, size=32)
    for i, name in enumerate(classes):
        os.rename(data / f"c{i}", data / name)
        shutil.copy(data / name / f"c{i}_000.png", data / name / "~dup.png")  # sorts last: the copy to remove
    source = digests(data)
    doctor = run_cli("data", "doctor", data, "--out", "doc")
    assert doctor.exit_code == 0, doctor.output
    rows = assert_spreadsheet_safe(tmp_path / "doc" / "fixes.csv")
    firsts = {row[0] for row in rows[1:]}
    assert f"'{HOSTILE}/~dup.png" in firsts and "''=quoted/~dup.png" in firsts and "'plain/~dup.png" in firsts
    removed = {csv_value(row[0]) for row in rows[1:] if row[2] == "remove"}
    assert {f"{name}/~dup.png" for name in classes} <= removed
    result = run_cli("data", "apply", tmp_path / "doc" / "fixes.csv", "--out", "clean")
    assert result.exit_code == 0, result.output
    copy = digests(tmp_path / "clean")
    assert copy == {k: v for k, v in source.items() if k not in removed}  # every other name exact
    assert f"Wrote clean: {len(copy)} images" in result.output
    record_figure("hostile files", "class folders named like formulas (=, +, -, @) or starting with ': no "
                  "formula in fixes.csv, exact round trip through tk data apply", 1, 1)


def test_every_csv_of_a_run_predict_and_video_is_spreadsheet_safe(trained, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = trained["run"]
    rows = assert_spreadsheet_safe(run / "predictions.csv")
    assert f"'{HOSTILE}" in {row[2] for row in rows[1:]}  # the label column, neutralised
    doctor = run_cli("data", "doctor", run_copy(trained, tmp_path / "run"))  # reads predictions.csv back
    assert doctor.exit_code == 0, doctor.output
    assert "likely label errors" in doctor.output
    image = min((trained["images"] / HOSTILE).iterdir())
    predicted = run_cli("predict", run, image, "--out", tmp_path / "predict.csv")
    assert predicted.exit_code == 0, predicted.output
    rows = assert_spreadsheet_safe(tmp_path / "predict.csv")
    assert any(cell.startswith(f"'{HOSTILE}") for row in rows for cell in row)
    checked = 3
    av = pytest.importorskip("av", reason="PyAV (the video extra) is not installed")
    import numpy as np

    video = tmp_path / "v.mp4"
    container = av.open(str(video), "w")
    stream = container.add_stream("libx264", rate=4)
    stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
    for i in range(8):
        frame = np.full((32, 32, 3), 40 * (i % 4), dtype=np.uint8)
        for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    out = tmp_path / "video-out"
    result = run_cli("predict", run, video, "--every", "0.5", "--out", out)
    assert result.exit_code == 0, result.output
    written = sorted(out.rglob("*.csv"))
    assert any(p.name.endswith(".frames.csv") for p in written) and any(p.name.endswith(".segments.csv")
                                                                           for p in written)
    every = [cell for p in written for row in assert_spreadsheet_safe(p) for cell in row]
    assert f"'{HOSTILE}" in every  # frames.csv names both classes on every row (top-2)
    checked += len(written)
    record_figure("hostile files", "class named like a formula: predictions.csv, tk predict's CSV, video "
                  "frames and segments CSVs without a formula cell", checked, checked)


# -- 23 and 9. a run folder whose split.json names files outside the data or a FIFO --------------
def test_doctor_never_names_a_file_outside_the_data_folder(trained, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def outside(split):
        split["train"] += [["/dev/zero", 0], [str(tmp_path / "elsewhere" / "plain" / "x.png"), 1]]
        return split

    make_image_folder(tmp_path / "elsewhere", {"plain": 1}, size=32)
    os.rename(tmp_path / "elsewhere" / "plain" / "plain_000.png", tmp_path / "elsewhere" / "plain" / "x.png")
    run = run_copy(trained, tmp_path / "run", outside)
    (run / "bad_images.txt").write_text("/etc/hostname\tdamaged\n")
    result = run_cli("data", "doctor", run)
    assert result.exit_code == 0, result.output
    assert "left out 3 file(s) the run names outside the data folder" in result.output
    assert "/dev/zero" in result.output
    report = json.loads((run / "doctor" / "doctor.json").read_text(encoding="utf-8"))
    assert Path(report["root"]) == trained["images"]
    assert report["images"] == 12 and {s["path"] for s in report["skipped"]} >= {"/dev/zero"}
    for row in cells(run / "doctor" / "fixes.csv")[1:]:
        name = csv_value(row[0])
        assert (trained["images"] / name).is_file(), row  # only files of the data folder
    record_figure("hostile files", "split.json and bad_images.txt naming /dev/zero and files outside the data "
                  "folder: left out with a line, never a row of fixes.csv", 1, 1)


@pytest.mark.parametrize("recipe", ["", "[data]\nimage_size = 32\n", "[data]\nroot = 5\n", "[data\n",
                                    '[data]\nroot = "/nowhere/at/all"\n'],
                         ids=["empty", "no-root", "int-root", "not-toml", "gone"])
def test_doctor_needs_the_runs_data_folder(recipe, trained, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = run_copy(trained, tmp_path / "run", lambda s: s | {"train": s["train"] + [["/dev/zero", 0]]})
    (run / "recipe.toml").write_text(recipe)
    result = run_cli("data", "doctor", run)
    assert result.exit_code == 1, result.output
    line = one_error_line(result.output)
    assert str(run / "recipe.toml") in line and "image folder" in line, line
    assert not (run / "doctor").exists()
    record_figure("hostile files", "a run folder whose recipe.toml names no data folder (tk data doctor): one line",
                  1, 1, group="hand-edited split.json, doctor.json or fixes.csv (tk data doctor, apply): one line")


def test_doctor_opens_no_fifo_named_by_split_json(trained, tmp_path):
    fifo_inside = trained["images"] / "plain" / "pipe.png"
    fifo_outside = tmp_path / "pipe.png"
    os.mkfifo(fifo_inside)
    os.mkfifo(fifo_outside)
    try:
        run = run_copy(trained, tmp_path / "run",
                       lambda s: s | {"train": s["train"] + [[str(fifo_inside), 1], [str(fifo_outside), 1]]})
        done = tk("data", "doctor", run, cwd=tmp_path, timeout=120, env=subprocess_env())
    finally:
        fifo_inside.unlink()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "unusable files: 1" in done.stdout
    fixes = {csv_value(row[0]): row for row in cells(run / "doctor" / "fixes.csv")[1:]}
    assert "not a regular file" in fixes["plain/pipe.png"][1] and fixes["plain/pipe.png"][2] == "remove"
    assert not any("pipe" in name and name != "plain/pipe.png" for name in fixes)
    record_figure("hostile files", "split.json naming a FIFO inside and outside the data folder: tk data doctor "
                  "ends, the FIFO is an unusable file", 1, 1)


# -- 15. hand-edited files --------------------------------------------------------------------
SPLITS = {
    "label out of range": lambda s: s | {"train": [[s["train"][0][0], 7]] + s["train"][1:]},
    "negative label": lambda s: s | {"train": [[s["train"][0][0], -1]] + s["train"][1:]},
    "label of wrong type": lambda s: s | {"train": [[s["train"][0][0], "x"]] + s["train"][1:]},
    "label true": lambda s: s | {"train": [[s["train"][0][0], True]] + s["train"][1:]},
    "train an object": lambda s: s | {"train": {"a": 1}},
    "pair not a list": lambda s: s | {"val": [5]},
    "split a list": lambda s: [1],
    "class_names not a list": lambda s: s | {"class_names": "ab"},
    "not JSON": lambda s: "{nope",
    "NUL in a path": lambda s: s | {"train": [[s["train"][0][0] + "\0x", 0]] + s["train"][1:]},
}


@pytest.mark.parametrize("case", list(SPLITS))
def test_a_hand_edited_split_json_is_one_line(case, trained, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = run_copy(trained, tmp_path / "run", SPLITS[case])
    result = run_cli("data", "doctor", run)
    assert result.exit_code == 1, result.output
    line = one_error_line(result.output)
    assert str(run / "split.json") in line and "train the run again" in line, line
    assert not (run / "doctor").exists()
    record_figure("hostile files", f"hand-edited split.json ({case})", 1, 1,
                  group="hand-edited split.json, doctor.json or fixes.csv (tk data doctor, apply): one line")


FILES = {
    "doctor.json without root": ("doctor.json", "{}", "names no data folder"),
    "doctor.json not JSON": ("doctor.json", "{nope", "is not JSON"),
    "doctor.json a list": ("doctor.json", "[1]", "names no data folder"),
    "doctor.json int root": ("doctor.json", '{"root": 5}', "names no data folder"),
    "doctor.json NUL in root": ("doctor.json", '{"root": "/tmp\\u0000x"}', "names no data folder"),
    "fixes.csv field over 128 KiB": ("fixes.csv", "file,problem,suggestion\na/" + "x" * 140_000 + ",p,remove\n",
                                     "line 2: not readable as CSV"),
    "fixes.csv NUL in a path": ("fixes.csv", "file,problem,suggestion\na/a\0b.png,p,remove\n", "line 2: a NUL byte"),
}


@pytest.mark.parametrize("case", list(FILES))
def test_a_hand_edited_doctor_json_or_fixes_csv_is_one_line(case, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = make_image_folder(tmp_path / "data", {"a": 3, "b": 3}, size=32)
    doc = tmp_path / "doc"
    doc.mkdir()
    (doc / "fixes.csv").write_text("file,problem,suggestion\na/a_000.png,p,remove\n")
    (doc / "doctor.json").write_text(json.dumps({"root": str(data)}))
    name, text, says = FILES[case]
    (doc / name).write_text(text, encoding="utf-8")
    result = run_cli("data", "apply", doc / "fixes.csv", "--out", "clean")
    assert result.exit_code == 1, result.output
    line = one_error_line(result.output)
    assert str(doc / name) in line and says in line, line
    assert not (tmp_path / "clean").exists()
    record_figure("hostile files", f"hand-edited {case}", 1, 1,
                  group="hand-edited split.json, doctor.json or fixes.csv (tk data doctor, apply): one line")

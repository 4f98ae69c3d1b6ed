"""Reviewing `tk data doctor`'s suggestions on its page (#29 item 4): accept, reject or change each
one beside its thumbnails and save the reviewed fixes.csv, which `tk data apply` reads.

The page is driven in headless Chromium (Playwright with Debian's chromium; skipped only when
either cannot be had). The run is trained once; its predictions.csv is then rewritten, as in
test_doctor_trust.py, so that which images are flagged does not depend on how training went:
two images of class a filed in b ("misfiled") are the likely label errors, an exact copy of an
image of a filed in b is a label conflict, and a copy inside a class is a duplicate. File and
class names are hostile: commas, quotes, markup, a formula prefix, non-ASCII, not UTF-8.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
from pathlib import Path

import pytest

from toolkit.assess.doctor_review import REVIEW_JS, json_script
from toolkit.core.text import csv_row, csv_value, printable
from toolkit.testing import make_image_folder, run_cli

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]

RECIPE = """\
[data]
root = "images"
image_size = 16
val_fraction = 0.5
workers = 0
[model]
backbone = "test_efficientnet"
[train]
epochs = 1
batch_size = 16
device = "cpu"
"""

MISFILED = "b/'-misfiled ≠ b.png"  # a's picture in b; "'-" must survive csv_cell and csv_value
MISFILED_RAW = os.fsdecode(b"b/misfiled caf\xe9.png")  # not UTF-8
CONFLICT = 'b/=HYPERLINK("x"), naïve <b>ü<!--.png'  # an exact copy of a/a_000.png, filed in b
PAIR = {"a/a_001.png", 'a/a_001 copy, "2".png'}  # an exact copy inside a: one is removed


def _rows(path: Path) -> list[list[str]]:
    """A fixes.csv's rows as tk reads them (surrogate escapes, csv_value)."""
    with open(path, newline="", encoding="utf-8", errors="surrogateescape") as fh:
        return [[csv_value(c) for c in row] for row in csv.reader(fh)]


def _csv_bytes(rows: list[list[str]]) -> bytes:
    """What write_doctor writes for these rows."""
    buf = io.StringIO()
    csv.writer(buf).writerows(csv_row(r) for r in rows)
    return buf.getvalue().encode("utf-8", "surrogateescape")


def _tree(root: Path) -> dict[str, str]:
    return {os.path.relpath(os.path.join(d, f), root): hashlib.sha256(Path(d, f).read_bytes()).hexdigest()
            for d, _, files in os.walk(root) for f in files}


def _browser():
    """(playwright, browser), or a skip saying what is missing."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("needs Playwright for Python (pip install playwright; the dev extra has it)")
    if CHROMIUM is None:
        pytest.skip("needs Chromium (.ci/run installs Debian's chromium)")
    pw = sync_playwright().start()
    try:
        return pw, pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    except BaseException:
        pw.stop()
        raise


@pytest.fixture(scope="module")
def browser():
    pw, browser = _browser()
    yield browser
    browser.close()
    pw.stop()


@pytest.fixture(scope="module")
def doctored(tmp_path_factory) -> Path:
    """A trained run on a folder with wrong labels and copies, and its doctor page in run/doctor."""
    root = tmp_path_factory.mktemp("review")
    images = make_image_folder(root / "images", {"a": 12, "b": 12, "=c": 12}, size=24)
    shutil.move(images / "a" / "a_002.png", images / MISFILED)
    shutil.move(images / "a" / "a_003.png", images / MISFILED_RAW)
    shutil.copy(images / "a" / "a_000.png", images / CONFLICT)
    shutil.copy(images / "a" / "a_001.png", images / 'a/a_001 copy, "2".png')
    shutil.copy(images / "=c" / "=c_000.png", images / "=c" / "=c_000 again.png")  # a row whose path starts with =
    (root / "r.toml").write_text(RECIPE)
    with pytest.MonkeyPatch.context() as mp:  # module fixtures run before the per-test environment
        mp.setenv("TK_CACHE_DIR", str(root / "cache"))
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.chdir(root)
        result = run_cli("run", "r.toml", "--out", "run", "--quiet")
        assert result.exit_code == 0, result.output
        # the held-out predictions: every image, confidently its given label, but the misfiled ones a
        run = root / "run"
        split = json.loads((run / "split.json").read_bytes().decode("utf-8", "surrogateescape"))
        names = split["class_names"]
        with open(run / "predictions.csv", newline="") as fh:
            header = next(csv.reader(fh))
        rows = [header]
        for part in ("train", "val", "test"):
            for path, label in split.get(part, []):
                said = names.index("a") if "misfiled" in os.path.basename(path) else label
                probs = [f"{0.9 if k == said else 0.05:.6f}" for k in range(len(names))]
                rows.append(csv_row(["val", printable(path), names[label], names[said], "0.900000", *probs]))
        with open(run / "predictions.csv", "w", newline="") as fh:
            csv.writer(fh).writerows(rows)
        result = run_cli("data", "doctor", "run")
        assert result.exit_code == 0, result.output
    return root


def test_reject_two_move_one_save_and_apply_does_exactly_that(doctored, browser, tmp_path, monkeypatch):
    monkeypatch.chdir(doctored)
    doc = doctored / "run" / "doctor"
    original = (doc / "fixes.csv").read_bytes()
    fixes = _rows(doc / "fixes.csv")
    header, body = fixes[0], fixes[1:]
    at = {row[0]: n for n, row in enumerate(body)}
    # what the doctor surely suggests here
    assert body[at[MISFILED]][2] == "move to a" and body[at[MISFILED_RAW]][2] == "move to a"
    assert CONFLICT in at and body[at[CONFLICT]][2] != "move to =c"
    removes = [n for n, row in enumerate(body) if row[2] == "remove"]
    assert removes, body
    removed = next((n for n in removes if body[n][0] in PAIR), removes[0])
    assert any(row[0].startswith("=") for row in body)  # a class named =c: written as '=c/...

    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_default_timeout(30_000)
    page.goto((doc / "doctor.html").as_uri())
    rows = page.locator("#tk-review .fix")
    assert rows.count() == len(body)
    for n, row in enumerate(body):  # each suggestion shown, by textContent, beside its thumbnails
        shown = rows.nth(n)
        assert shown.locator(".file").text_content() == printable(row[0])
        assert shown.locator(".problem").text_content() == printable(row[1])
    assert rows.nth(at[CONFLICT]).locator("img").count() >= 2  # the copy and the image it copies

    def save() -> bytes:
        with page.expect_download() as info:
            page.locator("#tk-review button.save").click()
        download = info.value
        assert download.suggested_filename == "fixes.csv"
        target = tmp_path / f"download-{len(list(tmp_path.glob('download-*')))}" / "fixes.csv"
        download.save_as(target)
        return target.read_bytes()

    assert save() == original  # nothing changed: byte for byte what tk data doctor wrote

    rows.nth(at[MISFILED]).locator("input[value=reject]").check()
    rows.nth(removed).locator("input[value=reject]").check()
    rows.nth(at[CONFLICT]).locator("select").select_option(label="move to =c")
    assert "rejected" in rows.nth(at[MISFILED]).get_attribute("class")
    assert page.locator("#tk-review .summary").text_content() == (
        f"{len(body) - 2} of {len(body)} accepted (1 changed), 2 rejected")
    reviewed = save()
    assert not errors, errors

    expected = [header] + [[r[0], r[1], "move to =c" if n == at[CONFLICT] else r[2]]
                           for n, r in enumerate(body) if n not in (at[MISFILED], removed)]
    assert reviewed == _csv_bytes(expected)
    saved = next(tmp_path.glob("download-1")) / "fixes.csv"
    result = run_cli("data", "apply", saved, "--data", "images", "--out", tmp_path / "clean")
    assert result.exit_code == 0, result.output

    clean = tmp_path / "clean"
    assert (clean / MISFILED).read_bytes() == (doctored / "images" / MISFILED).read_bytes()  # rejected: stays
    assert not (clean / "a" / os.path.basename(MISFILED)).exists()
    kept = body[removed][0]
    assert (clean / kept).read_bytes() == (doctored / "images" / kept).read_bytes()  # rejected: not removed
    moved = Path("=c") / os.path.basename(CONFLICT)
    assert (clean / moved).read_bytes() == (doctored / "images" / CONFLICT).read_bytes()
    assert not (clean / CONFLICT).exists()
    raw = Path("a") / os.path.basename(MISFILED_RAW)  # accepted as suggested, its name's bytes intact
    assert (clean / raw).read_bytes() == (doctored / "images" / MISFILED_RAW).read_bytes()
    # everything else: as tk data apply does with the original suggestions less the rejected ones
    by_hand = tmp_path / "by-hand" / "fixes.csv"
    by_hand.parent.mkdir()
    by_hand.write_bytes(_csv_bytes([header] + [r for n, r in enumerate(body) if n not in (at[MISFILED], removed)]))
    assert run_cli("data", "apply", by_hand, "--data", "images", "--out", tmp_path / "by-hand-clean").exit_code == 0
    theirs = _tree(tmp_path / "by-hand-clean")
    ours = _tree(clean)
    conflict_as_is = theirs.pop(CONFLICT)
    assert ours.pop(str(moved)) == conflict_as_is
    assert ours == theirs
    page.close()


HOSTILE = ["", "=1+2", "-0.5", "+3", "-1e5", "-.5", ".5", "1e", "- 1", "-", "+", "=", "@", "@SUM(A1)", "\tstart",
           "\rstart", "'=x", "''x", "'x", "'", "''", "'-", "a,b", 'say "hi"', '"', "line\nbreak", "cr\rx", "crlf\r\n",
           " lead", "trail ", "é ü 漢字 🎉", "-٣", "+١٢.٥", "caf\udce9", "caf\udce9\udcff,\"x\"", "\udc80", "=\udce9",
           "move to =c", "<script>alert(1)</script>", "a\u2028b"]


def test_the_page_s_csv_writer_matches_python_csv_and_csv_cell(doctored, browser):
    page = browser.new_page()
    page.goto((doctored / "run" / "doctor" / "doctor.html").as_uri())
    rows = [["file", "problem", "suggestion"], [""], ["", "", ""]]
    rows += [[h, f"x{h}", "remove"] for h in HOSTILE] + [[f"b/{h}", h, h] for h in HOSTILE]
    # ASCII JSON carries the surrogate escapes of names that are not UTF-8 into the page
    got = page.evaluate("s => Array.from(window.tkDoctor.csvBytes(JSON.parse(s)))", json.dumps(rows))
    assert bytes(got) == _csv_bytes(rows)
    for h in HOSTILE:
        assert page.evaluate("s => window.tkDoctor.csvCell(JSON.parse(s))", json.dumps(h)) == csv_row([h])[0], h
    page.close()


def test_the_page_s_embedded_json_round_trips_hostile_names(tmp_path, monkeypatch):
    """No browser: the suggestions embedded in the page are exactly fixes.csv's cells, and no name
    can end the script or become markup."""
    monkeypatch.chdir(tmp_path)
    images = make_image_folder(tmp_path / "images", {"a": 4, "=b": 4}, size=24)
    hostile = ["<img src=x onerror=alert(1)>.png", 'q"u,o\'te <!--<script>.png', "=cmd|' & \u2028 ü.png"]
    for n, name in enumerate(hostile):
        shutil.copy(images / "a" / f"a_00{n}.png", images / "=b" / name)  # label conflicts
    shutil.copy(images / "a" / "a_003.png", Path(os.fsdecode(bytes(images / "a") + b"/caf\xe9 <b>.png")))
    result = run_cli("data", "doctor", images, "--out", "doc")
    assert result.exit_code == 0, result.output
    page = (tmp_path / "doc" / "doctor.html").read_text(encoding="utf-8")
    scripts = re.findall(r'<script type="application/json" id="tk-review-data">(.*?)</script>', page, re.S)
    assert len(scripts) == 1
    assert not set("<>&") & set(scripts[0])
    data = json.loads(scripts[0])
    fixes = _rows(tmp_path / "doc" / "fixes.csv")
    assert data["columns"] == fixes[0] == ["file", "problem", "suggestion"]
    assert [[f["file"], f["problem"], f["suggestion"]] for f in data["fixes"]] == fixes[1:]
    files = {f["file"] for f in data["fixes"]}
    assert {f"=b/{h}" for h in hostile} <= files and os.fsdecode(b"a/caf\xe9 <b>.png") in files
    assert data["classes"] == ["=b", "a"]
    for f in data["fixes"]:
        assert f["show"]["file"] == printable(f["file"]) and f["images"][0]["caption"].startswith(f["show"]["file"])
    assert "<img src=x onerror" not in page and "<!--<script>" not in page  # the page's own escaping
    assert "&lt;img src=x onerror=alert(1)&gt;.png" in page

    tricky = {"a": "</script><script>alert(1)</script><!--", "b": "caf\udce9 & <b>", "c": "\u2028"}
    embedded = json_script("x", tricky)
    inner = embedded[len('<script type="application/json" id="x">'):-len("</script>")]
    assert "</" not in inner and "<" not in inner and json.loads(inner) == tricky
    # the script builds everything from names with textContent and DOM calls, never markup
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "Function("):
        assert sink not in REVIEW_JS, sink

"""Bad images: every kind of broken or odd file is reported with its reason, trained around, or refused.

`tk data check` must name each file of the corpus (`corpus.py`) with why it is unusable, ignored
or odd; `tk run` must train on the usable ones and list the rest (console and bad_images.txt);
``data.on_bad_image = "fail"`` must stop before any training with the list. The folder also
holds file names that are not UTF-8, which every one of those outputs must survive.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from toolkit.testing import make_image_folder, run_cli

from .conftest import TK, one_error_line, record_figure, run_files, subprocess_env, tk, write_recipe
from .corpus import Kind, build_corpus, usable_paths


STRICT = "utf-8:strict"
"""How Python sets up stdout in a UTF-8 locale other than C (en_US.UTF-8 …): undecodable file
names would raise UnicodeEncodeError unless tk prints them as their bytes."""


@pytest.fixture
def corpus(tmp_path) -> tuple[Path, list[Kind]]:
    root = tmp_path / "corpus"
    return root, build_corpus(root)


def _abs(root: Path, kind: Kind) -> str:
    return str(root / kind.path)


def test_data_check_names_every_kind_with_its_reason(corpus, tmp_path):
    root, kinds = corpus
    done = tk("data", "check", root, "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    bad, ignored = dict(report["bad_images"]), dict(report["ignored"])
    notes: dict[str, list[str]] = {}
    for path, note in report["notes"]:
        notes.setdefault(path, []).append(note)
    held = 0
    for kind in kinds:
        path = _abs(root, kind)
        if kind.expect == "bad":
            assert kind.says in bad.get(path, ""), (kind.name, bad.get(path))
            assert path not in ignored
        elif kind.expect == "ignored":
            assert kind.says in ignored.get(path, ""), (kind.name, ignored.get(path))
        elif kind.expect == "note":
            assert any(kind.says in n for n in notes.get(path, [])), (kind.name, notes.get(path))
        elif kind.expect == "used":
            assert path not in bad and path not in ignored, kind.name
        else:
            assert Path(path).name in report["empty_classes"], kind.name
        held += 1
    assert report["class_names"] == ["cat", "dog"] and report["usable"]
    assert report["counts"] == [8, 8 + sum(k.expect in ("note", "used") for k in kinds)]

    # A UTF-8 stdout that refuses undecodable names, as Python sets it up in any locale but C.
    human = tk("data", "check", root, cwd=tmp_path, env=subprocess_env(COLUMNS="300", PYTHONIOENCODING=STRICT))
    assert human.returncode == 0 and "Traceback" not in human.stderr, human.stderr
    for kind in kinds:
        if kind.expect in ("bad", "ignored"):
            assert any(line.strip().startswith(f"{_abs(root, kind)}: ") and kind.says in line
                       for line in human.stdout.splitlines()), (kind.name, human.stdout)
    assert "empty" in human.stdout and "no usable images: left out" in human.stdout
    record_figure("bad images", "kinds of bad or odd files, each reported by `tk data check` with its reason",
                  len(kinds), held, kinds=len(kinds))


def test_thorough_check_also_notes_real_transparency(corpus):
    root, _ = corpus
    result = run_cli("data", "check", root, "--thorough", "--json")
    notes = dict(json.loads(result.output)["notes"])
    assert "transparency" in notes[str(root / "dog" / "palette.png")]


def test_run_trains_on_the_usable_images_and_lists_the_rest(corpus, tmp_path):
    root, kinds = corpus
    recipe = write_recipe(tmp_path / "junk.toml", root, epochs=1)
    done = tk("run", recipe, "--out", tmp_path / "run", cwd=tmp_path, env=subprocess_env(PYTHONIOENCODING=STRICT))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    run_dir = tmp_path / "run"
    split = json.loads((run_dir / "split.json").read_text())
    trained = {p for part in ("train", "val", "test") for p, _ in split[part]}
    assert trained == set(usable_paths(root, kinds))
    listed = dict(line.split("\t", 1) for line in
                  (run_dir / "bad_images.txt").read_bytes().decode("utf-8", "surrogateescape").splitlines())
    bad = [k for k in kinds if k.expect == "bad"]
    for kind in bad:
        assert kind.says in listed[_abs(root, kind)], kind.name
        assert f"{_abs(root, kind)}: " in done.stdout, kind.name
    assert f"{len(listed)} bad image(s) left out" in done.stdout
    assert set(listed) == {_abs(root, k) for k in bad} | {str(root / "broken" / "half.png")}
    record_figure("bad images", "`tk run` on the corpus: trained on the usable files, listed every bad one",
                  len(kinds), len(kinds), kinds=len(kinds))


def test_fail_policy_stops_before_training_with_the_list(corpus, tmp_path, in_tmp):
    root, kinds = corpus
    recipe = write_recipe(tmp_path / "strict.toml", root, epochs=1)
    result = run_cli("run", recipe, "--set", 'data.on_bad_image="fail"')
    assert result.exit_code == 1
    line = one_error_line(result.stderr)
    assert "data.on_bad_image = 'fail'" in line
    for kind in kinds:
        if kind.expect == "bad":  # stderr shows a non-UTF-8 name with backslash escapes (Python's default)
            shown = _abs(root, kind).encode("utf-8", "backslashreplace").decode("utf-8")
            assert f"{shown}: {kind.says}" in line, kind.name
    assert run_files(tmp_path) == []
    record_figure("bad images", "`data.on_bad_image = \"fail\"`: stopped before training, every bad file listed",
                  1, 1, kinds=sum(k.expect == "bad" for k in kinds))


def _without_root_override() -> list[str] | None:
    """A command prefix under which file modes bind: none for a normal user; for root,
    `setpriv` dropping the capabilities that let root read any file (CAP_DAC_*)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    drop = "-dac_override,-dac_read_search"
    return [setpriv, f"--bounding-set={drop}", f"--inh-caps={drop}"]


def test_unreadable_image_is_reported_not_crashed_on(tmp_path):
    prefix = _without_root_override()
    if prefix is None:
        pytest.skip("running as root without setpriv: root reads a file whatever its mode")
    root = make_image_folder(tmp_path / "images", {"a": 4, "b": 4}, size=32)
    locked = root / "a" / "locked.png"
    shutil.copy(root / "a" / "a_000.png", locked)
    os.chmod(locked, 0)
    done = subprocess.run([*prefix, str(TK), "data", "check", str(root), "--json"], capture_output=True, text=True,
                          env=subprocess_env(), cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    bad = dict(json.loads(done.stdout)["bad_images"])
    assert bad[str(locked)] == "unreadable: permission denied"
    record_figure("bad images", "unreadable file (mode 000; as root, checked without CAP_DAC_OVERRIDE)", 1, 1)

"""Near-duplicates stay on one side of the split, by default, through `tk run` and `tk data check`.

The data: screens where a third of each class's images are recorded copies (JPEG re-encoded,
shifted a few pixels, a cursor drawn on) of its others, as frames cut from recordings are.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tk_screens import write_with_copies

from toolkit.testing import make_recipe, run_cli


@pytest.fixture
def copies_folder(tmp_path: Path) -> Path:
    root = tmp_path / "screens"
    write_with_copies(root, {"slide": ("slide", 16, 8), "desktop": ("not_slide_desktop", 16, 8),
                             "others": ("not_slide_others", 16, 0)}, seed=2)
    return root


def _group_of(path: str) -> str:
    name = Path(path).name
    return f"{Path(path).parent.name}/{name.split('_of_')[1] if '_of_' in name else name}"


def test_no_copy_lands_on_the_other_side_of_the_split(tmp_path, copies_folder, monkeypatch):
    monkeypatch.chdir(tmp_path)
    recipe = make_recipe(tmp_path / "r.toml", copies_folder, epochs=1, backbone="test_resnet")
    result = run_cli("run", recipe, "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    split = json.loads((tmp_path / "run" / "split.json").read_text())
    side = {}
    for part in ("train", "val", "test"):
        for path, _ in split[part]:
            assert side.setdefault(_group_of(path), part) == part, f"{path} is in {part}, its original in {side[_group_of(path)]}"
    assert split["grouping"] == {"group_by": "near_duplicates", "groups_kept_together": 16, "images_in_groups": 32,
                                 "label_conflicts": 0, "detector": "same_frame"}
    assert "Split: 16 groups of near-duplicate images (the same frame, checked pixel by pixel) kept on one side " \
        "(32 images)" in result.output

    leaky = run_cli("run", recipe, "--out", tmp_path / "leaky", "--set", "data.group_by=\"none\"")
    assert leaky.exit_code == 0, leaky.output
    assert "near-duplicates may straddle it" in leaky.output
    split = json.loads((tmp_path / "leaky" / "split.json").read_text())
    val = {_group_of(p) for p, _ in split["val"]}
    assert any(_group_of(p) in val for p, _ in split["train"])  # the random split does leak copies


def test_validation_accuracy_is_inflated_by_leaked_copies(tmp_path, monkeypatch):
    """Two classes drawn alike (nothing to learn but memory), each image with two recorded copies:
    with copies on both sides, memorised training images score on validation; kept apart, they
    cannot. One thread makes both runs bit-for-bit repeatable, so this is not a matter of luck."""
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "alike"
    write_with_copies(tmp_path / "drawn", {"all": ("slide", 40, 80)}, seed=1)
    for f in sorted((tmp_path / "drawn" / "all").iterdir()):  # originals alternate between a and b, copies follow
        original = int(f.name.split("_of_")[1][:3]) if "_of_" in f.name else int(f.name[:3])
        (root / "ab"[original % 2]).mkdir(parents=True, exist_ok=True)
        f.rename(root / "ab"[original % 2] / f.name)
    recipe = make_recipe(tmp_path / "r.toml", root, epochs=25, lr=0.01, backbone="test_efficientnet",
                         train_extra="threads = 1\nearly_stopping = false")
    scores = {}
    for how in ("none", "near_duplicates"):
        result = run_cli("run", recipe, "--out", tmp_path / how, "--quiet", "--set", f"data.group_by=\"{how}\"",
                         "--set", "data.val_fraction=0.3")
        assert result.exit_code == 0, result.output
        scores[how] = json.loads((tmp_path / how / "metrics.json").read_text())["accuracy"]
    assert scores["none"] > scores["near_duplicates"] + 0.15, scores


def test_data_check_names_groups_and_label_conflicts(tmp_path, copies_folder):
    import shutil

    shutil.copy(copies_folder / "slide" / "003.png", copies_folder / "others" / "misfiled.png")
    result = run_cli("data", "check", copies_folder)
    assert result.exit_code == 0, result.output
    assert "Near-duplicates: 16 groups of near-duplicate images (33 images, largest 3), 1 with conflicting labels" \
        in result.output
    assert "others/misfiled.png, slide/003.png, slide/copy_003_of_003.png" in result.output
    assert "No problems found." not in result.output
    data = json.loads(run_cli("data", "check", copies_folder, "--json").output)
    dups = data["near_duplicates"]
    assert dups["groups"] == 16 and dups["largest"] == 3 and len(dups["conflicts"]) == 1
    assert {m["label"] for m in dups["conflicts"][0]} == {"others", "slide"}


def test_group_by_a_regular_expression_and_its_mistakes(tmp_path, monkeypatch):
    from toolkit.testing import make_image_folder

    monkeypatch.chdir(tmp_path)
    root = make_image_folder(tmp_path / "imgs", {"a": 12, "b": 12}, size=32)
    for cls in ("a", "b"):  # three "recordings" per class, named in the file
        for i, f in enumerate(sorted((root / cls).iterdir())):
            f.rename(f.with_name(f"rec{i % 3}_{f.name}"))
    recipe = make_recipe(tmp_path / "r.toml", root, epochs=1, backbone="test_resnet")
    result = run_cli("run", recipe, "--out", tmp_path / "run", "--set", r"data.group_by='^([ab]/rec\d)_'")
    assert result.exit_code == 0, result.output
    split = json.loads((tmp_path / "run" / "split.json").read_text())
    rec = lambda p: f"{Path(p).parent.name}/{Path(p).name[:4]}"  # noqa: E731
    assert not {rec(p) for p, _ in split["train"]} & {rec(p) for p, _ in split["val"]}
    assert split["grouping"]["groups_kept_together"] == 6

    bad = run_cli("recipes", "check", recipe, "--set", r"data.group_by='rec\d'")
    assert bad.exit_code == 1 and r"data.group_by: 'rec\\d' has no capture group" in bad.output
    bad = run_cli("recipes", "check", recipe, "--set", "data.group_by='(rec'")
    assert bad.exit_code == 1 and "is not a valid regular expression" in bad.output


def test_a_pre_split_folder_is_kept_but_its_leakage_is_reported(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "presplit"
    write_with_copies(root / "train", {"slide": ("slide", 6, 0), "desktop": ("not_slide_desktop", 6, 0)}, seed=4)
    write_with_copies(root / "val", {"slide": ("slide", 3, 0), "desktop": ("not_slide_desktop", 3, 0)}, seed=9)
    from PIL import Image
    from tk_screens import recorded_copy
    import random

    with Image.open(root / "train" / "slide" / "001.png") as im:  # a frame of train, re-encoded, filed in val
        recorded_copy(im.convert("RGB"), "jpeg", random.Random(0)).save(root / "val" / "slide" / "leaked.png")
    recipe = make_recipe(tmp_path / "r.toml", root, epochs=1, backbone="test_resnet")
    result = run_cli("run", recipe, "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    split = json.loads((tmp_path / "run" / "split.json").read_text())
    assert str(root / "val" / "slide" / "leaked.png") in [p for p, _ in split["val"]]  # kept as the folder says
    note = next(n for n in split["notes"] if "straddle the folder's own train/val/test split" in n)
    assert note.startswith("1 group(s) of near-duplicate images") and "leaked.png" in note
    assert "straddle the folder" in (tmp_path / "run" / "report.html").read_text()

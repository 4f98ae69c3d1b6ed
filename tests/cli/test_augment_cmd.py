"""`tk augment preview`: a grid PNG of training images before and after the recipe's ops."""

from __future__ import annotations

from PIL import Image


def _recipe(tmp_path, root, ops: str) -> str:
    path = tmp_path / "aug.toml"
    path.write_text(f'# preview test\n[data]\nroot = "{root}"\nimage_size = 48\n{ops}')
    return str(path)


def test_preview_writes_a_grid_of_pairs(tmp_path, tk_image_folder, tk_cli):
    root = tk_image_folder({"cat": 6, "dog": 6, "fox": 2}, size=64)
    recipe = _recipe(tmp_path, root, '[[augment.ops]]\nname = "hflip"\n[[augment.ops]]\nname = "mixup"\n')
    out = tmp_path / "grid.png"
    result = tk_cli("augment", "preview", recipe, "--out", out, "--n", "6")
    assert result.exit_code == 0, result.output
    assert f"Wrote {out} (6 images of aug: original | after hflip, mixup)" in result.output
    grid = Image.open(out)
    assert grid.format == "PNG"
    # 4 pairs per row of 2×48 px + gaps, 2 rows of 48 px + captions (labels in full), and a title
    assert grid.width > 4 * 2 * 48 and 2 * 48 < grid.height < 3 * 48 + 120
    pixels = grid.convert("RGB").getcolors(grid.width * grid.height)
    assert len(pixels) > 50  # real image content, not a blank sheet


def test_preview_applies_set_overrides_and_shows_rare_classes(tmp_path, tk_image_folder, tk_cli):
    root = tk_image_folder({"common": 20, "rare": 2}, size=32)
    recipe = _recipe(tmp_path, root, "")
    out = tmp_path / "g.png"
    result = tk_cli("augment", "preview", recipe, "--out", out, "--n", "4",
                    "--set", 'augment.ops=[{ name = "vflip", p = 1.0 }]', "--set", "data.val_fraction=0.0")
    assert result.exit_code == 0, result.output
    assert "after vflip" in result.output
    assert 48 + 14 + 6 <= Image.open(out).size[1] < 2 * 48  # one row of 48 px images, captions and the title


def test_preview_takes_classes_in_turn():
    from toolkit.cli.augment_cmd import _pick

    labels = [0] * 20 + [1] * 2
    picked = _pick(labels, list(range(22)), 4, seed=0)
    assert sorted(labels[i] for i in picked) == [0, 0, 1, 1]


def test_preview_bad_op_is_one_error_line(tmp_path, tk_image_folder, tk_cli):
    root = tk_image_folder({"a": 3, "b": 3})
    recipe = _recipe(tmp_path, root, '[[augment.ops]]\nname = "rotate"\ndegrees = 500\n')
    result = tk_cli("augment", "preview", recipe, "--out", tmp_path / "x.png")
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and "augment.ops[0]" in result.output and "degrees" in result.output
    assert not (tmp_path / "x.png").exists()


def test_preview_missing_folder_is_a_data_error(tmp_path, tk_cli):
    recipe = _recipe(tmp_path, tmp_path / "nowhere", "")
    result = tk_cli("augment", "preview", recipe, "--out", tmp_path / "x.png")
    assert result.exit_code == 1 and "Error:" in result.output and "does not exist" in result.output

"""`tk recipes check` and `tk recipes list`, driven as a user would, in a subprocess."""

import os
import subprocess
import sys

HEAVY = ("torch", "torchvision", "timm", "numpy", "PIL", "sklearn", "scipy", "matplotlib", "onnx", "onnxruntime",
         "coremltools", "optuna")
"""Libraries checking a recipe has no use for: importing one costs seconds on a cold start."""


def tk(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "toolkit.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "COLUMNS": "200"})


def test_misspelt_loss_fails_fast_with_one_line(tmp_path):
    recipe = tmp_path / "x.toml"
    recipe.write_text('[loss]\nname = "focall"\n')
    result = tk("recipes", "check", str(recipe))
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "loss.name" in lines[0] and "unknown loss 'focall'" in lines[0]
    assert "Traceback" not in result.stderr
    # fast because it imports none of the heavy libraries (what a time limit stood for, on any machine)
    code = ("import sys\nfrom toolkit.cli import cli\ntry:\n    cli(['recipes', 'check', sys.argv[1]])\n"
            "except SystemExit:\n    pass\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    imported = subprocess.run([sys.executable, "-c", code, str(recipe)], capture_output=True, text=True)
    assert imported.stdout.strip().splitlines()[-1] == "[]", imported.stdout + imported.stderr


def test_check_ok_and_show(tmp_path):
    recipe = tmp_path / "ok.toml"
    recipe.write_text('[train]\nepochs = 2\n')
    result = tk("recipes", "check", str(recipe), "--show", "--set", "optim.lr=0.01")
    assert result.returncode == 0, result.stderr
    assert "lr = 0.01" in result.stdout and f"{recipe}: ok" in result.stdout


def test_missing_recipe_file_is_one_line(tmp_path):
    result = tk("recipes", "check", str(tmp_path / "nope.toml"))
    assert result.returncode == 1 and result.stderr.startswith("Error: ") and "no such recipe file" in result.stderr


def test_bundled_recipes_are_found_from_any_folder(tmp_path):
    """A user runs `tk` from their own folder, not from tk's checkout: `tk recipes list` shows the
    bundled recipes, and a bare name (`quickstart`, `slides_scratch`) loads tk's own recipe file."""
    from pathlib import Path

    import toolkit

    bundled = Path(toolkit.__file__).resolve().parents[1] / "recipes"
    names = sorted(p.stem for p in bundled.glob("*.toml"))
    assert "quickstart" in names and "slides_scratch" in names, names
    listed = tk("recipes", "list", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    for name in names:
        assert name in listed.stdout, listed.stdout
    shown = tk("recipes", "check", "slides_scratch", "--show", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert f"{bundled / 'slides_scratch.toml'}: ok" in shown.stdout, shown.stdout

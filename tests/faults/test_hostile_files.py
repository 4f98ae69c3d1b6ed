"""Hostile files: pickled code in a checkpoint never runs; fake model files and escaping paths are refused.

The payload is real: unpickling it runs ``touch MARKER`` (`test_the_payloads_are_real` proves
it with plain pickle and with ``torch.load(weights_only=False)``). Every command that loads a
checkpoint — resume, export, predict, eval, bench, compare, a distillation teacher, pretrained
weights — is pointed at it, both as a file and inside a run folder, and must refuse it in one
line while the marker never appears.
"""

from __future__ import annotations

import os
import pickle
import shlex
import shutil
from pathlib import Path

import pytest
import torch

from toolkit.engine.train import run_recipe
from toolkit.recipe.load import load_recipe
from toolkit.testing import make_image_folder, run_cli

from .conftest import final_error_line, one_error_line, record_figure, write_recipe


class Payload:
    """What a malicious checkpoint carries: unpickling it runs a shell command."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {shlex.quote(self.marker)}",))


def hostile_checkpoint(path: Path, marker: Path, *, legacy: bool = False) -> Path:
    """A file shaped like a tk checkpoint whose model entry is the payload (zip or legacy pickle)."""
    data = {"format": "tk-checkpoint", "version": 1, "epoch": 1, "status": "running", "model": Payload(marker),
            "class_names": ["a", "b"], "recipe": {"train": {"epochs": 3}}}
    if legacy:
        path.write_bytes(pickle.dumps(data))
    else:
        torch.save(data, path)
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, Path]:
    """A real tiny run (for images and split.json), and hostile copies of it."""
    root = tmp_path_factory.mktemp("hostile")
    images = make_image_folder(root / "images", {"a": 6, "b": 6}, size=32)
    recipe = write_recipe(root / "honest.toml", images, epochs=1)
    run = run_recipe(load_recipe(recipe), out=root / "run", quiet=True).run_dir
    return {"root": root, "images": images, "recipe": recipe, "run": run,
            "image": sorted((images / "a").iterdir())[0]}


@pytest.fixture
def evil(trained, tmp_path) -> dict[str, Path]:
    """Hostile files for one test: a zip and a legacy checkpoint, and a run folder holding them."""
    marker = tmp_path / "PWNED"
    files = {"marker": marker, "zip": hostile_checkpoint(tmp_path / "evil.pt", marker),
             "legacy": hostile_checkpoint(tmp_path / "evil-legacy.pt", marker, legacy=True)}
    run = tmp_path / "evil-run"
    run.mkdir()
    shutil.copy(trained["run"] / "split.json", run / "split.json")
    shutil.copy(trained["run"] / "recipe.toml", run / "recipe.toml")
    for name in ("best.pt", "last.pt"):
        shutil.copy(files["zip"], run / name)
    files["run"] = run
    return files


def test_the_payloads_are_real(tmp_path):
    """Guard against a suite that proves nothing: without weights_only, both files run the command."""
    marker = tmp_path / "RAN"
    legacy = hostile_checkpoint(tmp_path / "l.pt", marker, legacy=True)
    pickle.loads(legacy.read_bytes())
    assert marker.exists()
    marker.unlink()
    torch.load(hostile_checkpoint(tmp_path / "z.pt", marker), weights_only=False)
    assert marker.exists()


def _recipe(trained, tmp_path: Path, name: str, extra: str) -> Path:
    return write_recipe(tmp_path / f"{name}.toml", trained["images"], epochs=1, extra=extra)


# Each case: the command line, given the hostile files, the trained run and a scratch folder.
CASES = {
    "run --resume FILE": lambda e, t, d: ["run", t["recipe"], "--resume", e["zip"]],
    "run --resume FILE (legacy pickle)": lambda e, t, d: ["run", t["recipe"], "--resume", e["legacy"]],
    "run --resume RUN": lambda e, t, d: ["run", t["recipe"], "--resume", e["run"]],
    "export FILE": lambda e, t, d: ["export", e["zip"], "--onnx", "--out", d / "exports"],
    "export RUN": lambda e, t, d: ["export", e["run"], "--onnx", "--out", d / "exports"],
    "export FILE (legacy pickle)": lambda e, t, d: ["export", e["legacy"], "--onnx", "--out", d / "exports"],
    "predict FILE": lambda e, t, d: ["predict", e["zip"], t["image"]],
    "predict RUN": lambda e, t, d: ["predict", e["run"], t["image"]],
    "eval RUN": lambda e, t, d: ["eval", e["run"]],
    "eval FILE --run": lambda e, t, d: ["eval", e["zip"], "--run", t["run"]],
    "bench RUN": lambda e, t, d: ["bench", e["run"], "--iters", "1", "--warmup", "0", "--batch", "1"],
    "bench FILE": lambda e, t, d: ["bench", e["zip"], "--iters", "1", "--warmup", "0", "--batch", "1"],
    "compare RUN RUN": lambda e, t, d: ["compare", e["run"], e["run"]],
    "distillation teacher": lambda e, t, d: [
        "run", _recipe(t, d, "teach", f'[loss]\nname = "distill"\nteacher = "{e["zip"]}"\n'), "--out", d / "r"],
    "teacher_pretrained_path": lambda e, t, d: [
        "run", _recipe(t, d, "teachw", f'[loss]\nname = "distill"\nteacher = "test_efficientnet"\n'
                                       f'teacher_pretrained_path = "{e["zip"]}"\n'), "--out", d / "r"],
    "model.pretrained_path": lambda e, t, d: [
        "run", _recipe(t, d, "weights", ""), "--set", f'model.pretrained_path="{e["zip"]}"', "--out", d / "r"],
}


@pytest.mark.parametrize("case", list(CASES), ids=lambda c: c.replace(" ", "_"))
def test_a_pickled_payload_is_refused_by_every_command_that_loads_checkpoints(case, evil, trained, tmp_path,
                                                                              monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_cli(*CASES[case](evil, trained, tmp_path))
    assert not evil["marker"].exists(), f"{case}: the payload ran"
    assert result.exit_code == 1, (case, result.output)
    line = one_error_line(result.stderr)
    assert "weights_only" in line or "refused" in line, (case, line)
    assert not list(tmp_path.rglob("*.onnx")), case


def test_every_loading_command_is_covered():
    """`tk run --resume`, export, predict, eval, bench, compare, and both teacher paths and pretrained weights."""
    commands = {c.split()[0] for c in CASES} | {c for c in CASES if " " not in c and "." in c}
    assert {"run", "export", "predict", "eval", "bench", "compare"} <= commands
    record_figure("hostile files", "commands and recipe keys that load a checkpoint, fed a pickled payload "
                  "(marker never created)", len(CASES), len(CASES), kinds=len(CASES))


# -- files that are not what they claim ----------------------------------------------------
def _garbage_onnx(d: Path) -> Path:
    path = d / "garbage.onnx"
    path.write_bytes(os.urandom(4096))
    return path


def _foreign_onnx(d: Path) -> Path:
    """A valid ONNX model that tk did not write (no class names, no image size)."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 32, 32])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 32, 32])])
    path = d / "foreign.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def _empty_mlpackage(d: Path) -> Path:
    path = d / "empty.mlpackage"
    path.mkdir()
    return path


def _garbage_pt(d: Path) -> Path:
    path = d / "garbage.pt"
    path.write_bytes(b"PK\x03\x04 definitely not a zip" + os.urandom(512))
    return path


def _state_dict_pt(d: Path) -> Path:
    path = d / "weights-only.pt"
    torch.save({"conv.weight": torch.zeros(2, 2)}, path)
    return path


def _truncated_pt(d: Path, run: Path) -> Path:
    data = (run / "best.pt").read_bytes()
    path = d / "truncated.pt"
    path.write_bytes(data[: len(data) // 2])
    return path


FAKES = {
    "garbage .onnx": (_garbage_onnx, ("predict", "eval", "bench")),
    "ONNX model not written by tk": (_foreign_onnx, ("predict", "eval", "bench")),
    "empty .mlpackage folder": (_empty_mlpackage, ("predict", "eval", "bench")),
    "garbage .pt": (_garbage_pt, ("predict", "eval", "bench", "export")),
    "plain state_dict .pt": (_state_dict_pt, ("predict", "eval", "bench", "export")),
    "truncated checkpoint": (_truncated_pt, ("predict", "eval", "bench", "export")),
}


def _command(verb: str, model: Path, trained, d: Path) -> list:
    return {"predict": ["predict", model, trained["image"]],
            "eval": ["eval", model, "--run", trained["run"]],
            "bench": ["bench", model, "--iters", "1", "--warmup", "0", "--batch", "1"],
            "export": ["export", model, "--onnx", "--out", d / "exports"]}[verb]


@pytest.mark.parametrize("fake", list(FAKES), ids=lambda f: f.replace(" ", "_"))
def test_a_model_file_that_is_not_what_it_claims_fails_with_a_message(fake, trained, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make, verbs = FAKES[fake]
    model = make(tmp_path) if make is not _truncated_pt else make(tmp_path, trained["run"])
    for verb in verbs:
        result = run_cli(*_command(verb, model, trained, tmp_path))
        assert result.exit_code == 1, (fake, verb, result.output)
        line = final_error_line(result.stderr) if verb == "bench" else one_error_line(result.stderr)
        assert str(model) in line, (fake, verb, line)
    record_figure("hostile files", f"{fake}: refused in one line by {', '.join(verbs)}", len(verbs), len(verbs))


# -- paths that escape ---------------------------------------------------------------------
def test_a_checkpoint_cannot_send_exports_outside_the_working_folder(trained, tmp_path, monkeypatch):
    """A checkpoint is data, but its recipe is data from a stranger too: export.out = "../escaped"
    in it must not make `tk export` write outside the working folder."""
    from toolkit.core.checkpoint import load_checkpoint, save_checkpoint

    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    ckpt = load_checkpoint(trained["run"] / "best.pt")
    ckpt.pop("format"), ckpt.pop("version")
    for out in ("../escaped", "exports/../../escaped"):
        ckpt["recipe"]["export"]["out"] = out
        path = save_checkpoint(work / "stranger.pt", ckpt)
        result = run_cli("export", path, "--onnx")
        assert result.exit_code == 1, result.output
        line = one_error_line(result.stderr)
        assert "export.out" in line and "--out" in line and "refused" in line, line
    assert not (tmp_path / "escaped").exists() and not list(tmp_path.rglob("*.onnx"))
    record_figure("hostile files", "path traversal: export.out with '..' inside a checkpoint", 2, 2, kinds=2)


def test_a_file_name_with_a_newline_or_an_escape_sequence_is_printed_as_text(tmp_path, monkeypatch):
    """A bad file named ``evil<ESC>[31mRED<ESC>[0m<newline>FAKE LINE.png``: `tk data check` and
    `tk run --dry-run` printed the name raw — the terminal obeyed the escape sequence and the
    newline made a line of output tk never wrote."""
    monkeypatch.chdir(tmp_path)
    root = make_image_folder(tmp_path / "images", {"a": 4, "b": 4}, size=32)
    (root / "a" / "evil\x1b[31mRED\x1b[0m\nFAKE LINE.png").write_bytes(b"not an image")
    escaped = "evil\\x1b[31mRED\\x1b[0m\\nFAKE LINE.png: not an image"
    checked = run_cli("data", "check", root)
    assert escaped in checked.output, checked.output
    dry = run_cli("run", write_recipe(tmp_path / "r.toml", root, epochs=1), "--dry-run")
    assert dry.exit_code == 0, dry.output
    for output in (checked.output, dry.output):
        assert "\x1b" not in output and not any(line.startswith("FAKE LINE") for line in output.splitlines())

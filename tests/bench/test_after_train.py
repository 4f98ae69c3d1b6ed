"""`export.after_train = true`: `tk run` ends with `toolkit.export.export_run` and `toolkit.assess.bench.bench_run`."""

from __future__ import annotations

import json

from toolkit.testing import make_image_folder, run_cli


def test_run_exports_and_benches_when_the_recipe_asks(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_image_folder(tmp_path / "images", {"a": 8, "b": 8}, size=32)
    (tmp_path / "auto.toml").write_text("""\
[data]
root = "images"
image_size = 32
val_fraction = 0.25
workers = 0
[model]
backbone = "test_efficientnet"
[train]
epochs = 1
batch_size = 8
device = "cpu"
[export]
formats = ["onnx"]
after_train = true
[bench]
batches = [1, 2]
iters = 2
warmup = 0
runtimes = ["pytorch", "onnx"]
""")
    result = run_cli("run", "auto.toml")
    assert result.exit_code == 0, result.output
    assert "onnx: parity ok" in result.output
    manifest = json.loads((tmp_path / "exports/auto-1/onnx/manifest.json").read_text())
    assert manifest["parity"]["passed"] and manifest["source"]["run"] == str((tmp_path / "runs/auto/1").resolve())
    bench = json.loads((tmp_path / "runs/auto/1/bench.json").read_text())
    ok = {(r["format"], r["device"]) for r in bench["rows"] if r["status"] == "ok"}
    assert {("pytorch", "cpu"), ("onnx", "cpu")} <= ok
    assert bench["settings"]["batches"] == [1, 2] and bench["settings"]["iters"] == 2

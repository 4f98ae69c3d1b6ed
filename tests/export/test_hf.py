"""`tk export --format hf`: a folder timm itself loads, giving the trained classifier's outputs."""

from __future__ import annotations

import json

import pytest
import torch

from toolkit.engine.checkpoint import load_model
from toolkit.testing import make_image_folder, make_recipe, run_cli


@pytest.fixture(scope="module")
def hf_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("hf")
    images = make_image_folder(root / "images", {"cat": 6, "dog": 6, "owl": 6}, size=32)
    recipe = make_recipe(root / "pets.toml", images, epochs=1)
    assert run_cli("run", recipe, "--out", root / "run", "--quiet").exit_code == 0
    exported = run_cli("export", root / "run", "--format", "hf", "--out", root / "exports")
    assert exported.exit_code == 0, exported.output
    (folder,) = (root / "exports" / "hf").glob("*.hf")
    return {"root": root, "run": root / "run", "folder": folder, "images": images}


def test_the_folder_has_timms_hub_layout_and_a_model_card(hf_run):
    folder = hf_run["folder"]
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    config = json.loads((folder / "config.json").read_text())
    assert config["architecture"] == "test_efficientnet" and config["num_classes"] == 3
    assert config["label_names"] == ["cat", "dog", "owl"]
    cfg = config["pretrained_cfg"]
    assert cfg["input_size"] == [3, 32, 32] and cfg["crop_mode"] == "squash" and cfg["crop_pct"] == 1.0
    assert len(cfg["mean"]) == 3 and len(cfg["std"]) == 3
    card = (folder / "README.md").read_text()
    for part in ("library_name: timm", "hf-hub:USER/", "## Metrics", "accuracy", "## Recipe", "## Intended use"):
        assert part in card


def test_timm_builds_the_same_classifier_from_the_folder(hf_run):
    """Loaded through timm's own local-folder path (what hf-hub: does after a download)."""
    import timm

    net = timm.create_model(f"local-dir:{hf_run['folder']}", pretrained=True).eval()
    model, ckpt = load_model(hf_run["run"] / "best.pt")
    cfg = net.pretrained_cfg
    x = torch.rand(4, 3, 32, 32)
    normalised = (x - torch.tensor(cfg["mean"]).view(1, 3, 1, 1)) / torch.tensor(cfg["std"]).view(1, 3, 1, 1)
    with torch.no_grad():
        assert torch.allclose(net(normalised), model(x), atol=1e-5)
    assert net.num_classes == len(ckpt["class_names"]) == 3


def test_predict_and_the_manifest_use_it_like_any_format(hf_run):
    image = next((hf_run["images"] / "dog").iterdir())
    from_folder = run_cli("predict", hf_run["folder"], image, "--out", hf_run["root"] / "a.csv")
    from_ckpt = run_cli("predict", hf_run["run"], image, "--out", hf_run["root"] / "b.csv")
    assert from_folder.exit_code == 0 and from_ckpt.exit_code == 0, from_folder.output
    a = (hf_run["root"] / "a.csv").read_text().splitlines()[1].split(",")
    b = (hf_run["root"] / "b.csv").read_text().splitlines()[1].split(",")
    assert a[1] == b[1] and abs(float(a[2]) - float(b[2])) < 1e-4
    manifest = json.loads((hf_run["folder"].parent / "manifest.json").read_text())
    assert manifest["parity"]["passed"] is True and manifest["parity"]["top1_agreement"] == 1.0


def test_push_offline_is_one_line_and_keeps_the_folder(hf_run, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    out = hf_run["root"] / "pushed"
    result = run_cli("export", hf_run["run"], "--format", "hf", "--out", out, "--push", "someone/pets")
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "cannot push" in lines[0] and "huggingface-cli upload someone/pets" in lines[0]
    assert (next((out / "hf").glob("*.hf")) / "model.safetensors").is_file()
    assert (out / "hf" / "manifest.json").is_file()


def test_an_mlp_head_is_refused_in_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    images = make_image_folder(tmp_path / "images", {"a": 5, "b": 5}, size=32)
    recipe = make_recipe(tmp_path / "mlp.toml", images, epochs=1,
                         extra="")
    recipe.write_text(recipe.read_text().replace("pretrained = false", 'pretrained = false\nhead = "mlp"\nhead_hidden = [8]'))
    assert run_cli("run", recipe, "--out", tmp_path / "run", "--quiet").exit_code == 0
    result = run_cli("export", tmp_path / "run", "--format", "hf", "--out", tmp_path / "x")
    assert result.exit_code == 1 and "model.head = 'linear'" in result.stderr

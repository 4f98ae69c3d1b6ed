"""Pretrained weights without a network: cached ones load without touching it, missing ones fail at once.

The cache is a real Hugging Face cache folder (``HF_HUB_CACHE``) holding weights this test
saves itself (a randomly initialised resnet18 in timm's hub layout), so timm's and
huggingface_hub's own loading code runs, offline.
"""

from __future__ import annotations

import pytest

from toolkit.testing import make_image_folder, make_recipe, run_cli


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    import timm
    from safetensors.torch import save_file

    cache = tmp_path / "hub"
    snapshot = cache / "models--timm--resnet18.a1_in1k" / "snapshots" / "0123456789abcdef"
    snapshot.mkdir(parents=True)
    (cache / "models--timm--resnet18.a1_in1k" / "refs").mkdir()
    (cache / "models--timm--resnet18.a1_in1k" / "refs" / "main").write_text("0123456789abcdef")
    save_file(timm.create_model("resnet18", pretrained=False).state_dict(), str(snapshot / "model.safetensors"))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    return cache


def test_cached_weights_are_listed_and_load_without_the_network(hub_cache, tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    listed = run_cli("models", "--cached")
    assert listed.exit_code == 0 and "resnet18.a1_in1k" in listed.output.split()
    images = make_image_folder(tmp_path / "images", {"a": 4, "b": 4}, size=32)
    recipe = make_recipe(tmp_path / "r.toml", images, backbone="resnet18.a1_in1k")
    recipe.write_text(recipe.read_text().replace("pretrained = false", "pretrained = true"))
    dry = run_cli("run", recipe, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert run_cli("models", "--download", "resnet18.a1_in1k").output.strip().endswith(f"already cached in {hub_cache}")


def test_missing_weights_offline_fail_at_once_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    images = make_image_folder(tmp_path / "images", {"a": 4, "b": 4}, size=32)
    recipe = make_recipe(tmp_path / "r.toml", images, backbone="mobilenetv4_conv_small.e2400_r224_in1k")
    recipe.write_text(recipe.read_text().replace("pretrained = false", "pretrained = true"))
    result = run_cli("run", recipe, "--dry-run")
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "mobilenetv4_conv_small.e2400_r224_in1k" in lines[0]
    assert "--set model.pretrained=false" in lines[0] and "tk models --download" not in lines[0]
    assert "Retrying" not in result.output  # no minute of huggingface_hub's retries first

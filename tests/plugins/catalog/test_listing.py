"""`tk plugins` lists every catalog entry with its parameters, types and defaults."""

from __future__ import annotations

import inspect
import json

import pytest

from toolkit.plugin.hookspecs import CONTEXT

KINDS = ["backbones", "augmentations", "losses", "samplers", "optimizers", "schedulers"]


@pytest.mark.parametrize("kind", KINDS)
def test_every_entry_is_listed_with_its_parameters(kind, tk_cli, plugins):
    result = tk_cli("plugins", "--kind", kind, "-v", "--json")
    assert result.exit_code == 0, result.output
    listed = {e["name"]: e for e in json.loads(result.output)["entries"]}
    for entry in plugins.registry(kind):
        shown = listed[entry.name]
        assert shown["description"], f"{kind}:{entry.name} has no description"
        signature = inspect.signature(entry.factory).parameters
        expected = [n for n in signature if n not in CONTEXT[kind]]
        assert [p["name"] for p in shown["params"]] == expected
        for p in shown["params"]:
            assert p["type"], f"{kind}:{entry.name}.{p['name']} has no type hint"


def test_verbose_table_shows_defaults(tk_cli):
    result = tk_cli("plugins", "--kind", "losses", "-v")
    text = " ".join(result.output.split())
    assert "gamma: float = 2.0" in text and "label_smoothing: float = 0.0" in text and "teacher: str" in text


def test_catalog_names(plugins):
    """The names the issue promises (recipes and docs use them)."""
    assert {"color_jitter", "hflip", "vflip", "rotate", "affine", "random_resized_crop", "gaussian_blur",
            "random_erasing", "randaugment", "trivialaugment", "mixup", "cutmix"} <= set(plugins.registry("augmentations").names())
    assert {"cross_entropy", "focal", "soft_target_cross_entropy", "distill"} <= set(plugins.registry("losses").names())
    assert {"random", "class_balanced", "sqrt_balanced"} <= set(plugins.registry("samplers").names())
    assert {"adamw", "adam", "sgd"} <= set(plugins.registry("optimizers").names())
    assert {"cosine", "step", "plateau", "onecycle", "constant"} <= set(plugins.registry("schedulers").names())
    assert plugins.registry("backbones").find("mobilenetv4_conv_medium.e500_r256_in1k").name == "timm"


@pytest.mark.parametrize("kind", KINDS)
def test_summaries_fit_on_the_line_tk_plugins_shows(kind, plugins):
    """`tk plugins` shows a docstring's first line: the summary must be that whole line."""
    for entry in plugins.registry(kind):
        if entry.info.get("description"):
            continue
        first_paragraph = (inspect.getdoc(entry.factory) or "").split("\n\n")[0]
        assert first_paragraph and "\n" not in first_paragraph, f"{kind}:{entry.name}: {first_paragraph!r}"

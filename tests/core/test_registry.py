"""Registries: provenance, duplicates, did-you-mean, parameters read from signatures."""

import pytest

from toolkit import PluginError, RecipeError
from toolkit.plugin.registry import Entry, Registry


def make_focal(gamma: float = 2.0, class_counts=None, alpha: float = 0.25):
    """Focal loss."""
    return ("focal", gamma, alpha, class_counts)


def entry(name, factory=make_focal, plugin="p", kind="losses"):
    return Entry(kind, name, factory, plugin, "dist-p", "1.2")


def test_params_come_from_signature_without_context():
    e = entry("focal")
    assert [p.name for p in e.params()] == ["gamma", "alpha"]  # class_counts is run context
    assert e.params()[0].describe() == "gamma: float = 2.0"


def test_create_passes_params_and_declared_context_only():
    e = entry("focal")
    out = e.create({"gamma": 1.0}, {"class_counts": [3, 1], "num_classes": 2}, "loss")
    assert out == ("focal", 1.0, 0.25, [3, 1])


def test_unknown_parameter_lists_accepted_ones():
    with pytest.raises(RecipeError) as err:
        entry("focal").create({"gama": 1.0}, {}, "loss")
    msg = str(err.value)
    assert msg.startswith("loss.gama: loss 'focal' has no parameter 'gama'.")
    assert "Did you mean 'gamma'?" in msg and "Accepted: gamma, alpha." in msg


def test_context_names_cannot_be_set_from_a_recipe():
    with pytest.raises(RecipeError, match="class_counts: 'class_counts' is supplied by the run"):
        entry("focal").check_params({"class_counts": [1]}, "loss")


def test_required_parameter_missing():
    def needs(path: str):
        return path

    with pytest.raises(RecipeError, match=r"loss.path: loss 'x' needs 'path'"):
        entry("x", needs).check_params({}, "loss")


def test_duplicate_name_names_both_plugins():
    """Two third parties: the name is used from neither, and asking for it names both. A third party
    claiming one of tk's own names is refused at registration (that plugin is marked broken)."""
    reg = Registry("losses")
    reg.add(entry("focal", plugin="first"))
    reg.add(entry("focal", plugin="second"))
    assert reg.find("focal") is None
    with pytest.raises(RecipeError) as err:
        reg.get("focal", "loss.name")
    assert "plugin 'first' (dist-p 1.2)" in str(err.value) and "plugin 'second' (dist-p 1.2)" in str(err.value)
    own = Registry("losses")
    own.add(Entry("losses", "cross_entropy", lambda: None, "losses", "tk-train", "0.3.0"))
    with pytest.raises(PluginError) as err:
        own.add(entry("cross_entropy", plugin="second"))
    assert "plugin 'losses' (tk-train 0.3.0)" in str(err.value) and "plugin 'second' (dist-p 1.2)" in str(err.value)


def test_unknown_name_suggests_close_matches_and_tk_plugins():
    reg = Registry("losses")
    reg.add(entry("focal"))
    reg.add(entry("cross_entropy"))
    with pytest.raises(RecipeError) as err:
        reg.get("focall", "loss.name")
    assert str(err.value) == (
        "loss.name: unknown loss 'focall'. Did you mean 'focal'? See them all with `tk plugins --kind losses`."
    )


def test_resolver_entries_answer_for_other_names():
    reg = Registry("backbones")
    reg.add(Entry("backbones", "zoo", lambda name: name, "zoo", info={"resolve": lambda n: n.startswith("zoo_"),
                                                                        "suggest": lambda n: ["zoo_big", "zoo_small"]}))
    assert reg.get("zoo_big", "model.backbone").name == "zoo"
    with pytest.raises(RecipeError, match="Did you mean 'zoo_small'"):
        reg.get("zoo-smal", "model.backbone")


def test_non_callable_factory_is_an_error_naming_the_plugin():
    with pytest.raises(PluginError, match="plugin 'p' .* not callable"):
        Registry("losses").add(entry("bad", factory=42))


def test_wildcard_names():
    reg = Registry("losses")
    for n in ("focal", "focal_v2", "ce"):
        reg.add(entry(n))
    assert reg.names("focal*") == ["focal", "focal_v2"]

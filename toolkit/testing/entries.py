"""Every entry of a plugin package, checked the way a run uses it.

One line in a plugin package's tests checks everything it registers, of every kind::

    from toolkit.testing import check_every_entry

    test_every_entry = check_every_entry("tk_acme")     # your module, or your distribution "tk-acme"

pytest then runs one test per entry (``test_every_entry[losses:my_focal]`` …), each on tiny real
images (32 px PNGs in three classes), in seconds:

=============================  =================================================================
kind                           what is checked
=============================  =================================================================
backbones                      built from ``[model]``, one optimiser step changes its weights; a
                               one-epoch run with it, exported to ONNX with parity checked
augmentations                  built from ``[[augment.ops]]``, keeps a batch's shape and 0–1
                               range (soft targets sum to one), one step trains through it
losses                         built from ``[loss]``, a finite scalar that trains one step
samplers                       built from ``[sampler]``, ``indices(epoch)`` repeatable and in range
optimizers, schedulers         built from ``[optim]``/``[schedule]``, one step; a schedule's state
                               is plain data
callbacks                      a two-epoch run listing it; its ``state_dict`` is saved in last.pt
                               and loads back into a fresh one; the metrics it declares appear
loggers                        a one-epoch run with it attached; it implements an event hook
datasets                       builds a `FolderIndex` of at least two classes of existing files;
                               a one-epoch run reads its data
exporters                      exports a trained tiny run's best.pt, loads the file back and
                               matches PyTorch within its own tolerance (`toolkit.export`)
=============================  =================================================================

Parameters come from the factory's defaults plus the entry's ``example`` registration info
(``register("x", make_x, example={"gamma": 1.0})``), whose strings may name ``"{images}"`` (the
folder of class folders), ``"{checkpoint}"`` (a tk checkpoint of those classes) or ``"{run}"``
(its run folder); an entry that answers for many names (``resolve=``) is tried as its
``example_name``. A dataset is given ``data.root = "{images}"`` unless its ``example`` says
``root = ...``. An exporter that cannot export on this machine (`available()` false) is skipped
with its reason. A failure is an AssertionError (or tk's one-line error) naming the entry.

Outside pytest: ``EntryKit(workdir, "tk_acme").check("losses", "my_focal")``.

This module holds the pytest side (`check_every_entry`); the pieces it is built on live beside
it and are importable from here too: the checks per kind (`EntryKit`, `toolkit.testing.entry_kit`),
the one training step (`train_one_step`, `assert_one_step`, `toolkit.testing.one_step`) and which
entries a package registers (`entries_of`, `toolkit.testing.selection`).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, Callable

from .entry_kit import EntryKit, Unavailable
from .one_step import CLASSES, SIZE, assert_one_step, train_one_step
from .selection import _name, entries_of

__all__ = ["CLASSES", "SIZE", "EntryKit", "Unavailable", "assert_one_step", "check_every_entry", "entries_of",
           "train_one_step"]


# -- pytest ------------------------------------------------------------------------------------
_KITS: dict[tuple[str, str], EntryKit] = {}


def _kit(package: str | ModuleType, tmp_path_factory: Any) -> EntryKit:
    key = (str(tmp_path_factory.getbasetemp()), package if isinstance(package, str) else _name(package))
    if key not in _KITS:
        _KITS[key] = EntryKit(tmp_path_factory.mktemp("tk-entries"), package)
    return _KITS[key]


def check_every_entry(package: str | ModuleType, *, kinds: Any = None, skip: Any = ()) -> Callable[..., None]:
    """A pytest test function, parametrised over every entry ``package`` registers (of ``kinds``,
    default all): assign it to a ``test_`` name in a test module::

        test_every_entry = check_every_entry("tk_acme")

    ``package`` is your plugin module (or its name), or your distribution's name; installed or not
    (a module that is not installed is loaded as a plugin for these tests only). What each kind must
    pass is in `toolkit.testing.entries`. A package that registers nothing, or fails to load, is one
    failing test saying so. ``skip``: entries to leave out, as ``"kind:name"`` or ``"name"``
    (e.g. a callback that raises on purpose); each is reported as a skipped test with that reason.
    Commands are not checked (run them in your own tests).
    """
    import pytest

    skipped = {skip} if isinstance(skip, str) else set(skip)
    try:
        params = [pytest.param(kind, name, id=f"{kind}:{name}") for kind, name in entries_of(package, kinds)]
    except LookupError as exc:
        params = [pytest.param("", str(exc), id="no-entries")]

    @pytest.mark.parametrize("tk_kind,tk_entry", params)
    def test_every_entry(tk_kind: str, tk_entry: str, tmp_path_factory: Any) -> None:
        if not tk_kind:
            pytest.fail(tk_entry, pytrace=False)
        if f"{tk_kind}:{tk_entry}" in skipped or tk_entry in skipped:
            pytest.skip(f"{tk_kind}:{tk_entry} left out with check_every_entry(..., skip=...)")
        try:
            _kit(package, tmp_path_factory).check(tk_kind, tk_entry)
        except Unavailable as exc:
            pytest.skip(str(exc))

    test_every_entry.__doc__ = f"Every entry of {package!r} builds, trains a step and (exporters, backbones) exports."
    return test_every_entry

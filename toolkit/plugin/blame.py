"""A plugin's part that runs inside tk's loop — a loss, an augmentation op — wrapped so that its
failure while it runs is one line naming the part, its recipe key and its plugin, like every
other plugin failure (the traceback stays for ``tk --debug``), and so that what it returns is
checked where a wrong value would otherwise fail deep inside tk: a loss returns one number for
the batch that the model's outputs reach (its gradient trains the model), an augmentation op
returns ``(images, targets)`` with the images' number and size unchanged and one target per image.

The wrapper is a plain callable that forwards every attribute to the part (``needs_inputs``,
``on_epoch_start``, ``to``, ``state_dict`` …): only calls go through it.
"""

from __future__ import annotations

from typing import Any, Callable

from ..core.errors import PluginError, TkError
from ..core.text import first_line

__all__ = ["Blamed", "blamed_part", "part_failure", "PART_CHECKS"]


def _what(value: Any) -> str:
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"a {type(value).__name__} of shape {tuple(shape)}"
    if isinstance(value, tuple):
        return f"a tuple of {len(value)}"
    return "None" if value is None else f"a {type(value).__name__}"


def _check_loss(label: str, out: Any, args: tuple[Any, ...]) -> None:
    numel = getattr(out, "numel", None)
    if not (callable(numel) and hasattr(out, "detach") and numel() == 1):
        raise PluginError(f"{label} returned {_what(out)}; a loss returns one number for the batch (a 0-d tensor).")
    if args and getattr(args[0], "requires_grad", False) and not getattr(out, "requires_grad", True):
        raise PluginError(f"{label} returned a number the model's outputs do not reach (detached, or computed "
                          f"without them): training needs its gradient. Compute it from the logits with torch "
                          f"operations, without .detach(), .item() or numpy.")


def _check_op(label: str, out: Any, args: tuple[Any, ...]) -> None:
    if not (isinstance(out, tuple) and len(out) == 2):
        raise PluginError(f"{label} returned {_what(out)}; an augmentation op returns (images, targets).")
    before, after = getattr(args[0], "shape", None), getattr(out[0], "shape", None)
    if before is not None and (after is None or tuple(after) != tuple(before)):
        raise PluginError(f"{label} turned images of shape {tuple(before)} into {_what(out[0])}; an augmentation op "
                          f"keeps the batch's number of images and their size (the model's input).")
    targets = getattr(out[1], "shape", None)
    if before is not None and len(before) and (targets is None or not len(targets) or targets[0] != before[0]):
        raise PluginError(f"{label} returned {_what(out[1])} as the targets of {before[0]} images; an augmentation op "
                          f"returns one target per image (a class index, or a row of class weights when it mixes).")


PART_CHECKS: dict[str, tuple[str, Callable[[str, Any, tuple[Any, ...]], None]]] = {
    "losses": ("loss", _check_loss),
    "augmentations": ("augmentation", _check_op),
}
"""Kinds whose parts run inside the loop: (the word for one, the check of what it returns)."""


def _out_of_memory(exc: BaseException) -> bool:
    return type(exc).__name__ == "OutOfMemoryError" or "out of memory" in str(exc).lower()


def part_failure(label: str, exc: BaseException, moment: str = "") -> PluginError:
    """The one line for a part's exception: ``<label> failed[ in <moment>]: <type>: <first line>``."""
    return PluginError(f"{label} failed{f' in {moment}' if moment else ''}: {type(exc).__name__}: {first_line(exc)}")


class Blamed:
    """``part`` called through one line of blame (module docstring)."""

    def __init__(self, part: Any, label: str, check: Callable[[str, Any, tuple[Any, ...]], None] | None = None):
        object.__setattr__(self, "tk_part", part)
        object.__setattr__(self, "tk_label", label)
        object.__setattr__(self, "_check", check)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            out = self.tk_part(*args, **kwargs)
        except (KeyboardInterrupt, TkError):
            raise
        except Exception as exc:
            if _out_of_memory(exc):  # the device's limit, not the plugin's fault: tk's own message says what to do
                raise
            raise part_failure(self.tk_label, exc) from exc
        if self._check is not None:
            self._check(self.tk_label, out, args)
        return out

    def to(self, *args: Any, **kwargs: Any) -> Any:
        """The part moved (a module's ``to`` moves it in place and returns it), still blamed."""
        move = getattr(self.tk_part, "to", None)
        if move is None:
            return self
        moved = move(*args, **kwargs)
        return self if moved is self.tk_part else Blamed(moved, self.tk_label, self._check)

    def __getattr__(self, name: str) -> Any:
        return getattr(object.__getattribute__(self, "tk_part"), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.tk_part, name, value)

    def __repr__(self) -> str:
        return f"Blamed({self.tk_part!r})"


def blamed_part(kind: str, part: Any, name: str, where: str, origin: str) -> Any:
    """``part`` wrapped when ``kind`` runs inside the loop (`PART_CHECKS`), else as it is."""
    if kind not in PART_CHECKS or not callable(part):
        return part
    word, check = PART_CHECKS[kind]
    return Blamed(part, f"The {word} '{name}' ({where}, {origin})", check)

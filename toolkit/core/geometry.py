"""The model's input: one `InputSpec` (size, resize rule, interpolation, mean, std) and its forms.

A model's input is part of the model: training, `tk predict`, `tk eval` and every exported
file must turn an image file into the same pixels (`toolkit.data.pixels.decode` does, for an
`InputSpec`). The spec is written in four places, each converted here and nowhere else:

* the recipe: ``data.image_size`` (an int, square, or ``[height, width]``) and ``data.resize``
  (`InputSpec.from_recipe`, `InputSpec.to_recipe`);
* the checkpoint's ``model_info`` (``image_size``, ``resize``, ``mean``, ``std``;
  `InputSpec.from_model_info`, `InputSpec.to_model_info`);
* exported metadata, ONNX and Core ML alike (``tk.image_size`` ``"256"`` or ``"256x448"``,
  height x width, ``tk.resize``, ``tk.mean``, ``tk.std``; `InputSpec.from_metadata`,
  `InputSpec.to_metadata`);
* the Hugging Face ``config.json`` (``tk_resize`` and timm's ``pretrained_cfg``:
  ``input_size``, ``interpolation``, ``crop_mode``; `InputSpec.from_hf_config`,
  `InputSpec.to_hf_config`).

Two resize rules exist, named in checkpoints and metadata by their stored names (`RESIZE_RULES`),
both with the one `INTERPOLATION`:

* ``bicubic`` — **squeeze** (``data.resize = "squeeze"``, the default): the whole image is
  resized to height × width with PIL's antialiased bicubic filter, no crop; a 16:9 screenshot
  squeezed to a square is distorted 1.78×.
* ``letterbox-bicubic`` — **letterbox** (``data.resize = "letterbox"``): the image is
  scaled by one factor to fit inside height × width (bicubic), centred, and the rest filled
  with `LETTERBOX_FILL` (black, the colour of a screen's own bars). The aspect ratio is kept.

What each rule does to an image is `RESIZERS` (stored name → function): a rule changed or added
there is followed by every command and export. This module is light (no PIL at import).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from .errors import TkError

__all__ = ["InputSpec", "size_words", "INTERPOLATION", "RESIZE_RULES", "RESIZERS", "DEFAULT_RESIZE", "LETTERBOX_FILL",
           "IMAGE_SIZE_RANGE", "IMAGENET_MEAN", "IMAGENET_STD", "input_hw", "size_value", "size_text",
           "parse_size_text", "resize_rule", "resize_image", "letterbox_box", "metadata_size"]

#: The resampling filter of every resize rule: PIL's antialiased BICUBIC for files, torch's
#: antialiased bicubic where a tensor is resized (a distillation teacher), timm's name for it.
INTERPOLATION = "bicubic"
#: ``data.resize`` → the rule's stored name in checkpoints and metadata.
RESIZE_RULES = {"squeeze": INTERPOLATION, "letterbox": f"letterbox-{INTERPOLATION}"}
#: The rule of a model that names none (tk 0.1 checkpoints and exports): squeeze.
DEFAULT_RESIZE = RESIZE_RULES["squeeze"]
#: The colour letterboxing pads with (RGB).
LETTERBOX_FILL = (0, 0, 0)
#: Input sides a tk model may declare (as `data.image_size` allows).
IMAGE_SIZE_RANGE = (16, 4096)
#: The mean and std of a backbone that states none (ImageNet's).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: timm's ``crop_mode`` of each stored rule (the HF export's ``pretrained_cfg``).
_HF_CROP_MODE = {RESIZE_RULES["squeeze"]: "squash", RESIZE_RULES["letterbox"]: "border"}


def input_hw(size: Any) -> tuple[int, int]:
    """``(height, width)`` of ``S``, ``[H, W]``, ``(H, W)`` or an `InputSpec`."""
    if isinstance(size, InputSpec):
        return size.hw
    if isinstance(size, bool):
        raise ValueError(f"an image size must be an int or [height, width], not {size!r}")
    if isinstance(size, int):
        return size, size
    if isinstance(size, (list, tuple)) and len(size) == 2 and all(isinstance(v, int) and not isinstance(v, bool)
                                                                  for v in size):
        return int(size[0]), int(size[1])
    raise ValueError(f"an image size must be an int or [height, width], not {size!r}")


def size_value(size: Any) -> int | list[int]:
    """The JSON/TOML form: an int when square, else ``[height, width]``."""
    h, w = input_hw(size)
    return h if h == w else [h, w]


def size_text(size: Any) -> str:
    """``"256"`` (square) or ``"256x448"`` (height x width): the metadata form."""
    h, w = input_hw(size)
    return str(h) if h == w else f"{h}x{w}"


def parse_size_text(text: str) -> tuple[int, int]:
    """Inverse of `size_text`; raises ValueError on anything else."""
    parts = str(text).strip().lower().split("x")
    if len(parts) == 1:
        s = int(parts[0])
        return s, s
    if len(parts) == 2:
        return int(parts[0]), int(parts[1])
    raise ValueError(f"not an image size: {text!r}")


def resize_rule(resize: str) -> str:
    """The stored rule name of a ``data.resize`` value (a stored name passes through)."""
    if resize in RESIZE_RULES.values():
        return resize
    try:
        return RESIZE_RULES[resize]
    except KeyError:
        raise ValueError(f"unknown resize {resize!r}: use {' or '.join(RESIZE_RULES)}") from None


def metadata_size(meta: Mapping[str, str], key: str, where: str) -> int | tuple[int, int]:
    """An input size from model metadata (``"256"`` or ``"256x448"``, height x width) within
    `IMAGE_SIZE_RANGE`: an int when square, else ``(height, width)``; a one-line error otherwise."""
    try:
        h, w = parse_size_text(meta[key])
    except (KeyError, ValueError):
        raise TkError(f"{where}: the model has no readable '{key}' metadata; was it exported by tk?") from None
    lo, hi = IMAGE_SIZE_RANGE
    if not (lo <= h <= hi and lo <= w <= hi):
        raise TkError(f"{where}: metadata '{key}' = {meta[key]!r} is outside [{lo}, {hi}]; the file is damaged or "
                      f"was not written by tk.")
    return h if h == w else (h, w)


def _floats(values: Any) -> tuple[float, ...]:
    return tuple(float(v) for v in (values or ()))


def _json_floats(text: Any) -> tuple[float, ...]:
    try:
        values = json.loads(text) if isinstance(text, str) else text
        return _floats(values) if isinstance(values, (list, tuple)) else ()
    except (ValueError, TypeError):
        return ()


@dataclass(frozen=True)
class InputSpec:
    """What a model takes: ``height`` × ``width`` RGB pixels made by the stored rule ``resize``
    (`RESIZE_RULES`' values; a rule this tk does not know is kept, and refused when decoding),
    resampled with ``interpolation``, and normalised inside the model by ``mean``/``std`` (empty
    where the source does not say). Build one with the ``from_*`` constructors or `of`."""

    height: int
    width: int
    resize: str = DEFAULT_RESIZE
    interpolation: str = INTERPOLATION
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()

    @classmethod
    def of(cls, size: Any, resize: str | None = None, *, mean: Any = (), std: Any = ()) -> InputSpec:
        """From a loose size (``S``, ``[H, W]``, ``(H, W)``; an `InputSpec` passes through) and a
        rule: a stored name or a ``data.resize`` word (None: `DEFAULT_RESIZE`)."""
        if isinstance(size, InputSpec):
            return size
        h, w = input_hw(size)
        rule = DEFAULT_RESIZE if resize is None else RESIZE_RULES.get(str(resize), str(resize))
        return cls(h, w, rule, mean=_floats(mean), std=_floats(std))

    # -- the forms an input size takes ---------------------------------------------------------
    @property
    def hw(self) -> tuple[int, int]:
        """``(height, width)``."""
        return self.height, self.width

    @property
    def size(self) -> int | tuple[int, int]:
        """An int when square, else ``(height, width)`` (`Predictor.image_size`'s form)."""
        return self.height if self.height == self.width else (self.height, self.width)

    @property
    def size_value(self) -> int | list[int]:
        """The recipe's and ``model_info``'s form: an int when square, else ``[height, width]``."""
        return size_value(self.hw)

    @property
    def size_text(self) -> str:
        """The metadata form: ``"256"`` or ``"256x448"``."""
        return size_text(self.hw)

    @property
    def letterbox(self) -> bool:
        """Whether the rule keeps the aspect ratio and pads (letterbox), rather than squeezing."""
        return self.resize == RESIZE_RULES["letterbox"]

    @property
    def known(self) -> bool:
        """Whether this tk implements the resize rule (`RESIZERS`)."""
        return self.resize in RESIZERS

    def with_norm(self, mean: Any, std: Any) -> InputSpec:
        """The same geometry with the model's normalisation."""
        return InputSpec(self.height, self.width, self.resize, self.interpolation, _floats(mean), _floats(std))

    # -- the recipe ----------------------------------------------------------------------------
    @classmethod
    def from_recipe(cls, data: Mapping[str, Any], *, mean: Any = (), std: Any = ()) -> InputSpec:
        """From the recipe's ``[data]`` table (``image_size``, ``resize``); the normalisation is the
        backbone's (`toolkit.engine.model.norm_stats`), given here when known."""
        return cls.of(data["image_size"], resize_rule(str(data.get("resize") or "squeeze")), mean=mean, std=std)

    def to_recipe(self) -> dict[str, Any]:
        """``data.image_size`` and ``data.resize`` of this spec."""
        word = next((k for k, v in RESIZE_RULES.items() if v == self.resize), self.resize)
        return {"image_size": self.size_value, "resize": word}

    # -- the checkpoint ------------------------------------------------------------------------
    @classmethod
    def from_model_info(cls, info: Mapping[str, Any] | None, recipe_data: Mapping[str, Any] | None = None) -> InputSpec:
        """From a checkpoint's ``model_info``; a checkpoint without an ``image_size`` there (tk 0.1)
        takes its recipe's ``data.image_size``, and one without a ``resize`` squeezed."""
        info = info or {}
        size = info.get("image_size") or (recipe_data or {}).get("image_size")
        return cls.of(size, str(info.get("resize", DEFAULT_RESIZE)), mean=info.get("mean"), std=info.get("std"))

    def to_model_info(self) -> dict[str, Any]:
        """The input keys of a checkpoint's ``model_info``."""
        return {"image_size": self.size_value, "mean": list(self.mean), "std": list(self.std), "resize": self.resize}

    # -- exported metadata (ONNX, Core ML) -----------------------------------------------------
    @classmethod
    def from_metadata(cls, meta: Mapping[str, str], where: str) -> InputSpec:
        """From an exported model's ``tk.*`` metadata; a size that is missing or out of
        `IMAGE_SIZE_RANGE` is a one-line `TkError` naming ``where``."""
        size = metadata_size(meta, "tk.image_size", where)
        return cls.of(size, str(meta.get("tk.resize", DEFAULT_RESIZE)), mean=_json_floats(meta.get("tk.mean")),
                      std=_json_floats(meta.get("tk.std")))

    def to_metadata(self) -> dict[str, str]:
        """The input keys of an exported model's ``tk.*`` metadata (uint8-range pixels, no crop)."""
        return {"tk.image_size": self.size_text, "tk.resize": self.resize, "tk.crop": "none",
                "tk.mean": json.dumps(list(self.mean)), "tk.std": json.dumps(list(self.std)),
                "tk.input_range": "[0, 255]"}

    # -- the Hugging Face config ---------------------------------------------------------------
    @classmethod
    def from_hf_config(cls, config: Mapping[str, Any]) -> InputSpec:
        """From a ``config.json`` written by the HF export; ValueError when its input size is
        missing or outside `IMAGE_SIZE_RANGE`. Mean and std default to ImageNet's, as timm's do."""
        cfg = config.get("pretrained_cfg") or {}
        _, height, width = (list(cfg.get("input_size") or [3, 0, 0]) + [0, 0, 0])[:3]
        height, width = int(height), int(width)
        lo, hi = IMAGE_SIZE_RANGE
        if not (lo <= height <= hi and lo <= width <= hi):
            raise ValueError(f"no input size in [{lo}, {hi}]: {cfg.get('input_size')!r}")
        return cls(height, width, str(config.get("tk_resize") or DEFAULT_RESIZE),
                   str(cfg.get("interpolation") or INTERPOLATION), _floats(cfg.get("mean") or IMAGENET_MEAN),
                   _floats(cfg.get("std") or IMAGENET_STD))

    def to_hf_config(self) -> dict[str, Any]:
        """``tk_resize`` and timm's ``pretrained_cfg`` input keys (whole image, no crop)."""
        return {"tk_resize": self.resize,
                "pretrained_cfg": {"mean": list(self.mean), "std": list(self.std), "input_size": [3, *self.hw],
                                   "interpolation": self.interpolation, "crop_pct": 1.0,
                                   "crop_mode": _HF_CROP_MODE.get(self.resize, "border")}}

    # -- pixels --------------------------------------------------------------------------------
    def resize_image(self, img: Any) -> Any:
        """A PIL RGB image → a PIL image of exactly height × width by this spec's rule."""
        return resize_image(img, self.hw, self.resize)


def letterbox_box(src_wh: Sequence[int], dst_hw: Sequence[int]) -> tuple[int, int, int, int]:
    """(left, top, width, height) of the scaled image inside the letterboxed canvas."""
    sw, sh = int(src_wh[0]), int(src_wh[1])
    h, w = int(dst_hw[0]), int(dst_hw[1])
    scale = min(w / sw, h / sh)
    nw, nh = max(1, min(w, round(sw * scale))), max(1, min(h, round(sh * scale)))
    return (w - nw) // 2, (h - nh) // 2, nw, nh


def _pil_filter(interpolation: str = INTERPOLATION) -> Any:
    from PIL import Image

    return getattr(Image.Resampling, interpolation.upper())


def _squeeze(img: Any, h: int, w: int) -> Any:
    return img if img.size == (w, h) else img.resize((w, h), _pil_filter())


def _letterbox(img: Any, h: int, w: int) -> Any:
    from PIL import Image

    left, top, nw, nh = letterbox_box(img.size, (h, w))
    scaled = img if img.size == (nw, nh) else img.resize((nw, nh), _pil_filter())
    if (nw, nh) == (w, h):
        return scaled
    canvas = Image.new("RGB", (w, h), LETTERBOX_FILL)
    canvas.paste(scaled, (left, top))
    return canvas


#: Stored rule name → what it does to a PIL RGB image (``fn(img, height, width)``).
RESIZERS: dict[str, Callable[[Any, int, int], Any]] = {RESIZE_RULES["squeeze"]: _squeeze,
                                                       RESIZE_RULES["letterbox"]: _letterbox}


def resize_image(img: Any, size: Any, rule: str = DEFAULT_RESIZE) -> Any:
    """Apply a stored rule (see the module docstring) to a PIL RGB image; returns a PIL image of
    exactly ``size``."""
    h, w = input_hw(size)
    resizer = RESIZERS.get(rule)
    if resizer is None:
        raise ValueError(f"unknown resize rule {rule!r}: this tk knows {', '.join(RESIZE_RULES.values())}")
    return resizer(img, h, w)


def size_words(size: Any) -> str:
    """``256 px`` or ``224×384 px (height×width)``: an input size as a person reads it (not a list)."""
    h, w = InputSpec.of(size).hw
    return f"{h} px" if h == w else f"{h}×{w} px (height×width)"

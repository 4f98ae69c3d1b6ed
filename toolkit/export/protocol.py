"""The shapes exporters and the core agree on: predictors, tolerances, export results.

See `toolkit.export` for the exporter protocol itself. `Predictor` is a small base class an
exporter's predictor may subclass (the core only relies on the attributes and ``predict``);
it adds batching so callers can pass any number of images.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import TkError
from ..core.geometry import DEFAULT_RESIZE, InputSpec

if TYPE_CHECKING:
    import numpy as np

__all__ = ["ExportError", "ExportResult", "Parity", "Predictor", "Tolerance", "predictor_spec"]


class ExportError(TkError):
    """An export that cannot be made or does not give the trained model's answers."""


@dataclass(frozen=True)
class Tolerance:
    """How far an exported model may be from PyTorch on the validation images.

    ``min_agreement`` is the share of images whose top-1 class must match (1.0: all of them);
    ``max_prob_diff`` the largest absolute difference allowed in any class probability.
    fp32 ONNX uses (1.0, 1e-4); fp16 or compressed models need looser figures.
    """

    min_agreement: float = 1.0
    max_prob_diff: float = 1e-4


@dataclass
class Parity:
    """Exported model against PyTorch on the same images."""

    images: int
    agreement: float  # share of images with the same top-1 class
    max_prob_diff: float
    mean_prob_diff: float
    source: str  # "validation split" | "training split" | "random images"

    def within(self, tol: Tolerance) -> bool:
        return self.agreement >= tol.min_agreement and self.max_prob_diff <= tol.max_prob_diff

    def describe(self) -> str:
        return (f"top-1 agreement {self.agreement:.2%} ({round(self.agreement * self.images)}/{self.images} "
                f"{self.source} images), max probability difference {self.max_prob_diff:.2e}")

    def as_dict(self) -> dict[str, Any]:
        return {"checked": True, "images": self.images, "source": self.source, "top1_agreement": self.agreement,
                "max_prob_diff": self.max_prob_diff, "mean_prob_diff": self.mean_prob_diff}


@dataclass
class ExportResult:
    """One exported model: where it is, its manifest, and what the parity check found."""

    format: str
    path: Path
    manifest_path: Path
    manifest: dict[str, Any]
    lines: list[str] = field(default_factory=list)  # what `tk export` prints about it

    @property
    def size_bytes(self) -> int:
        return int(self.manifest.get("size_bytes", 0))


class Predictor:
    """Runs one model on uint8 RGB batches and returns class probabilities.

    Subclasses set the attributes and implement `predict` for one batch; `predict_all`
    splits a large array into batches of ``batch_size``.
    """

    class_names: list[str]
    image_size: int | tuple[int, int]  # S (square) or (height, width)
    resize: str = DEFAULT_RESIZE  # the stored rule name (`toolkit.core.geometry.RESIZE_RULES`)
    runtime: str = ""
    device: str = ""
    max_batch: int | None = None  # a model with a fixed batch size sets 1
    #: below this calibrated maximum probability the answer is `unknown_label` (0.0: never)
    unknown_threshold: float = 0.0
    unknown_label: str = "unknown"
    #: CPU threads its runtime was given (`load_predictor`'s ``threads``); None: the runtime's own count
    threads: int | None = None

    @property
    def input_spec(self) -> InputSpec:
        """What the model takes (`toolkit.core.geometry.InputSpec`), from ``image_size`` and ``resize``:
        a predictor that sets those two (as every predictor before the spec did) has one."""
        spec = getattr(self, "_spec", None)
        if isinstance(spec, InputSpec) and spec.size == self.image_size and spec.resize == self.resize:
            return spec
        return InputSpec.of(self.image_size, self.resize)

    def set_input_spec(self, spec: InputSpec) -> None:
        """Take ``spec`` as this predictor's input (``image_size`` and ``resize`` follow)."""
        self._spec, self.image_size, self.resize = spec, spec.size, spec.resize

    def answer(self, probs: np.ndarray) -> list[str]:
        """The class name per row of ``probs``, or `unknown_label` below `unknown_threshold`."""
        out = []
        for row in probs:
            best = int(row.argmax())
            out.append(self.unknown_label if float(row[best]) < self.unknown_threshold else self.class_names[best])
        return out

    def predict(self, images: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        """``images``: uint8 (or float 0–255) ``N×3×H×W`` → float probabilities ``N×K``."""
        raise NotImplementedError

    def predict_all(self, images: np.ndarray, batch_size: int = 32) -> np.ndarray:
        import numpy as np

        step = max(1, min(batch_size, self.max_batch or batch_size))
        if len(images) == 0:
            return np.zeros((0, len(self.class_names)), dtype=np.float32)
        parts = [np.asarray(self.predict(images[i:i + step]), dtype=np.float32) for i in range(0, len(images), step)]
        return np.concatenate(parts, axis=0)

    def close(self) -> None:
        """Free what the runtime holds (sessions, loaded models); the default does nothing."""


def predictor_spec(predictor: Any) -> InputSpec:
    """The `InputSpec` of any predictor: its ``input_spec`` (a `Predictor` subclass, or one that
    sets it), else its ``image_size`` and ``resize`` (a plugin's predictor that follows only the
    protocol's attributes)."""
    spec = getattr(predictor, "input_spec", None)
    if isinstance(spec, InputSpec):
        return spec
    return InputSpec.of(predictor.image_size, getattr(predictor, "resize", None))

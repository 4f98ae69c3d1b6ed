"""What travels with an exported model: its metadata (inside the file) and ``manifest.json`` (beside it).

Both say the same things — class names, input, the preprocessing rule, where the model came
from — so a model file alone is enough to predict with (`tk predict` reads the metadata),
and the manifest adds what only the export knows: size, parity figures, options, tool versions.
"""

from __future__ import annotations

import json
import time
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

from ..core.atomic import atomic_write
from ..core.errors import TkError
from ..core.geometry import IMAGE_SIZE_RANGE, InputSpec, metadata_size
from ..core.version import __version__

__all__ = ["model_metadata", "preprocessing", "tool_versions", "path_size", "path_digest", "write_manifest",
           "read_manifest", "check_model_file", "MANIFEST_NAME", "EXPORTING", "metadata_int", "metadata_list",
           "metadata_size", "IMAGE_SIZE_RANGE"]

MANIFEST_NAME = "manifest.json"

EXPORTING = "exporting"
"""``status`` of the manifest `tk export` writes before it replaces a model: the export is under
way and nothing in the folder is checked yet. The finished manifest has no ``status``."""

_TOOLS = ("torch", "timm", "onnx", "onnxscript", "onnxruntime", "coremltools", "numpy", "pillow")


def tool_versions(extra: tuple[str, ...] = ()) -> dict[str, str]:
    """Versions of tk and the libraries that shaped the exported file (absent ones left out)."""
    out = {"tk": __version__}
    for name in (*_TOOLS, *extra):
        try:
            out[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    return out


def preprocessing(info: dict[str, Any], input_range: tuple[int, int] = (0, 255)) -> dict[str, Any]:
    """The rule that turns a file into the exported model's input, spelled out."""
    from ..core.geometry import LETTERBOX_FILL

    spec = InputSpec.from_model_info(info)
    resize = {"width": spec.width, "height": spec.height, "rule": spec.resize, "interpolation": spec.interpolation,
              "crop": None, "library": "PIL (Image.resize, antialiased)"}
    if spec.letterbox:
        resize.update(keep_aspect=True, pad=list(LETTERBOX_FILL), position="centred")
    return {
        "decode": "8-bit RGB, EXIF orientation applied, transparency on white; a JPEG at least twice the input "
                  "on both sides is decoded at reduced scale (PIL draft: 1/2, 1/4 or 1/8, never below twice the "
                  "input) (toolkit.data.load_rgb)",
        "resize": resize,
        "input_range": list(input_range),
        "layout": "NCHW, RGB",
        "mean": list(spec.mean),
        "std": list(spec.std),
        "normalisation": "inside the model: (pixel / 255 - mean) / std",
        "output": "class probabilities (softmax inside the model)",
    }


def model_metadata(ckpt: dict[str, Any], source_label: str) -> dict[str, str]:
    """Flat ``tk.*`` string metadata exporters store in the model file (read back by their predictors)."""
    from ..recipe.load import dumps_toml

    info = ckpt.get("model_info") or {}
    metrics = ckpt.get("metrics") or {}
    try:
        recipe_text = dumps_toml(ckpt.get("recipe") or {})
    except TypeError:
        recipe_text = json.dumps(ckpt.get("recipe") or {}, default=str)
    meta = {
        "tk.version": __version__,
        "tk.class_names": json.dumps(list(ckpt["class_names"])),
        **InputSpec.from_model_info(info).to_metadata(),
        "tk.backbone": str(info.get("backbone", "")),
        "tk.source": source_label,
        "tk.epoch": str(ckpt.get("epoch", "")),
        "tk.recipe": recipe_text,
    }
    accuracy = metrics.get("val_accuracy", metrics.get("accuracy"))
    if accuracy is not None:
        meta["tk.val_accuracy"] = f"{float(accuracy):.6f}"
    calibration = ckpt.get("calibration") or {}
    if calibration.get("temperature"):
        meta["tk.temperature"] = f"{float(calibration['temperature']):.6f}"
    unknown = calibration.get("unknown") or {}
    if unknown.get("threshold"):
        meta["tk.unknown_threshold"] = f"{float(unknown['threshold']):.6f}"
        meta["tk.unknown_label"] = str(unknown.get("label") or "unknown")
    return meta


def unknown_rule(meta: dict[str, str]) -> tuple[float, str]:
    """(threshold, label) of an exported model's "unknown" answer; (0.0, "unknown") when it has none."""
    try:
        threshold = float(meta.get("tk.unknown_threshold", "0") or 0)
    except ValueError:
        threshold = 0.0
    if not 0.0 <= threshold <= 1.0:
        threshold = 0.0
    return threshold, str(meta.get("tk.unknown_label") or "unknown")


def metadata_list(meta: dict[str, str], key: str, where: str) -> list[Any]:
    """A JSON list from model metadata, or a one-line error naming the model."""
    try:
        value = json.loads(meta[key])
    except (KeyError, json.JSONDecodeError):
        raise TkError(f"{where}: the model has no readable '{key}' metadata; was it exported by tk?") from None
    if not isinstance(value, list):
        raise TkError(f"{where}: metadata '{key}' is not a list.")
    return value


def metadata_int(meta: dict[str, str], key: str, where: str, lo: int | None = None, hi: int | None = None) -> int:
    """An integer from model metadata within ``[lo, hi]``, or a one-line error naming the model.

    Metadata is the model author's word: a hostile or damaged file may say an image size of 0,
    -5 or 200000, which must not reach an array allocation."""
    try:
        value = int(meta[key])
    except (KeyError, ValueError):
        raise TkError(f"{where}: the model has no readable '{key}' metadata; was it exported by tk?") from None
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise TkError(f"{where}: metadata '{key}' = {value} is outside [{lo}, {hi}]; the file is damaged or was "
                      f"not written by tk.")
    return value


def check_class_count(class_names: list[Any], outputs: Any, where: str) -> None:
    """The class list must be as long as the model's output (a static last dimension), else one line."""
    if len(class_names) < 2:
        raise TkError(f"{where}: metadata 'tk.class_names' lists {len(class_names)} class(es); a classifier has 2 or more.")
    if isinstance(outputs, int) and outputs != len(class_names):
        raise TkError(f"{where}: metadata 'tk.class_names' lists {len(class_names)} classes but the model outputs "
                      f"{outputs}; the file is damaged or was not written by tk.")


def path_size(path: Path) -> int:
    """Bytes of a file, or of everything inside a folder model (``.mlpackage``)."""
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size if path.exists() else 0


def path_digest(path: Path) -> str:
    """SHA-256 of a model file; for a folder model (``.mlpackage``, ``.hf``), of each file's
    relative name and SHA-256, in name order."""
    import hashlib
    import os

    def file_digest(file: Path) -> str:
        digest = hashlib.sha256()
        with open(file, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()

    path = Path(path)
    if not path.is_dir():
        return file_digest(path)
    digest = hashlib.sha256()
    for file in sorted((p for p in path.rglob("*") if p.is_file()), key=lambda p: os.fsencode(p.relative_to(path))):
        digest.update(os.fsencode(file.relative_to(path)) + b"\0" + file_digest(file).encode() + b"\n")
    return digest.hexdigest()


def check_model_file(path: str | Path) -> None:
    """Refuse, in one line, an exported model that the ``manifest.json`` beside it names but does
    not vouch for: an export that did not finish (a kill or a crash after the model was written
    and before it was checked against the trained model), or a file whose SHA-256 is not the one
    the export checked. A model with no manifest beside it, or one its manifest does not name (a
    copy on a device), is left to the caller: the model file alone is enough to predict with."""
    path = Path(path)
    manifest_path = path.parent / MANIFEST_NAME
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if not isinstance(manifest, dict):
        return
    int8 = manifest.get("int8") if isinstance(manifest.get("int8"), dict) else {}
    if path.name == manifest.get("file"):
        recorded = manifest.get("sha256")
    elif path.name == int8.get("file"):
        recorded = int8.get("sha256")
    else:
        return
    if manifest.get("status") == EXPORTING:
        raise TkError(f"{path}: its export did not finish ({manifest_path} says tk export stopped before checking the "
                      f"model against the trained one); run tk export again.")
    if isinstance(recorded, str) and recorded != path_digest(path):
        raise TkError(f"{path}: not the model tk export checked ({manifest_path} records another SHA-256: the file "
                      f"changed since); run tk export again.")


def write_manifest(path: Path, manifest: dict[str, Any]) -> Path:
    """Write ``manifest.json`` atomically."""
    manifest = {**manifest, "written": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    data = (json.dumps(manifest, indent=2, default=str) + "\n").encode("utf-8")
    atomic_write(path, lambda fh: fh.write(data))
    return path


def read_manifest(path: Path) -> dict[str, Any]:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise TkError(f"{path}: cannot read this export manifest ({exc}).") from None


EXPORTS_RECORD = "exports.json"
"""The file in a run folder that lists every export made of the run, wherever ``--out`` put it."""


def record_export(run_dir: Path, manifest_path: Path, manifest: dict[str, Any]) -> None:
    """Add (or refresh) one export in ``run_dir/exports.json``: its manifest, file, format, options
    and whether parity passed, so `tk bench RUN` finds exports written with ``--out``."""
    import json
    import os

    path = Path(run_dir) / EXPORTS_RECORD
    here = Path(run_dir).resolve()

    def rel(p: Path) -> str:  # relative to the run folder: a copied tree (runs/ and exports/) still points home
        return os.path.relpath(Path(p).resolve(), here)

    entries = [e for e in read_export_record(run_dir) if e["manifest"] != str(Path(manifest_path).resolve())]
    entries = [{**e, "manifest": rel(Path(e["manifest"])), "file": rel(Path(e["file"]))} for e in entries]
    entries.append({"format": manifest.get("format"), "manifest": rel(Path(manifest_path)),
                    "file": rel(Path(manifest_path).parent / str(manifest.get("file"))),
                    "options": manifest.get("options") or {}, "exporter_options": manifest.get("exporter_options") or {},
                    "parity_passed": (manifest.get("parity") or {}).get("passed"), "written": manifest.get("written")})
    data = (json.dumps({"exports": entries}, indent=1) + "\n").encode("utf-8")
    atomic_write(path, lambda fh: fh.write(data))


def read_export_record(run_dir: Path) -> list[dict[str, Any]]:
    """The entries of ``run_dir/exports.json``, paths made absolute (empty when there is none or it
    cannot be read)."""
    import json

    try:
        data = json.loads((Path(run_dir) / EXPORTS_RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    entries = data.get("exports") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        return []
    base = Path(run_dir).resolve()  # paths are stored relative to the run folder; absolute ones are kept
    return [{**e, "manifest": str((base / e["manifest"]).resolve()), "file": str((base / str(e.get("file"))).resolve())}
            for e in entries if isinstance(e, dict) and isinstance(e.get("manifest"), str)]

"""``tk export --format hf``: a model folder in timm's Hugging Face hub layout.

The folder (``<stem>.hf/``) holds ``config.json`` (architecture, ``num_classes``,
``label_names``, and a ``pretrained_cfg`` with mean/std, input size and tk's resize rule:
bicubic, whole image squashed, no crop), ``model.safetensors`` and a ``README.md`` model card
(recipe, data, metrics, intended use). Both files are written by timm's own ``save_for_hf``, so
after ``huggingface-cli upload USER/NAME <folder>`` (or ``tk export --format hf --push
USER/NAME``) ``timm.create_model("hf-hub:USER/NAME", pretrained=True)`` gives the trained
classifier; ``timm.create_model("local-dir:<folder>", pretrained=True)`` does the same offline.

The trained model must be a timm backbone with tk's linear head: the head becomes timm's own
classifier layer. An MLP head or a backbone from another plugin has no timm equivalent and is
refused in one line. Unlike tk's other exports, a timm model takes *normalised* input (as every
timm model does): `HFPredictor` normalises with the folder's mean/std.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from toolkit import ExportError, Tolerance

__all__ = ["HFExporter", "HFPredictor"]


def _timm_parts(model: Any) -> tuple[Any, Any]:
    """``(timm body, its linear head)`` of a tk Classifier, or a one-line ExportError."""
    import torch

    net = getattr(model, "backbone", None)
    body, head = getattr(net, "body", None), getattr(net, "head", None)
    if body is None or not hasattr(body, "pretrained_cfg") or not hasattr(body, "reset_classifier"):
        raise ExportError("the hf format needs a timm backbone (model.backbone = a timm model name); this model's "
                          "backbone comes from another plugin.")
    linears = [m for m in head.modules() if isinstance(m, torch.nn.Linear)] if head is not None else []
    if len(linears) != 1:
        raise ExportError("the hf format needs model.head = 'linear' (timm models have one linear classifier); "
                          "this model has an MLP head. Export onnx or coreml, or train with the linear head.")
    return body, linears[0]


def _card(path: Path, arch: str, class_names: list[str], metadata: dict[str, str]) -> str:
    metrics = json.loads(metadata.get("tk.metrics") or "{}")
    lines = [
        "---", "library_name: timm", "tags:", "- image-classification", "- timm", "- tk-train", "---", "",
        f"# {path.stem}", "",
        f"An image classifier trained with [tk](https://pypi.org/project/tk-train/) "
        f"(`tk export --format hf`): timm `{arch}`, {len(class_names)} classes, "
        f"{metadata.get('tk.image_size')} px input.", "",
        "## Use", "", "```python", "import timm", "",
        f'model = timm.create_model("hf-hub:USER/{path.stem}", pretrained=True).eval()',
        "config = timm.data.resolve_data_config({}, model=model)",
        "transform = timm.data.create_transform(**config)   # resize (squash, bicubic) and normalise",
        "probs = model(transform(image).unsqueeze(0)).softmax(-1)", "```", "",
        "The input is the whole image squashed to the square size with bicubic resampling (no crop), "
        "as in training; `model.pretrained_cfg['label_names']` names the outputs.", "",
        "## Classes", "", ", ".join(f"`{c}`" for c in class_names), "",
    ]
    if metrics:
        lines += ["## Metrics", "", f"On the {metrics.get('split', 'validation')} split of the run "
                  f"({metrics.get('images', '?')} images):", "", "| metric | value | 95% interval |", "|---|---:|---|"]
        for key in ("accuracy", "macro_f1"):
            if key in metrics:
                ci = metrics.get(f"{key}_ci")
                lines.append(f"| {key} | {float(metrics[key]):.4f} | "
                             f"{f'{ci[0]:.4f}–{ci[1]:.4f}' if ci else 'not computed by this tk version'} |")
        lines.append("")
        if metrics.get("data"):
            lines += ["## Data", "", "Images per split: " + ", ".join(f"{k} {v}" for k, v in metrics["data"].items()
                                                                   if isinstance(v, int)), ""]
    lines += ["## Recipe", "", "```toml", metadata.get("tk.recipe", "").strip(), "```", "",
              "## Intended use", "",
              "Classifying images like the ones it was trained on (the classes above). It has not been evaluated "
              "on other kinds of images; its confidence is not calibrated, and it always answers one of the "
              "classes, even for an image that belongs to none.", ""]
    return "\n".join(lines)


class HFPredictor:
    """Runs a folder written by `HFExporter` through timm (the `toolkit.Predictor` protocol)."""

    runtime, device = "timm", "cpu"

    def __init__(self, path: Path):
        import timm
        import torch

        from toolkit import InputSpec

        config = json.loads((Path(path) / "config.json").read_text(encoding="utf-8"))
        cfg = config.get("pretrained_cfg") or {}
        self.class_names = [str(c) for c in config.get("label_names") or cfg.get("label_names") or []]
        try:
            self.input_spec = InputSpec.from_hf_config(config)
        except (ValueError, TypeError):
            self.input_spec = None
        if len(self.class_names) < 2 or self.input_spec is None:
            raise ExportError(f"{path}: not a model folder written by tk (no label_names or input size).")
        self.image_size, self.resize = self.input_spec.size, self.input_spec.resize
        self.model = timm.create_model(f"local-dir:{Path(path).resolve()}", pretrained=True).eval()
        self.mean = torch.tensor(self.input_spec.mean).view(1, 3, 1, 1)
        self.std = torch.tensor(self.input_spec.std).view(1, 3, 1, 1)

    def predict(self, images: Any) -> Any:
        import numpy as np
        import torch

        with torch.no_grad():
            x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)) / 255.0
            return self.model((x - self.mean) / self.std).softmax(-1).numpy()

    def predict_all(self, images: Any, batch_size: int = 32) -> Any:
        import numpy as np

        if len(images) == 0:
            return np.zeros((0, len(self.class_names)), dtype=np.float32)
        return np.concatenate([self.predict(images[i:i + batch_size]) for i in range(0, len(images), batch_size)])

    def close(self) -> None:
        self.model = None


class HFExporter:
    """``--format hf``: see the module docstring."""

    name, suffix, runtime = "hf", ".hf", "timm"

    def __init__(self, push: str = ""):
        self.options = {"push": push}

    def available(self) -> tuple[bool, str]:
        try:
            import safetensors  # noqa: F401
            import timm  # noqa: F401
        except ImportError as exc:
            return False, f"missing dependency: {exc.name} (pip install timm safetensors)"
        return True, ""

    def can_run(self) -> tuple[bool, str]:
        return True, ""

    def devices(self) -> list[tuple[str, bool, str]]:
        return [("cpu", True, "")]

    def tolerance(self, options: dict[str, Any]) -> Tolerance:
        return Tolerance(min_agreement=1.0, max_prob_diff=1e-4)

    def export(self, model: Any, path: Path, *, image_size: Any, class_names: list[str], metadata: dict[str, str],
               options: dict[str, Any]) -> Path:
        import timm
        import torch
        from timm.models import save_for_hf

        from toolkit import InputSpec

        spec = InputSpec.from_metadata({**metadata, "tk.image_size": InputSpec.of(image_size).size_text}, str(path))
        height, width = spec.hw
        body, linear = _timm_parts(model)
        arch = str(body.pretrained_cfg.get("architecture") or "")
        model_args = ({"img_size": height if height == width else (height, width)}
                      if body.pretrained_cfg.get("fixed_input_size") else {})
        try:
            net = timm.create_model(arch, pretrained=False, num_classes=len(class_names), **model_args)
        except Exception as exc:
            raise ExportError(f"timm cannot build '{arch}' with {len(class_names)} classes: {exc}") from exc
        state = dict(body.state_dict())
        classifier = net.pretrained_cfg.get("classifier") or "fc"
        classifier = classifier[0] if isinstance(classifier, (list, tuple)) else classifier
        # temperature scaling divides the logits: fold it into the last linear layer, exactly
        t = float(getattr(model, "temperature", 1.0))
        state[f"{classifier}.weight"], state[f"{classifier}.bias"] = linear.weight.detach() / t, linear.bias.detach() / t
        try:
            net.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise ExportError(f"the trained weights do not fit timm's '{arch}': {str(exc).splitlines()[0]}") from exc
        net.eval()
        mean, std = list(spec.mean), list(spec.std)
        with torch.no_grad():  # the timm model on normalised input must be the tk model on 0–1 input
            x = torch.rand(2, 3, height, width)
            norm = (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
            if not torch.allclose(net(norm), model(x), atol=1e-4, rtol=1e-4):
                raise ExportError(f"timm's '{arch}' rebuilt from the weights does not give the trained outputs.")
        config = {"label_names": list(class_names), **spec.to_hf_config()}
        path = Path(path)
        staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
        try:
            save_for_hf(net, str(staging / "model"), model_config=config, model_args=model_args or None,
                        safe_serialization=True)
            (staging / "model" / "README.md").write_text(_card(path, arch, list(class_names), metadata),
                                                         encoding="utf-8")
            old = path.with_name(f".{path.name}.old-{os.getpid()}") if path.exists() else None
            if old is not None:
                os.replace(path, old)
            os.replace(staging / "model", path)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return path

    def describe(self, path: Path) -> dict[str, Any]:
        config = json.loads((Path(path) / "config.json").read_text(encoding="utf-8"))
        return {"input": {"name": "image", "dtype": "float32", "range": "normalised (timm convention)",
                          "shape": config["pretrained_cfg"]["input_size"]},
                "architecture": config["architecture"], "files": sorted(p.name for p in Path(path).iterdir())}

    def load(self, path: Path, *, device: str | None = None) -> HFPredictor:
        return HFPredictor(path)

    def push(self, path: Path, repo: str) -> str:
        """Upload the folder to the Hugging Face Hub as ``repo``; a one-line ExportError when offline."""
        from huggingface_hub import HfApi, constants

        if constants.HF_HUB_OFFLINE:
            raise ExportError(f"cannot push to the Hugging Face Hub: HF_HUB_OFFLINE is set. The folder is ready: "
                              f"huggingface-cli upload {repo} {path}")
        try:
            api = HfApi()
            api.create_repo(repo, exist_ok=True)
            api.upload_folder(folder_path=str(path), repo_id=repo)
        except Exception as exc:  # no network, no token, no rights: say so, keep the folder
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise ExportError(f"cannot push {path} to the Hugging Face Hub as {repo} ({first}). The folder is "
                              f"ready: huggingface-cli upload {repo} {path}") from None
        return f"https://huggingface.co/{repo}"

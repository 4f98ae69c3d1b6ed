"""An exporter with one option: TorchScript (.ts), and the predictor that runs what it writes.

Kept in its own module as `optim.py` is: the `torchscript_exporter` factory imports it when a
recipe or `tk export --format torchscript` asks for it.
"""

from __future__ import annotations

from toolkit import RecipeError


class TorchScriptPredictor:
    """Runs a .ts model written by `TorchScriptExporter` (the `toolkit.export.Predictor` protocol)."""

    runtime, device = "TorchScript", "cpu"

    def __init__(self, path):
        import json
        import warnings

        import torch

        extra = {"tk.json": ""}
        with warnings.catch_warnings():  # TorchScript's deprecation notice
            warnings.simplefilter("ignore")
            self.module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
        from toolkit import InputSpec, TkError

        meta = json.loads(extra["tk.json"] or "{}")  # tk's metadata: flat strings, lists as JSON
        self.class_names = [str(c) for c in json.loads(meta.get("tk.class_names") or "[]")]
        try:  # tk's own reading of its input metadata: size, resize rule (tk's default when absent)
            spec = InputSpec.from_metadata(meta, str(path))
        except TkError:
            spec = None
        if len(self.class_names) < 2 or spec is None:
            raise RecipeError(f"{path}: not a TorchScript model written by tk (no class names or image size).")
        self.image_size, self.resize = spec.size, spec.resize

    def predict(self, images):
        import numpy as np
        import torch

        with torch.no_grad():
            x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
            return self.module(x).numpy()

    def predict_all(self, images, batch_size: int = 32):
        import numpy as np

        if len(images) == 0:
            return np.zeros((0, len(self.class_names)), dtype=np.float32)
        return np.concatenate([self.predict(images[i:i + batch_size]) for i in range(0, len(images), batch_size)])

    def close(self):
        self.module = None


class TorchScriptExporter:
    """A .ts file: pixels 0–255 in, probabilities out (what tk's ONNX model does), for C++/mobile."""

    name, suffix, runtime = "torchscript", ".ts", "TorchScript"

    def __init__(self, freeze: bool):
        self.options = {"freeze": freeze}

    def available(self):
        return True, ""

    def can_run(self):
        return True, ""

    def devices(self):
        return [("cpu", True, "")]

    def tolerance(self, options):
        from toolkit import Tolerance

        return Tolerance(min_agreement=1.0, max_prob_diff=1e-4)

    def export(self, model, path, *, image_size, class_names, metadata, options):
        import json
        import os
        import warnings

        import torch

        from toolkit import deployable_model

        wrapped = deployable_model(model, input_scale=1.0 / 255.0).eval()
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TorchScript's deprecation notice
            traced = torch.jit.trace(wrapped, torch.rand(2, 3, image_size, image_size) * 255)
            if self.options["freeze"]:
                traced = torch.jit.freeze(traced)
        tmp = path.with_name(f".{path.name}.tmp")
        torch.jit.save(traced, str(tmp), _extra_files={"tk.json": json.dumps(metadata)})
        os.replace(tmp, path)
        return path

    def describe(self, path):
        return {"input": {"name": "image", "dtype": "float32", "range": "[0, 255]"}, "frozen": self.options["freeze"]}

    def load(self, path, *, device=None):
        return TorchScriptPredictor(path)

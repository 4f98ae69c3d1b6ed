"""Exporters: ONNX (runs everywhere through ONNX Runtime) and Core ML (Apple devices).

Each exporter is an object following the protocol in `toolkit.export` (``export``,
``describe``, ``load``, ``devices``, ``tolerance`` …). The heavy libraries (torch, onnx,
coremltools) are imported by the factories' modules, only when an exporter is used, so
`tk --help` stays instant. A third-party exporter is registered the same way::

    @hookimpl
    def tk_register_exporters(register):
        register("tflite", make_tflite_exporter)

    # pyproject.toml
    [project.entry-points.tk]
    my_exporters = "tk_my_exporters"
"""

from __future__ import annotations

from toolkit import hookimpl


def make_onnx_exporter():
    """ONNX model (.onnx): pixels in, probabilities out, checked against the checkpoint."""
    from .onnx_exporter import OnnxExporter

    return OnnxExporter()


def make_coreml_exporter():
    """Core ML ML Program (.mlpackage) with an image input and class labels."""
    from .coreml_exporter import CoreMLExporter

    return CoreMLExporter()


@hookimpl
def tk_register_exporters(register):
    # The factories must not share a name with a submodule: importing the submodule would
    # replace the package attribute the registry holds.
    register("onnx", make_onnx_exporter)
    register("coreml", make_coreml_exporter)

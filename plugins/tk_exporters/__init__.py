"""Exporters: ONNX (runs everywhere through ONNX Runtime) and Core ML (Apple devices)."""

from __future__ import annotations

from toolkit import hookimpl


def onnx_exporter():
    """ONNX model (.onnx) with preprocessing inside, checked against the checkpoint."""
    from .onnx_exporter import OnnxExporter

    return OnnxExporter()


def coreml_exporter():
    """Core ML ML Program (.mlpackage) with an image input and class labels."""
    from .coreml_exporter import CoreMLExporter

    return CoreMLExporter()


@hookimpl
def tk_register_exporters(register):
    register("onnx", onnx_exporter)
    register("coreml", coreml_exporter)

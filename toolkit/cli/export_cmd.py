"""`tk export`: a run's best checkpoint → ONNX / Core ML models, each checked against PyTorch."""

from __future__ import annotations

from pathlib import Path

import click

from ._trust import trust_plugins_option


@click.command(short_help="Export a run's model to ONNX / Core ML, checked against PyTorch.")
@click.argument("target", required=False, type=click.Path(path_type=Path))
@click.option("--onnx", "want_onnx", is_flag=True, help="Export ONNX (same as --format onnx).")
@click.option("--coreml", "want_coreml", is_flag=True, help="Export Core ML (same as --format coreml).")
@click.option("--format", "formats", multiple=True, metavar="NAME",
              help="Exporter by name (repeatable); `tk plugins --kind exporters` lists them.")
@click.option("--out", type=click.Path(path_type=Path), help="Folder for the models (default exports/<run>/).")
@click.option("--int8", is_flag=True, help="Also write a static int8 ONNX model, calibrated on training images.")
@click.option("--precision", type=click.Choice(["fp16", "fp32"]), default=None, help="Core ML compute precision [fp16].")
@click.option("--coreml-quantize", type=click.Choice(["int8", "palettize6", "palettize4"]), default=None,
              help="Compress Core ML weights.")
@click.option("--coreml-target", default=None, metavar="OS",
              help="Core ML minimum deployment target, e.g. macOS15 or iOS18 [macOS14].")
@click.option("--onnx-uint8", is_flag=True, help="ONNX input as uint8 pixels instead of float32 0–255.")
@click.option("--opset", type=int, default=None,
              help="ONNX opset, 18 to 23 [23]: shorthand for --set export.onnx.opset=N, checked the same way.")
@click.option("--calibration-images", type=click.IntRange(1), default=64, show_default=True,
              help="Training images used to calibrate --int8.")
@click.option("--int8-tolerance", type=click.FloatRange(0), default=2.0, show_default=True, metavar="POINTS",
              help="With --int8: fail when the int8 model loses more accuracy than this, in points.")
@click.option("--set", "settings", multiple=True, metavar="export.NAME.OPTION=VALUE",
              help="An exporter's option (value read as TOML), e.g. --set export.onnx.opset=18; "
                   "`tk plugins --kind exporters -v` lists them. Over the run recipe's [export.NAME] tables.")
@click.option("--push", metavar="USER/NAME", default=None,
              help="With --format hf: upload the folder to this Hugging Face Hub repository after a passing "
                   "export (shorthand for --set export.hf.push=...).")
@click.option("--author", default=None, help="Author written into the model metadata.")
@click.option("--license", "license_", default=None, help="Licence written into the model metadata.")
@trust_plugins_option
def export(target: Path | None, want_onnx: bool, want_coreml: bool, formats: tuple[str, ...], out: Path | None,
           int8: bool, precision: str | None, coreml_quantize: str | None, coreml_target: str | None,
           onnx_uint8: bool, opset: int | None, calibration_images: int, int8_tolerance: float,
           settings: tuple[str, ...],
           push: str | None, author: str | None, license_: str | None) -> None:
    """Export TARGET (a run folder or checkpoint; default: the most recent run) to deployable models.

    Formats default to the recipe's export.formats. Each model takes RGB pixels 0–255 at the
    training size and normalises inside; after export it is run on the run's validation
    images next to the PyTorch model, and a mismatch fails the command. A manifest.json lands
    beside each model.

    \b
    tk export                         most recent run, recipe's formats
    tk export runs/quickstart/1 --onnx --coreml
    tk export --onnx --int8           plus an int8 model, with its accuracy against fp32
    """
    from ..core.errors import TkError
    from ..export import export_run
    from ..recipe.load import parse_override

    exporter_options: dict[str, dict] = {}
    for item in settings:
        section, key, value = parse_override(item)
        name, _, option = key.partition(".")
        if section != "export" or not option:
            raise TkError(f"--set {item}: tk export takes exporter options, export.NAME.OPTION=VALUE "
                          f"(e.g. export.onnx.opset=18).")
        exporter_options.setdefault(name, {})[option] = value
    if push:
        exporter_options.setdefault("hf", {})["push"] = push
    names = [*(["onnx"] if want_onnx else []), *(["coreml"] if want_coreml else []), *formats]
    options = {"int8": int8, "precision": precision, "coreml_quantize": coreml_quantize, "coreml_target": coreml_target,
               "onnx_uint8": onnx_uint8, "opset": opset, "calibration_images": calibration_images,
               "int8_tolerance": int8_tolerance if int8 else None,
               "author": author, "license": license_}
    results = export_run(target, formats=names or None, out=out, log=click.echo,
                         exporter_options=exporter_options, **options)
    click.echo("manifests: " + ", ".join(str(r.manifest_path) for r in results))

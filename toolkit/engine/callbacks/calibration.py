"""Calibrated confidence and the "unknown" answer: a callback on the final evaluation.

After training, best.pt's validation logits are known (``state.final``); this callback fits the
temperature and, when asked, the unknown threshold on them (`toolkit.engine.calibrate`), writes
both into the model that ships and best.pt, and adds the ``calibration`` section of metrics.json
and the report's calibration and risk–coverage sections. Its parameters are the recipe's
``[calibration]`` keys.
"""

from __future__ import annotations

from ...plugin.callbacks import Callback, TrainState

__all__ = ["CalibrationCallback"]


class CalibrationCallback(Callback):
    """Temperature scaling and the unknown threshold, fitted on best.pt's validation predictions."""

    def __init__(self, *, temperature: bool, unknown: bool, target_precision: float, target_coverage: float,
                 unknown_label: str):  # the [calibration] keys, with the recipe schema's defaults
        self.settings = {"temperature": temperature, "unknown": unknown, "target_precision": target_precision,
                         "target_coverage": target_coverage, "unknown_label": unknown_label}

    def on_final_evaluation(self, state: TrainState) -> None:
        from ..calibrate import calibrate

        section, report = calibrate(state, self.settings)
        state.final.metrics["calibration"] = section
        state.final.report_html.append(report)

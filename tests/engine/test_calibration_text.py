"""The run's one line on calibration: what it did to the validation NLL and ECE, said also when it
made them worse, and what the unknown threshold keeps (or that it never answers "unknown")."""

from toolkit.engine.run_text import calibration_text

BASE = {"temperature": 0.35, "fitted": True, "ece_before": 0.156, "ece_after": 0.187, "nll_before": 1.742,
        "nll_after": 1.606, "images": 30}


def test_worse_ece_on_few_images_is_said():
    line = calibration_text(BASE)
    assert line == ("Calibration on 30 validation images: temperature 0.350, NLL 1.742 → 1.606, ECE 0.156 → 0.187 "
                    "(worse: 30 validation images are few to fit a temperature on; the temperature is kept in "
                    "best.pt and its exports all the same: calibration.temperature = false leaves it out).")


def test_unknown_threshold_and_its_goal():
    unknown = {"threshold": 0.525, "coverage": 0.133, "precision": 0.75, "goal": "precision ≥ 95%", "met": False,
               "label": "unknown"}
    line = calibration_text({**BASE, "ece_after": 0.1, "unknown": unknown})
    assert line.endswith('ECE 0.156 → 0.100; "unknown" below 0.525: a class for 13% of the validation images, at '
                         'precision 75% (precision ≥ 95%: not met).'), line
    never = calibration_text({**BASE, "unknown": {**unknown, "threshold": 0.0}})
    assert never.endswith('; "unknown" is never answered (threshold 0).'), never


def test_nothing_said_without_a_fitted_section():
    assert calibration_text(None) == "" and calibration_text({**BASE, "fitted": False}) == ""

"""`tk tune --summary` ranks trials with their 95% intervals and says when the top ones cannot be
told apart (#30 item 9): 0.635 above 0.611 on 126 validation images is 3 images, well inside
either interval.

The study is written by hand (the values the first-hour report saw, trial folders holding the
split.json a run writes), so what is asserted does not depend on how any training went.
"""

from __future__ import annotations

import json
import re

from click.testing import CliRunner

from toolkit.cli import cli

TUNE = """
[tune]
metric = "val_accuracy"
direction = "maximize"
"optim.lr" = { low = 1e-4, high = 5e-2, log = true }
"""


def _study(tmp_path, values, *, val_images=126, metric="val_accuracy"):
    import optuna

    url = f"sqlite:///{tmp_path / 'studies.db'}"
    study = optuna.create_study(storage=url, study_name="iv", direction="maximize")
    study.set_user_attr("tk_overrides", [])
    study.set_user_attr("tk_metric", metric)
    for number, value in enumerate(values):
        run_dir = tmp_path / "runs" / "iv" / "tune-iv" / f"trial-{number}"
        run_dir.mkdir(parents=True)
        (run_dir / "split.json").write_text(json.dumps({"class_names": ["a", "b"], "train": [],
                                                        "val": [[f"/x/{i}.png", i % 2] for i in range(val_images)]}))
        trial = study.ask({"optim.lr": optuna.distributions.FloatDistribution(1e-4, 5e-2, log=True)})
        trial.set_user_attr("run_dir", str(run_dir))
        study.tell(trial, value)
    return url


ROW = re.compile(r"^ ?(\d+)\. trial (\d+): val_accuracy=([\d.]+) \[([\d.]+)–([\d.]+)\]  ", re.M)


def test_summary_shows_each_trial_s_interval_and_says_the_top_two_overlap(tmp_path, make_recipe, monkeypatch):
    monkeypatch.chdir(tmp_path)
    recipe = make_recipe("iv", extra=TUNE)
    url = _study(tmp_path, [80 / 126, 77 / 126, 40 / 126])  # 0.635, 0.611, 0.317
    result = CliRunner().invoke(cli, ["tune", str(recipe), "--summary", "--storage", url])
    assert result.exit_code == 0, result.output
    rows = ROW.findall(result.output)
    assert [(int(rank), int(trial)) for rank, trial, *_ in rows] == [(1, 0), (2, 1), (3, 2)], result.output
    for _rank, _trial, value, low, high in rows:
        assert float(low) <= float(value) <= float(high)
    assert rows[0][2:] == ("0.6349", "0.548", "0.714")  # Wilson, 80 of 126
    assert "In brackets: 95% intervals on 126 validation images (Wilson for accuracy" in result.output
    overlap = [line for line in result.output.splitlines() if "overlaps" in line]
    assert overlap == [f"The 95% interval of trial 0 overlaps that of trial 1: their order may be chance. tk compare "
                       f"{tmp_path / 'runs/iv/tune-iv/trial-0'} {tmp_path / 'runs/iv/tune-iv/trial-1'} tests two of "
                       f"them on the same images (McNemar)."]


def test_no_overlap_line_when_the_best_trial_stands_apart(tmp_path, make_recipe, monkeypatch):
    monkeypatch.chdir(tmp_path)
    recipe = make_recipe("iv", extra=TUNE)
    url = _study(tmp_path, [120 / 126, 60 / 126])
    result = CliRunner().invoke(cli, ["tune", str(recipe), "--summary", "--storage", url])
    assert result.exit_code == 0, result.output
    assert len(ROW.findall(result.output)) == 2 and "overlaps" not in result.output

"""`tk predict`: classify image files with a checkpoint or an exported model, the same way for every format."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import click

from ._options import threads_value
from ._tables import print_table
from ._trust import trust_plugins_option


def prediction_rows(paths: list[str], probs, class_names: list[str], top_k: int,
                    unknown: tuple[float, str] = (0.0, "unknown")) -> list[dict[str, str]]:
    """One CSV row per image: ``path, class, probability`` then ``top2_class, top2_probability`` …

    With an unknown threshold (``unknown = (threshold, label)``, threshold > 0), ``class`` is the
    label when the likeliest class's probability is below the threshold, and a ``best_class``
    column keeps the likeliest class."""
    import numpy as np

    from ..core.text import printable

    class_names = [printable(n) for n in class_names]  # names that are not UTF-8 are shown escaped
    rows = []
    for path, p in zip(paths, probs):
        order = np.argsort(-p, kind="stable")[:top_k]
        best = class_names[order[0]]
        answer = printable(unknown[1]) if unknown[0] > 0 and float(p[order[0]]) < unknown[0] else best
        row = {"path": printable(path), "class": answer, **({"best_class": best} if unknown[0] > 0 else {}),
               "probability": f"{float(p[order[0]]):.6f}"}
        for rank, idx in enumerate(order[1:], start=2):
            row[f"top{rank}_class"] = class_names[idx]
            row[f"top{rank}_probability"] = f"{float(p[idx]):.6f}"
        rows.append(row)
    return rows


def _videos(args: tuple[Path, ...]) -> list[tuple[Path, Path]]:
    """The video files among the arguments (folders searched for videos when they hold no images),
    each with the name its outputs take under --out: its path inside the folder given (its file
    name when given by itself), suffix kept, so ``a/x.mp4``, ``b/x.mp4`` and ``x.mov`` write three
    pairs of files. Two videos that would share a name are refused before any work."""
    from ..assess.video import is_video
    from ..core.errors import TkError
    from ..data.images import is_image_name

    found: list[tuple[Path, Path]] = []
    for arg in args:
        path = Path(arg)
        if path.is_dir():
            # Not only regular files: a FIFO, a device or a broken link named like a video is
            # reported by name when it is reached (`predict_video`), never left out unsaid.
            files = [p for p in sorted(path.rglob("*")) if not p.is_dir() and not p.name.startswith(".")]
            if any(is_video(p) for p in files) and not any(is_image_name(p.name) for p in files):
                found += [(p, p.relative_to(path)) for p in files if is_video(p)]
        elif is_video(path):
            found.append((path, Path(path.name)))
    named: dict[Path, Path] = {}
    unique: list[tuple[Path, Path]] = []
    for video, name in found:
        if name in named:
            if _same_file(named[name], video):
                continue  # the same video given twice
            raise TkError(f"{named[name]} and {video} would both write {name}.frames.csv: give videos with the same "
                          f"name in separate tk predict runs (each with its own --out), or give the folder that holds "
                          f"both.")
        named[name] = video
        unique.append((video, name))
    return unique


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:  # a link loop
        return False


def _outputs(out: Path, name: Path) -> tuple[Path, Path]:
    """``OUT/<name>.frames.csv`` and ``OUT/<name>.segments.csv`` for a video's output name."""
    return out / name.parent / f"{name.name}.frames.csv", out / name.parent / f"{name.name}.segments.csv"


def _predict_videos(predictor, videos: list[tuple[Path, Path]], out: Path, every: float, window: int, batch: int,
                    top_k: int) -> None:
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from ..assess.video import frames_csv, predict_video, segments_csv
    from ..core.atomic import atomic_write
    from ..core.errors import TkError
    from ..core.text import printable

    failures = []
    for video, name in videos:
        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                      TimeRemainingColumn(), transient=True) as bar:
            task = bar.add_task(printable(video.name), total=1.0)

            def progress(done: float, total: float) -> None:
                bar.update(task, completed=min(1.0, done / total) if total > 0 else 0.0)

            try:
                pred = predict_video(predictor, str(video), every=every, window=window, batch=batch, progress=progress)
            except TkError as exc:
                if len(videos) == 1:
                    raise
                failures.append(str(exc))
                click.echo(f"Skipped: {exc}", err=True)
                continue
        frames_path, segments_path = _outputs(out, name)
        frames_path.parent.mkdir(parents=True, exist_ok=True)
        can_refuse = float(getattr(predictor, "unknown_threshold", 0.0) or 0.0) > 0
        frames_text = frames_csv(pred, list(predictor.class_names), top_k, best_class=can_refuse).encode("utf-8")
        segments_text = segments_csv(pred).encode("utf-8")
        atomic_write(frames_path, lambda fh: fh.write(frames_text))
        atomic_write(segments_path, lambda fh: fh.write(segments_text))
        gaps = [b - a for a, b in zip(pred.times, pred.times[1:])]
        step = min(gaps) if gaps else every
        sampled = (f"every {every:g} s" if step <= every * 1.5 else
                   f"every {step:g} s (each frame of the video: --every {every:g} is shorter than its frame interval)")
        click.echo(f"{printable(str(video))}: {pred.duration:.1f} s, {len(pred.times)} frames sampled {sampled}, "
                   f"{len(pred.segments)} segment(s):")
        likeliest = _segment_likeliest(pred, list(predictor.class_names)) if can_refuse else {}
        for i, seg in enumerate(pred.segments[:30]):
            click.echo(f"  {seg.start:8.2f}–{seg.end:8.2f} s  {printable(seg.label)}{likeliest.get(i, '')}  "
                       f"({seg.frames} frames, mean probability {seg.mean_probability:.3f})")
        if len(pred.segments) > 30:
            click.echo(f"  … {len(pred.segments) - 30} more in the segments file")
        click.echo(f"Wrote {printable(str(frames_path))} and {printable(str(segments_path))}.")
    if failures:
        raise TkError(f"{len(failures)} of {len(videos)} videos could not be read (first: {failures[0]})")


def _segment_likeliest(pred, class_names: list[str]) -> dict[int, str]:
    """`` (likeliest: slide)`` for each segment whose answer is not a class (``unknown``): the class
    most of its frames found likeliest. Segments are consecutive runs of the sampled frames."""
    from collections import Counter

    from ..core.text import printable

    out: dict[int, str] = {}
    start = 0
    for i, seg in enumerate(pred.segments):
        frames = pred.probs[start:start + seg.frames]
        start += seg.frames
        if seg.label not in class_names and len(frames):
            best = Counter(int(p.argmax()) for p in frames).most_common(1)[0][0]
            out[i] = f" (likeliest: {printable(class_names[best])})"
    return out


def _answer_cell(row: dict[str, str]) -> str:
    """The class column on screen: an ``unknown`` answer keeps the likeliest class beside it
    (``unknown (likeliest: slide 0.41)``), which the CSV holds in ``best_class``."""
    if "best_class" in row and row["class"] != row["best_class"]:
        return f"{row['class']} (likeliest: {row['best_class']} {float(row['probability']):.2f})"
    return row["class"]


def _csv_text(rows: list[dict[str, str]]) -> str:
    from ..core.text import csv_cell

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writerow({k: csv_cell(k) for k in rows[0]})  # every cell spreadsheet-safe (no formulas), header too
    writer.writerows({k: csv_cell(v) for k, v in row.items()} for row in rows)
    return buffer.getvalue()


MIN_EVERY = 0.001
"""The shortest --every (seconds): finer than any recording's frame rate."""


def _seconds(ctx: click.Context, param: click.Parameter, value: float) -> float:
    """--every must be a finite number of seconds, at least `MIN_EVERY`: ``nan`` or ``inf`` would
    pass a range check (every comparison with nan is false) and sample one frame."""
    import math

    from ..core.errors import TkError

    if not math.isfinite(value) or value < MIN_EVERY:
        raise TkError(f"--every {value}: give the seconds between sampled frames, a finite number of at least "
                      f"{MIN_EVERY:g}.")
    return value


def _say_threads(predictor, why: str) -> None:
    """The threads line on stderr (the run header's words), leaving stdout to the predictions; said
    once they are written, so that a failure stays one line."""
    from ..core.text import printable
    from ..core.threads import wait_policy_text

    count = getattr(predictor, "threads", None)
    runtime = printable(str(getattr(predictor, "runtime", "") or "the runtime"))
    if not count:
        click.echo(f"Threads: chosen by {runtime} itself", err=True)
    elif "ONNX Runtime" in runtime:  # its own thread pool, not OpenMP's; it follows the policy's PASSIVE
        sleeps = os.environ.get("OMP_WAIT_POLICY", "").strip().upper() == "PASSIVE"
        waits = wait_policy_text() if sleeps else "threads spin while waiting (ONNX Runtime's default)"
        click.echo(f"Threads: {count} ({why}) for {runtime}, 1 inter-op; {waits}", err=True)
    else:
        click.echo(f"Threads: {count} ({why}) for {runtime}; {wait_policy_text()}", err=True)


@click.command(short_help="Classify images with a checkpoint, .onnx or .mlpackage.")
@click.argument("model", type=click.Path(path_type=Path))
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path),
              help="Write the predictions to this CSV file (for videos: a folder, default ./predictions).")
@click.option("--top-k", type=click.IntRange(1), default=3, show_default=True, help="Classes listed per image.")
@click.option("--device", default=None, help="Runtime device: cpu/cuda/mps (checkpoint), cpu/cuda/coreml (ONNX), "
                                              "CPU_ONLY/CPU_AND_GPU/CPU_AND_NE/ALL (Core ML).")
@click.option("--batch", type=click.IntRange(1), default=32, show_default=True, help="Images per model call.")
@click.option("--every", type=float, default=0.5, show_default=True, metavar="SECONDS", callback=_seconds,
              help="Videos: classify one frame per this many seconds.")
@click.option("--smooth", type=click.IntRange(1, 99), default=3, show_default=True, metavar="N",
              help="Videos: majority vote over N consecutive samples before cutting segments (1: none).")
@click.option("--threads", metavar="N", callback=threads_value,
              help="CPU threads for the runtime (PyTorch's intra-op pool, ONNX Runtime's intra-op threads). "
                   "Default: the count tk run uses (OMP_NUM_THREADS, else every core this process may use).")
@trust_plugins_option
def predict(model: Path, images: tuple[Path, ...], out: Path | None, top_k: int, device: str | None, batch: int,
            every: float, smooth: int, threads: int | None) -> None:
    """Classify IMAGES (files or folders) with MODEL: a run folder, a checkpoint (.pt), an .onnx
    or (on macOS) an .mlpackage.

    Each image is decoded and resized exactly as the model was trained (the rule stored in the
    checkpoint or the exported model), so every format gives the same answers.

    \b
    Videos (.mp4, .mov, .mkv, .webm …, or folders of them) are sampled every --every seconds;
    for each, <name>.frames.csv (one row per sampled frame) and <name>.segments.csv (start,
    end, class, frames, mean probability) go to --out (a folder, default ./predictions), where
    <name> is the video's path inside the folder given, suffix kept (a/x.mp4 writes
    a/x.mp4.frames.csv), or its file name when given by itself.
    Needs PyAV: pip install 'tk-train[video]'.

    The CPU threads (--threads) and how they wait are said in one line on stderr once the
    predictions are written; threads change the last digits of a probability at most, never
    the CSV's columns.
    """
    from rich.text import Text

    from ..core.geometry import size_words
    from ..assess.video import is_video
    from ..core.atomic import atomic_write
    from ..core.errors import TkError
    from ..export.inputs import expand_image_args, load_inputs
    from ..export.loading import load_predictor, model_path
    from ..export.protocol import predictor_spec
    from ..core.threads import command_threads

    from ..export.source import choice_note

    count, why = command_threads(threads)
    chosen = choice_note(model)  # a folder of runs (a cross-validation, runs/<recipe>/): which model this is
    if chosen:
        click.echo(chosen, err=True)
    videos = _videos(images)
    if videos:
        if len(videos) != len(images) and any(not is_video(p) and not p.is_dir() for p in images):
            raise TkError("Give either images or videos to one tk predict, not both.")
        out = out or Path("predictions")
        if out.suffix.lower() == ".csv":
            raise TkError(f"--out {out}: for videos --out is a folder (each video writes two CSV files into it).")
        predictor = load_predictor(model_path(model), device=device, threads=count)
        _predict_videos(predictor, videos, out, every, smooth, batch, top_k)
        _say_threads(predictor, why)
        return
    if out is not None and out.is_dir():  # said before any image is classified, not after
        raise TkError(f"--out {out}: that is a folder; give the CSV file to write, e.g. --out {out / 'predictions.csv'}.")
    predictor = load_predictor(model_path(model), device=device, threads=count)
    files = expand_image_args(images)
    arrays, failed = load_inputs(files, predictor_spec(predictor))
    bad = {p for p, _ in failed}
    readable = [str(p) for p in files if str(p) not in bad]
    for path, reason in failed:
        click.echo(f"Skipped {path}: {reason}", err=True)
    if not readable:
        raise TkError(f"None of the {len(files)} images could be read (first: {failed[0][0]}: {failed[0][1]}).")
    probs = predictor.predict_all(arrays, batch_size=batch)
    k = min(top_k, len(predictor.class_names))
    rule = (float(getattr(predictor, "unknown_threshold", 0.0)), str(getattr(predictor, "unknown_label", "unknown")))
    rows = prediction_rows(readable, probs, predictor.class_names, k, rule)

    title = f"{model} — {predictor.runtime} ({predictor.device}), {size_words(predictor.image_size)} {predictor.resize}"
    headers = ["image", "class", "probability", *([f"next {k - 1}"] if k > 1 else [])]
    shown = rows if out is None else rows[:20]
    cells = []
    for row in shown:
        others = ", ".join(f"{row[f'top{r}_class']} {float(row[f'top{r}_probability']):.3f}" for r in range(2, k + 1))
        cells.append([row["path"], Text(_answer_cell(row), "bold"), f"{float(row['probability']):.4f}",
                      *([others] if k > 1 else [])])
    # a narrow terminal wraps the other classes and the path first; a class name is never cut
    print_table(title, headers, cells, right={"probability"}, wrap_first=(*headers[3:], "image", "class"))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        data = _csv_text(rows).encode("utf-8")
        atomic_write(out, lambda fh: fh.write(data))
        more = f" (first {len(shown)} shown)" if len(rows) > len(shown) else ""
        click.echo(f"Wrote {len(rows)} predictions to {out}{more}.")
    _say_threads(predictor, why)

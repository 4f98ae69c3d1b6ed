"""Predictions over screen recordings: sampled frames, one row each, and smoothed segments.

`tk predict MODEL recording.mp4 --every 0.5` decodes the video with PyAV (FFmpeg's libraries;
the ``video`` extra: ``pip install 'tk-train[video]'``), takes the first frame at or after
every ``every`` seconds of presentation time, resizes it by the model's own rule and classifies
it with any model format tk loads (checkpoint, ONNX, Core ML). It writes:

* ``<video>.frames.csv``: ``time, frame, class, probability`` (and the next classes) per
  sampled frame — ``class`` is the model's answer, ``unknown`` below its threshold, and for a
  model with such a threshold a ``best_class`` column keeps the likeliest class, as in
  `tk predict`'s CSV for images;
* ``<video>.segments.csv``: ``start, end, class, frames, mean_probability``: runs of one class
  after smoothing (a majority vote over ``smooth`` consecutive samples, so one odd frame does
  not split a segment); ``end`` is where the next segment starts (or the video ends).
"""

from __future__ import annotations

import csv
import io
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from ..core.errors import TkError

__all__ = ["VIDEO_SUFFIXES", "is_video", "Segment", "VideoPrediction", "predict_video", "smooth", "segments"]

VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".m4v", ".mkv", ".avi", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".ts"})


def is_video(path: str | os.PathLike[str]) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


@dataclass
class Segment:
    start: float
    end: float
    label: str
    frames: int
    mean_probability: float


@dataclass
class VideoPrediction:
    path: str
    duration: float
    times: list[float] = field(default_factory=list)
    frame_numbers: list[int] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    probs: Any = None  # N×K
    segments: list[Segment] = field(default_factory=list)


def _av():
    try:
        import av
    except ImportError:
        raise TkError("Predicting over videos needs PyAV: pip install 'tk-train[video]'") from None
    return av


def sample_frames(path: str, every: float) -> tuple[float, Iterator[tuple[float, int, Any]]]:
    """(duration in seconds, iterator of (time, frame index, PIL RGB image)) for one frame per
    ``every`` seconds: the first frame whose presentation time reaches each multiple of ``every``."""
    from ..data.images import _file_problem

    # Regular files only, as for images: FFmpeg would wait forever on a FIFO (or /dev/stdin)
    # for a writer that never comes.
    problem = _file_problem(os.fspath(path))
    if problem:
        raise TkError(f"{path}: {problem}.")
    av = _av()
    try:
        container = av.open(str(path))
    except Exception as exc:  # av raises its own error classes (InvalidDataError, FileNotFoundError …)
        raise TkError(f"{path}: cannot open the video ({_short(exc)}).") from None
    if not container.streams.video:
        container.close()
        raise TkError(f"{path}: the file has no video stream.")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    duration = 0.0
    if stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        duration = container.duration / 1_000_000

    def frames() -> Iterator[tuple[float, int, Any]]:
        next_time = 0.0
        try:
            for index, frame in enumerate(container.decode(stream)):
                t = float(frame.pts * frame.time_base) if frame.pts is not None and frame.time_base else index / float(
                    stream.average_rate or 25)
                if t + 1e-6 >= next_time:
                    yield t, index, frame.to_image()
                    while next_time <= t + 1e-6:
                        next_time += every
        except Exception as exc:  # GeneratorExit is not an Exception: closing early passes through
            raise TkError(f"{path}: cannot decode the video ({_short(exc)}).") from None
        finally:
            container.close()

    return duration, frames()


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


def smooth(labels: list[str], window: int) -> list[str]:
    """Majority vote over a centred window (ties: the sample's own label)."""
    if window <= 1 or len(labels) < 3:
        return list(labels)
    half = window // 2
    out = []
    for i, own in enumerate(labels):
        votes = Counter(labels[max(0, i - half):i + half + 1])
        top = max(votes.values())
        out.append(own if votes[own] == top else min(k for k, v in votes.items() if v == top))
    return out


def segments(times: list[float], labels: list[str], confidences: list[float], end_time: float) -> list[Segment]:
    """Runs of one label; each ends where the next starts (the last at ``end_time``)."""
    out: list[Segment] = []
    for t, label, conf in zip(times, labels, confidences):
        if out and out[-1].label == label:
            seg = out[-1]
            seg.mean_probability = (seg.mean_probability * seg.frames + conf) / (seg.frames + 1)
            seg.frames += 1
        else:
            if out:
                out[-1].end = t
            out.append(Segment(t, t, label, 1, conf))
    if out:
        out[-1].end = max(end_time, out[-1].start)
    return out


def predict_video(predictor: Any, path: str, *, every: float = 0.5, window: int = 3, batch: int = 32,
                  progress: Callable[[float, float], None] | None = None) -> VideoPrediction:
    """Classify one frame per ``every`` seconds of ``path`` (see the module docstring)."""
    import numpy as np

    from ..data.pixels import check_spec, decode
    from ..export.protocol import predictor_spec

    if not every > 0 or every == float("inf"):  # nan and inf too: they would sample one frame
        raise TkError(f"--every must be a positive number of seconds, not {every}.")
    spec = predictor_spec(predictor)
    check_spec(spec)
    duration, frames = sample_frames(path, every)
    result = VideoPrediction(str(path), duration)
    pending: list[Any] = []
    probs: list[Any] = []

    def flush() -> None:
        if pending:
            probs.append(np.asarray(predictor.predict(np.stack(pending)), dtype=np.float32))
            pending.clear()

    last = 0.0
    for t, index, image in frames:
        pending.append(decode(image, spec))
        result.times.append(t)
        result.frame_numbers.append(index)
        last = t
        if len(pending) >= batch:
            flush()
        if progress is not None:
            progress(t, duration)
    flush()
    if not result.times:
        raise TkError(f"{path}: the video has no decodable frames.")
    result.probs = np.concatenate(probs)
    result.answers = predictor.answer(result.probs)
    result.duration = max(duration, last)
    smoothed = smooth(result.answers, window)
    conf = [float(row.max()) for row in result.probs]
    result.segments = segments(result.times, smoothed, conf, result.duration)
    if progress is not None:
        progress(result.duration, result.duration)
    return result


def frames_csv(pred: VideoPrediction, class_names: list[str], top_k: int = 3, *, best_class: bool = False) -> str:
    """One row per sampled frame; ``best_class`` (for a model that can answer unknown) adds the
    likeliest class after ``class``, so an ``unknown`` answer still says what it looked like."""
    import numpy as np

    from ..core.text import csv_row, printable

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    k = min(top_k, len(class_names))
    writer.writerow(["time", "frame", "class", *(["best_class"] if best_class else []), "probability",
                     *[c for r in range(2, k + 1) for c in (f"top{r}_class", f"top{r}_probability")]])
    for t, n, answer, p in zip(pred.times, pred.frame_numbers, pred.answers, pred.probs):
        order = np.argsort(-p, kind="stable")[:k]
        rest = [v for idx in order[1:] for v in (printable(class_names[idx]), f"{float(p[idx]):.6f}")]
        likeliest = [printable(class_names[order[0]])] if best_class else []
        writer.writerow(csv_row([f"{t:.3f}", n, printable(answer), *likeliest, f"{float(p[order[0]]):.6f}", *rest]))
    return buf.getvalue()


def segments_csv(pred: VideoPrediction) -> str:
    from ..core.text import csv_row, printable

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["start", "end", "class", "frames", "mean_probability"])
    for s in pred.segments:
        writer.writerow(csv_row([f"{s.start:.3f}", f"{s.end:.3f}", printable(s.label), s.frames,
                                 f"{s.mean_probability:.4f}"]))
    return buf.getvalue()

"""What a run prints: a header, data facts, a live bar per epoch, one summary line per epoch.

Two modes. Interactive (stdout is a terminal and not ``--quiet``): a rich progress bar per
epoch (loss, accuracy, images/s, ETA) that disappears when the epoch's summary line is
printed. Log mode (``--quiet``, or stdout is a file or pipe — bars in log files are noise):
only the summary lines and the final result, one line each, nothing redrawn. Processes other
than rank 0 print nothing.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Callable

__all__ = ["RunConsole"]


def _fmt_seconds(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f}s"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class RunConsole:
    """Prints a run's progress; ``quiet`` keeps only summary lines, ``enabled=False`` nothing."""

    def __init__(self, *, quiet: bool = False, enabled: bool = True):
        from rich.console import Console

        self.enabled = enabled
        self.quiet = quiet
        self.console = Console(highlight=False, soft_wrap=True)
        self.live = enabled and not quiet and sys.stdout.isatty()
        self.run_started = time.perf_counter()
        self.epoch_times: list[float] = []  # for the whole-run estimate of the live bar

    # -- plain lines ---------------------------------------------------------------------
    def info(self, text: str) -> None:
        """A detail line (hidden by ``--quiet``)."""
        if self.enabled and not self.quiet:
            self.console.print(text, markup=False)

    def summary(self, text: str) -> None:
        """A line that stays in logs (``--quiet`` keeps it)."""
        if self.enabled:
            self.console.print(text, markup=False)

    def warn(self, text: str) -> None:
        if self.enabled:
            self.console.print(f"Warning: {text}", markup=False, style="yellow")

    # -- progress ------------------------------------------------------------------------
    def stage(self, label: str) -> Callable[[str, int, int], None] | None:
        """A ``(stage, done, total)`` callback for data preparation (live mode only)."""
        if not self.live:
            return None
        state: dict[str, Any] = {}

        def update(_stage: str, done: int, total: int) -> None:
            if "progress" not in state:
                from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

                state["progress"] = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(),
                                             TimeRemainingColumn(), console=self.console, transient=True)
                state["progress"].start()
                state["task"] = state["progress"].add_task(label, total=total)
            state["progress"].update(state["task"], completed=done)
            if done >= total:
                state.pop("progress").stop()

        return update

    def validating(self, epoch: int, epochs: int):
        """A transient "validating" line while the validation pass (and callbacks' scoring) runs."""
        import contextlib

        if not (self.enabled and self.live):
            return contextlib.nullcontext()
        return self.console.status(f"epoch {epoch}/{epochs}: validating …", spinner="dots")

    def epoch_bar(self, epoch: int, epochs: int, total_batches: int, batch_size: int):
        """A context manager yielding ``on_batch(done, total, loss, acc)`` (no-op in log mode)."""
        return _EpochBar(self, epoch, epochs, total_batches, batch_size)

    def epoch_line(self, epoch: int, epochs: int, m: dict[str, Any], best: bool, width: int | None = None) -> str:
        """``epoch 3/10  train loss 0.41 acc 0.86 │ val loss 0.38 acc 0.88 f1 0.81 │ lr 1.0e-03 │ 4.2s 310 img/s``.

        In a terminal the line fits its width (``width``; default: the terminal's in live mode,
        unlimited in logs): the speed, then the learning rate, then the EMA and training figures
        are dropped, in that order, before it would wrap.
        """
        self.epoch_times.append(float(m.get("epoch_time", 0.0)))
        width = width if width is not None else (self.console.width if self.live else None)
        head = f"epoch {epoch}/{epochs}"
        val = f"val loss {m['val_loss']:.4f} acc {m['val_accuracy']:.3f} f1 {m['val_macro_f1']:.3f}"
        optional = [("train", f"train loss {m['train_loss']:.4f} acc {m['train_accuracy']:.3f}"),
                    ("ema", f"ema acc {m['ema_val_accuracy']:.3f}" if "ema_val_accuracy" in m else ""),
                    ("lr", f"lr {m['lr']:.2e}"),
                    ("speed", f"{m['epoch_time']:.1f}s {m['images_per_sec']:.0f} img/s")]
        tail = "  * best" if best else ""

        def line(kept: list[str]) -> str:
            parts = [p for key, p in optional if key in kept and p]
            ordered = parts[:1] + [val] + parts[1:] if "train" in kept else [val] + parts
            return f"{head}  " + " | ".join(ordered) + tail

        kept = [key for key, _ in optional]
        text = line(kept)
        for drop in ("speed", "lr", "ema", "train"):
            if width is None or len(text) <= width:
                break
            kept.remove(drop)
            text = line(kept)
        return text


class _EpochBar:
    def __init__(self, out: RunConsole, epoch: int, epochs: int, total: int, batch_size: int):
        self.out, self.epoch, self.epochs, self.total, self.batch_size = out, epoch, epochs, total, batch_size
        self.progress = None
        self.started = time.perf_counter()

    def __enter__(self):
        if not (self.out.enabled and self.out.live):
            return None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(TextColumn(f"epoch {self.epoch}/{self.epochs}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[stats]}"), TimeRemainingColumn(),
                                 TextColumn("{task.fields[run]}"), console=self.out.console, transient=True)
        self.progress.start()
        self.task = self.progress.add_task("train", total=self.total, stats="", run="")
        return self.on_batch

    def on_batch(self, done: int, total: int, loss: float, acc: float) -> None:
        now = time.perf_counter()
        elapsed = max(1e-9, now - self.started)
        rate = done * self.batch_size / elapsed
        # Whole run: the epochs left at the mean epoch time so far (this one's estimate until one ended),
        # plus what is left of this one.
        this_epoch = elapsed / max(done, 1) * max(total, 1)
        mean = sum(self.out.epoch_times) / len(self.out.epoch_times) if self.out.epoch_times else this_epoch
        left = (self.epochs - self.epoch) * mean + max(0.0, this_epoch - elapsed)
        run = f"elapsed {_fmt_seconds(now - self.out.run_started)}, run ETA {_fmt_seconds(left)}"
        self.progress.update(self.task, completed=done, stats=f"loss {loss:.4f} acc {acc:.3f} {rate:.0f} img/s",
                             run=run)

    def __exit__(self, *exc: Any) -> None:
        if self.progress is not None:
            self.progress.stop()


def format_seconds(seconds: float) -> str:
    """``"0.4s"``, ``"42s"``, ``"3m05s"``, ``"1h02m"``."""
    return _fmt_seconds(seconds)

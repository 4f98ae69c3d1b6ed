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

    declared: tuple[str, ...] = ()
    """Metrics the run's callbacks declare (``register(..., metrics=[...])``): the epoch line shows them."""

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
        """``epoch 3/10  train loss 0.41 acc 0.86 | val loss 0.38 acc 0.88 f1 0.81 | lr 1.0e-03 | 4.2s 310 img/s``.

        One line in logs. In a terminal narrower than that (``width``; default: the terminal's in
        live mode, unlimited in logs) the line wraps between its parts, the next line indented
        under the first part, so that every figure stays — a best epoch's marker included — and
        no line is wider than the terminal.
        """
        self.epoch_times.append(float(m.get("epoch_time", 0.0)))
        width = width if width is not None else (self.console.width if self.live else None)
        head = f"epoch {epoch}/{epochs}"
        parts = [f"train loss {m['train_loss']:.4f} acc {m['train_accuracy']:.3f}",
                 f"val loss {m['val_loss']:.4f} acc {m['val_accuracy']:.3f} f1 {m['val_macro_f1']:.3f}",
                 *([f"ema acc {m['ema_val_accuracy']:.3f}"] if "ema_val_accuracy" in m else []),
                 *[f"{k} {m[k]:.4g}" for k in self.declared if isinstance(m.get(k), (int, float))],
                 f"lr {m['lr']:.2e}", f"{m['epoch_time']:.1f}s {m['images_per_sec']:.0f} img/s"]
        mark = "* best" if best else ""
        text = f"{head}  " + " | ".join(parts) + (f"  {mark}" if mark else "")
        if width is None or len(text) <= width:
            return text
        indent = " " * (len(head) + 2)
        lines: list[str] = []
        current: list[str] = []

        def render(items: list[str]) -> str:
            return (indent if lines else f"{head}  ") + " | ".join(items)

        for part in parts:
            if current and len(render([*current, part])) > width:
                lines.append(render(current))
                current = []
            current.append(part)
        last = render(current)
        if mark and len(last) + 2 + len(mark) > width:
            lines.append(last)
            last = indent + mark
        elif mark:
            last += f"  {mark}"
        return "\n".join([*lines, last])


class _EpochBar:
    def __init__(self, out: RunConsole, epoch: int, epochs: int, total: int, batch_size: int):
        self.out, self.epoch, self.epochs, self.total, self.batch_size = out, epoch, epochs, total, batch_size
        self.progress = None
        self.started = time.perf_counter()

    # What the bar shows, richest first: (training figures, whole-run figures). The first that
    # fits the terminal with a bar of at least `MIN_BAR` cells is used, so nothing is cut to "2…".
    LAYOUTS = ((("loss", "acc", "rate"), ("elapsed", "eta")), (("loss", "acc", "rate"), ("eta",)),
               (("loss", "acc"), ("eta",)), (("loss", "acc"), ()), (("loss",), ()))
    WIDEST = {"loss": len("loss 0.0000"), "acc": len("acc 0.000"), "rate": len("999999 img/s"),
              "elapsed": len("elapsed 99h59m,"), "eta": len("run ETA 99h59m")}
    MIN_BAR, MAX_BAR, ETA = 10, 40, len("10:00:00")

    def _layout(self, width: int) -> tuple[tuple[str, ...], tuple[str, ...], int]:
        """``(training fields, run fields, bar width)`` for a terminal ``width`` columns wide."""
        head = len(f"epoch {self.epoch}/{self.epochs}")
        count = 2 * len(str(self.total)) + 1

        def size(fields: tuple[str, ...]) -> int:
            return sum(self.WIDEST[f] for f in fields) + max(0, len(fields) - 1)

        for stats, run in self.LAYOUTS:
            rest = head + count + size(stats) + self.ETA + (size(run) + 1 if run else 0) + 5  # 5 gaps of one
            if rest + self.MIN_BAR <= width - 1:
                return stats, run, min(self.MAX_BAR, width - 1 - rest)
        return self.LAYOUTS[-1][0], (), self.MIN_BAR

    def __enter__(self):
        if not (self.out.enabled and self.out.live):
            return None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.stats, self.run, bar = self._layout(self.out.console.width)
        columns = [TextColumn(f"epoch {self.epoch}/{self.epochs}"), BarColumn(bar_width=bar), MofNCompleteColumn(),
                   TextColumn("{task.fields[stats]}"), TimeRemainingColumn()]
        if self.run:
            columns.append(TextColumn("{task.fields[run]}"))
        self.progress = Progress(*columns, console=self.out.console, transient=True)
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
        stats = {"loss": f"loss {loss:.4f}", "acc": f"acc {acc:.3f}", "rate": f"{rate:.0f} img/s"}
        run = {"elapsed": f"elapsed {_fmt_seconds(now - self.out.run_started)},", "eta": f"run ETA {_fmt_seconds(left)}"}
        self.progress.update(self.task, completed=done, stats=" ".join(stats[f] for f in self.stats),
                             run=" ".join(run[f] for f in self.run))

    def __exit__(self, *exc: Any) -> None:
        if self.progress is not None:
            self.progress.stop()


def format_seconds(seconds: float) -> str:
    """``"0.4s"``, ``"42s"``, ``"3m05s"``, ``"1h02m"``."""
    return _fmt_seconds(seconds)

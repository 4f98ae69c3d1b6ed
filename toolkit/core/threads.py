"""CPU threads: how many tk uses, and how they wait, so that a run repeats and a busy machine does not stall it.

**The count is fixed for a run.** PyTorch's CPU kernels split reductions by thread, so a
different thread count gives different floating-point sums (one forward+backward of
MobileNetV4: outputs differ by ~1e-6, gradients by ~1e-4 between 1 and 2 threads) and two
runs drift apart from the first step. tk therefore picks the count once, from the machine —
the CPU affinity mask (``os.sched_getaffinity``: taskset, containers) and the cgroup CPU quota
(``cpu.max``: Docker ``--cpus``, Kubernetes limits), never a momentary load sample — prints it
in the run header, records it in the run's resolved recipe (``train.threads``), and a resumed
run uses the count it started with. ``train.threads = N`` (``tk run --threads N``) or
``OMP_NUM_THREADS`` choose another count.

**How the threads wait decides the speed on a busy machine** — and never the result: the
wait policy changes how long a thread spins before it sleeps, not which thread sums what.
Every parallel region waits for its slowest thread; with another process on a core, one of
tk's threads is descheduled while the others spin on it (libgomp's default spin ran
MobileNetV4 at 128 px 3.8× slower with one of two cores busy). Sleeping at once
(``OMP_WAIT_POLICY=PASSIVE``) held that to 1.6× of the idle epoch but costs ~30% on an idle
machine, where spinning catches the short gaps between regions. No single setting is good for
both (benchmarks/busy_machine.py), so `tk run`, `tk tune` and `tk predict` choose when they
start, before torch loads (`choose_wait_policy`): other processes using half a CPU or more of this process's
cores in a 0.3 s sample → ``OMP_WAIT_POLICY=PASSIVE``; otherwise OpenMP's own default (spin,
then sleep). The run header says which and why. A machine that becomes busy only after the
start runs at the spinning policy's busy speed; ``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT`` set
by the user always win. Other commands use `WAIT_ENV`, a short spin.

``train.threads = "adaptive"`` keeps the former governor (`ThreadGovernor`), which changes the
count with the load: faster on some busy machines, but results then depend on what else ran,
so the run header and ``last.pt`` say the run is not reproducible.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

__all__ = ["available_cores", "choose_threads", "apply_threads", "command_threads", "set_wait_policy", "choose_wait_policy", "cpu_sample",
           "ThreadGovernor", "ADAPTIVE", "WAIT_ENV", "BUSY_CPUS", "wait_policy_text"]


def _cgroup_quota() -> float | None:
    """CPUs allowed by the cgroup v2 (``cpu.max``) or v1 (``cfs_quota_us``) quota, or None."""
    try:
        text = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if text and text[0] != "max":
            return int(text[0]) / int(text[1])
    except (OSError, ValueError, IndexError):
        pass
    try:
        quota = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read_text())
        period = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text())
        if quota > 0 and period > 0:
            return quota / period
    except (OSError, ValueError):
        pass
    return None


def available_cores() -> tuple[int, str]:
    """``(cores this process may use, how that was found)``."""
    try:
        cores = len(os.sched_getaffinity(0))
        how = "CPU affinity"
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
        how = "os.cpu_count"
    quota = _cgroup_quota()
    if quota is not None and math.ceil(quota) < cores:
        return max(1, math.ceil(quota)), f"cgroup CPU quota {quota:g}"
    return max(1, cores), how


WAIT_ENV = {"GOMP_SPINCOUNT": "1000"}
"""OpenMP wait settings the CLI sets (where the user has not) before torch loads, for commands
other than `tk run`/`tk tune`: a short spin, then sleep — within 2x of idle with one core busy
(benchmarks/busy_machine.py, 2 vCPUs) for ~15% on an idle machine."""

BUSY_CPUS = 0.5
"""Other processes using this many CPUs of ours (or more) when a run starts make its threads
sleep while they wait (``OMP_WAIT_POLICY=PASSIVE``)."""

TRAINING_COMMANDS = ("run", "tune")
SAMPLED_COMMANDS = (*TRAINING_COMMANDS, "predict")
"""Commands whose wait policy follows the load at their start (`choose_wait_policy`): the
training ones, and `tk predict`, which runs one model over many images the same way."""
_WAIT_CHOICE = ["", ""]  # (what was set, why), for the run header


def choose_wait_policy(others: float | None, environ: dict[str, str]) -> tuple[dict[str, str], str]:
    """``(variables to set, why)`` for a training run, given the CPUs ``others`` (other processes)
    used on this process's cores when it started (None: not measurable here) and the environment."""
    for key in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT"):
        if key in environ:
            return {}, f"{key}={environ[key]} from the environment"
    if others is None:
        return dict(WAIT_ENV), f"GOMP_SPINCOUNT={WAIT_ENV['GOMP_SPINCOUNT']} (the machine's load is not measurable here)"
    if others >= BUSY_CPUS:
        return ({"OMP_WAIT_POLICY": "PASSIVE"},
                f"threads sleep while waiting: other processes used {others:.1f} CPUs as tk started")
    return {}, f"threads spin while waiting (OpenMP's default): other processes used {others:.1f} CPUs as tk started"


def _others_cpus(seconds: float = 0.3) -> float | None:
    """CPUs other processes used on this process's cores over ``seconds`` (None without ``/proc``)."""
    first = cpu_sample()
    if first is None:
        return None
    time.sleep(seconds)
    second = cpu_sample()
    if second is None or second[0] <= first[0]:
        return None
    return max(0.0, ((second[1] - first[1]) - (second[2] - first[2])) / (second[0] - first[0]))


def set_wait_policy(command: str | None = None) -> None:
    """Set OpenMP's wait policy for ``command`` before ``import torch``: `choose_wait_policy` for
    one of `SAMPLED_COMMANDS`, `WAIT_ENV` for the others; a policy the user chose is kept."""
    if command in SAMPLED_COMMANDS:
        env, why = choose_wait_policy(None if _user_policy() else _others_cpus(), dict(os.environ))
    else:
        env, why = ({} if _user_policy() else dict(WAIT_ENV)), ""
    for key, value in env.items():
        os.environ[key] = value
    _WAIT_CHOICE[:] = [" ".join(f"{k}={v}" for k, v in env.items()), why]


def _user_policy() -> bool:
    return "OMP_WAIT_POLICY" in os.environ or "GOMP_SPINCOUNT" in os.environ


def wait_policy_text() -> str:
    """How this process's OpenMP threads wait, and why (the run header's words)."""
    if _WAIT_CHOICE[1]:
        return _WAIT_CHOICE[1]
    set_now = [f"{k}={os.environ[k]}" for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT") if k in os.environ]
    return ", ".join(set_now) + " from the environment" if set_now else "OpenMP's default"


ADAPTIVE = "adaptive"


def choose_threads(requested: int | str = 0) -> tuple[int, str, bool]:
    """``(intra-op threads, why, adaptive)``: ``requested`` (``train.threads``) when above 0,
    else ``OMP_NUM_THREADS`` when set, else every core this process may use. ``adaptive`` is
    true only for ``train.threads = "adaptive"``: the count then follows the load while training."""
    if requested == ADAPTIVE:
        cores, how = available_cores()
        return cores, (f"adaptive: {cores} core{'s' if cores != 1 else ''} available ({how}), fewer while other "
                       f"processes use them; results depend on the load and do not repeat"), cores > 1
    if requested and int(requested) > 0:
        return int(requested), f"train.threads = {requested}", False
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env), f"OMP_NUM_THREADS = {env}", False
    cores, how = available_cores()
    ignored = f"OMP_NUM_THREADS = {env!r} is not a thread count, ignored; " if env else ""
    return cores, f"{ignored}{cores} core{'s' if cores != 1 else ''} available ({how}); fixed for the run", False


def command_threads(requested: int | None = None, option: str = "--threads") -> tuple[int, str]:
    """``(intra-op threads, why)`` for a command that runs a model but does not train (`tk
    predict`): ``requested`` (its ``option``) when given, else the count `tk run` would use
    (`choose_threads`: ``OMP_NUM_THREADS``, else the cores this process may use)."""
    if requested:
        return int(requested), f"set with {option}"
    count, why, _adaptive = choose_threads(0)
    return count, why.replace("; fixed for the run", "")


def apply_threads(requested: int | str = 0) -> tuple[int, str, bool]:
    """Set torch's intra-op pool by `choose_threads`; returns what `choose_threads` returned."""
    import torch

    threads, why, adaptive = choose_threads(requested)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads, why, adaptive


def cpu_sample(cpus: list[int] | None = None) -> tuple[float, float, float] | None:
    """``(wall seconds, busy CPU seconds of ``cpus`` (default: this process's affinity set), this
    process's own CPU seconds, every thread's)`` from ``/proc``; None where there is none (macOS).
    Two samples give what *other* processes used: busy time less our own, per wall second."""
    try:
        wanted = {f"cpu{i}" for i in (os.sched_getaffinity(0) if cpus is None else cpus)}
        hz = os.sysconf("SC_CLK_TCK")
        busy = 0
        with open("/proc/stat", "rb") as fh:
            for line in fh:
                if not line.startswith(b"cpu"):
                    break
                parts = line.split()
                if parts[0].decode() in wanted:
                    v = [int(x) for x in parts[1:9]]  # user nice system idle iowait irq softirq steal
                    busy += v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
        with open("/proc/self/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        own = int(fields[11]) + int(fields[12])  # utime, stime of every thread of this process
    except (AttributeError, OSError, ValueError, IndexError):
        return None
    return time.monotonic(), busy / hz, own / hz


class ThreadGovernor:
    """Give torch the cores other processes leave free; call `tick()` between batches.

    Every ``every`` seconds: the busy time of the CPUs in this process's affinity set
    (``/proc/stat``) less this process's own CPU time (``/proc/self/stat``, all its threads,
    spinning ones included) is what others used; torch gets ``cores − round(others)`` threads,
    at least one. Does nothing where ``/proc`` is missing (macOS: its scheduler and libomp's
    short spin make the problem far smaller there).
    """

    def __init__(self, cores: int, every: float = 2.0):
        self.cores, self.every = int(cores), float(every)
        self.changes: list[tuple[float, int]] = []  # (seconds since start, threads)
        try:
            self._cpus = sorted(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            self._cpus = []
        self._started = time.monotonic()
        self._last = self._sample()

    def _sample(self) -> tuple[float, float, float] | None:
        """``(wall seconds, busy seconds of our CPUs, our own CPU seconds)``, or None."""
        return cpu_sample(self._cpus)

    def restart(self) -> None:
        """Start the next measuring window now: what ran since the last look (an epoch's end,
        its validation and the event hooks' work) is not counted against the next batches."""
        if self._last is not None:
            self._last = self._sample()

    def tick(self) -> int | None:
        """Adjust the pool if it is time; returns the new thread count when it changed."""
        if self._last is None or time.monotonic() - self._last[0] < self.every:
            return None
        now = self._sample()
        if now is None:
            self._last = None
            return None
        wall = now[0] - self._last[0]
        others = max(0.0, ((now[1] - self._last[1]) - (now[2] - self._last[2])) / max(wall, 1e-6))
        self._last = now
        wanted = max(1, min(self.cores, self.cores - int(others + 0.5)))
        import torch

        if wanted == torch.get_num_threads():
            return None
        torch.set_num_threads(wanted)
        self.changes.append((round(now[0] - self._started, 1), wanted))
        return wanted

"""`tk --help` with and without a third-party plugin whose module imports torch at its top.

    .venv/bin/python benchmarks/help_speed.py [--runs 5] [--json benchmarks/results/help_speed.json]

In one run, on one machine: writes a throw-away plugin package (``tk-bench-heavy``: its module
does ``import torch`` first, then registers a loss and a ``heavy-hello`` command), pip-installs it
into a temporary folder (``pip install --target``, put on ``PYTHONPATH`` for the runs that have
the plugin, so the environment itself is left as it was), and times ``tk --help`` (wall clock,
a fresh process each time) ``--runs`` times with the plugin and as many without, in turns so
that a change in background load hits both alike. The first call with the plugin, which builds
the list of plugin commands (importing the plugins once), is timed apart. Prints both medians,
their ratio (target: at most 1.5), and checks that ``tk --help`` lists ``heavy-hello`` with its help.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HELP = "Say hello from a plugin that imports torch at its top."

MODULE = f'''\
"""A third-party plugin written as most are: torch imported at the top of its module."""
import click
import torch

from toolkit import hookimpl


def heavy_ce(num_classes=None):
    """Cross-entropy (from a plugin that imports torch at its top)."""
    return torch.nn.CrossEntropyLoss()


@click.command("heavy-hello")
def hello():
    """{HELP}"""
    click.echo(f"hello from torch {{torch.__version__}}")


@hookimpl
def tk_register_losses(register):
    register("heavy_ce", heavy_ce)


@hookimpl
def tk_register_commands(cli):
    cli.add_command(hello)
'''

PYPROJECT = """\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "tk-bench-heavy"
version = "1.0"

[project.entry-points.tk]
bench_heavy = "tk_bench_heavy"

[tool.setuptools]
packages = ["tk_bench_heavy"]
"""


def tk_command() -> list[str]:
    """The `tk` console script of this interpreter's environment (else ``python -m toolkit.cli``)."""
    script = Path(sys.executable).parent / "tk"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "toolkit.cli"]


def install(work: Path) -> Path:
    src = work / "src"
    (src / "tk_bench_heavy").mkdir(parents=True)
    (src / "tk_bench_heavy" / "__init__.py").write_text(MODULE)
    (src / "pyproject.toml").write_text(PYPROJECT)
    site = work / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(site), str(src)], check=True)
    return site


def timed(env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run([*tk_command(), "--help"], env=env, capture_output=True, text=True, check=True)
    return time.perf_counter() - started, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed calls per configuration (default 5)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="tk-help-speed-") as tmp:
        work = Path(tmp)
        site = install(work)
        base = dict(os.environ, COLUMNS="100", TK_CACHE_DIR=str(work / "cache"))
        base.pop("PYTHONPATH", None)
        without = dict(base)
        with_plugin = dict(base, PYTHONPATH=str(site))

        first_without, _ = timed(without)  # builds the list for this environment (tk's own plugins)
        first_with, listed = timed(with_plugin)  # builds it with the plugin: imports it (and torch) once
        lines = [line for line in listed.splitlines() if line.strip().startswith("heavy-hello")]
        if not lines or HELP.split(" from")[0] not in lines[0]:
            raise SystemExit(f"tk --help does not list heavy-hello with its help:\n{listed}")
        times: dict[str, list[float]] = {"with": [], "without": []}
        for _ in range(args.runs):
            times["with"].append(timed(with_plugin)[0])
            times["without"].append(timed(without)[0])

    med_with, med_without = statistics.median(times["with"]), statistics.median(times["without"])
    ratio = med_with / med_without
    print(f"tk --help, median of {args.runs} ({' '.join(tk_command())}; {platform.machine()}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}):")
    print(f"  without the plugin:            {med_without:.3f} s")
    print(f"  with the torch-importing plugin: {med_with:.3f} s")
    print(f"  ratio: {ratio:.2f}x (target <= 1.5x: {'met' if ratio <= 1.5 else 'missed'})")
    print(f"  first call with the plugin (builds the command list, imports it once): {first_with:.3f} s")
    print(f"  listed: {lines[0].strip()}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "runs": args.runs, "with_s": times["with"], "without_s": times["without"],
            "median_with_s": med_with, "median_without_s": med_without, "ratio": ratio,
            "first_with_s": first_with, "first_without_s": first_without, "listed": lines[0].strip(),
            "machine": platform.machine(), "cpus": os.cpu_count(), "python": platform.python_version(),
        }, indent=1) + "\n")


if __name__ == "__main__":
    main()

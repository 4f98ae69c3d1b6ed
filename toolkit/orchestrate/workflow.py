"""Train, then ship: what `tk run` does, orchestrated above the layers it spans.

The engine trains and knows nothing of exporting or benchmarking; `toolkit.export` and
`toolkit.assess.bench` know nothing of training. A recipe with ``export.after_train = true`` asks for
all three, so the sequence lives here, above them: train the recipe (`run_recipe`), then, when
the run finished or was stopped, export ``best.pt`` to the recipe's formats and time the
exports (the recipe's ``[export]`` and ``[bench]`` settings), with the same trust in the
recipe's own plugin modules that training had.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from ..core.errors import TkError

__all__ = ["run_and_ship", "ship"]


def ship(run_dir: Path, recipe: Any, log: Callable[[str], None]) -> None:
    """Export ``run_dir``'s best.pt and bench the exports (``export.after_train``)."""
    try:
        from ..assess.bench import bench_run
        from ..export import export_run
    except ImportError as exc:
        raise TkError(f"export.after_train = true but this tk has no exporter support ({exc}); "
                      f"set export.after_train = false.") from None
    from ..plugin.manager import trusting

    with trusting(modules=recipe["plugins"]["modules"], base_dir=recipe.base_for("plugins", "modules")):
        export_run(run_dir, log=log)
        bench_run(run_dir, log=log)


def run_and_ship(recipe: Any, *, log: Callable[[str], None] = print, **run_options: Any):
    """`toolkit.engine.train.run_recipe`, then `ship` when the recipe asks for it (rank 0 only)."""
    from ..engine.distributed import DistEnv
    from ..engine.train import run_recipe

    result = run_recipe(recipe, **run_options)
    if (result.status in ("finished", "stopped") and recipe["export"]["after_train"]
            and DistEnv.from_environ().is_main):
        ship(result.run_dir, recipe, log)
    return result

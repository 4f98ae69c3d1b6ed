"""The training engine: from a recipe and a folder of images to a run folder.

The public entry point is `toolkit.engine.train.run_recipe` (what `tk run`, `tk tune`, the
benchmarks and the tests call). The modules, each with one job, in the order a run meets them:

- `train` — `run_recipe`: checks, run folder, data, `Trainer`, final report, `RunResult`.
- `run` — run folder numbering, the unfinished-run guard, ``--resume`` targets, `RunInfo`.
- `lock` — one run per folder (an ``flock`` held for the run's life).
- `resume` — which recipe a resumed run uses; the resolved recipe a run records.
- `device` — device (auto: CUDA, MPS, CPU) and mixed precision; channels-last, compile.
- `distributed` — RANK/WORLD_SIZE, sharding an epoch's order, the few collectives.
- `data_pipeline` — dataset plugin → bad-image policy → decode once (the image store) → grouped split.
- `batches` — a split's images as device batches, the next ones read ahead (a thread, or the kernel's read-ahead).
- `components` — model, loss, sampler, augmentations, optimiser, schedule from the registries.
- `setup` — the parts of a run built once (model, DDP wrapper, optimiser …, batches, callbacks)
  and what a checkpoint of the run holds.
- `trainer` — the epoch loop alone: it calls the callbacks at each moment.
- `callbacks` — tk's own features as callbacks, in their documented order: the thread governor,
  EMA, history, early stopping, best.pt, last.pt, the event hooks, the epoch line.
- `loop` — one training epoch and one evaluation pass.
- `early_stopping`, `ema`, `metrics`, `rng` — the pieces the loop relies on.
- `finalize`, `report`, `console` — metrics.json, plots and report.html; what a run prints.
- `dry_run` — ``tk run --dry-run``.
- `checkpoint`, `model` — rebuilding a model from a checkpoint (the format itself is
  `toolkit.core.checkpoint`) and the `Classifier`.
"""

"""Judging data and models: evaluation on a run's split, comparison of runs, benchmarks of exported
models, the dataset doctor (label errors, near-duplicates, its review page and `tk data apply`),
and predictions over screen recordings. Above the engine and the exporters, below orchestration.
"""

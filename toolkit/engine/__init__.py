"""The training engine: model assembly, device and precision, the loop, checkpoints, reports."""

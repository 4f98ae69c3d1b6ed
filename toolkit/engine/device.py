"""Pick the training device and the mixed-precision mode, and prepare the model for them.

`train.device = "auto"` means CUDA, then Apple's MPS, then the CPU. `train.amp` says which
autocast dtype to use: ``auto`` picks bf16 on CUDA GPUs that support it (fp16 with a gradient
scaler on older ones), fp16 on MPS and nothing on the CPU (bf16 autocast there is slower than
fp32 on most CPUs, and ask-able explicitly). A mode the device cannot run is a one-line
`TkError` that says what to choose instead, never a silent fallback: a recipe that says fp16
must not quietly train in fp32 on one machine and fp16 on another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..core.errors import TkError

__all__ = ["Precision", "pick_device", "pick_precision", "prepare_model", "describe_device", "setup_threads"]


def pick_device(spec: str, local_rank: int = 0):
    """``auto|cpu|mps|cuda|cuda:N`` → a `torch.device` that exists here.

    In a distributed run on CUDA each process takes GPU ``LOCAL_RANK`` (``cuda`` without an
    index), so one recipe serves any number of processes.
    """
    import torch

    has_cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None)
    has_mps = bool(mps and mps.is_available())
    if spec == "auto":
        if has_cuda:
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        return torch.device("mps") if has_mps else torch.device("cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "mps":
        if not has_mps:
            raise TkError("train.device = 'mps' but Apple's MPS is not available here (it needs an Apple-silicon "
                          "Mac and a PyTorch built with MPS); use train.device = 'auto' or 'cpu'.")
        return torch.device("mps")
    if spec.startswith("cuda"):
        if not has_cuda:
            raise TkError(f"train.device = '{spec}' but no CUDA GPU is available (no GPU, no driver, or a CPU-only "
                          f"PyTorch); use train.device = 'auto' or 'cpu'.")
        index = int(spec.split(":")[1]) if ":" in spec else local_rank
        if index >= torch.cuda.device_count():
            raise TkError(f"train.device = '{spec}' but only {torch.cuda.device_count()} CUDA GPU(s) are visible.")
        return torch.device("cuda", index)
    raise TkError(f"train.device: unknown device {spec!r}; use auto, cpu, cuda, cuda:N or mps.")


@dataclass(frozen=True)
class Precision:
    """The autocast dtype (None: full fp32) and whether losses need a gradient scaler."""

    dtype: Any = None
    scaler: bool = False
    name: str = "fp32"

    def autocast(self, device: Any):
        """A context manager: autocast to ``dtype`` on ``device``, or nothing."""
        import contextlib

        import torch

        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=device.type, dtype=self.dtype)


def pick_precision(amp: str, device: Any) -> Precision:
    """The `Precision` for ``train.amp`` on ``device`` (see the module docstring)."""
    import torch

    kind = device.type
    if amp == "off":
        return Precision()
    if kind == "cuda":
        bf16_ok = torch.cuda.is_bf16_supported()
        if amp in ("auto", "bf16") and bf16_ok:
            return Precision(torch.bfloat16, False, "bf16")
        if amp == "bf16":
            raise TkError(f"train.amp = 'bf16' but GPU {torch.cuda.get_device_name(device)} has no bf16 support; "
                          f"use train.amp = 'fp16' or 'off'.")
        return Precision(torch.float16, True, "fp16")
    if kind == "mps":
        if amp in ("auto", "fp16"):
            return Precision(torch.float16, True, "fp16")
        raise TkError("train.amp = 'bf16' is not available on MPS; use train.amp = 'fp16' (or 'auto') or 'off'.")
    # CPU
    if amp == "auto":
        return Precision()
    if amp == "bf16":
        return Precision(torch.bfloat16, False, "bf16")
    raise TkError("train.amp = 'fp16' is not available on the CPU; use train.amp = 'bf16' or 'off'.")


def make_scaler(precision: Precision, device: Any):
    """A `torch.amp.GradScaler` when fp16 needs one, else None."""
    if not precision.scaler:
        return None
    import torch

    try:
        return torch.amp.GradScaler(device.type)
    except (RuntimeError, ValueError, TypeError):  # an older build without a scaler for this device
        return torch.amp.GradScaler("cuda", enabled=device.type == "cuda") if device.type == "cuda" else None


def prepare_model(model: Any, device: Any, *, channels_last: bool, compile: bool) -> tuple[Any, Any]:
    """Move ``model`` to ``device``; return ``(model, forward_model)``.

    ``model`` is what tk checkpoints (its state_dict keys never change); ``forward_model`` is
    what it calls: the same module, or its `torch.compile` wrapper.
    """
    import torch

    model = model.to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    forward_model = model
    if compile:
        try:
            forward_model = torch.compile(model)
        except Exception as exc:  # a backend missing on this machine: say so, do not guess
            raise TkError(f"train.compile = true failed on {device} ({type(exc).__name__}: {exc}); "
                          f"set train.compile = false.") from exc
    return model, forward_model


def setup_threads(device: Any, requested: int | str = 0) -> tuple[int, str, bool]:
    """Size torch's CPU pool (`toolkit.core.threads.apply_threads`): ``(threads, why, adaptive)``.

    On a GPU the CPU pool only feeds it; the same rule applies, without adapting to load."""
    from ..core.threads import apply_threads

    threads, why, adaptive = apply_threads(requested)
    return threads, why, adaptive and device.type == "cpu"


def describe_device(device: Any) -> str:
    """``"cuda:0 (NVIDIA H100)"``, ``"mps"``, ``"cpu (8 threads)"`` for the run header."""
    import torch

    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        n = torch.get_num_threads()
        return f"cpu ({n} thread{'' if n == 1 else 's'})"
    return str(device)

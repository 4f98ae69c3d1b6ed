"""Data-parallel plumbing: who am I (rank), how many are we, and the few collectives tk needs.

`torchrun` (and `tk run --nproc N`) start one process per device and set ``RANK``,
``WORLD_SIZE`` and ``LOCAL_RANK``. Everything here degrades to plain local code when
``WORLD_SIZE`` is absent or 1, so the single-process path — the one tested on every commit —
is the same code, not a special case:

* `DistEnv.from_environ()` reads the variables; `init()` starts the process group (NCCL on
  CUDA, gloo elsewhere) only when there are several processes.
* `shard(order, rank, world)` cuts a sampler's epoch order into equal per-rank slices (padded
  by repeating the start), so every sampler plugin works data-parallel without extra code.
* `all_reduce_sum` and `gather_lists` combine per-rank metrics; `broadcast_object` hands rank
  0's decisions (the run folder) to the others; `broadcast_buffers` gives every process rank 0's
  batch-norm statistics before validation, so all of them evaluate the model rank 0 saves.

Only rank 0 writes files or emits event hooks; the trainer asks `env.is_main`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ..core.errors import TkError

__all__ = ["DistEnv", "shard"]


@dataclass(frozen=True)
class DistEnv:
    """This process's place in a (possibly one-process) data-parallel run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @classmethod
    def from_environ(cls) -> DistEnv:
        """Read ``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` (absent: one process)."""
        try:
            world = int(os.environ.get("WORLD_SIZE", "1"))
            rank = int(os.environ.get("RANK", "0"))
            local = int(os.environ.get("LOCAL_RANK", str(rank)))
        except ValueError as exc:
            raise TkError(f"RANK/WORLD_SIZE/LOCAL_RANK must be integers ({exc}); launch with torchrun.") from None
        if world < 1 or not 0 <= rank < world:
            raise TkError(f"RANK={rank} is outside WORLD_SIZE={world}; launch with torchrun or tk run --nproc.")
        return cls(rank, world, local)

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes files, prints progress and emits events."""
        return self.rank == 0

    def init(self, device: Any) -> None:
        """Start the process group when there are several processes (no-op otherwise)."""
        if not self.distributed:
            return
        import torch.distributed as dist

        if dist.is_initialized():
            return
        backend = "nccl" if getattr(device, "type", str(device)) == "cuda" else "gloo"
        dist.init_process_group(backend=backend, rank=self.rank, world_size=self.world_size)

    def shutdown(self) -> None:
        if not self.distributed:
            return
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()

    def barrier(self) -> None:
        if self.distributed:
            import torch.distributed as dist

            dist.barrier()

    def all_reduce_sum(self, values: list[float], device: Any) -> list[float]:
        """Element-wise sum of ``values`` over all processes."""
        if not self.distributed:
            return list(values)
        import torch
        import torch.distributed as dist

        t = torch.tensor(values, dtype=torch.float64, device=device)
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t.tolist()

    def gather_lists(self, items: list[Any]) -> list[Any]:
        """Concatenate every process's ``items`` (rank order); local list at world size 1."""
        if not self.distributed:
            return list(items)
        import torch.distributed as dist

        out: list[list[Any]] = [[] for _ in range(self.world_size)]
        dist.all_gather_object(out, items)
        return [x for part in out for x in part]

    def broadcast_object(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every process."""
        if not self.distributed:
            return obj
        import torch.distributed as dist

        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def broadcast_buffers(self, module: Any) -> None:
        """Copy rank 0's buffers (batch-norm running statistics) into every process's ``module``.

        DDP keeps parameters equal, but each process updates its running statistics with its
        own last batch; without this, each would validate a slightly different model than the
        ``best.pt`` rank 0 saves, and the reduced metrics would describe no model at all.
        """
        if not self.distributed:
            return
        import torch.distributed as dist

        for buffer in module.buffers():
            dist.broadcast(buffer.data, src=0)

    def any_flag(self, flag: bool, device: Any) -> bool:
        """True on every process when any process passes True (e.g. a stop request)."""
        return self.all_reduce_sum([1.0 if flag else 0.0], device)[0] > 0


def shard(order: list[int], rank: int, world_size: int) -> list[int]:
    """This rank's slice of an epoch ``order``: strided, padded so every rank gets as many.

    Padding repeats the first indices (as PyTorch's DistributedSampler does), so each process
    runs the same number of steps and collectives never wait on a rank that finished early.
    """
    if world_size <= 1:
        return list(order)
    if not order:
        return []
    total = -(-len(order) // world_size) * world_size
    padded = list(order) + [order[i % len(order)] for i in range(total - len(order))]
    return padded[rank::world_size]

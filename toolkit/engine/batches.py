"""Batches of one split, as float 0–1 on the training device, from the decoded images.

A part's images are a uint8 ``N×3×H×W`` tensor (``data.cache = "memory"``) or `StoreRows`: rows
of the shared memory-mapped image store (`toolkit.data.store`), copied out a batch at a time.
`Batches` gathers a batch by index (on the GPU when the part fits there, into pinned host
memory otherwise), converts it to float 0–1 on the device, and `Batches.iterate` reads the
next batches ahead while the model works on the current one (a background thread, or the
kernel's read-ahead where torch's threads use every core). Augmentation
runs on whole batches on the device (`toolkit.engine.loop`).
"""

from __future__ import annotations

from typing import Any

__all__ = ["Batches", "StoreRows", "take"]


class StoreRows:
    """Rows of a memory-mapped image store standing in for a part's uint8 ``N×3×H×W`` tensor:
    nothing is copied until a batch is gathered (`toolkit.data.store`)."""

    def __init__(self, store: Any, rows: Any):
        import torch

        self.store = store
        self.rows = torch.as_tensor(rows, dtype=torch.long)
        self.dtype = torch.uint8
        self.device = torch.device("cpu")

    @property
    def shape(self) -> tuple[int, ...]:
        return (int(self.rows.shape[0]), 3, *self.store.hw)

    def __len__(self) -> int:
        return int(self.rows.shape[0])

    def numel(self) -> int:
        n, c, h, w = self.shape
        return n * c * h * w

    def take(self, index: Any) -> StoreRows:
        import torch

        return StoreRows(self.store, self.rows[torch.as_tensor(index, dtype=torch.long)])

    def index_select(self, dim: int, index: Any):
        assert dim == 0
        return self.store.gather(self.rows[index.cpu()])

    def __getitem__(self, i: int):
        return self.store.gather(self.rows[int(i):int(i) + 1])[0]

    def materialize(self):
        return self.store.gather(self.rows)


def take(images: Any, rows: list[int]):
    """The rows ``rows`` of a part's images (a tensor or `StoreRows`)."""
    import torch

    if isinstance(images, StoreRows):
        return images.take(rows)
    return images[torch.tensor(rows, dtype=torch.long)] if rows else images[:0]


def _materialize(images: Any):
    return images.materialize() if isinstance(images, StoreRows) else images


class Batches:
    """Batches of one `toolkit.engine.data_pipeline.Part` (paths, labels, images), as float 0–1 on the device."""

    def __init__(self, part: Any, device: Any, *, channels_last: bool = False):
        import torch

        self.device = device
        self.channels_last = channels_last
        self.labels = torch.tensor(part.labels, dtype=torch.long)
        images = part.images
        self.pin = False
        if device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(device)
            if images.numel() < 0.25 * free:  # small datasets live on the GPU: no copies per batch
                images = _materialize(images).to(device)
                self.labels = self.labels.to(device)
            elif isinstance(images, StoreRows):
                self.pin = True  # batches are gathered from the store into pinned memory, ahead of use
            else:
                images = images.pin_memory()
        elif device.type == "mps":
            images = _materialize(images).to(device)
            self.labels = self.labels.to(device)
        self.images = images

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def gather(self, ids: list[int]):
        """The uint8 rows and labels of ``ids``, where the images live (pinned for a CUDA copy)."""
        import torch

        index = torch.tensor(ids, dtype=torch.long, device=self.images.device)
        x = self.images.index_select(0, index)
        if self.pin:
            x = x.pin_memory()
        return x, self.labels.index_select(0, index.to(self.labels.device))

    def to_device(self, x: Any, y: Any):
        """Gathered rows → float 0–1 on the device (asynchronous from pinned memory)."""
        import torch

        x = x.to(self.device, non_blocking=True).float().div_(255.0)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, y.to(self.device, non_blocking=True)

    def batch(self, ids: list[int]):
        """``(x, y)`` for sample indices ``ids``: x float N×3×H×W in 0–1 on the device."""
        return self.to_device(*self.gather(ids))

    def iterate(self, chunks: list[list[int]], ahead: int = 2):
        """``(x, y)`` for each chunk in order, reading ahead while the model works on the current one.

        With pinned memory (CUDA), or a CPU core that torch's pool leaves free, a background
        thread gathers the next ``ahead`` batches. When torch's threads take every core, that
        thread would only take turns with them, and every parallel region waits for the thread
        it displaced: `benchmarks/train_speed.py` measured epochs 1.3× the model's own time
        with it on 2 cores, 1.17× without. There the batch is gathered in place, and the
        kernel is asked to read the next batch's store rows in meanwhile (`ImageStore.will_need`),
        so a store larger than memory still reads from disk while the model computes. Data
        that already lives on the device is gathered in place."""
        import queue
        import threading

        if not chunks:
            return
        if self.images.device.type != "cpu" or ahead <= 0 or len(chunks) == 1:
            for ids in chunks:
                yield self.batch(ids)
            return
        if not (self.pin or self._spare_core()):
            store = self.images.store if isinstance(self.images, StoreRows) else None
            for k, ids in enumerate(chunks):
                if store is not None and k + 1 < len(chunks):
                    store.will_need(self.images.rows[chunks[k + 1]].tolist())
                yield self.batch(ids)
            return
        ready: queue.Queue = queue.Queue(maxsize=ahead)
        stop = threading.Event()

        def producer() -> None:
            try:
                for ids in chunks:
                    if stop.is_set():
                        return
                    ready.put(("ok", self.gather(ids)))
            except BaseException as exc:  # handed to the consumer, raised there
                ready.put(("error", exc))

        thread = threading.Thread(target=producer, name="tk-prefetch", daemon=True)
        thread.start()
        try:
            for _ in chunks:
                kind, item = ready.get()
                if kind == "error":
                    raise item
                yield self.to_device(*item)
        finally:
            stop.set()
            while thread.is_alive():  # unblock a producer waiting on a full queue
                try:
                    ready.get_nowait()
                except queue.Empty:
                    thread.join(timeout=0.05)

    @staticmethod
    def _spare_core() -> bool:
        """Does torch's CPU pool leave a core of this process free for a reading thread?"""
        import torch

        from ..core.threads import available_cores

        return torch.get_num_threads() < available_cores()[0]

    def sequential(self, batch_size: int, ids: list[int] | None = None):
        """Every sample (or ``ids``) in order, for evaluation."""
        order = list(range(len(self))) if ids is None else ids
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            yield chunk, *self.batch(chunk)

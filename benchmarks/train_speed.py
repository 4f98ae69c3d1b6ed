"""Epoch time of `tk run` against the plain PyTorch loop and against the model alone, in one run.

Three ways to train the same model on the same generated screenshots (1280×720 PNGs drawn by
the `tk_screens` generator, the reference workload's kind of data), on the same device, the
same split and the same thread count, in this one process:

a. **tk** — `toolkit.engine.train.run_recipe`: images decoded and resized once (the decode
   cache starts empty; that one-time cost is reported separately), colour jitter on whole
   batches on the device. An epoch is timed from the end of one epoch to the end of the next
   (minus the other methods' turns, below), so it includes validation, metrics, checkpoint
   writes and everything else the engine does.
b. **baseline** — the reference script's loop: torchvision ``ImageFolder`` with a per-image
   PIL decode, bicubic resize and ``ColorJitter(0.1, 0.1, 0.1, 0.05)`` in a ``DataLoader`` with
   workers; validation through a second loader.
c. **model only** — the same number of forward/backward/optimiser steps and validation
   forwards on tensors already on the device: the floor an epoch cannot go below. The colour
   jitter tk runs is also timed alone on the same batches, so the report can say how much of
   tk's epoch is the augmentation the recipe asks for and how much is the engine.

The methods take turns epoch by epoch (tk's event hook runs one baseline epoch and one
model-only epoch after each tk epoch), so a machine whose load changes during the benchmark
slows all three alike instead of whichever happened to run at the busy moment. Each epoch
trains on the training split and evaluates the validation split, as the reference does. The
reported time is the median epoch from the second epoch on (the first pays warm-up). Targets
(issue 15): tk ≤ 0.5 × baseline and tk ≤ 1.10 × model only (wall clock), in one run. CPU seconds of each
epoch (all processes, DataLoader workers included) are reported too: on a shared machine they
are the steadier measure of the work each method does.

    python benchmarks/train_speed.py                      # 301 images, mobilenetv4_conv_small at 128 px, 5 epochs
    python benchmarks/train_speed.py --model mobilenetv4_conv_medium --size 256 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from toolkit import hookimpl

JITTER = dict(brightness=0.1, contrast=0.1, saturation=0.1, hue=0.05)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--images", type=int, default=301, help="screenshots to generate (split over 7 classes)")
    p.add_argument("--model", default="mobilenetv4_conv_small", help="timm model name (trained from scratch)")
    p.add_argument("--size", type=int, default=128, help="model input size in pixels")
    p.add_argument("--epochs", type=int, default=5, help="epochs per method (timed from the 2nd)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--workers", type=int, default=2, help="DataLoader workers of the baseline")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    p.add_argument("--threads", type=int, default=0,
                   help="tk's train.threads (0: tk's default, which lends cores to busy processes — here the "
                        "baseline's DataLoader workers between tk's epochs)")
    p.add_argument("--data", type=Path, help="folder for the generated images (default: a cache folder)")
    p.add_argument("--json", type=Path, help="also write the results here")
    return p.parse_args(argv)


def generate(args: argparse.Namespace) -> Path:
    from tk_screens import CLASSES, generate_dataset

    per_class = max(2, args.images // len(CLASSES))
    cache = Path(os.environ.get("TK_CACHE_DIR") or Path.home() / ".cache" / "tk")
    out = args.data or cache / "benchmarks" / f"screens-1280x720-{per_class}"
    started = time.perf_counter()
    generate_dataset(out, per_class=per_class, size=(1280, 720), seed=0)
    print(f"data: {per_class * len(CLASSES)} screenshots 1280x720 in {out} ({time.perf_counter() - started:.1f}s)")
    return out


def cpu_seconds() -> float:
    """CPU time of this process and its live children (the baseline's DataLoader workers).

    On a shared machine wall-clock epochs swing with other people's load; CPU seconds — the
    work each method does — barely do, so they are reported beside the wall times. Linux reads
    the children from /proc; elsewhere only this process is counted.
    """
    t = os.times()
    total = t.user + t.system + t.children_user + t.children_system
    proc = Path("/proc")
    if proc.is_dir():
        me, tick = os.getpid(), os.sysconf("SC_CLK_TCK")
        for entry in proc.iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == me:  # ppid
                total += (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    return total


class Clock:
    """Wall and CPU seconds of one timed stretch."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), cpu_seconds()

    def read(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, cpu_seconds() - self.cpu


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _model(args: argparse.Namespace, num_classes: int, device):
    import timm
    import torch

    model = timm.create_model(args.model, pretrained=False, num_classes=num_classes).to(device)
    return model, torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)


class Baseline:
    """(b) The reference script's way: decode, resize and jitter every image, every epoch."""

    def __init__(self, args: argparse.Namespace, root: Path, split: dict, device):
        import torch
        from torch.utils.data import DataLoader, Subset
        from torchvision import datasets, transforms

        normalize = transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
        resize = transforms.Resize((args.size, args.size), interpolation=transforms.InterpolationMode.BICUBIC)
        train_tf = transforms.Compose([resize, transforms.ColorJitter(**JITTER), transforms.ToTensor(), normalize])
        val_tf = transforms.Compose([resize, transforms.ToTensor(), normalize])
        train_set, val_set = datasets.ImageFolder(root, train_tf), datasets.ImageFolder(root, val_tf)
        index = {os.path.abspath(p): i for i, (p, _) in enumerate(train_set.samples)}
        kw = dict(batch_size=args.batch_size, num_workers=args.workers, persistent_workers=args.workers > 0,
                  pin_memory=device.type == "cuda")
        train_ids = [index[os.path.abspath(p)] for p, _ in split["train"]]
        # Batch norm cannot train on a last batch of one image (tk joins it to the batch before).
        lone = len(train_ids) % args.batch_size == 1
        self.train_loader = DataLoader(Subset(train_set, train_ids), shuffle=True, drop_last=lone, **kw)
        self.val_loader = DataLoader(Subset(val_set, [index[os.path.abspath(p)] for p, _ in split["val"]]),
                                     shuffle=False, **kw)
        self.model, self.opt = _model(args, len(train_set.classes), device)
        self.loss_fn = torch.nn.CrossEntropyLoss()
        self.device = device
        self.times: list[float] = []
        self.cpu: list[float] = []

    def epoch(self) -> None:
        import torch

        clock = Clock()
        self.model.train()
        for x, y in self.train_loader:
            x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
            loss = self.loss_fn(self.model(x), y)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            float(loss.detach())  # the reference logs the loss of each batch
        self.model.eval()
        with torch.no_grad():
            for x, y in self.val_loader:
                self.model(x.to(self.device)).argmax(1).eq(y.to(self.device)).sum().item()
        _sync(self.device)
        wall, cpu = clock.read()
        self.times.append(wall)
        self.cpu.append(cpu)


class ModelOnly:
    """(c) The same steps on ready tensors."""

    def __init__(self, args: argparse.Namespace, n_train: int, n_val: int, num_classes: int, device):
        import torch

        self.model, self.opt = _model(args, num_classes, device)
        self.loss_fn = torch.nn.CrossEntropyLoss()
        bs = args.batch_size
        # Real-looking inputs (normalised like the other two), not uniform noise.
        self.x = torch.randn(bs, 3, args.size, args.size, device=device)
        self.y = torch.randint(0, num_classes, (bs + 1,), device=device)
        self.xv = torch.randn(2 * bs, 3, args.size, args.size, device=device)
        self.train_sizes = [min(bs, n_train - i) for i in range(0, n_train, bs)]
        if len(self.train_sizes) > 1 and self.train_sizes[-1] == 1:  # as tk does: join a lone last image
            self.train_sizes[-2:] = [self.train_sizes[-2] + 1]
        self.x = torch.cat([self.x, self.x[:1]])  # room for a batch of bs + 1
        self.val_sizes = [min(2 * bs, n_val - i) for i in range(0, n_val, 2 * bs)]
        self.device = device
        self.times: list[float] = []
        self.cpu: list[float] = []
        self.aug_times: list[float] = []
        from toolkit.plugin.manager import load_plugins

        self.jitter = load_plugins().create("augmentations", "color_jitter", dict(JITTER), where="bench",
                                            context={"num_classes": num_classes, "image_size": args.size})

    def epoch(self) -> None:
        import torch

        clock = Clock()
        for n in self.train_sizes:  # tk's augmentation alone, on the same batches (timed apart)
            self.jitter(self.x[:n].clamp(0, 1), self.y[:n])
        _sync(self.device)
        self.aug_times.append(clock.read()[0])
        clock = Clock()
        self.model.train()
        for n in self.train_sizes:
            loss = self.loss_fn(self.model(self.x[:n]), self.y[:n])
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
        self.model.eval()
        with torch.inference_mode():
            for n in self.val_sizes:
                self.model(self.xv[:n])
        _sync(self.device)
        wall, cpu = clock.read()
        self.times.append(wall)
        self.cpu.append(cpu)


class TakeTurns:
    """Event hooks on the tk run: time its epochs and run the other methods' epochs in between."""

    def __init__(self, args: argparse.Namespace, root: Path, device):
        self.args, self.root, self.device = args, root, device
        self.tk_times: list[float] = []
        self.tk_cpu: list[float] = []
        self.others: list = []
        self.clock: Clock | None = None
        self.setup = 0.0

    @hookimpl
    def tk_run_start(self, run) -> None:
        begun = time.perf_counter()
        split = json.loads((run.dir / "split.json").read_text())
        self.split = split
        self.others = [Baseline(self.args, self.root, split, self.device),
                       ModelOnly(self.args, len(split["train"]), len(split["val"]), len(split["class_names"]),
                                 self.device)]
        self.clock = Clock()
        self.setup = time.perf_counter() - begun

    @hookimpl
    def tk_epoch_end(self, run, epoch, metrics) -> None:
        wall, cpu = self.clock.read()
        self.tk_times.append(wall)
        self.tk_cpu.append(cpu)
        for method in self.others:
            method.epoch()
        self.clock = Clock()


def tk_recipe(args: argparse.Namespace, root: Path, work: Path) -> Path:
    path = work / "bench.toml"
    path.write_text(f"""
[data]
root = "{root.as_posix()}"
image_size = {args.size}
cache_dir = "{(work / 'cache').as_posix()}"
[model]
backbone = "{args.model}"
[[augment.ops]]
name = "color_jitter"
brightness = {JITTER['brightness']}
contrast = {JITTER['contrast']}
saturation = {JITTER['saturation']}
hue = {JITTER['hue']}
[schedule]
name = "constant"
[train]
epochs = {args.epochs}
batch_size = {args.batch_size}
device = "{args.device}"
early_stopping = false
threads = {args.threads}
""")
    return path


def steady(times: list[float]) -> float:
    """Median epoch time from the second epoch on."""
    return statistics.median(times[1:]) if len(times) > 1 else times[0]


def main(argv: list[str] | None = None) -> int:
    import torch

    from toolkit.engine.device import describe_device, pick_device
    from toolkit.engine.train import run_recipe
    from toolkit.recipe.load import load_recipe

    args = parse_args(argv)
    if args.epochs < 2:
        print("--epochs must be at least 2 (the first epoch is not timed)", file=sys.stderr)
        return 2
    device = pick_device(args.device)
    root = generate(args)
    print(f"device: {describe_device(device)}; model {args.model} at {args.size} px, batch {args.batch_size}, "
          f"{args.epochs} epochs per method, taking turns")
    turns = TakeTurns(args, root, device)
    with tempfile.TemporaryDirectory(prefix="tk-bench-") as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        result = run_recipe(load_recipe(tk_recipe(args, root, work)), out=work / "tk-run", quiet=True,
                            extra_plugins=[("bench_turns", turns)])
        total = time.perf_counter() - started
    base, only = turns.others
    in_turns = sum(turns.tk_times) + sum(base.times) + sum(only.times) + turns.setup
    times = {"tk": turns.tk_times, "baseline": base.times, "model_only": only.times}
    cpu = {"tk": turns.tk_cpu, "baseline": base.cpu, "model_only": only.cpu}
    for name, values in times.items():
        print(f"{name + ':':<12} epochs {', '.join(f'{t:.2f}s' for t in values)} wall; "
              f"{', '.join(f'{t:.2f}s' for t in cpu[name])} CPU")
    t_tk, t_base, t_model = steady(turns.tk_times), steady(base.times), steady(only.times)
    c_tk, c_base, c_model = steady(turns.tk_cpu), steady(base.cpu), steady(only.cpu)
    t_aug = steady(only.aug_times)
    out = {
        "benchmark": "train_speed", "model": args.model, "image_size": args.size, "batch_size": args.batch_size,
        "images": len(turns.split["train"]) + len(turns.split["val"]), "train_images": len(turns.split["train"]),
        "val_images": len(turns.split["val"]), "source_resolution": [1280, 720], "epochs": args.epochs,
        "baseline_workers": args.workers, "device": describe_device(device), "torch": torch.__version__,
        "python": platform.python_version(), "cpu_threads": torch.get_num_threads(),
        "epoch_time_s": {"tk": t_tk, "baseline": t_base, "model_only": t_model}, "epoch_times_s": times,
        "epoch_cpu_s": {"tk": c_tk, "baseline": c_base, "model_only": c_model}, "epoch_cpus_s": cpu,
        "cpu_ratio_tk_to_baseline": c_tk / c_base, "cpu_ratio_tk_to_model_only": c_tk / c_model,
        "augmentation_time_s": t_aug, "ratio_tk_without_augmentation_to_model_only": (t_tk - t_aug) / t_model,
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "tk_one_time_s": total - in_turns, "tk_val_accuracy": result.metrics.get("accuracy"),
        "ratio_tk_to_baseline": t_tk / t_base, "ratio_tk_to_model_only": t_tk / t_model,
        "targets": {"tk_to_baseline_max": 0.5, "tk_to_model_only_max": 1.10},
    }
    ok_base, ok_model = out["ratio_tk_to_baseline"] <= 0.5, out["ratio_tk_to_model_only"] <= 1.10
    out["meets_targets"] = ok_base and ok_model
    print(f"tk one-time cost (scan, decode into the cache, final report): {out['tk_one_time_s']:.1f}s")
    print(f"median epoch from epoch 2: tk {t_tk:.2f}s, baseline {t_base:.2f}s, model only {t_model:.2f}s")
    print(f"tk / baseline   = {out['ratio_tk_to_baseline']:.2f}  (target <= 0.5: {'met' if ok_base else 'MISSED'})")
    print(f"tk / model only = {out['ratio_tk_to_model_only']:.2f}  (target <= 1.10: {'met' if ok_model else 'MISSED'})")
    print(f"of tk's epoch, {t_aug:.2f}s is the colour jitter itself (timed alone on the same batches); without it "
          f"tk / model only = {out['ratio_tk_without_augmentation_to_model_only']:.2f}")
    print(f"CPU seconds per epoch (the work, all processes): tk {c_tk:.2f}, baseline {c_base:.2f}, model only "
          f"{c_model:.2f}; ratios {out['cpu_ratio_tk_to_baseline']:.2f} and {out['cpu_ratio_tk_to_model_only']:.2f}")
    if out["load_average"] and out["load_average"][0] > (os.cpu_count() or 1):
        print(f"note: load average {out['load_average'][0]:.1f} on {os.cpu_count()} CPUs: other work shared the "
              f"machine, wall times are noisy")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

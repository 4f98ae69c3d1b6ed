"""`tk augment preview RECIPE`: a grid PNG of training images before and after the recipe's ops.

Augmentations run on batches on the training device, so there is no per-image pipeline to
eyeball; this command shows what the model will see. It loads the recipe's dataset through the
registry (``data.source``), takes a few images of the training split (spread over the classes,
chosen by the seed), decodes them with the same resize rule as training, runs the recipe's
``[[augment.ops]]`` on them as one batch, and writes pairs (original | augmented) with their
labels; after mixup or cutmix the label shows the mix.
"""

from __future__ import annotations

from pathlib import Path

import click

from ..core.errors import DataError


@click.group()
def augment() -> None:
    """See what the recipe's augmentations do to your images."""


def _pick(labels: list[int], train: list[int], n: int, seed: int) -> list[int]:
    """Up to ``n`` training indices, taking classes in turn so rare classes appear too."""
    import random

    rng = random.Random(seed)
    by_class: dict[int, list[int]] = {}
    for i in train:
        by_class.setdefault(labels[i], []).append(i)
    for items in by_class.values():
        rng.shuffle(items)
    picked: list[int] = []
    while len(picked) < n and any(by_class.values()):
        for k in sorted(by_class):
            if by_class[k] and len(picked) < n:
                picked.append(by_class[k].pop())
    return picked


def _label(target, class_names: list[str]) -> str:
    """``cat`` for a class index; ``cat 0.62 + dog 0.38`` for a soft row."""
    if target.dim() == 0:
        return class_names[int(target)]
    top = target.float().topk(min(2, target.numel()))
    parts = [f"{class_names[int(i)]} {float(v):.2f}" for v, i in zip(top.values, top.indices) if float(v) > 0.005]
    return " + ".join(parts)


def render_grid(originals, augmented, labels_before: list[str], labels_after: list[str], cols: int = 4,
                title: str = ""):
    """A PIL image: a title, then a grid of (original | augmented) pairs with their labels in full
    (wrapped under the pair, never cut: two classes that share a prefix must still look apart)."""
    import textwrap

    from PIL import Image, ImageDraw

    n, _, h, w = originals.shape
    cols = max(1, min(cols, n))
    rows = (n + cols - 1) // cols
    gap, line = 6, 12
    cell_w = 2 * w + gap
    chars = max(8, cell_w // 6)  # PIL's default font is about 6 px a character

    def wrapped(text: str) -> list[str]:
        return textwrap.wrap(text, chars, break_long_words=True) or [""]

    captions = [(wrapped(b), wrapped(a) if a != b else []) for b, a in zip(labels_before, labels_after)]
    caption_h = line * max(len(b) + len(a) for b, a in captions) + 4
    title_h = 2 * line + 8 if title else 0
    width = cols * cell_w + (cols - 1) * gap * 2
    title_lines = textwrap.wrap(title, max(20, width // 6)) if title else []
    title_h = line * len(title_lines) + 8 if title_lines else 0
    sheet = Image.new("RGB", (width, title_h + rows * (h + caption_h + gap)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for j, text in enumerate(title_lines):
        draw.text((0, 2 + j * line), text, fill=(0, 0, 0))
    as_u8 = lambda t: Image.fromarray((t.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy())  # noqa: E731
    for i in range(n):
        x = (i % cols) * (cell_w + gap * 2)
        y = title_h + (i // cols) * (h + caption_h + gap)
        sheet.paste(as_u8(originals[i]), (x, y))
        sheet.paste(as_u8(augmented[i]), (x + w + gap, y))
        before, after = captions[i]
        for j, text in enumerate(before):
            draw.text((x, y + h + 2 + j * line), text, fill=(0, 0, 0))
        for j, text in enumerate(after):  # a label the augmentation changed (mixup, cutmix), in red
            draw.text((x, y + h + 2 + (len(before) + j) * line), text, fill=(180, 0, 0))
    return sheet


@augment.command("preview")
@click.argument("recipe")
@click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE", help="Override a recipe key.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("augment-preview.png"),
              show_default=True, help="PNG file to write.")
@click.option("--n", "count", type=click.IntRange(1, 256), default=16, show_default=True, help="Images to show.")
@click.option("--seed", type=int, default=None, help="Seed of the image choice and the augmentations "
              "(default: train.seed).")
def preview(recipe: str, overrides: tuple[str, ...], out: Path, count: int, seed: int | None) -> None:
    """Write a grid of training images of RECIPE before and after its augmentations.

    Paths follow `tk run`'s rule: --set data.root=DIR is relative to the working directory, a
    root written in the recipe relative to the recipe's folder."""
    from ..core.errors import TkError
    from ..engine.train import load_run_plugins
    from ..recipe.load import find_recipe, load_recipe

    rec = load_recipe(find_recipe(recipe), overrides)
    try:
        # `tk run`'s checks before it reads data: the recipe, then the data folder, in a second and
        # before torch or the model is loaded
        plugins = load_run_plugins(rec)
        _preview(rec, plugins, out, count, seed)
    except TkError as exc:  # a plugin's complaint about a key: say where it was written
        located = rec.locate(str(exc))
        if located == str(exc):
            raise
        raise TkError(located) from exc  # the cause stays for `tk --debug`


def _preview(rec, plugins, out: Path, count: int, seed: int | None) -> None:
    import torch

    from ..core.atomic import atomic_write
    from ..data import decode_images, split_from_presplit, split_indices
    from ..engine.data_pipeline import load_index

    data = rec["data"]
    seed = rec["train"]["seed"] if seed is None else seed
    index = load_index(rec, plugins)
    if not index.samples:
        raise DataError(f"data: the dataset of {rec.path} has no images to preview.")
    split = (split_from_presplit(index.presplit, index.labels, val_fraction=data["val_fraction"], seed=data["seed"])
             if index.presplit else
             split_indices(index.labels, val_fraction=data["val_fraction"], test_fraction=data["test_fraction"],
                           seed=data["seed"]))
    picked = _pick(index.labels, split.train or list(range(len(index.samples))), count, seed)
    from ..core.geometry import InputSpec

    spec = InputSpec.from_recipe(data)
    decoded = decode_images([index.samples[i][0] for i in picked], spec, cache_dir=None, workers=data["workers"],
                            hashes=False)
    if decoded.failed:
        bad, reason = decoded.failed[0]
        raise DataError(f"{index.samples[picked[bad]][0]}: {reason}.")
    k = len(index.class_names)
    ops = [plugins.build("augmentations", op["name"], {key: v for key, v in op.items() if key != "name"},
                          where=f"augment.ops[{i}]", context={"num_classes": k, "image_size": spec.size})
           for i, op in enumerate(rec["augment"]["ops"])]
    images = decoded.images.float() / 255.0
    targets = torch.tensor([index.labels[i] for i in picked], dtype=torch.int64)
    torch.manual_seed(seed)
    augmented, mixed = images, targets
    with torch.no_grad():
        for op in ops:
            augmented, mixed = op(augmented, mixed)
    names = ", ".join(op["name"] for op in rec["augment"]["ops"]) or "no augmentations"
    sheet = render_grid(images, augmented, [_label(t, index.class_names) for t in targets],
                        [_label(t, index.class_names) for t in mixed],
                        title=f"{rec.name}: each pair is a training image as decoded | after {names} (seed {seed})")
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, lambda fh: sheet.save(fh, format="PNG"))
    click.echo(f"Wrote {out} ({len(picked)} images of {rec.name}: original | after {names}).")

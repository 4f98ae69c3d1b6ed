"""`tk data doctor DIR_OR_RUN`: one page of everything wrong with a dataset, and a fixes.csv.

What it looks at:

* a **folder** of class folders (what `tk run` trains on);
* a **run folder** (its split.json names the images; its predictions.csv gives the likely
  label errors among the validation images);
* a **cross-validation folder** (`tk run --folds`): like a run, with the out-of-fold
  predictions of every image, so every image can be flagged.

What it reports (`doctor.html`, self-contained, and `doctor.json`): class balance, image
sizes and aspect ratios, groups of near-duplicate images with thumbnails, label conflicts
(near-duplicates in different classes), likely label errors with thumbnails and the suggested
class (`toolkit.assess.quality`, cleanlab), with how far to trust them — the accuracy and macro-F1
(95% intervals) of the model whose held-out predictions flagged them, and a caution when that
is below 90% or rests on too few images (`issue_trust`) — and unusable files.

`fixes.csv` has one row per suggested change — ``file`` (relative to the data folder),
``problem``, ``suggestion`` — where a suggestion is ``remove``, ``move to <class>`` or
``review``. Edit it freely (delete a row to keep the file as it is), then
`apply_fixes` (`tk data apply`) writes a corrected *copy* of the folder and never touches the
original.
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import html
import io
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..core.atomic import atomic_write
from ..core.errors import TkError
from ..core.text import csv_row, printable
from .doctor_apply import FIX_COLUMNS, apply_fixes  # tk data apply lives there; re-exported
from .doctor_inputs import images_of, inside
from .doctor_review import REVIEW_STYLE, review_section

__all__ = ["Diagnosis", "diagnose", "find_duplicates", "write_doctor", "apply_fixes", "FIX_COLUMNS", "issue_trust",
           "trust_text"]

THUMB = 96
MAX_GROUPS_SHOWN = 30
MAX_ISSUES_SHOWN = 40


@dataclass
class Diagnosis:
    root: Path
    source: str  # "folder", "run" or "cross-validation"
    class_names: list[str]
    paths: list[str]  # absolute
    labels: list[int]
    counts: list[int]
    sizes: Counter = field(default_factory=Counter)  # (w, h) -> n
    aspects: Counter = field(default_factory=Counter)  # rounded w/h -> n
    groups: list[list[int]] = field(default_factory=list)
    conflicts: list[list[int]] = field(default_factory=list)
    unusable: list[tuple[str, str]] = field(default_factory=list)
    issues: list[Any] = field(default_factory=list)  # toolkit.assess.quality.LabelIssue, ranked
    issues_from: str = ""
    issues_note: str = ""
    issues_trust: dict[str, Any] = field(default_factory=dict)  # the model's accuracy on the held-out images
    issues_caution: str = ""  # one line when that model is too weak (or judged on too few images) to trust
    bits: int = 8
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason): named by the run, not looked at

    def rel(self, path: str) -> str:
        return os.path.relpath(path, self.root)

    def inside(self, path: str) -> bool:
        """Whether ``path`` lies inside the data folder (only such files get a row in fixes.csv)."""
        return inside(path, self.root)

    def fixes(self) -> list[tuple[str, str, str]]:
        """(file, problem, suggestion) rows: unusable files and duplicate copies removed,
        flagged label errors moved to the suggested class, label conflicts to review."""
        rows: list[tuple[str, str, str]] = []
        seen: set[str] = set()

        def add(path: str, problem: str, suggestion: str) -> None:
            if not self.inside(path):  # a name outside the data folder must never become a relative one
                return
            rel = self.rel(path)
            if rel not in seen:
                seen.add(rel)
                rows.append((rel, problem, suggestion))

        for path, reason in self.unusable:
            add(path, f"unusable: {reason}", "remove")
        for issue in self.issues:
            if issue.flagged:
                add(issue.path, f"likely label error: labelled {issue.given}, the model says {issue.suggested} "
                                f"(label quality {issue.score:.3f})", f"move to {issue.suggested}")
        conflicted = {i for g in self.conflicts for i in g}
        for group in self.conflicts:
            names = sorted({self.class_names[self.labels[i]] for i in group})
            for i in group:
                add(self.paths[i], f"label conflict: near-duplicates are labelled {', '.join(names)}", "review")
        for group in self.groups:
            if conflicted & set(group):
                continue
            keep = group[0]
            for i in group[1:]:
                add(self.paths[i], f"near-duplicate of {self.rel(self.paths[keep])}", "remove")
        return rows

    def to_json(self) -> dict[str, Any]:
        fixes = self.fixes()
        return {
            "root": str(self.root), "source": self.source, "class_names": self.class_names,
            "counts": dict(zip(self.class_names, self.counts)), "images": len(self.paths),
            "sizes": [{"width": w, "height": h, "images": n} for (w, h), n in self.sizes.most_common()],
            "aspect_ratios": [{"ratio": r, "images": n} for r, n in sorted(self.aspects.items())],
            "near_duplicates": {"detector": "same_frame",
                                "groups": [[self.rel(self.paths[i]) for i in g] for g in self.groups],
                                "images": sum(len(g) for g in self.groups)},
            "label_conflicts": [[{"file": self.rel(self.paths[i]), "label": self.class_names[self.labels[i]]} for i in g]
                                for g in self.conflicts],
            "label_issues": {"from": self.issues_from, "note": self.issues_note,
                             "trust": self.issues_trust, "caution": self.issues_caution or None,
                             "flagged": sum(i.flagged for i in self.issues),
                             "ranked": [dict(i.to_json(), path=self.rel(i.path)) for i in self.issues[:200]]},
            "unusable": [{"file": self.rel(p), "reason": r} for p, r in self.unusable],
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
            "fixes": len(fixes),
        }


# -- how far to trust the flagged label errors ------------------------------------------------
TRUSTED_ACCURACY = 0.90
"""Below this held-out accuracy, a model's disagreements with the labels are often its own mistakes."""
WIDE_INTERVAL = 0.20
"""An accuracy interval wider than this says the held-out images are too few to judge the model."""


def issue_trust(labels: list[int], predicted: list[int], class_names: list[str]) -> tuple[dict[str, Any], str]:
    """``(figures, caution)``: the accuracy and macro-F1, with 95% intervals, of the model whose
    held-out predictions flagged the label errors, and one caution line when it is below
    `TRUSTED_ACCURACY` or its interval is wider than `WIDE_INTERVAL` (empty otherwise)."""
    from ..engine.metrics import classification_metrics

    m = classification_metrics(labels, predicted, class_names, intervals=True)
    figures = {"images": len(labels), "accuracy": m["accuracy"], "accuracy_ci": m["accuracy_ci"],
               "macro_f1": m["macro_f1"], "macro_f1_ci": m["macro_f1_ci"]}
    low, high = m["accuracy_ci"]
    if m["accuracy"] < TRUSTED_ACCURACY:
        caution = (f"Caution: the model that flagged these is right on only {m['accuracy']:.1%} [{low:.1%}–{high:.1%}] "
                   f"of its held-out images, so many may be its own mistakes, not wrong labels: look at each before "
                   f"moving it.")
    elif high - low > WIDE_INTERVAL:
        caution = (f"Caution: only {len(labels)} held-out images judge the model that flagged these "
                   f"({m['accuracy']:.1%} [{low:.1%}–{high:.1%}] right), too few to know how often it is wrong: "
                   f"look at each before moving it.")
    else:
        caution = ""
    return figures, caution


def trust_text(figures: dict[str, Any]) -> str:
    """``73.0% [64.1–80.3%] of 126 held-out images (macro-F1 0.712 [0.610–0.790])``."""
    low, high = figures["accuracy_ci"]
    f_low, f_high = figures["macro_f1_ci"]
    return (f"{figures['accuracy']:.1%} [{low:.1%}–{high:.1%}] of {figures['images']} held-out images "
            f"(macro-F1 {figures['macro_f1']:.3f} [{f_low:.3f}–{f_high:.3f}])")


def find_duplicates(paths: list[str], labels: list[int], bits: int, *, workers: int = 2,
                    on_progress: Callable[[int, int], None] | None = None) -> tuple[Any, list[tuple[str, str]]]:
    """(`GroupReport` with indices into ``paths``, [(path, reason)] of unreadable images).

    Images that show the same frame (`toolkit.data.duplicates.same_frame_groups`), from the frame
    features kept in the shared image store at 64×64 (built on first use, then reused by `tk data
    check` and `tk data doctor` alike; no pixels are copied out of it). The features do not
    depend on the store's size, so `tk run` finds the same groups. ``bits`` is no longer used.
    """
    from ..data.duplicates import group_report, same_frame_groups
    from ..data.store import open_store
    from ..engine.data_pipeline import default_cache_dir

    res = open_store(paths, (64, 64), cache_dir=default_cache_dir(), workers=workers, on_progress=on_progress)
    failed = dict(res.failed)
    ok = [i for i in range(len(paths)) if i not in failed]
    features = res.store.features([res.rows[i] for i in ok])
    report = group_report(same_frame_groups(features), [labels[i] for i in ok])
    order = keep_order(report.groups, [paths[i] for i in ok], features)
    report.groups = [[ok[i] for i in sorted(g, key=order)] for g in report.groups]
    report.conflicts = [[ok[i] for i in g] for g in report.conflicts]
    return report, [(paths[i], reason) for i, reason in sorted(failed.items())]


LOSSY = (".jpg", ".jpeg", ".jpe", ".jfif")


def keep_order(groups: list[list[int]], paths: list[str], features: Any) -> Callable[[int], tuple]:
    """A sort key that puts first, in each group of the same frame, the copy to keep (the doctor
    suggests removing the others): a lossless file before a JPEG (a re-encoded copy), more pixels
    before fewer (a scaled-down copy), then the frame closest to the group's per-pixel median (a
    mouse cursor, a notification or a shift that one copy has and the others do not is voted
    out, so the unmarked original is closest), then the least edge energy (a cursor or a
    notification adds edges; what tells the two of a pair apart), then the given order. Grey
    frames at 160×90 (every other pixel of the stored 320×180 features)."""
    import numpy as np
    from PIL import Image

    from ..data.duplicates import FEATURE_DECODE

    fine = FEATURE_DECODE[0] * FEATURE_DECODE[1]
    keys: dict[int, tuple] = {}
    for group in groups:
        grey = np.stack([np.asarray(features[i][:fine]).reshape(FEATURE_DECODE)[::2, ::2] for i in group])
        grey = grey.astype(np.float64)
        off = np.abs(grey - np.median(grey, axis=0)).sum(axis=(1, 2))
        energy = np.abs(np.diff(grey, axis=1)).sum(axis=(1, 2)) + np.abs(np.diff(grey, axis=2)).sum(axis=(1, 2))
        for k, i in enumerate(group):
            try:
                with Image.open(paths[i]) as im:
                    pixels = im.size[0] * im.size[1]
            except (OSError, ValueError):
                pixels = 0
            keys[i] = (paths[i].lower().endswith(LOSSY), -pixels, float(off[k]), float(energy[k]), i)
    return keys.__getitem__  # called on the groups' members only


def diagnose(target: str | Path, *, bits: int = 8, workers: int = 2,
             progress: Callable[[str, int, int], None] | None = None) -> Diagnosis:
    """Everything `tk data doctor` reports about ``target`` (see the module docstring)."""
    from PIL import Image

    target = Path(target)
    if not target.is_dir():
        raise TkError(f"{target}: not a folder (give an image folder, a run folder or a cross-validation folder).")
    kind, root, names, pairs, bad, skipped = images_of(target)
    paths, labels = [p for p, _ in pairs], [y for _, y in pairs]
    diag = Diagnosis(root, kind, names, paths, labels, [labels.count(i) for i in range(len(names))], bits=bits,
                     unusable=[(str(p), str(r)) for p, r in bad], skipped=skipped)
    for i, path in enumerate(paths):
        try:
            with Image.open(path) as im:
                w, h = im.size
        except (OSError, ValueError):
            continue
        diag.sizes[(w, h)] += 1
        diag.aspects[round(w / h, 2)] += 1
        if progress is not None and i % 50 == 0:
            progress("reading sizes", i + 1, len(paths))
    on_progress = (lambda done, total: progress("hashing", done, total)) if progress else None
    report, failed = find_duplicates(paths, labels, bits, workers=workers, on_progress=on_progress)
    diag.unusable += failed
    diag.groups, diag.conflicts = report.groups, report.conflicts
    if kind == "folder":
        diag.issues_note = ("Likely label errors need held-out predictions: train with `tk run RECIPE --folds 5` "
                            "and run tk data doctor on the cross-validation folder (or on a run folder).")
    else:
        from .quality import held_out_predictions, rank_label_issues

        preds, diag.issues_from = held_out_predictions(target)
        try:
            issues = rank_label_issues(preds["labels"], preds["probs"], preds["paths"], preds["class_names"])
        except TkError as exc:
            diag.issues_note = str(exc)
        else:
            # predictions.csv shows names that are not UTF-8 escaped: map them back to the files and
            # classes on disk, and look only at images of the split (never a path only it names)
            files = {printable(p): p for p in paths}
            classes = {printable(c): c for c in names}
            diag.issues = [dataclasses.replace(i, path=files[i.path], given=classes.get(i.given, i.given),
                                               suggested=classes.get(i.suggested, i.suggested))
                           for i in issues if i.path in files]
            # how far to trust them: the same model on the same held-out images
            if len(preds["labels"]):
                diag.issues_trust, diag.issues_caution = issue_trust(preds["labels"], preds["predicted"],
                                                                     preds["class_names"])
    return diag


# -- writing -----------------------------------------------------------------------------------
def _thumb(path: str) -> str:
    """A thumbnail of a regular file as base64 PNG ('' when it cannot be had): decoded as every
    image is (`toolkit.data.images.load_rgb`: regular files only — a FIFO or device is never
    opened —, the pixel limit checked before decoding, a JPEG at reduced scale), so a
    decompression bomb the scan lists is not decoded here either."""
    from PIL import Image

    from ..data.images import load_rgb

    try:
        im = load_rgb(path, reduce_for=(THUMB, THUMB * 2))
        im.thumbnail((THUMB * 2, THUMB))
        buf = io.BytesIO()
        im.save(buf, "PNG")
    except (OSError, ValueError, TkError, Image.DecompressionBombError):
        return ""
    return base64.b64encode(buf.getvalue()).decode("ascii")


_STYLE = """body{font:14px/1.45 system-ui,sans-serif;margin:24px;max-width:1200px;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.8em}table{border-collapse:collapse}
td,th{border:1px solid #ddd;padding:3px 9px;text-align:right}th{background:#f4f4f4}td:first-child{text-align:left}
.bar{background:#4a78c2;height:12px;display:inline-block}.row{display:flex;flex-wrap:wrap;gap:10px;margin:8px 0 14px}
figure{margin:0;font-size:11px;max-width:200px;overflow-wrap:anywhere}figure img{border:1px solid #bbb;display:block}
.bad{color:#b00}.muted{color:#666}.group{border-left:3px solid #ddd;padding-left:10px;margin-bottom:10px}"""


def _figure(diag: Diagnosis, i_or_path: int | str, caption: str) -> str:
    path = diag.paths[i_or_path] if isinstance(i_or_path, int) else i_or_path
    data = _thumb(path)
    img = f'<img src="data:image/png;base64,{data}" alt="">' if data else '<div class="bad">(cannot show)</div>'
    return f"<figure>{img}<figcaption>{html.escape(printable(caption))}</figcaption></figure>"


def _page(diag: Diagnosis, fixes: list[tuple[str, str, str]]) -> str:
    esc = html.escape
    total = max(len(diag.paths), 1)
    top = max(diag.counts or [1])
    balance = "".join(
        f"<tr><td>{esc(printable(n))}</td><td>{c}</td><td>{c / total:.1%}</td>"
        f"<td style='text-align:left'><span class='bar' style='width:{max(1, int(300 * c / top))}px'></span></td></tr>"
        for n, c in zip(diag.class_names, diag.counts))
    smallest = min(diag.counts) if diag.counts else 0
    ratio = f"{top / smallest:.1f}×" if smallest else "∞"
    sizes = "".join(f"<tr><td>{w}×{h}</td><td>{n}</td></tr>" for (w, h), n in diag.sizes.most_common(12))
    aspects = "".join(f"<tr><td>{r:g}</td><td>{n}</td></tr>" for r, n in diag.aspects.most_common(8))
    groups = []
    for g in diag.groups[:MAX_GROUPS_SHOWN]:
        figs = "".join(_figure(diag, i, f"{diag.rel(diag.paths[i])} ({diag.class_names[diag.labels[i]]})") for i in g[:8])
        more = f"<p class='muted'>and {len(g) - 8} more</p>" if len(g) > 8 else ""
        groups.append(f"<div class='group'><b>{len(g)} images</b><div class='row'>{figs}</div>{more}</div>")
    conflicts = []
    for g in diag.conflicts:
        figs = "".join(_figure(diag, i, f"{diag.rel(diag.paths[i])}: {diag.class_names[diag.labels[i]]}") for i in g[:8])
        conflicts.append(f"<div class='group'><div class='row'>{figs}</div></div>")
    shown = [i for i in diag.issues if i.flagged][:MAX_ISSUES_SHOWN] or diag.issues[:10]
    issues = "".join(_figure(diag, i.path, f"#{i.rank} {diag.rel(i.path)}: labelled {i.given}, "
                                           f"suggested {i.suggested} ({i.score:.2f})") for i in shown)
    flagged = sum(i.flagged for i in diag.issues)
    if diag.issues:
        issue_head = (f"<p>{flagged} image(s) flagged by confident learning (cleanlab) from the "
                      f"{esc(diag.issues_from)}; {'they are' if flagged else 'none is flagged; the lowest-scoring are'} "
                      f"shown, likeliest first (label quality in brackets: the held-out probability of the given "
                      f"label).</p>")
        if diag.issues_trust:
            issue_head += (f"<p>How much to trust them: the model is right on {esc(trust_text(diag.issues_trust))}, "
                           f"95% intervals.</p>")
        if diag.issues_caution:
            issue_head += f"<p class='bad'><b>{esc(diag.issues_caution)}</b></p>"
    else:
        issue_head = f"<p class='muted'>{esc(diag.issues_note)}</p>"
    unusable = "".join(f"<tr><td>{esc(printable(diag.rel(p)))}</td><td style='text-align:left'>{esc(printable(r))}</td></tr>"
                       for p, r in diag.unusable)
    fix_counts = Counter(s.split(" ")[0] for _, _, s in fixes)
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>tk data doctor: {esc(printable(str(diag.root)))}</title>
<style>{_STYLE}
{REVIEW_STYLE}</style></head><body>
<h1>tk data doctor</h1>
<p>{esc(printable(str(diag.root)))} ({esc(diag.source)}): {len(diag.paths)} images in {len(diag.class_names)} classes.
fixes.csv suggests {len(fixes)} change(s): {fix_counts.get('remove', 0)} to remove, {fix_counts.get('move', 0)} to move,
{fix_counts.get('review', 0)} to review. Accept, reject or change each one <a href="#review">at the end of this page</a>
and save the reviewed fixes.csv (or edit it by hand), then apply them to a copy with
<code>tk data apply fixes.csv --out CLEAN_DIR</code>.</p>
<h2>Class balance (largest to smallest: {ratio})</h2>
<table><tr><th>class</th><th>images</th><th>share</th><th></th></tr>{balance}</table>
<h2>Image sizes and aspect ratios</h2>
<div class="row"><table><tr><th>size (w×h)</th><th>images</th></tr>{sizes}</table>
<table><tr><th>aspect (w/h)</th><th>images</th></tr>{aspects}</table></div>
<h2 class="{'bad' if diag.conflicts else ''}">Label conflicts: {len(diag.conflicts)}</h2>
<p class="muted">Near-duplicate images filed under different classes: at least one of each group is mislabelled.</p>
{''.join(conflicts) or '<p>None.</p>'}
<h2>Likely label errors</h2>{issue_head}<div class="row">{issues}</div>
<h2>Near-duplicate groups: {len(diag.groups)} ({sum(len(g) for g in diag.groups)} images showing the same frame)</h2>
<p class="muted">tk run keeps each group on one side of the split. Copies inflate how often a picture is seen in training.</p>
{''.join(groups) or '<p>None.</p>'}
<h2>Unusable files: {len(diag.unusable)}</h2>
{f"<table><tr><th>file</th><th>reason</th></tr>{unusable}</table>" if unusable else "<p>None.</p>"}
{review_section(diag, fixes, _thumb, FIX_COLUMNS)}
</body></html>
"""


def write_doctor(diag: Diagnosis, out: Path) -> dict[str, Path]:
    """doctor.html, doctor.json and fixes.csv in ``out``; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    fixes = diag.fixes()
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(FIX_COLUMNS)
    writer.writerows(csv_row(row) for row in fixes)  # a class named "=cmd|..." is text in a spreadsheet
    written = {"html": out / "doctor.html", "json": out / "doctor.json", "fixes": out / "fixes.csv"}
    page = _page(diag, fixes).encode("utf-8")
    atomic_write(written["html"], lambda fh: fh.write(page))
    data = json.dumps(diag.to_json(), indent=1, ensure_ascii=False).encode("utf-8", "surrogateescape")
    atomic_write(written["json"], lambda fh: fh.write(data))
    rows = buf.getvalue().encode("utf-8", "surrogateescape")
    atomic_write(written["fixes"], lambda fh: fh.write(rows))
    return written

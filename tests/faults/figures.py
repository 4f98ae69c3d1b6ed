"""Turn the figures a fault-suite run recorded into the tables of docs/reliability.md.

    TK_FAULT_FIGURES=/tmp/figures.jsonl pytest -n 2 tests/faults      (what `make test-faults` does)
    python tests/faults/figures.py /tmp/figures.jsonl --update docs/reliability.md

Each test appends JSON lines (`conftest.record_figure`): a family (killed runs, bad images …),
what was tried, how many, how many held, and facts such as files lost. This script sums them
per family and, with ``--update``, rewrites the block between ``<!-- figures:start -->`` and
``<!-- figures:end -->`` of the given Markdown file, so the published numbers are always those
of a real run.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import sys
import time
from pathlib import Path

START, END = "<!-- figures:start -->", "<!-- figures:end -->"


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


FAMILIES = ("killed runs", "failing writes", "bad images", "bad recipes", "hostile files", "broken plugins",
            "non-finite training", "probe findings")


def summary(rows: list[dict]) -> str:
    """One line per thing tried; rows of a ``group`` (one case each, e.g. every kill) become one line."""
    lines: dict[tuple[str, str], dict] = {}
    for row in rows:
        key = (row["family"], row.get("group") or row["kind"])
        line = lines.setdefault(key, {"kinds": 0, "tried": 0, "held": 0, "lost": 0, "unreadable": 0})
        line["kinds"] += 1 if row.get("group") else int(row.get("kinds", 1))
        for field in ("tried", "held", "lost", "unreadable"):
            line[field] += int(row.get(field, 0))
    order = {family: i for i, family in enumerate(FAMILIES)}
    out = ["| Fault family | What was tried | Kinds | Cases | Held | Files lost | Unreadable checkpoints |",
           "|---|---|---:|---:|---:|---:|---:|"]
    total = {"tried": 0, "held": 0, "lost": 0, "unreadable": 0}
    for (family, what), line in sorted(lines.items(), key=lambda item: order.get(item[0][0], len(order))):
        out.append(f"| {family} | {what} | {line['kinds']} | {line['tried']} | {line['held']} | {line['lost']} | "
                   f"{line['unreadable']} |")
        for field in total:
            total[field] += line[field]
    out.append(f"| **all** | | | **{total['tried']}** | **{total['held']}** | **{total['lost']}** | "
               f"**{total['unreadable']}** |")
    return "\n".join(out)


def kills(rows: list[dict]) -> str:
    killed = [r for r in rows if r["family"] == "killed runs" and "checkpoints_after_kill" in r]
    if not killed:
        return "_The kill sweep did not run (it is marked slow: `pytest -m slow tests/faults`)._"
    out = ["| SIGKILL moment | Checkpoints right after the kill (epoch, status) | Killed inside a write of | "
           "Resumed by | Final weights, history, metrics identical |",
           "|---|---|---|---|---|"]
    for r in killed:
        state = r["checkpoints_after_kill"].replace("|", "/") or "none"
        same = "yes" if r["held"] else "**no**"
        out.append(f"| {r['kind']} | {state} | {r.get('in_write') or '-'} | {r.get('resumed', '')} | {same} |")
    identical = sum(int(r["held"]) for r in killed)
    inside = sum(1 for r in killed if r.get("in_write"))
    out.append("")
    out.append(f"{len(killed)} runs killed and resumed; {identical} ended identical to the uninterrupted run "
               f"(torch.equal on every tensor of best.pt and last.pt); {inside} kills landed inside a write "
               f"(their temp file was left behind and removed by the resume); "
               f"{sum(int(r.get('unreadable', 0)) for r in killed)} unreadable checkpoints; "
               f"{sum(int(r.get('lost', 0)) for r in killed)} files lost.")
    return "\n".join(out)


def block(rows: list[dict], command: str) -> str:
    when = time.strftime("%Y-%m-%d")
    machine = f"{platform.system()} {platform.machine()}, Python {platform.python_version()}"
    return "\n".join([
        START,
        f"Figures from `{command}` on {when} ({machine}); regenerate them with that command.",
        "",
        summary(rows),
        "",
        "### Every kill of the sweep",
        "",
        kills(rows),
        END,
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("figures", type=Path, help="the JSON-lines file a run wrote (TK_FAULT_FIGURES)")
    parser.add_argument("--update", type=Path, help="Markdown file whose figures block to replace")
    parser.add_argument("--command", default="make test-faults", help="the command that produced the figures")
    args = parser.parse_args(argv)
    text = block(load(args.figures), args.command)
    if args.update is None:
        print(text)
        return 0
    doc = args.update.read_text(encoding="utf-8")
    if START not in doc or END not in doc:
        print(f"{args.update}: no {START} … {END} block to replace", file=sys.stderr)
        return 1
    args.update.write_text(re.sub(re.escape(START) + r".*?" + re.escape(END), lambda _m: text, doc, flags=re.S),
                           encoding="utf-8")
    print(f"Updated the figures in {args.update}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The review part of `tk data doctor`'s page: accept, reject or change each suggested fix
beside its thumbnails, and save the reviewed ``fixes.csv`` that `tk data apply` reads.

The page stays self-contained and needs no server: the suggestions travel as JSON in a
``<script type="application/json">`` (every ``<``, ``>`` and ``&`` written as ``\\u003c`` …, so
no name can end the script; names that are not UTF-8 as their surrogate escapes), and a little
plain JavaScript builds the list with DOM calls only (``textContent``, never ``innerHTML`` with a
name), then writes the CSV as a Blob download named ``fixes.csv`` (or into a text box to copy).

The JavaScript writer follows what `write_doctor` does, byte for byte: `toolkit.core.text.csv_cell` on
every cell (a leading ``'`` before a formula prefix, numbers left alone), Python's ``csv.writer``
quoting (a cell holding ``,``, ``"``, CR or LF is quoted, ``"`` doubled; rows end in CRLF), and
UTF-8 with surrogate escapes turned back into the file name's own bytes (``surrogateescape``).
A rejected suggestion is left out of the saved file (its image stays as it is); a changed one
keeps its ``problem`` and takes the chosen ``remove`` or ``move to CLASS``.
"""

from __future__ import annotations

import json
import os
import shlex
from typing import Any, Callable

from ..core.text import printable

__all__ = ["review_data", "review_section", "json_script", "REVIEW_STYLE", "MAX_REVIEW_THUMBS", "MAX_RELATED"]

MAX_REVIEW_THUMBS = 500
"""Distinct images given a thumbnail in the review list; past that a row shows names only."""
MAX_RELATED = 3
"""Other images of a suggestion's near-duplicate or conflict group shown beside it."""


def json_script(element_id: str, data: Any) -> str:
    """``data`` as a ``<script type="application/json">`` element that no string in it can end or
    turn into markup: ASCII JSON with ``<``, ``>`` and ``&`` escaped (they occur only inside
    strings), read back by ``JSON.parse(element.textContent)``."""
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/json" id="{element_id}">{text}</script>'


def review_data(diag: Any, fixes: list[tuple[str, str, str]], thumb: Callable[[str], str],
                columns: tuple[str, ...]) -> dict[str, Any]:
    """What the review list needs: the exact cells of every fixes.csv row (``file``, ``problem``,
    ``suggestion``, as `write_doctor` writes them before `csv_cell`), how to show them
    (`printable`), the file's own class, and the thumbnails of the image and of the other images
    of its near-duplicate or conflict group (each thumbnail once)."""
    index = {diag.rel(p): i for i, p in enumerate(diag.paths) if diag.inside(p)}
    group_of: dict[int, list[int]] = {}
    for group in list(diag.groups) + list(diag.conflicts):  # a conflict's group wins: it is the reason
        for i in group:
            group_of[i] = group
    thumbs: list[str] = []
    thumb_ids: dict[str, int | None] = {}

    def image(path: str, caption: str) -> dict[str, Any]:
        if path not in thumb_ids:
            data = thumb(path) if len(thumbs) < MAX_REVIEW_THUMBS else ""
            thumb_ids[path] = len(thumbs) if data else None
            if data:
                thumbs.append(data)
        return {"thumb": thumb_ids[path], "caption": printable(caption)}

    class_index = {c: k for k, c in enumerate(diag.class_names)}
    rows = []
    for file, problem, suggestion in fixes:
        i = index.get(file)
        if i is not None:
            cls: int | None = diag.labels[i]
            shown = [image(diag.paths[i], f"{file} ({diag.class_names[cls]})")]
            shown += [image(diag.paths[j], f"{diag.rel(diag.paths[j])} ({diag.class_names[diag.labels[j]]})")
                      for j in [j for j in group_of.get(i, []) if j != i][:MAX_RELATED]]
        else:  # an unusable file: no label of its own, only its folder
            parts = os.path.normpath(file).split(os.sep)
            cls = class_index.get(parts[-2]) if len(parts) > 1 else None
            shown = [image(os.path.join(diag.root, file), file)]
        rows.append({"file": file, "problem": problem, "suggestion": suggestion, "class": cls, "images": shown,
                     "show": {"file": printable(file), "problem": printable(problem),
                              "suggestion": printable(suggestion)}})
    root = printable(os.path.abspath(diag.root))
    return {"columns": list(columns), "classes": list(diag.class_names),
            "show_classes": [printable(c) for c in diag.class_names], "fixes": rows, "thumbs": thumbs,
            "apply": f"tk data apply fixes.csv --data {shlex.quote(root)} --out CLEAN_DIR"}


def review_section(diag: Any, fixes: list[tuple[str, str, str]], thumb: Callable[[str], str],
                   columns: tuple[str, ...]) -> str:
    """The page's "Review the suggested fixes" section: its data, its script, and what shows
    without JavaScript."""
    if not fixes:
        return '<h2 id="review">Review the suggested fixes: 0</h2>\n<p>No changes suggested.</p>'
    data = review_data(diag, fixes, thumb, columns)
    return f"""<h2 id="review">Review the suggested fixes: {len(fixes)}</h2>
<p class="muted">Accept or reject each suggestion, or pick another one (remove, or move to another class),
then save the reviewed fixes.csv. A rejected suggestion is left out of it: that image stays as it is.
Nothing here changes any file; <code>tk data apply</code> writes a corrected copy.</p>
<noscript><p class="bad">This list needs JavaScript. Without it, edit fixes.csv by hand (delete a row to keep
its image as it is).</p></noscript>
<div id="tk-review"></div>
{json_script("tk-review-data", data)}
<script>{REVIEW_JS}</script>"""


REVIEW_STYLE = """.toolbar{position:sticky;top:0;background:#fff;border-bottom:1px solid #ddd;padding:8px 0;z-index:1;
display:flex;flex-wrap:wrap;gap:8px;align-items:center}.toolbar button{font:inherit;padding:3px 10px}
.fix{display:grid;grid-template-columns:minmax(0,5fr) minmax(0,4fr) 230px;gap:14px;align-items:start;
border-bottom:1px solid #eee;padding:10px 0}.fix .row{margin:0}.fix .what{overflow-wrap:anywhere}.fix .file{font-weight:bold}
.fix .controls{display:flex;flex-direction:column;gap:4px}.fix select{max-width:100%}.fix.rejected .row,.fix.rejected .what{opacity:.4}
.fix.rejected .file{text-decoration:line-through}.fix.changed select{outline:2px solid #4a78c2}
.verdict{font-size:12px}.fix.changed .verdict{color:#4a78c2}.fix.rejected .verdict{color:#b00}
#tk-review textarea{width:100%;height:12em;font:12px monospace}"""

REVIEW_JS = r"""(function () {
"use strict";
// toolkit.core.text.csv_cell: a cell a spreadsheet would run as a formula gets a leading "'"
var PREFIXES = "=+-@\t\r";
var NUMBER = /^[+-]?(?:\p{Nd}+\.?\p{Nd}*|\.\p{Nd}+)(?:[eE][+-]?\p{Nd}+)?$/u;  // python's \d is \p{Nd}
function quoted(t) {
  return t.length > 1 && t[0] === "'" && (t[1] === "'" || PREFIXES.indexOf(t[1]) >= 0);
}
function csvCell(v) {
  if (typeof v !== "string" || v === "") return v;
  if ((PREFIXES.indexOf(v[0]) >= 0 && !NUMBER.test(v)) || quoted(v)) return "'" + v;
  return v;
}
// python's csv.writer, excel dialect: QUOTE_MINIMAL, '"' doubled, rows end in CRLF
function csvField(v) {
  return /[,"\r\n]/.test(v) ? '"' + v.replace(/"/g, '""') + '"' : v;
}
function csvText(rows) {
  return rows.map(function (row) {
    if (row.length === 1 && row[0] === "") return '""\r\n';
    return row.map(function (c) { return csvField(csvCell(c)); }).join(",") + "\r\n";
  }).join("");
}
// str.encode("utf-8", "surrogateescape"): U+DC80..U+DCFF alone are the name's own bytes
function fsBytes(s) {
  var out = [];
  for (var ch of s) {
    var cp = ch.codePointAt(0);
    if (cp >= 0xDC80 && cp <= 0xDCFF) out.push(cp - 0xDC00);
    else if (cp >= 0xD800 && cp <= 0xDFFF) out.push(0xEF, 0xBF, 0xBD);
    else if (cp < 0x80) out.push(cp);
    else if (cp < 0x800) out.push(0xC0 | cp >> 6, 0x80 | cp & 63);
    else if (cp < 0x10000) out.push(0xE0 | cp >> 12, 0x80 | cp >> 6 & 63, 0x80 | cp & 63);
    else out.push(0xF0 | cp >> 18, 0x80 | cp >> 12 & 63, 0x80 | cp >> 6 & 63, 0x80 | cp & 63);
  }
  return new Uint8Array(out);
}
function hasEscapes(s) {
  for (var ch of s) {
    var cp = ch.codePointAt(0);
    if (cp >= 0xD800 && cp <= 0xDFFF) return true;
  }
  return false;
}
function csvBytes(rows) { return fsBytes(csvText(rows)); }
window.tkDoctor = {csvCell: csvCell, csvText: csvText, csvBytes: csvBytes};

var box = document.getElementById("tk-review");
var source = document.getElementById("tk-review-data");
if (!box || !source) return;
var data = JSON.parse(source.textContent);

function el(tag, cls, text) {
  var e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = text;
  return e;
}

var fixes = data.fixes.map(function (f, n) {
  // the suggestion first, then remove, then every other class
  var choices = [f.suggestion], labels = [f.show.suggestion + " (suggested)"];
  if (f.suggestion !== "remove") { choices.push("remove"); labels.push("remove"); }
  data.classes.forEach(function (c, k) {
    var s = "move to " + c;
    if (k !== f["class"] && s !== f.suggestion) { choices.push(s); labels.push("move to " + data.show_classes[k]); }
  });
  return {fix: f, n: n, choices: choices, labels: labels, accepted: true, choice: 0};
});

function reviewedRows() {
  var rows = [data.columns];
  fixes.forEach(function (r) {
    if (r.accepted) rows.push([r.fix.file, r.fix.problem, r.choices[r.choice]]);
  });
  return rows;
}

var bar = el("div", "toolbar");
var save = el("button", "save", "Save fixes.csv");
var acceptAll = el("button", "accept-all", "Accept all");
var rejectAll = el("button", "reject-all", "Reject all");
var summary = el("span", "summary");
[save, acceptAll, rejectAll].forEach(function (b) { b.type = "button"; bar.appendChild(b); });
bar.appendChild(summary);
box.appendChild(bar);

var list = el("div", "fixes");
fixes.forEach(function (r) {
  var f = r.fix;
  var row = el("div", "fix");
  row.dataset.n = String(r.n);
  var figs = el("div", "row");
  f.images.forEach(function (im) {
    var fig = el("figure");
    if (im.thumb !== null && im.thumb !== undefined) {
      var img = el("img");
      img.alt = "";
      img.src = "data:image/png;base64," + data.thumbs[im.thumb];
      fig.appendChild(img);
    } else {
      fig.appendChild(el("div", "bad", "(no thumbnail)"));
    }
    fig.appendChild(el("figcaption", null, im.caption));
    figs.appendChild(fig);
  });
  var what = el("div", "what");
  what.appendChild(el("div", "file", f.show.file));
  what.appendChild(el("div", "muted problem", f.show.problem));
  var controls = el("div", "controls");
  var name = "fix-" + r.n;
  [["accept", true], ["reject", false]].forEach(function (pair) {
    var label = el("label", pair[0]);
    var input = el("input");
    input.type = "radio";
    input.name = name;
    input.value = pair[0];
    input.checked = pair[1];
    input.addEventListener("change", function () { r.accepted = pair[1]; refresh(); });
    label.appendChild(input);
    label.appendChild(document.createTextNode(" " + pair[0]));
    controls.appendChild(label);
  });
  var select = el("select", "choice");
  select.setAttribute("aria-label", "what to do with " + f.show.file);
  r.labels.forEach(function (text) { select.appendChild(el("option", null, text)); });
  select.addEventListener("change", function () {
    r.choice = select.selectedIndex;
    r.accepted = true;  // choosing a change accepts it
    refresh();
  });
  controls.appendChild(select);
  var verdict = el("div", "verdict");
  controls.appendChild(verdict);
  row.appendChild(figs);
  row.appendChild(what);
  row.appendChild(controls);
  r.row = row; r.select = select; r.verdict = verdict;
  r.radios = controls.querySelectorAll("input[type=radio]");
  list.appendChild(row);
});
box.appendChild(list);

var after = el("div", "after");
after.appendChild(el("p", null, "Then write the corrected copy (fixes.csv where your browser saved it; the original " +
                                "folder is only read):"));
after.appendChild(el("pre", null, data.apply));
var details = el("details");
details.appendChild(el("summary", null, "Or copy the reviewed fixes.csv as text"));
var text = el("textarea");
text.readOnly = true;
text.setAttribute("aria-label", "reviewed fixes.csv");
var copy = el("button", "copy", "Copy");
copy.type = "button";
var copied = el("span", "muted");
var lossy = el("p", "bad");
details.appendChild(text);
details.appendChild(copy);
details.appendChild(copied);
details.appendChild(lossy);
after.appendChild(details);
box.appendChild(after);

function refresh() {
  var accepted = 0, changed = 0;
  fixes.forEach(function (r) {
    r.radios[0].checked = r.accepted;
    r.radios[1].checked = !r.accepted;
    r.select.selectedIndex = r.choice;
    r.row.classList.toggle("rejected", !r.accepted);
    r.row.classList.toggle("changed", r.accepted && r.choice !== 0);
    r.verdict.textContent = !r.accepted ? "rejected: stays as it is"
      : r.choice !== 0 ? "changed to: " + r.labels[r.choice] : "accepted";
    if (r.accepted) { accepted += 1; if (r.choice !== 0) changed += 1; }
  });
  summary.textContent = accepted + " of " + fixes.length + " accepted (" + changed + " changed), " +
                        (fixes.length - accepted) + " rejected";
  var csv = csvText(reviewedRows());
  text.value = csv;
  lossy.textContent = hasEscapes(csv) ? "A file name here is not UTF-8: the text cannot hold it exactly, " +
                                        "use Save fixes.csv." : "";
  copied.textContent = "";
}

save.addEventListener("click", function () {
  var blob = new Blob([csvBytes(reviewedRows())], {type: "text/csv"});
  var url = URL.createObjectURL(blob);
  var a = el("a");
  a.href = url;
  a.download = "fixes.csv";
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
});
acceptAll.addEventListener("click", function () { fixes.forEach(function (r) { r.accepted = true; }); refresh(); });
rejectAll.addEventListener("click", function () { fixes.forEach(function (r) { r.accepted = false; }); refresh(); });
copy.addEventListener("click", function () {
  text.select();
  var done = function () { copied.textContent = " copied"; };
  if (navigator.clipboard && navigator.clipboard.writeText) {
    navigator.clipboard.writeText(text.value).then(done, function () {
      if (document.execCommand("copy")) done();
    });
  } else if (document.execCommand("copy")) {
    done();
  }
});
refresh();
})();"""

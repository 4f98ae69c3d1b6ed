"""Recipe text: write recipe tables as TOML, and find the line a key is written on.

`tomllib` reads TOML; nothing in the standard library writes it, and a run's resolved
``recipe.toml`` must read back to exactly the values the run used. `dumps_toml` writes the
subset recipes use (numbers, strings, booleans, lists, inline tables); `locate` finds
``key =`` inside ``[section]`` so an error can say ``FILE:LINE:``.
"""

from __future__ import annotations

import re
import tomllib
from typing import Any

from ..core.errors import RecipeError

__all__ = ["dumps_toml", "locate", "parse_override", "toml_value", "tomlable"]


def tomlable(value: Any) -> bool:
    if isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple)):
        return all(tomlable(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and tomlable(v) for k, v in value.items())
    return False


def locate(text: str, section: str, key: str | None) -> int | None:
    """Line number of ``key =`` inside ``[section]`` (or of the header), best effort."""
    current = None
    header_line = None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        m = re.match(r"^\[\[?\s*([A-Za-z0-9_.\-]+)\s*\]\]?", stripped)
        if m:
            current = m.group(1).split(".")[0]
            if current == section and header_line is None:
                header_line = number
            continue
        if current == section and key is not None and re.match(rf"^{re.escape(key)}\s*=", stripped):
            return number
        if current is None and key is not None and re.match(rf"^{re.escape(section)}\.{re.escape(key)}\s*=", stripped):
            return number
    return header_line


def parse_override(text: str) -> tuple[str, str, Any]:
    """``"train.epochs=3"`` → ``("train", "epochs", 3)``; the value is read as TOML, else as a string."""
    if "=" not in text:
        raise RecipeError(f"--set {text}: expected section.key=value, e.g. --set train.epochs=3.")
    dotted, raw = text.split("=", 1)
    parts = dotted.strip().split(".")
    if len(parts) == 3 and parts[0] == "export" and all(parts):  # an exporter's option: export.onnx.opset=18
        parts = [parts[0], f"{parts[1]}.{parts[2]}"]
    if len(parts) != 2 or not all(parts):
        raise RecipeError(f"--set {text}: expected section.key=value, e.g. --set train.epochs=3.")
    raw = raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return parts[0], parts[1], value


# -- a small TOML writer (tomllib reads only) ----------------------------------------------
def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_\-]+", key) else toml_value(key)


def dumps_toml(sections: dict[str, dict[str, Any]]) -> str:
    """Write section tables as TOML that `tomllib` reads back to the same values."""
    lines: list[str] = []
    for section, table in sections.items():
        if not table:
            continue
        lines.append(f"[{section}]")
        for key, value in table.items():
            if value is None:
                continue
            lines.append(f"{toml_key(key)} = {toml_value(value)}")
        lines.append("")
    return "\n".join(lines)

"""Reviewed corrections to the IAM catalog's access levels, applied when the catalog loads.

AWS's service authorization data classes a few reads as Write or Permissions management (e.g.
`iot:ListSubscriptions` as Write), which turns read-only policies into findings. Each correction
is a row of scoring/data/catalog_overrides.json: the action, the level it gets, the level the
source data gave (`was`) and why. A row whose `was` no longer matches the source (AWS fixed it, or
the action is gone) is skipped and reported by `apply_overrides`, so a catalog rebuild never
applies a stale correction; a unit test keeps every row applying.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OVERRIDES_FILE = Path(__file__).parent / "data" / "catalog_overrides.json"
_LETTERS = {
    "List": "L",
    "Read": "R",
    "Write": "W",
    "Permissions management": "P",
    "Tagging": "T",
}


@dataclass(frozen=True)
class Override:
    action: str
    level: str  # a letter of catalog.ACCESS_LEVELS
    was: str
    reason: str


class OverrideTableError(ValueError):
    """The override table is malformed; the message names the row and field."""


def load_overrides(path: Path = OVERRIDES_FILE) -> tuple[Override, ...]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise OverrideTableError(f"cannot read catalog overrides {path}: {exc}") from exc
    if not isinstance(raw, list):
        raise OverrideTableError(f"{path.name}: expected a list of corrections")
    return tuple(_row(entry, f"{path.name}[{i}]") for i, entry in enumerate(raw))


def _row(entry: Any, where: str) -> Override:
    if not isinstance(entry, Mapping):
        raise OverrideTableError(f"{where}: expected an object")
    action = entry.get("action")
    if not isinstance(action, str) or action.count(":") != 1:
        raise OverrideTableError(f"{where}.action: expected 'service:Action'")
    letters = []
    for key in ("level", "was"):
        if entry.get(key) not in _LETTERS:
            allowed = ", ".join(_LETTERS)
            raise OverrideTableError(f"{where}.{key}: expected one of {allowed}")
        letters.append(_LETTERS[entry[key]])
    reason = entry.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise OverrideTableError(f"{where}.reason: say why the source data is wrong")
    return Override(action, letters[0], letters[1], reason.strip())


def apply_overrides(data: dict[str, Any], overrides: tuple[Override, ...]) -> list[Override]:
    """Correct the levels of the decoded catalog `data` in place; the rows that did not apply."""
    skipped = []
    for row in overrides:
        prefix, _, name = row.action.lower().partition(":")
        record = data["services"].get(prefix)
        names = record["names"].lower().split(",") if record else []
        if name not in names:
            skipped.append(row)
            continue
        position = names.index(name)
        levels: str = record["levels"]
        if levels[position] != row.was:
            skipped.append(row)
            continue
        record["levels"] = levels[:position] + row.level + levels[position + 1 :]
    return skipped

"""The golden cases (engine/tests/golden/*.json), read the same way by every test that uses them.

A file holds one case, a list of cases, or {"cases": [...]}; each case has a `request`, its
`expected` outputs (dotted paths) and the `source` it reproduces.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

GOLDEN = Path(__file__).parent / "golden"


def golden_requests() -> list[tuple[str, dict[str, Any]]]:
    """(label "<file stem>[i]", request) of every golden case."""
    found = []
    for path in sorted(GOLDEN.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        items = data.get("cases", [data]) if isinstance(data, dict) else data
        found.extend((f"{path.stem}[{i}]", item["request"]) for i, item in enumerate(items))
    return found


def golden_request(stem: str) -> dict[str, Any]:
    """A copy of the request of the one-case file `stem`.json, free to change."""
    data = json.loads((GOLDEN / f"{stem}.json").read_text(encoding="utf-8"))
    return copy.deepcopy(data["request"])


def output_at(outputs: dict[str, Any], dotted: str) -> Any:
    """The output an `expected` key names, e.g. "multiples.pe.point"."""
    value: Any = outputs
    for part in dotted.split("."):
        value = value[part]
    return value


def published_tolerance(expected: float) -> float:
    """Half a unit of the last decimal a published (rounded) figure shows."""
    text = repr(float(expected))
    decimals = len(text.split(".")[1]) if "." in text and "e" not in text else 12
    return 0.5 * 10.0**-decimals + 1e-12 * abs(expected)

"""Run water_engine requests and serialise each result canonically.

This one file runs unchanged in CPython (imported by test_pyodide_parity.py) and in
Pyodide (copied into its filesystem by load_engine.mjs), so both runtimes produce
their output lines with the same code.

Canonical form: `json.dumps` of the response with keys in the engine's own order.
`json` writes every float with `float.__repr__`, the shortest string that round-trips
to the same binary64 value, so two lines are equal exactly when every float is
bit-identical (and every int, string, key and key order is equal). An exception is
part of the result too: `{"error": <type name>, "message": <str(exc)>}`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import water_engine


def _unjsonable(obj: Any) -> Any:
    # A model that returns something other than JSON values is a bug; keep it visible.
    return {"$unjsonable": type(obj).__name__, "repr": repr(obj)}


def canonical_line(request: Any) -> str:
    """One request in, one canonical JSON line (without newline) out."""
    try:
        result: Any = water_engine.run(request)
    except Exception as exc:  # every failure is part of what must be identical
        result = {"error": type(exc).__name__, "message": str(exc)}
    return json.dumps(result, ensure_ascii=False, allow_nan=True, separators=(",", ":"), default=_unjsonable)


def run_lines(lines: Iterable[str]) -> list[str]:
    """Each non-empty input line is a JSON request; returns one canonical line per request."""
    return [canonical_line(json.loads(line)) for line in lines if line.strip()]


def run_file(in_path: str, out_path: str) -> int:
    """Read a JSONL file of requests, write a JSONL file of canonical results; returns the count."""
    with open(in_path, encoding="utf-8") as f:
        out = run_lines(f)
    with open(out_path, "w", encoding="utf-8") as f:
        f.writelines(line + "\n" for line in out)
    return len(out)

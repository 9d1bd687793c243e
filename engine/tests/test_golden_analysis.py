"""Golden cases of the models without a family test that reads their expected values:
reverse_dcf and football_field (engine/tests/golden/reverse_dcf_*.json, football_field_*.json).

Each case cites its source (a published worked example, or a hand calculation in the form of the
cited method); the Pyodide parity test runs the same requests (and seeded variants) in both runtimes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from golden_cases import GOLDEN, output_at, published_tolerance

import water_engine

CASES = sorted([*GOLDEN.glob("reverse_dcf_*.json"), *GOLDEN.glob("football_field_*.json")])


def test_there_are_cases() -> None:
    assert {json.loads(p.read_text())["request"]["model"] for p in CASES} == {"reverse_dcf", "football_field"}


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_golden(path: Path) -> None:
    case = json.loads(path.read_text())
    assert case["source"]
    out = water_engine.run(case["request"])["outputs"]
    for dotted, expected in case["expected"].items():
        value = output_at(out, dotted)
        if isinstance(expected, bool):
            assert value is expected, dotted
        elif case.get("published_precision"):
            # a published figure, asserted to half a unit of its last published decimal
            assert abs(value - expected) <= published_tolerance(expected), f"{dotted}: {value!r} != {expected!r}"
        else:
            assert value == pytest.approx(expected, rel=case.get("rel_tol", 1e-12)), dotted

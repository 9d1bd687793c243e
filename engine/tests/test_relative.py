"""Trading comparables: statistics (QUARTILE.INC), exclusions, implied values and the bridge."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import water_engine
from water_engine import ValidationError
from water_engine.models import relative as rel

GOLDEN = Path(__file__).parent / "golden"


def run(inputs: dict[str, Any], conventions: dict[str, Any] | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {"model": "comparables", "inputs": inputs}
    if conventions:
        request["conventions"] = conventions
    return water_engine.run(request)


@pytest.mark.parametrize("path", sorted(GOLDEN.glob("comparables_*.json")), ids=lambda p: p.stem)
def test_golden(path: Path) -> None:
    case = json.loads(path.read_text())
    assert case["source"]
    out = water_engine.run(case["request"])["outputs"]
    for dotted, expected in case["expected"].items():
        value: Any = out
        for part in dotted.split("."):
            value = value[part]
        assert value == pytest.approx(expected, abs=5e-7), dotted


def test_quartile_inc_microsoft_example() -> None:
    # Microsoft Support, QUARTILE.INC function: QUARTILE.INC({1,2,4,7,8,9,10,12}, 1) = 3.5
    xs = [1.0, 2.0, 4.0, 7.0, 8.0, 9.0, 10.0, 12.0]
    assert rel.quartile_inc(xs, 0.25) == 3.5
    assert rel.quartile_inc(xs, 0.5) == 7.5
    assert rel.quartile_inc(xs, 0.75) == 9.25


@given(st.lists(st.floats(0.01, 1e4), min_size=1, max_size=60))
def test_statistics_match_numpy_and_statistics(values: list[float]) -> None:
    stats = rel.peer_statistics(values)
    for key, p in (("q1", 25), ("median", 50), ("q3", 75)):
        assert stats[key] == pytest.approx(float(np.percentile(values, p, method="linear")), rel=1e-12)
    assert stats["mean"] == pytest.approx(statistics.fmean(values), rel=1e-12)
    assert stats["harmonic_mean"] == pytest.approx(statistics.harmonic_mean(values), rel=1e-12)
    assert stats["count"] == len(values)
    assert stats["min"] == min(values)
    assert stats["max"] == max(values)


PEERS = [
    {
        "name": "A",
        "market_cap": 800,
        "net_debt": 200,
        "ebitda": 100,
        "ebit": 80,
        "sales": 500,
        "net_income": 50,
        "book_equity": 400,
        "fcf": 40,
    },
    {
        "name": "B",
        "market_cap": 1100,
        "net_debt": 100,
        "ebitda": 120,
        "ebit": 90,
        "sales": 600,
        "net_income": 60,
        "book_equity": 500,
        "fcf": 55,
    },
    {
        "name": "C",
        "market_cap": 500,
        "net_debt": 250,
        "ebitda": 75,
        "ebit": 50,
        "sales": 300,
        "net_income": -10,
        "book_equity": 300,
        "fcf": 20,
    },
    {
        "name": "D",
        "market_cap": 1500,
        "net_debt": 0,
        "ebitda": 150,
        "ebit": 120,
        "sales": 900,
        "net_income": 100,
        "book_equity": 700,
    },
    {
        "name": "E",
        "market_cap": 9000,
        "net_debt": 1000,
        "ebitda": 100,
        "ebit": 90,
        "sales": 700,
        "net_income": 80,
        "book_equity": 600,
        "fcf": 70,
    },
]
SUBJECT = {
    "ebitda": 50,
    "ebit": 40,
    "sales": 250,
    "net_income": 25,
    "book_equity": 200,
    "fcf": 20,
    "net_debt": 100,
    "minority_interest": 10,
    "non_operating_assets": 5,
    "shares": 10,
    "price": 30,
}


def test_worked_example() -> None:
    out = run({"peers": PEERS, "subject": SUBJECT})
    ev = out["outputs"]["multiples"]["ev_ebitda"]
    # EV/EBITDA: A 10, B 10, C 10, D 10, E 100 -> E is an outlier (Q1 = Q3 = 10)
    assert [e["peer"] for e in ev["excluded"]] == ["E"]
    assert ev["excluded"][0]["reason"].startswith("outlier")
    assert ev["statistics"]["median"] == 10.0
    point = ev["point"]
    assert point["enterprise_value"] == 500.0
    assert point["equity_value"] == 500 - 100 - 10 + 5
    assert point["per_share"] == pytest.approx(39.5)
    assert point["upside"] == pytest.approx(39.5 / 30 - 1)
    pe = out["outputs"]["multiples"]["pe"]
    # C has negative earnings -> not meaningful; P/E of A 16, B 18.33, D 15, E 112.5 (outlier)
    reasons = {e["peer"]: e["reason"] for e in pe["excluded"]}
    assert reasons["C"] == "not meaningful: net_income is not positive"
    assert reasons["E"].startswith("outlier")
    assert pe["statistics"]["count"] == 3
    assert pe["point"]["enterprise_value"] is None
    assert pe["point"]["equity_value"] == pytest.approx(25 * 16.0)
    pfcf = out["outputs"]["multiples"]["p_fcf"]
    assert {"peer": "D", "reason": "missing fcf"} in pfcf["excluded"]


def test_no_outlier_rule_keeps_everything() -> None:
    out = run(
        {"peers": PEERS, "subject": SUBJECT}, {"outliers": "none", "multiples": ["ev_ebitda"], "statistic": "mean"}
    )
    ev = out["outputs"]["multiples"]["ev_ebitda"]
    assert ev["statistics"]["count"] == 5
    assert ev["point"]["multiple"] == pytest.approx(28.0)
    assert set(out["outputs"]["multiples"]) == {"ev_ebitda"}


def test_subject_without_metric_warns() -> None:
    out = run({"peers": PEERS, "subject": {**SUBJECT, "net_income": -5}}, {"multiples": ["pe"]})
    assert out["outputs"]["multiples"]["pe"]["implied"] is None
    assert "net_income is missing or not positive" in out["warnings"][0]


def test_errors() -> None:
    with pytest.raises(ValidationError) as exc:
        run({"peers": [PEERS[0], PEERS[0]], "subject": SUBJECT})
    assert str(exc.value) == "inputs.peers[1].name: duplicate peer 'A'"
    with pytest.raises(ValidationError, match=r"conventions.multiples\[0\]: must be one of"):
        run({"peers": PEERS, "subject": SUBJECT}, {"multiples": ["ev_revenue"]})

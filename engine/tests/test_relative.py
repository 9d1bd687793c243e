"""Trading comparables: statistics (QUARTILE.INC), exclusions, implied values and the bridge."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from golden_cases import GOLDEN, output_at, published_tolerance
from hypothesis import given
from hypothesis import strategies as st

import water_engine
from water_engine import ValidationError
from water_engine.models import relative as rel


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
        value = output_at(out, dotted)
        # A published table rounds its figures: such a case sets "published_precision" and each
        # figure is asserted to half a unit of its last published decimal (see the case's "source").
        tol = published_tolerance(expected) if case.get("published_precision") else 5e-7
        assert value == pytest.approx(expected, abs=tol), dotted


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


# --- all six multiples, by hand -------------------------------------------------------------------
# Three peers (too few for the IQR rule, which needs four meaningful multiples), every multiple a
# round number. EV = market cap + net debt + minority + preferred - non-operating assets:
#   P1: 900 + 100 = 1000;  P2: 1200 + 0 - 200 = 1000;  P3: 500 + 300 + 50 + 50 = 900.
#            EV/EBITDA  EV/EBIT  EV/Sales  P/E  P/B  P/FCF
#   P1          10        20       2.0     20    3     15
#   P2           8        25       2.5     15    2     12
#   P3          12        15       1.5     25    2     10
#   median      10        20       2.0     20    2     12
HAND_PEERS = [
    {"name": "P1", "market_cap": 900, "net_debt": 100, "ebitda": 100, "ebit": 50, "sales": 500,
     "net_income": 45, "book_equity": 300, "fcf": 60},
    {"name": "P2", "market_cap": 1200, "non_operating_assets": 200, "ebitda": 125, "ebit": 40, "sales": 400,
     "net_income": 80, "book_equity": 600, "fcf": 100},
    {"name": "P3", "market_cap": 500, "net_debt": 300, "minority_interest": 50, "preferred": 50, "ebitda": 75,
     "ebit": 60, "sales": 600, "net_income": 20, "book_equity": 250, "fcf": 50},
]  # fmt: skip
HAND_SUBJECT = {"ebitda": 50, "ebit": 30, "sales": 200, "net_income": 20, "book_equity": 100, "fcf": 25,
                "net_debt": 100, "minority_interest": 10, "non_operating_assets": 60, "shares": 10, "price": 40}  # fmt: skip
# name: (peer multiples P1, P2, P3; median; implied EV (None for equity multiples); implied equity)
# EV multiples: equity = EV - 100 net debt - 10 minority + 60 non-operating assets = EV - 50.
HAND = {
    "ev_ebitda": ([10.0, 8.0, 12.0], 10.0, 500.0, 450.0),
    "ev_ebit": ([20.0, 25.0, 15.0], 20.0, 600.0, 550.0),
    "ev_sales": ([2.0, 2.5, 1.5], 2.0, 400.0, 350.0),
    "pe": ([20.0, 15.0, 25.0], 20.0, None, 400.0),
    "pb": ([3.0, 2.0, 2.0], 2.0, None, 200.0),
    "p_fcf": ([15.0, 12.0, 10.0], 12.0, None, 300.0),
}


@pytest.mark.parametrize("name", list(HAND))
def test_each_multiple_by_hand(name: str) -> None:
    peer_multiples, median, ev, equity = HAND[name]
    out = run({"peers": HAND_PEERS, "subject": HAND_SUBJECT})
    schedule = [(r["peer"], r["value"]) for r in out["schedule"] if r["multiple"] == name]
    assert schedule == list(zip(["P1", "P2", "P3"], peer_multiples, strict=True))
    entry = out["outputs"]["multiples"][name]
    assert entry["excluded"] == []
    stats = entry["statistics"]
    xs = sorted(peer_multiples)
    assert (stats["count"], stats["min"], stats["median"], stats["max"]) == (3, xs[0], median, xs[2])
    assert stats["q1"] == (xs[0] + xs[1]) / 2  # QUARTILE.INC at position 0.5
    assert stats["q3"] == (xs[1] + xs[2]) / 2
    assert stats["mean"] == pytest.approx(sum(xs) / 3, rel=1e-15)
    assert stats["harmonic_mean"] == pytest.approx(3 / sum(1 / x for x in xs), rel=1e-15)
    point = entry["point"]
    assert point["multiple"] == median
    assert point["enterprise_value"] == ev
    assert point["equity_value"] == equity
    assert point["per_share"] == equity / 10
    assert point["upside"] == equity / 10 / 40 - 1
    assert entry["range"]["low"]["multiple"] == stats["q1"]
    assert entry["range"]["high"]["multiple"] == stats["q3"]


def test_harmonic_mean_of_ev_ebitda_by_hand() -> None:
    # 3 / (1/10 + 1/8 + 1/12) = 3 / (37/120) = 360/37
    stats = run({"peers": HAND_PEERS, "subject": HAND_SUBJECT})["outputs"]["multiples"]["ev_ebitda"]["statistics"]
    assert stats["harmonic_mean"] == pytest.approx(360 / 37, rel=1e-15)
    assert stats["mean"] == 10.0


def test_negative_multiples_are_excluded_with_their_reason() -> None:
    loss_maker = {"name": "L", "market_cap": 300, "ebitda": -20, "ebit": -40, "net_income": -30,
                  "book_equity": -50, "fcf": -10}  # fmt: skip
    net_cash = {"name": "N", "market_cap": 100, "net_debt": -250, "ebitda": 10, "ebit": 5, "sales": 50}
    out = run({"peers": [*HAND_PEERS, loss_maker, net_cash], "subject": HAND_SUBJECT})
    multiples = out["outputs"]["multiples"]
    for name, metric in (("ev_ebitda", "ebitda"), ("ev_ebit", "ebit")):
        assert multiples[name]["excluded"] == [
            {"peer": "L", "reason": f"not meaningful: {metric} is not positive"},
            {"peer": "N", "reason": "not meaningful: enterprise value is not positive"},
        ]
    assert multiples["ev_sales"]["excluded"] == [
        {"peer": "L", "reason": "missing sales"},
        {"peer": "N", "reason": "not meaningful: enterprise value is not positive"},
    ]
    for name, metric in (("pe", "net_income"), ("pb", "book_equity"), ("p_fcf", "fcf")):
        assert multiples[name]["excluded"] == [
            {"peer": "L", "reason": f"not meaningful: {metric} is not positive"},
            {"peer": "N", "reason": f"missing {metric}"},
        ]
    # The exclusions leave the hand-checked statistics and implied values unchanged.
    for name, (_, median, ev, equity) in HAND.items():
        assert multiples[name]["statistics"]["count"] == 3
        assert multiples[name]["point"]["multiple"] == median
        assert (multiples[name]["point"]["enterprise_value"], multiples[name]["point"]["equity_value"]) == (ev, equity)
    assert all(row["value"] > 0 for row in out["schedule"])


def test_peer_non_operating_assets_use_the_subjects_bridge() -> None:
    # P2's 200 of investments are not operating value: EV 1,000 (not 1,200), EV/EBITDA 8 (not 9.6).
    assert rel.Peer(name="P2", market_cap=1200, non_operating_assets=200).ev() == 1000.0
    assert rel.Peer(name="P2", market_cap=1200).ev() == 1200.0  # the default is 0
    # A given enterprise value is used as it is.
    assert rel.Peer(name="X", market_cap=1200, non_operating_assets=200, enterprise_value=1100).ev() == 1100.0


@given(
    market_cap=st.floats(1.0, 1e6),
    net_debt=st.floats(-1e5, 1e6),
    minority=st.floats(0.0, 1e5),
    preferred=st.floats(0.0, 1e5),
    non_operating=st.floats(0.0, 1e5),
    ebitda=st.floats(1.0, 1e5),
)
def test_a_subject_identical_to_its_only_peer_is_worth_the_peers_market_cap(
    market_cap: float, net_debt: float, minority: float, preferred: float, non_operating: float, ebitda: float
) -> None:
    bridge = {"net_debt": net_debt, "minority_interest": minority, "preferred": preferred}
    bridge["non_operating_assets"] = non_operating
    peer = {"name": "twin", "market_cap": market_cap, "ebitda": ebitda, **bridge}
    ev = math.fsum([market_cap, net_debt, minority, preferred, -non_operating])
    if ev <= 0:
        return
    out = run({"peers": [peer], "subject": {"ebitda": ebitda, **bridge}}, {"multiples": ["ev_ebitda"]})
    equity = out["outputs"]["multiples"]["ev_ebitda"]["point"]["equity_value"]
    scale = market_cap + abs(net_debt) + minority + preferred + non_operating
    assert equity == pytest.approx(market_cap, abs=1e-12 * scale)

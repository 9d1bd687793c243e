"""Equity models: FCFE, DDM (Gordon, two-stage, three-stage, H-model), implied growth / cost of equity."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy_financial as npf
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import water_engine
from water_engine import NoSolutionError, ValidationError

GOLDEN = Path(__file__).parent / "golden"
MODELS = ("fcfe", "ddm", "implied_growth", "implied_cost_of_equity")


def run(model: str, inputs: dict[str, Any], conventions: dict[str, Any] | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {"model": model, "inputs": inputs}
    if conventions:
        request["conventions"] = conventions
    return water_engine.run(request)


def _tol(expected: float) -> float:
    text = repr(float(expected))
    decimals = len(text.split(".")[1]) if "." in text and "e" not in text else 12
    return 0.5 * 10.0**-decimals + 1e-12 * abs(expected)


@pytest.mark.parametrize(
    "path",
    sorted(p for p in GOLDEN.glob("*.json") if json.loads(p.read_text())["request"]["model"] in MODELS),
    ids=lambda p: p.stem,
)
def test_golden(path: Path) -> None:
    case = json.loads(path.read_text())
    assert case["source"]
    out = water_engine.run(case["request"])["outputs"]
    for key, expected in case["expected"].items():
        # A case whose published figures carry the source's intermediate rounding states its
        # tolerance ("rel_tol", explained in its "source"); otherwise the published decimals.
        tol = case["rel_tol"] * abs(expected) if "rel_tol" in case else _tol(expected)
        assert abs(out[key] - expected) <= tol, f"{key}: {out[key]!r} != {expected!r}"


def test_gordon_textbook() -> None:
    # Gordon (1962); Brealey, Myers & Allen ch. 4: P0 = DIV1 / (r - g). D0 = 2, g = 4%, r = 10% -> 2.08 / 0.06
    out = run("ddm", {"dividend": 2, "cost_of_equity": 0.10, "stable_growth": 0.04})["outputs"]
    assert out["value"] == pytest.approx(34.6666666666667, abs=1e-12)


def test_h_model_formula() -> None:
    # Fuller & Hsia (1984): V = D0 (1 + gL)/(r - gL) + D0 H (gS - gL)/(r - gL);
    # D0 = 1, gS = 28%, gL = 5%, 2H = 10 years, r = 10% -> 21 + 23 = 44
    out = run(
        "ddm",
        {"dividend": 1, "cost_of_equity": 0.10, "stable_growth": 0.05, "high_growth": 0.28, "high_growth_years": 10},
        {"variant": "h_model"},
    )["outputs"]
    assert out["value"] == pytest.approx(44.0, abs=1e-12)
    assert out["stable_growth_value"] == pytest.approx(21.0, abs=1e-12)


def test_h_model_approximates_linear_decline() -> None:
    # The H-model approximates a three-stage model whose growth declines linearly over 2H years.
    h = run(
        "ddm",
        {"dividend": 1, "cost_of_equity": 0.10, "stable_growth": 0.05, "high_growth": 0.08, "high_growth_years": 10},
        {"variant": "h_model"},
    )["outputs"]["value"]
    three = run(
        "ddm",
        {"dividend": 1, "cost_of_equity": 0.10, "stable_growth": 0.05, "high_growth": 0.08, "transition_years": 10},
        {"variant": "three_stage"},
    )["outputs"]["value"]
    assert h == pytest.approx(three, rel=0.03)  # an approximation: within 3% here


def test_stable_payout_from_roe_damodaran() -> None:
    # "Damodaran on Valuation" (2nd ed.), ch. 5: growth 5% and ROE 15% -> stable payout 66.67%
    out = run(
        "fcfe",
        {"net_income": 100, "roe": 0.15, "stable_roe": 0.15, "cost_of_equity": 0.09, "stable_growth": 0.05},
        {"variant": "stable"},
    )
    assert round(1 - out["outputs"]["stable_reinvestment_rate"], 4) == 0.6667
    # Gordon on FCFE: 100 x 1.05 x (1 - 0.05 / 0.15) / (0.09 - 0.05) = 1750
    assert out["outputs"]["value"] == pytest.approx(1750.0, rel=1e-14)


def test_two_stage_fcfe_by_hand() -> None:
    # NI 100, ROE 20%, g 10% for 5 years (payout 50%), k 10%: each year's PV is 50 -> 250;
    # NI_6 = 100 x 1.1^5 x 1.05, FCFE_6 = NI_6 x (1 - 5%/15%), TV = FCFE_6 / 5% -> PV 1400.
    out = run(
        "fcfe",
        {
            "net_income": 100,
            "roe": 0.2,
            "stable_roe": 0.15,
            "high_growth": 0.1,
            "high_growth_years": 5,
            "cost_of_equity": 0.1,
            "stable_growth": 0.05,
            "shares": 10,
            "price": 150,
        },
    )["outputs"]
    assert out["pv_explicit"] == pytest.approx(250.0, rel=1e-14)
    assert out["pv_terminal"] == pytest.approx(1400.0, rel=1e-14)
    assert out["value_per_share"] == pytest.approx(165.0, rel=1e-14)
    assert out["upside"] == pytest.approx(0.1, rel=1e-12)


@settings(max_examples=50, deadline=None)
@given(
    st.floats(0.1, 100),
    st.floats(-0.05, 0.4),
    st.integers(1, 15),
    st.floats(0.0, 0.04),
    st.floats(0.05, 0.2),
)
def test_two_stage_matches_numpy_financial_npv(d0: float, g: float, n: int, gs: float, k: float) -> None:
    flows = [d0 * (1 + g) ** t for t in range(1, n + 1)]
    tv = flows[-1] * (1 + gs) / (k - gs)
    expected = float(npf.npv(k, [0.0, *flows[:-1], flows[-1] + tv]))
    out = run(
        "ddm",
        {"dividend": d0, "cost_of_equity": k, "stable_growth": gs, "high_growth": g, "high_growth_years": n},
        {"variant": "two_stage"},
    )
    assert out["outputs"]["value"] == pytest.approx(expected, rel=1e-11)


@given(st.floats(0.1, 100), st.floats(-0.02, 0.04), st.floats(0.05, 0.15), st.floats(0.0001, 0.05))
def test_value_falls_as_cost_of_equity_rises(d0: float, g: float, k: float, bump: float) -> None:
    low = run("ddm", {"dividend": d0, "cost_of_equity": k + bump, "stable_growth": g})["outputs"]["value"]
    assert low < run("ddm", {"dividend": d0, "cost_of_equity": k, "stable_growth": g})["outputs"]["value"]


def test_two_stage_with_zero_excess_equals_gordon() -> None:
    a = run(
        "ddm",
        {"dividend": 1.5, "cost_of_equity": 0.09, "stable_growth": 0.03, "high_growth": 0.03, "high_growth_years": 7},
        {"variant": "two_stage"},
    )
    b = run("ddm", {"dividend": 1.5, "cost_of_equity": 0.09, "stable_growth": 0.03})
    assert a["outputs"]["value"] == pytest.approx(b["outputs"]["value"], rel=1e-13)


def test_three_stage_schedule_moves_linearly() -> None:
    out = run(
        "ddm",
        {
            "eps": 2,
            "payout": 0.2,
            "stable_payout": 0.6,
            "cost_of_equity": 0.12,
            "stable_cost_of_equity": 0.09,
            "high_growth": 0.2,
            "high_growth_years": 3,
            "transition_years": 4,
            "stable_growth": 0.04,
        },
        {"variant": "three_stage"},
    )
    sched = out["schedule"]
    assert [r["growth"] for r in sched] == pytest.approx([0.2, 0.2, 0.2, 0.16, 0.12, 0.08, 0.04])
    assert [r["payout"] for r in sched] == pytest.approx([0.2, 0.2, 0.2, 0.3, 0.4, 0.5, 0.6])
    assert sched[-1]["cost_of_equity"] == pytest.approx(0.09)


def test_implied_growth_and_cost_closed_forms() -> None:
    g = run("implied_growth", {"price": 50, "cash_flow": 2, "cost_of_equity": 0.10})["outputs"]
    assert g["implied_growth"] == pytest.approx(g["closed_form"], abs=1e-12)
    k = run("implied_cost_of_equity", {"price": 50, "cash_flow": 2, "stable_growth": 0.05})["outputs"]
    assert k["implied_cost_of_equity"] == pytest.approx(0.092, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.floats(0.5, 10), st.floats(-0.05, 0.5), st.integers(1, 10), st.floats(0.0, 0.04), st.floats(0.06, 0.2))
def test_reverse_round_trip(d0: float, g: float, n: int, gs: float, k: float) -> None:
    value = run(
        "ddm",
        {"dividend": d0, "cost_of_equity": k, "stable_growth": gs, "high_growth": g, "high_growth_years": n},
        {"variant": "two_stage"},
    )["outputs"]["value"]
    got = run(
        "implied_growth",
        {"price": value, "cash_flow": d0, "cost_of_equity": k, "high_growth_years": n, "stable_growth": gs},
    )
    assert got["outputs"]["implied_growth"] == pytest.approx(g, abs=1e-9)
    kk = run(
        "implied_cost_of_equity",
        {"price": value, "cash_flow": d0, "high_growth": g, "high_growth_years": n, "stable_growth": gs},
    )
    assume(not kk["warnings"])
    assert kk["outputs"]["implied_cost_of_equity"] == pytest.approx(k, abs=1e-9)


def test_errors() -> None:
    with pytest.raises(ValidationError) as exc:
        run("ddm", {"dividend": 1, "cost_of_equity": 0.08, "stable_growth": 0.08})
    assert str(exc.value) == "inputs.stable_growth: must be below the stable cost of equity (8.0%)"
    with pytest.raises(ValidationError, match=r"inputs.high_growth_years: must be at least 1 for the two_stage model"):
        run("fcfe", {"fcfe": 1, "cost_of_equity": 0.1, "stable_growth": 0.02})
    with pytest.raises(ValidationError, match=r"inputs.fcfe: give exactly one of fcfe or net_income"):
        run("fcfe", {"cost_of_equity": 0.1, "stable_growth": 0.02})
    with pytest.raises(NoSolutionError, match="no cost of equity between"):
        run("implied_cost_of_equity", {"price": 1e9, "cash_flow": 1, "stable_growth": 0.02})


def test_three_stage_schedule_matches_the_published_example() -> None:
    # golden/ddm_three_stage_evolvingtech.json: the published dividends (four decimals) and PVs
    # (three decimals) of the six explicit years, growth 20% x 3 then 16%, 12%, 8%.
    request = json.loads((GOLDEN / "ddm_three_stage_evolvingtech.json").read_text())["request"]
    schedule = water_engine.run(request)["schedule"]
    assert [round(row["growth"], 4) for row in schedule] == [0.2, 0.2, 0.2, 0.16, 0.12, 0.08]
    assert [round(row["cash_flow"], 4) for row in schedule] == [0.96, 1.152, 1.3824, 1.6036, 1.796, 1.9397]
    assert [round(row["present_value"], 3) for row in schedule] == [0.857, 0.918, 0.984, 1.019, 1.019, 0.983]

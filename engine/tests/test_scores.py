"""Altman Z / Z'', Piotroski F and credit metrics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import water_engine
from water_engine import ValidationError

GOLDEN = Path(__file__).parent / "golden"
MODELS = ("altman_z", "piotroski_f", "credit_metrics")


def run(model: str, inputs: dict[str, Any], conventions: dict[str, Any] | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {"model": model, "inputs": inputs}
    if conventions:
        request["conventions"] = conventions
    return water_engine.run(request)


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
        assert out[key] == (pytest.approx(expected, abs=5e-5) if isinstance(expected, float) else expected), key


FIRM = {
    "working_capital": 200.0,
    "retained_earnings": 300.0,
    "ebit": 150.0,
    "total_assets": 1000.0,
    "total_liabilities": 500.0,
    "market_value_of_equity": 750.0,
    "book_equity": 500.0,
    "sales": 1100.0,
}


def test_altman_z_by_the_1968_coefficients() -> None:
    # Altman (1968): Z = 1.2 X1 + 1.4 X2 + 3.3 X3 + 0.6 X4 + 1.0 X5
    # X = 0.2, 0.3, 0.15, 1.5, 1.1 -> 0.24 + 0.42 + 0.495 + 0.9 + 1.1 = 3.155 (safe: > 2.99)
    out = run("altman_z", FIRM)["outputs"]
    assert out["score"] == pytest.approx(3.155, abs=1e-12)
    assert out["zone"] == "safe"
    assert out["x4_equity_to_liabilities"] == 1.5


def test_altman_z_double_prime() -> None:
    # Altman (1995/2000): Z'' = 6.56 X1 + 3.26 X2 + 6.72 X3 + 1.05 X4 (X4 = book equity / liabilities)
    # 1.312 + 0.978 + 1.008 + 1.05 = 4.348 (safe: > 2.60); the EM form adds 3.25
    out = run("altman_z", FIRM, {"variant": "z_double_prime"})["outputs"]
    assert out["score"] == pytest.approx(4.348, abs=1e-12)
    assert out["zone"] == "safe"
    assert "x5_sales" not in out
    em = run("altman_z", FIRM, {"variant": "z_double_prime_em"})["outputs"]
    assert em["score"] == pytest.approx(4.348 + 3.25, abs=1e-12)


def test_altman_zones() -> None:
    weak = {
        **FIRM,
        "working_capital": -100.0,
        "retained_earnings": -200.0,
        "ebit": -50.0,
        "market_value_of_equity": 100.0,
        "sales": 600.0,
    }
    assert run("altman_z", weak)["outputs"]["zone"] == "distress"
    grey = {**FIRM, "market_value_of_equity": 250.0, "sales": 700.0, "ebit": 60.0}
    out = run("altman_z", grey)["outputs"]
    assert 1.81 <= out["score"] <= 2.99
    assert out["zone"] == "grey"


def test_altman_missing_inputs() -> None:
    with pytest.raises(ValidationError) as exc:
        run("altman_z", {k: v for k, v in FIRM.items() if k not in ("sales", "market_value_of_equity")})
    assert (
        str(exc.value)
        == "inputs.market_value_of_equity: is required for the z score; inputs.sales: is required for the z score"
    )


@given(st.floats(-1e3, 1e3), st.floats(0.0, 1e3))
def test_z_rises_with_ebit(ebit: float, bump: float) -> None:
    lo = run("altman_z", {**FIRM, "ebit": ebit})["outputs"]["score"]
    hi = run("altman_z", {**FIRM, "ebit": ebit + bump + 1.0})["outputs"]["score"]
    assert hi > lo


PRIOR = {
    "net_income": 50.0,
    "operating_cash_flow": 60.0,
    "total_assets": 1000.0,
    "total_assets_begin": 950.0,
    "long_term_debt": 300.0,
    "current_assets": 400.0,
    "current_liabilities": 250.0,
    "shares_outstanding": 100.0,
    "gross_profit": 300.0,
    "revenue": 1000.0,
}
CURRENT = {
    "net_income": 70.0,
    "operating_cash_flow": 90.0,
    "total_assets": 1050.0,
    "total_assets_begin": 1000.0,
    "long_term_debt": 280.0,
    "current_assets": 450.0,
    "current_liabilities": 250.0,
    "shares_outstanding": 100.0,
    "gross_profit": 340.0,
    "revenue": 1100.0,
}


def test_piotroski_all_nine() -> None:
    # Piotroski (2000): every signal improves -> F = 9
    out = run("piotroski_f", {"current": CURRENT, "prior": PRIOR})["outputs"]
    assert out["score"] == 9
    assert all(out["signals"].values())
    assert out["strong"] is True


def test_piotroski_each_signal_flips() -> None:
    worse = {
        **CURRENT,
        "net_income": -10.0,  # ROA < 0, ROA down
        "operating_cash_flow": -5.0,  # CFO < 0 (and CFO/TA = -0.005 > ROA = -0.01 keeps accruals true)
        "long_term_debt": 400.0,
        "current_assets": 300.0,
        "shares_outstanding": 110.0,
        "gross_profit": 250.0,
        "revenue": 900.0,
    }
    out = run("piotroski_f", {"current": worse, "prior": PRIOR})["outputs"]
    assert out["signals"] == {
        "roa_positive": False,
        "cfo_positive": False,
        "roa_improved": False,
        "accruals": True,
        "leverage_fell": False,
        "liquidity_improved": False,
        "no_equity_issued": False,
        "margin_improved": False,
        "turnover_improved": False,
    }
    assert out["score"] == 1
    assert out["weak"] is True


def test_credit_metrics() -> None:
    out = run(
        "credit_metrics",
        {
            "ebit": 120,
            "depreciation_and_amortization": 30,
            "interest_expense": 40,
            "total_debt": 500,
            "cash": 50,
            "tax_rate": 0.25,
            "book_equity": 750,
        },
    )["outputs"]
    assert out["interest_coverage"] == 3.0
    assert out["ebitda_interest_coverage"] == 3.75
    assert out["net_debt"] == 450
    assert out["net_debt_to_ebitda"] == 3.0
    assert out["invested_capital"] == 1200
    assert out["roic"] == pytest.approx(0.075, abs=1e-15)


def test_credit_metrics_degenerate_ratios_are_null() -> None:
    out = run(
        "credit_metrics", {"ebit": -10, "interest_expense": 0, "total_debt": 100, "ebitda": -5, "invested_capital": 0}
    )
    assert out["outputs"]["interest_coverage"] is None
    assert out["outputs"]["net_debt_to_ebitda"] is None
    assert out["outputs"]["roic"] is None
    assert len(out["warnings"]) == 3
    with pytest.raises(ValidationError, match=r"inputs.invested_capital: give invested_capital or book_equity"):
        run("credit_metrics", {"ebit": 1, "interest_expense": 1, "total_debt": 1})

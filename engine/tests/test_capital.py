"""Cost of capital: published examples (Damodaran), oracles (numpy, scipy) and properties."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from scipy import stats

import water_engine
from water_engine import EngineError, ValidationError
from water_engine.models import capital as cap
from water_engine.models import dcf_ginzu as G

GOLDEN = Path(__file__).parent / "golden"
MODELS = (
    "capm",
    "beta_levered",
    "beta_regression",
    "cost_of_debt",
    "synthetic_rating",
    "market_value_of_debt",
    "wacc",
    "wacc_path",
)


def run(model: str, inputs: dict[str, Any], conventions: dict[str, Any] | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {"model": model, "inputs": inputs}
    if conventions:
        request["conventions"] = conventions
    return water_engine.run(request)


def _published_tolerance(expected: float) -> float:
    text = repr(float(expected))
    decimals = len(text.split(".")[1]) if "." in text and "e" not in text else 12
    return 0.5 * 10.0**-decimals + 1e-12 * abs(expected)


def assert_matches(actual: Any, expected: Any, where: str) -> None:
    if isinstance(expected, float) or (isinstance(expected, int) and isinstance(actual, float)):
        assert isinstance(actual, float), where
        assert abs(actual - expected) <= _published_tolerance(expected), f"{where}: {actual!r} != {expected!r}"
    elif isinstance(expected, list):
        assert len(actual) == len(expected), where
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            assert_matches(a, e, f"{where}[{i}]")
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


def golden_cases() -> list[Path]:
    return sorted(p for p in GOLDEN.glob("*.json") if json.loads(p.read_text())["request"]["model"] in MODELS)


@pytest.mark.parametrize("path", golden_cases(), ids=lambda p: p.stem)
def test_golden(path: Path) -> None:
    case = json.loads(path.read_text())
    assert case["source"]
    out = water_engine.run(case["request"])["outputs"]
    for key, expected in case["expected"].items():
        assert_matches(out[key], expected, key)


# --- CAPM and Hamada: Damodaran, "Damodaran on Valuation" (2nd ed.), Illustration 2.4, Embraer --


def test_embraer_levered_beta() -> None:
    # Unlevered beta 0.95, D/E 18.95%, marginal tax 34% -> levered beta 1.07
    out = run("beta_levered", {"beta": 0.95, "beta_is": "unlevered", "debt_to_equity": 0.1895, "tax_rate": 0.34})
    assert round(out["outputs"]["levered_beta"], 2) == 1.07
    back = run("beta_levered", {"beta": out["outputs"]["levered_beta"], "debt_to_equity": 0.1895, "tax_rate": 0.34})
    assert back["outputs"]["unlevered_beta"] == pytest.approx(0.95, rel=1e-15)


def test_embraer_cost_of_equity_three_ways() -> None:
    # rf 4.25%, beta 1.07, US historical premium 4.84%, Brazil CRP 4.67%, lambda 0.27 -> 10.69%
    base = {"risk_free": 0.0425, "beta": 1.07, "equity_risk_premium": 0.0484, "country_risk_premium": 0.0467}
    lam = run("capm", {**base, "country_lambda": 0.27}, {"country_risk_approach": "lambda"})
    assert round(lam["outputs"]["cost_of_equity"], 4) == 0.1069
    # Beta approach: 4.25% + 1.07 (4.84% + 4.67%) = 14.43%; constant: 4.25% + 1.07 x 4.84% + 4.67% = 14.10%
    assert round(run("capm", base, {"country_risk_approach": "beta"})["outputs"]["cost_of_equity"], 4) == 0.1443
    assert round(run("capm", base)["outputs"]["cost_of_equity"], 4) == 0.1410


def test_capm_size_premium_adds() -> None:
    out = run("capm", {"risk_free": 0.04, "beta": 1.2, "equity_risk_premium": 0.05, "size_premium": 0.02})
    assert out["outputs"]["cost_of_equity"] == pytest.approx(0.04 + 0.06 + 0.02, abs=1e-15)


@given(st.floats(-3, 5), st.floats(0, 10), st.floats(0, 1))
def test_hamada_round_trip(beta: float, de: float, t: float) -> None:
    assert cap.levered_beta(cap.unlevered_beta(beta, de, t), de, t) == pytest.approx(beta, rel=1e-12, abs=1e-15)


def test_relever_at_target() -> None:
    out = run("beta_levered", {"beta": 1.2, "debt_to_equity": 0.5, "tax_rate": 0.25, "target_debt_to_equity": 0.0})
    assert out["outputs"]["levered_beta"] == out["outputs"]["unlevered_beta"]
    assert out["outputs"]["unlevered_beta"] == pytest.approx(1.2 / 1.375, rel=1e-15)


# --- regression beta ------------------------------------------------------------------------


def _series(start: dt.date, prices: list[float], step_days: int = 1) -> list[list[Any]]:
    return [[(start + dt.timedelta(days=i * step_days)).isoformat(), p] for i, p in enumerate(prices)]


@st.composite
def price_pair(draw: st.DrawFn) -> tuple[list[float], list[float]]:
    n = draw(st.integers(min_value=5, max_value=80))
    rets = st.floats(min_value=-0.2, max_value=0.2)
    xb = draw(st.lists(rets, min_size=n, max_size=n))
    noise = draw(st.lists(rets, min_size=n, max_size=n))
    beta = draw(st.floats(-2, 3))
    bench, stock = [100.0], [50.0]
    for r, e in zip(xb, noise, strict=True):
        bench.append(bench[-1] * (1 + r))
        stock.append(max(stock[-1] * (1 + beta * r + e), 1e-3))
    return stock, bench


@settings(max_examples=60, deadline=None)
@given(price_pair())
def test_daily_regression_matches_scipy_and_numpy(pair: tuple[list[float], list[float]]) -> None:
    stock, bench = pair
    x = np.diff(bench) / np.array(bench[:-1])
    y = np.diff(stock) / np.array(stock[:-1])
    assume(float(np.var(x)) > 1e-12)
    assume(float(np.var(y)) > 1e-12)
    start = dt.date(2023, 1, 2)
    out = run(
        "beta_regression", {"stock": _series(start, stock), "benchmark": _series(start, bench)}, {"frequency": "daily"}
    )
    o = out["outputs"]
    slope, intercept = np.polyfit(x, y, 1)
    ref = stats.linregress(x, y)
    assert o["observations"] == len(x)
    assert o["beta"] == pytest.approx(slope, rel=1e-9, abs=1e-12)
    assert o["alpha"] == pytest.approx(intercept, rel=1e-9, abs=1e-12)
    assert o["standard_error"] == pytest.approx(ref.stderr, rel=1e-7, abs=1e-6)
    assert o["alpha_standard_error"] == pytest.approx(ref.intercept_stderr, rel=1e-7, abs=1e-6)
    if o["r_squared"] is not None and float(np.var(y)) > 1e-12:
        assert o["r_squared"] == pytest.approx(ref.rvalue**2, rel=1e-7, abs=1e-10)
    if o["t_statistic"] is not None and ref.stderr > 1e-6:
        # t = beta / standard error carries the standard error's tolerance above (rel 1e-7 or abs
        # 1e-6): for a near-perfect fit (a standard error of a few 1e-6) that is a relative 1e-1.
        t_tolerance = 1e-6 + 1e-6 / ref.stderr
        assert o["t_statistic"] == pytest.approx(ref.slope / ref.stderr, rel=t_tolerance)


def test_weekly_and_monthly_sampling_take_last_close() -> None:
    # Daily prices over 2024-01-01 (Monday) .. 2024-03-31; stock = 2 x benchmark return path.
    start = dt.date(2024, 1, 1)
    days = [start + dt.timedelta(days=i) for i in range(121)]
    bench = [100.0 + 10.0 * math.sin(i / 5.0) + i * 0.1 for i in range(121)]
    stock = [b * b / 100.0 for b in bench]
    sb = [[d.isoformat(), p] for d, p in zip(days, bench, strict=True)]
    ss = [[d.isoformat(), p] for d, p in zip(days, stock, strict=True)]
    weekly = run("beta_regression", {"stock": ss, "benchmark": sb}, {"frequency": "weekly"})
    # ISO weeks: 1 Jan 2024 is Monday of week 1; the last close of each week is its Sunday.
    sundays = [r["period_end"] for r in weekly["schedule"]]
    assert sundays[0] == "2024-01-14"
    assert all(dt.date.fromisoformat(s).isoweekday() == 7 for s in sundays[:-1])
    assert sundays[-1] == "2024-04-30"  # the last, partial week ends on Tuesday 30 April
    assert weekly["outputs"]["observations"] == 17  # 18 ISO weeks -> 17 returns
    monthly = run("beta_regression", {"stock": ss, "benchmark": sb}, {"frequency": "monthly"})
    assert [r["period_end"] for r in monthly["schedule"]] == ["2024-02-29", "2024-03-31", "2024-04-30"]
    daily = run("beta_regression", {"stock": ss, "benchmark": sb}, {"frequency": "daily"})
    assert daily["outputs"]["observations"] == 120


def test_monthly_returns_are_month_end_to_month_end() -> None:
    sb = [
        ["2024-01-15", 100.0],
        ["2024-01-31", 110.0],
        ["2024-02-29", 121.0],
        ["2024-03-28", 133.1],
        ["2024-04-30", 119.79],
    ]
    ss = [["2024-01-31", 10.0], ["2024-02-29", 12.0], ["2024-03-28", 14.4], ["2024-04-30", 10.08]]
    out = run("beta_regression", {"stock": ss, "benchmark": sb}, {"frequency": "monthly"})
    assert [r["benchmark_return"] for r in out["schedule"]] == pytest.approx([0.1, 0.1, -0.1])
    assert [r["stock_return"] for r in out["schedule"]] == pytest.approx([0.2, 0.2, -0.3])
    assert out["outputs"]["start"] == "2024-01-31"


def test_regression_errors() -> None:
    with pytest.raises(ValidationError) as exc:
        run(
            "beta_regression", {"stock": [["2024-01-01", 0.0], ["2024-13-01", 2.0]], "benchmark": [["2024-01-01", 1.0]]}
        )
    assert "stock[0][1]: price must be positive" in str(exc.value)
    assert "stock[1][0]: must be an ISO date (YYYY-MM-DD)" in str(exc.value)
    with pytest.raises(EngineError, match="at least 4 daily periods"):
        run(
            "beta_regression",
            {"stock": _series(dt.date(2024, 1, 1), [1, 2, 3]), "benchmark": _series(dt.date(2024, 1, 1), [1, 2, 3])},
            {"frequency": "daily"},
        )
    with pytest.raises(ValidationError, match="duplicate date"):
        run("beta_regression", {"stock": [["2024-01-01", 1.0], ["2024-01-01", 2.0]], "benchmark": []})


# --- cost of debt and synthetic rating ------------------------------------------------------


def test_cost_of_debt() -> None:
    out = run("cost_of_debt", {"tax_rate": 0.25, "risk_free": 0.04, "default_spread": 0.0121})["outputs"]
    assert out["pre_tax_cost_of_debt"] == pytest.approx(0.0521, abs=1e-15)
    assert out["after_tax_cost_of_debt"] == pytest.approx(0.0521 * 0.75, abs=1e-15)
    with pytest.raises(ValidationError) as exc:
        run("cost_of_debt", {"tax_rate": 0.25, "risk_free": 0.04})
    assert str(exc.value) == "inputs.default_spread: is required when pre_tax_cost_of_debt is not given"


def test_synthetic_rating_damodaran_on_valuation_example() -> None:
    # "Damodaran on Valuation" (2nd ed.), ch. 2: a private firm with EBIT $10 million and interest
    # $3 million has coverage 3.33 -> BB, default spread 2.50% (the book's small-firm table).
    book_table = [
        {"min_coverage": -100000, "rating": "D", "spread": 0.20},
        {"min_coverage": 0.5, "rating": "C", "spread": 0.12},
        {"min_coverage": 0.8, "rating": "CC", "spread": 0.10},
        {"min_coverage": 1.25, "rating": "CCC", "spread": 0.08},
        {"min_coverage": 1.5, "rating": "B-", "spread": 0.06},
        {"min_coverage": 2.0, "rating": "B", "spread": 0.04},
        {"min_coverage": 2.5, "rating": "B+", "spread": 0.0325},
        {"min_coverage": 3.0, "rating": "BB", "spread": 0.025},
        {"min_coverage": 3.5, "rating": "BB+", "spread": 0.02},
        {"min_coverage": 4.0, "rating": "BBB", "spread": 0.015},
        {"min_coverage": 4.5, "rating": "A-", "spread": 0.01},
        {"min_coverage": 6.0, "rating": "A", "spread": 0.0085},
        {"min_coverage": 7.5, "rating": "A+", "spread": 0.007},
        {"min_coverage": 9.5, "rating": "AA", "spread": 0.005},
        {"min_coverage": 12.5, "rating": "AAA", "spread": 0.0035},
    ]
    out = run("synthetic_rating", {"operating_income": 10, "interest_expense": 3, "table": book_table})["outputs"]
    assert round(out["interest_coverage"], 2) == 3.33
    assert out["rating"] == "BB"
    assert out["default_spread"] == 0.025


@pytest.mark.parametrize(
    ("coverage", "size", "rating", "spread"),
    [
        # Damodaran ratings.htm, data as of January 2024 (large: > $5bn market cap; small/risky)
        (10.0, "large", "Aaa/AAA", 0.0059),
        (8.5, "large", "Aaa/AAA", 0.0059),
        (8.49, "large", "Aa2/AA", 0.0070),
        (3.0, "large", "A3/A-", 0.0121),
        (2.9, "large", "Baa2/BBB", 0.0147),
        (0.1, "large", "D2/D", 0.20),
        (-5.0, "large", "D2/D", 0.20),
        (3.0, "small", "Ba2/BB", 0.0221),
        (12.5, "small", "Aaa/AAA", 0.0059),
        (0.6, "small", "C2/C", 0.17),
    ],
)
def test_default_tables(coverage: float, size: str, rating: str, spread: float) -> None:
    out = run("synthetic_rating", {"operating_income": coverage * 100, "interest_expense": 100}, {"firm_size": size})
    assert out["outputs"]["rating"] == rating
    assert out["outputs"]["default_spread"] == spread


def test_zero_interest_is_top_class_with_warning() -> None:
    out = run("synthetic_rating", {"operating_income": 5, "interest_expense": 0, "risk_free": 0.04, "tax_rate": 0.21})
    assert out["outputs"]["interest_coverage"] is None
    assert out["outputs"]["rating"] == "Aaa/AAA"
    assert out["outputs"]["pre_tax_cost_of_debt"] == pytest.approx(0.0459, abs=1e-15)
    assert out["warnings"]


def test_table_must_ascend() -> None:
    with pytest.raises(ValidationError) as exc:
        run(
            "synthetic_rating",
            {
                "operating_income": 1,
                "interest_expense": 1,
                "table": [
                    {"min_coverage": 1, "rating": "A", "spread": 0.01},
                    {"min_coverage": 0, "rating": "B", "spread": 0.02},
                ],
            },
        )
    assert str(exc.value) == "inputs.table[1].min_coverage: must be above the previous row's (ascending order)"


# --- market value of debt -------------------------------------------------------------------


def test_market_value_of_debt_damodaran_on_valuation() -> None:
    # "Damodaran on Valuation" (2nd ed.), ch. 2: $1 billion of debt, $60 million interest,
    # six years, cost of debt 7.5% -> 60 (1 - 1.075^-6) / .075 + 1000 / 1.075^6 = $929.59 million
    out = run(
        "market_value_of_debt",
        {"book_debt": 1000, "interest_expense": 60, "average_maturity": 6, "pre_tax_cost_of_debt": 0.075},
    )
    assert round(out["outputs"]["market_value_of_debt"], 2) == 929.59


TARGET_LEASES = {
    "book_debt": 0,
    "interest_expense": 0,
    "average_maturity": 1,
    "pre_tax_cost_of_debt": 0.055,
    "lease_commitments": [146, 142, 137, 117, 102],
    "lease_beyond": 2405,
}


def test_target_lease_debt_as_in_the_book() -> None:
    # "Damodaran on Valuation" (2nd ed.), ch. 2: Target's lease commitments 146, 142, 137, 117, 102
    # and $2,405 million after year 5 (18-year annuity of 133.61: 2,405 / 128.8 = 18.67 rounded
    # down), pre-tax cost of debt 5.5% -> $1,704.82 million
    out = run("market_value_of_debt", TARGET_LEASES, {"lease_beyond_years_rounding": "round_down"})
    pvs = [round(r["present_value"], 2) for r in out["schedule"]]
    assert pvs == [138.39, 127.58, 116.67, 94.44, 78.04, 1149.69]
    assert out["schedule"][-1]["year"] == "6-23"
    assert round(out["outputs"]["lease_commitments_value"], 2) == 1704.82


def test_target_lease_debt_as_the_lease_converter() -> None:
    # Damodaran's operating lease converter (fcffsimpleginzu.xlsx, "Operating lease converter"):
    # years = ROUND(2,405 / 128.8, 0) = 19, annuity 126.58 for years 6-24 -> $1,679.33 million, the
    # default, and what fcff_ginzu's lease capitalisation gives for the same leases.
    out = run("market_value_of_debt", TARGET_LEASES)
    assert out["schedule"][-1]["year"] == "6-24"
    assert round(out["schedule"][-1]["commitment"], 2) == 126.58
    assert round(out["outputs"]["lease_commitments_value"], 2) == 1679.33
    ginzu = G.LeaseCapitalisation(
        current_expense=0, commitments=[146, 142, 137, 117, 102], pre_tax_cost_of_debt=0.055, beyond_year_5=2405
    )
    assert out["outputs"]["lease_commitments_value"] == pytest.approx(G.lease_adjustments(ginzu)[0], rel=1e-14)


@pytest.mark.parametrize(("lump", "rounding", "years"), [(250, "round", 3), (250, "round_down", 2), (249, "round", 2)])
def test_lease_years_round_halves_up_or_down(lump: float, rounding: str, years: int) -> None:
    # average commitment 100: 250 / 100 = 2.5 -> ROUND 3 (halves away from zero, as Excel), ROUNDDOWN 2
    assert cap.lease_beyond_years(lump, [100.0] * 5, rounding) == years  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(
    commitments=st.lists(st.floats(1.0, 1e4), min_size=5, max_size=5),
    years_beyond=st.just(0.0) | st.floats(0.01, 99.0),
    kd=st.floats(0.005, 0.2),
)
# A lump at exactly 1.5 times an average that fsum and a left-to-right sum round differently: the
# two converters rounded it to 1 and 2 years until both averaged alike.
@example(commitments=[1.0, 1.0, 1.0, 8189.241637536051, 508.2416375360508], years_beyond=1.5, kd=0.125)
def test_lease_debt_agrees_with_the_ginzu_lease_converter(
    commitments: list[float], years_beyond: float, kd: float
) -> None:
    # One convention in both models: the same leases give the same debt (to rounding of the sums).
    # The lump after year 5 lasts up to 99 years at the average commitment (both refuse over 100).
    beyond = years_beyond * sum(commitments) / 5
    inputs = dict(TARGET_LEASES, lease_commitments=commitments, lease_beyond=beyond, pre_tax_cost_of_debt=kd)
    ours = run("market_value_of_debt", inputs)["outputs"]["lease_commitments_value"]
    leases = G.LeaseCapitalisation(
        current_expense=0, commitments=commitments, pre_tax_cost_of_debt=kd, beyond_year_5=beyond
    )
    assert ours == pytest.approx(G.lease_adjustments(leases)[0], rel=1e-12)


@given(st.floats(0, 1e6), st.floats(0, 1e5), st.floats(0.5, 30), st.just(0.0) | st.floats(1e-4, 0.3))
def test_bond_value_matches_numpy_discounting(book: float, interest: float, years: float, k: float) -> None:
    expected = interest * (1 - (1 + k) ** -years) / k + book / (1 + k) ** years if k > 0 else interest * years + book
    assert cap.straight_debt_value(book, interest, years, k) == pytest.approx(expected, rel=1e-11, abs=1e-9)


def test_at_par_when_coupon_equals_cost() -> None:
    assert cap.straight_debt_value(1000, 50, 7, 0.05) == pytest.approx(1000.0, rel=1e-13)


# --- WACC -----------------------------------------------------------------------------------


def test_wacc_damodaran_note() -> None:
    # "Damodaran on Valuation" (2nd ed.), ch. 2, note 52: cost of equity 15%, after-tax cost of
    # debt 5%; market D/(D+E) = 10% -> 14%; book D/(D+E) = 30% -> 12%. (Pre-tax 5% with t = 0.)
    market = run(
        "wacc",
        {"cost_of_equity": 0.15, "equity_value": 90, "pre_tax_cost_of_debt": 0.05, "debt_value": 10, "tax_rate": 0},
    )
    book = run(
        "wacc",
        {"cost_of_equity": 0.15, "equity_value": 70, "pre_tax_cost_of_debt": 0.05, "debt_value": 30, "tax_rate": 0},
    )
    assert market["outputs"]["wacc"] == pytest.approx(0.14, abs=1e-15)
    assert book["outputs"]["wacc"] == pytest.approx(0.12, abs=1e-15)


def test_wacc_disney_weights() -> None:
    # "Damodaran on Valuation" (2nd ed.), Illustration 2.7: Disney debt 14,668 (incl. leases) and
    # equity 55,101 ($ millions) -> market debt-to-capital 21.02%
    out = run(
        "wacc",
        {
            "cost_of_equity": 0.09,
            "equity_value": 55101,
            "pre_tax_cost_of_debt": 0.05,
            "debt_value": 14668,
            "tax_rate": 0.373,
        },
    )
    assert round(out["outputs"]["debt_weight"], 4) == 0.2102


@given(
    st.floats(0, 0.3),
    st.floats(0.01, 1e6),
    st.floats(0, 0.2),
    st.floats(0, 1e6),
    st.floats(0, 0.5),
    st.floats(0, 1e5),
    st.floats(0, 0.2),
)
def test_wacc_matches_numpy_weighted_average(
    ke: float, e: float, kd: float, d: float, t: float, p: float, kp: float
) -> None:
    expected = float(np.average([ke, kd * (1 - t), kp], weights=[e, d, p]))
    assert cap.wacc(ke, e, kd, d, t, p, kp) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_wacc_path_fade_and_factors() -> None:
    # fcffginzu-style: 9% in years 1-5, linear to 8% by year 10
    out = run("wacc_path", {"initial": 0.09, "stable": 0.08})
    assert out["outputs"]["rates"] == pytest.approx([0.09] * 5 + [0.088, 0.086, 0.084, 0.082, 0.08], abs=1e-15)
    dfs = out["outputs"]["discount_factors"]
    acc = 1.0
    for r, df in zip(out["outputs"]["rates"], dfs, strict=True):
        acc = acc / (1 + r)
        assert df == acc
    mid = run("wacc_path", {"rates": [0.1, 0.12]}, {"timing": "mid"})["outputs"]["discount_factors"]
    assert mid == [(1 / 1.1) * math.sqrt(1.1), (1 / 1.1 / 1.12) * math.sqrt(1.12)]


def test_wacc_path_errors() -> None:
    with pytest.raises(ValidationError) as exc:
        run("wacc_path", {"initial": 0.09, "stable": 0.08, "years": 4, "fade_start": 5})
    assert str(exc.value) == "inputs.fade_start: must not exceed years (4)"
    with pytest.raises(ValidationError, match=r"inputs.stable: is required without rates"):
        run("wacc_path", {"initial": 0.09})


def test_value_falls_as_wacc_rises() -> None:
    low = run("wacc_path", {"rates": [0.08] * 10})["outputs"]["discount_factors"]
    high = run("wacc_path", {"rates": [0.081] * 10})["outputs"]["discount_factors"]
    assert all(h < lo for h, lo in zip(high, low, strict=True))

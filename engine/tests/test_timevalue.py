"""Time value of money: published examples, independent oracles and properties.

Oracles (test-only): numpy-financial (npv, irr, pv, fv, pmt), pyxirr (xnpv, xirr),
QuantLib (Actual/365 Fixed day counts and discount factors).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import numpy_financial as npf
import pytest
import pyxirr
import QuantLib as ql
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

import water_engine
from water_engine import NoSolutionError, ValidationError
from water_engine.models import timevalue as tv
from water_engine.rootfind import find_all_roots

GOLDEN = Path(__file__).parent / "golden"
MODELS = ("discount_factors", "npv", "irr", "xnpv", "xirr", "annuity", "perpetuity")


def _published_tolerance(expected: float) -> float:
    """Half a unit in the last published decimal place."""
    text = repr(float(expected))
    decimals = len(text.split(".")[1]) if "." in text and "e" not in text else 12
    return 0.5 * 10.0**-decimals + 1e-12 * abs(expected)


def assert_matches(actual: Any, expected: Any, where: str) -> None:
    if isinstance(expected, float) or (isinstance(expected, int) and isinstance(actual, float)):
        assert isinstance(actual, float), where
        assert abs(actual - expected) <= _published_tolerance(expected), f"{where}: {actual!r} != {expected!r}"
    elif isinstance(expected, list):
        assert isinstance(actual, list), where
        assert len(actual) == len(expected), where
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            assert_matches(a, e, f"{where}[{i}]")
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


def golden_cases(models: tuple[str, ...]) -> list[Path]:
    return sorted(p for p in GOLDEN.glob("*.json") if json.loads(p.read_text())["request"]["model"] in models)


@pytest.mark.parametrize("path", golden_cases(MODELS), ids=lambda p: p.stem)
def test_golden(path: Path) -> None:
    case = json.loads(path.read_text())
    assert case["source"]
    out = water_engine.run(case["request"])["outputs"]
    for key, expected in case["expected"].items():
        assert_matches(out[key], expected, key)


# --- published worked examples ------------------------------------------------------------


def test_numpy_financial_npv_docstring() -> None:
    # numpy-financial 1.0, npv docstring: npf.npv(0.08, [-40_000, 5_000, 8_000, 12_000, 30_000]) -> 3065.22266817952
    assert tv.npv(0.08, [-40_000, 5_000, 8_000, 12_000, 30_000]) == pytest.approx(3065.22266817952, abs=1e-9)


def test_excel_npv_examples() -> None:
    # Microsoft Support, NPV function, example 1: NPV(10%, -10000, 3000, 4200, 6800) = 1,188.44
    assert round(tv.npv(0.10, [-10_000, 3_000, 4_200, 6_800], "t1"), 2) == 1188.44
    # Example 2: NPV(8%, B3:B7) + B2 = 1,922.06 with -40000 now and 8000, 9200, 10000, 12000, 14500
    assert round(tv.npv(0.08, [8_000, 9_200, 10_000, 12_000, 14_500], "t1") - 40_000, 2) == 1922.06
    # ... and NPV(8%, B3:B7, -9000) + B2 = -3,749.47
    assert round(tv.npv(0.08, [8_000, 9_200, 10_000, 12_000, 14_500, -9_000], "t1") - 40_000, 2) == -3749.47


def test_numpy_financial_irr_docstring() -> None:
    # numpy-financial 1.0, irr docstring examples (rounded to 5 / 4 places there)
    assert round(tv.irr([-100, 39, 59, 55, 20]), 5) == 0.28095
    assert round(tv.irr([-100, 0, 0, 74]), 5) == -0.09550
    # npf.irr([-100, 100, 0, -7]) = -0.0833 silently; the flows change sign twice and NPV is also zero at -67.89%.
    assert [round(r, 4) for r in tv.irr_all([-100, 100, 0, -7])] == [-0.6789, -0.0833]
    assert round(tv.irr([-100, 100, 0, 7]), 5) == 0.06206
    # npf.irr([-5, 10.5, 1, -8, 1]) = 0.0886 -- one of three roots; we report all three.
    roots = tv.irr_all([-5, 10.5, 1, -8, 1])
    assert [round(r, 4) for r in roots] == [-0.8702, 0.0886, 0.7096]
    poly = np.roots([-5, 10.5, 1, -8, 1])  # NPV * (1+r)^4 as a polynomial in (1+r)
    real = sorted(float(z.real) - 1.0 for z in poly if abs(z.imag) < 1e-12 and z.real > 0)
    assert roots == pytest.approx(real, abs=1e-10)


def test_excel_xirr_xnpv_example() -> None:
    # Microsoft Support, XIRR function example -> 0.373362535; XNPV function example at 9% -> 2,086.65.
    # Excel iterates XIRR to 0.000001%; the exact root is 0.37336253351883..., so compare 8 places.
    dates = ["2008-01-01", "2008-03-01", "2008-10-30", "2009-02-15", "2009-04-01"]
    flows = [-10_000, 2_750, 4_250, 3_250, 2_750]
    assert round(tv.xirr(flows, dates), 8) == 0.37336253
    assert round(tv.xnpv(0.09, flows, dates), 2) == 2086.65


def test_excel_annuity_examples() -> None:
    # Microsoft Support PMT: PMT(8%/12, 10, 10000) = -1,037.03; PMT(6%/12, 18*12, 0, 50000) = -129.08
    assert round(tv.annuity_payment(0.08 / 12, 10, 10_000), 2) == -1037.03
    assert round(tv.annuity_payment(0.06 / 12, 18 * 12, 0, 50_000), 2) == -129.08
    # PV: PV(0.08/12, 12*20, 500, , 0) = -59,777.15; FV: FV(0.06/12, 10, -200, -500, 1) = 2,581.40
    assert round(tv.annuity_pv(0.08 / 12, 240, 500), 2) == -59777.15
    assert round(tv.annuity_fv(0.06 / 12, 10, -200, -500, due=True), 2) == 2581.40
    # FV(0, 12, -100) = 1200 (zero rate)
    assert tv.annuity_fv(0.0, 12, -100) == 1200.0


def test_perpetuity_textbook() -> None:
    # Brealey, Myers & Allen ch. 2: growing perpetuity PV = C1 / (r - g)
    assert tv.perpetuity(100.0, 0.10, 0.02) == pytest.approx(1250.0, rel=1e-15)
    assert tv.perpetuity(100.0, 0.10) == pytest.approx(1000.0, rel=1e-15)
    out = water_engine.run(
        {"model": "perpetuity", "inputs": {"cash_flow": 100, "rate": 0.1, "growth": 0.02, "cash_flow_is": "current"}}
    )["outputs"]
    assert out["next_cash_flow"] == 102.0
    assert out["value"] == pytest.approx(1275.0, rel=1e-15)


# --- oracles ------------------------------------------------------------------------------

rates = st.floats(min_value=-0.5, max_value=1.0, allow_nan=False)
flow = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@given(rates, st.lists(flow, min_size=1, max_size=40))
def test_npv_matches_numpy_financial(rate: float, flows: list[float]) -> None:
    expected = float(npf.npv(rate, flows))
    scale = math.fsum(abs(c) for c in flows) * 2.0 ** len(flows) + 1.0
    assert tv.npv(rate, flows) == pytest.approx(expected, abs=1e-12 * scale)
    assert tv.npv(rate, flows, "t1") == pytest.approx(expected / (1 + rate), abs=1e-12 * scale)


@st.composite
def conventional_flows(draw: st.DrawFn) -> list[float]:
    outlay = draw(st.floats(min_value=1.0, max_value=1e6))
    rest = draw(st.lists(st.floats(min_value=0.0, max_value=1e6), min_size=1, max_size=30))
    assume(math.fsum(rest) > 1e-3 * outlay)
    return [-outlay, *rest]


@settings(max_examples=60, deadline=None)
@given(conventional_flows())
def test_irr_matches_numpy_financial(flows: list[float]) -> None:
    try:
        expected = npf.irr(flows)
    except np.linalg.LinAlgError:
        assume(False)
    roots = tv.irr_all(flows)
    # Stay clear of the documented search range's ends (-99% and 10,000%): a root right at the
    # edge is outside what irr_all promises, and numpy-financial may place it on either side.
    assume(not math.isnan(expected) and -0.98 < expected < 90)
    # numpy-financial's eigenvalue solver can return a value that is no root at all when the flows
    # span many orders of magnitude (test_numpy_financial_can_return_a_non_root): only a real root
    # is an oracle.
    assume(abs(tv.npv(float(expected), flows)) <= 1e-6 * math.fsum(abs(c) for c in flows))
    assert len(roots) == 1  # one sign change: exactly one IRR above -100%
    if roots[0] != pytest.approx(expected, rel=1e-7, abs=1e-9):
        # numpy-financial solves a companion-matrix eigenproblem and can be looser; then ours must fit better.
        assert abs(tv.npv(roots[0], flows)) <= abs(tv.npv(float(expected), flows))


def test_numpy_financial_can_return_a_non_root() -> None:
    """Found by the property test above: the real IRR is about 271,206 (27 million %), far beyond
    irr_all's documented upper end (10,000%), so irr_all finds none; numpy-financial answers 69.93,
    where the NPV is about 3,850, not zero."""
    flows = [-1.0, 271207.0, 47.5, 135603.0, 2.1196442870528316e-28]
    assert tv.irr_all(flows) == []
    assert abs(tv.npv(float(npf.irr(flows)), flows)) > 1_000
    assert tv.irr_all(flows, upper=1e6) == [pytest.approx(271206.5, rel=1e-3)]


@st.composite
def dated_flows(draw: st.DrawFn) -> tuple[list[float], list[str]]:
    n = draw(st.integers(min_value=2, max_value=12))
    start = dt.date(2000, 1, 1) + dt.timedelta(days=draw(st.integers(0, 9000)))
    gaps = draw(st.lists(st.integers(1, 700), min_size=n - 1, max_size=n - 1))
    days = [0]
    for g in gaps:
        days.append(days[-1] + g)
    dates = [(start + dt.timedelta(days=d)).isoformat() for d in days]
    outlay = draw(st.floats(min_value=100.0, max_value=1e6))
    rest = draw(st.lists(st.floats(min_value=0.0, max_value=1e6), min_size=n - 1, max_size=n - 1))
    assume(math.fsum(rest) > 0.05 * outlay)
    return [-outlay, *rest], dates


@settings(max_examples=40, deadline=None)
@given(dated_flows(), st.floats(min_value=-0.5, max_value=2.0))
def test_xnpv_xirr_match_pyxirr(case: tuple[list[float], list[str]], rate: float) -> None:
    flows, dates = case
    pdates = [dt.date.fromisoformat(d) for d in dates]
    scale = math.fsum(abs(c) for c in flows) * 100
    assert tv.xnpv(rate, flows, dates) == pytest.approx(pyxirr.xnpv(rate, pdates, flows), abs=1e-10 * scale)
    expected = pyxirr.xirr(pdates, flows)
    assume(expected is not None and -0.99 < expected < 100)
    roots = tv.xirr_all(flows, dates)
    assert len(roots) == 1
    assert roots[0] == pytest.approx(expected, rel=1e-7, abs=1e-8)


@settings(max_examples=40, deadline=None)
@given(st.floats(min_value=-0.5, max_value=1.0), st.lists(st.integers(0, 20000), min_size=1, max_size=10))
def test_dated_discount_factors_match_quantlib(rate: float, offsets: list[int]) -> None:
    base = ql.Date(15, 3, 2021)
    curve = ql.FlatForward(base, rate, ql.Actual365Fixed(), ql.Compounded, ql.Annual)
    dates = [dt.date(2021, 3, 15) + dt.timedelta(days=o) for o in offsets]
    out = water_engine.run(
        {
            "model": "discount_factors",
            "inputs": {"rate": rate, "valuation_date": "2021-03-15", "dates": [d.isoformat() for d in dates]},
        }
    )
    for d, row, f in zip(dates, out["schedule"], out["outputs"]["factors"], strict=True):
        qd = ql.Date(d.day, d.month, d.year)
        assert row["year_fraction"] == ql.Actual365Fixed().yearFraction(base, qd)
        assert f == pytest.approx(curve.discount(qd), rel=1e-12)


@given(st.floats(min_value=-0.9, max_value=5.0), st.integers(min_value=1, max_value=60))
def test_periodic_discount_factors_match_quantlib_compounding(rate: float, n: int) -> None:
    rate_q = ql.InterestRate(rate, ql.Actual365Fixed(), ql.Compounded, ql.Annual)
    dfs = tv.discount_factors(rate, n)
    for t, df in enumerate(dfs, start=1):
        assert df == pytest.approx(rate_q.discountFactor(float(t)), rel=1e-12)


@given(st.floats(-0.5, 0.5), st.integers(1, 400), st.floats(-1e5, 1e5), st.floats(-1e5, 1e5), st.booleans())
@example(rate=1.492400656604773e-08, n=49, pmt=0.0, other=2.0, due=False)  # found by a local run
def test_annuity_matches_numpy_financial(rate: float, n: int, pmt: float, other: float, due: bool) -> None:
    when = "begin" if due else "end"
    assume(abs(rate) > 1e-9)
    scale = (abs(pmt) * n + abs(other)) * (1 + abs(rate)) ** n * 10 + 1
    assume(scale < 1e60)
    # (1+r)^n by n multiplications versus numpy's pow; near r = 0 both sides lose digits to the
    # cancellation in ((1+r)^n - 1)/r, about n * eps / |r| relative, so the oracle is no better there.
    rel = n * 1e-14 + n * 2e-16 / abs(rate)
    pv = float(npf.pv(rate, n, pmt, other, when))
    fv = float(npf.fv(rate, n, pmt, other, when))
    assert tv.annuity_pv(rate, n, pmt, other, due) == pytest.approx(pv, rel=rel, abs=1e-11 * scale)
    assert tv.annuity_fv(rate, n, pmt, other, due) == pytest.approx(fv, rel=rel, abs=1e-11 * scale)
    assume(abs(other) > 1.0)
    expected = float(npf.pmt(rate, n, other, 0.0, when))
    # The payment divides by the same ((1+r)^n - 1), so it carries the same cancellation near r = 0:
    # for r = 1.49e-8, n = 49 both Water and numpy-financial are ~7e-9 off the exact rational value.
    assert tv.annuity_payment(rate, n, other, 0.0, due) == pytest.approx(expected, rel=max(1e-9, rel), abs=1e-12)


# --- properties ---------------------------------------------------------------------------


@given(st.floats(-0.5, 1.0), st.floats(0.0001, 0.5), st.lists(st.floats(0.0, 1e6), min_size=2, max_size=30))
def test_value_falls_as_rate_rises(rate: float, bump: float, flows: list[float]) -> None:
    assume(any(c >= 1.0 for c in flows[1:]))
    assert tv.npv(rate + bump, flows) < tv.npv(rate, flows)


@given(st.floats(-0.9, 3.0), st.integers(1, 50))
def test_mid_period_factor_is_end_times_sqrt(rate: float, n: int) -> None:
    end = tv.discount_factors(rate, n)
    mid = tv.discount_factors(rate, n, "mid")
    for e, m in zip(end, mid, strict=True):
        assert m == e * math.sqrt(1.0 + rate)


def test_rate_path_cumulative() -> None:
    dfs = tv.discount_factors([0.10, 0.09, 0.08])
    assert dfs[0] == 1 / 1.1
    assert dfs[1] == 1 / 1.1 / 1.09
    assert dfs[2] == 1 / 1.1 / 1.09 / 1.08


@given(st.floats(0.05, 20.0), st.floats(-40.0, 40.0))
def test_fractional_power_accuracy(base: float, exponent: float) -> None:
    assert tv.fractional_power(base, exponent) == pytest.approx(base**exponent, rel=1e-13)


def test_fractional_power_integer_exponents_are_products() -> None:
    assert tv.fractional_power(1.1, 3.0) == 1.1 * 1.1 * 1.1
    assert tv.fractional_power(1.1, -2.0) == 1.0 / (1.1 * 1.1)


def test_whole_year_dates_give_whole_year_factors() -> None:
    out = water_engine.run(
        {"model": "xnpv", "inputs": {"rate": 0.1, "flows": [-100, 110], "dates": ["2019-01-01", "2020-01-01"]}}
    )
    assert out["outputs"]["xnpv"] == pytest.approx(0.0, abs=1e-12)


# --- the JSON models and their errors -----------------------------------------------------


def test_irr_model_reports_every_root_and_warns() -> None:
    out = water_engine.run({"model": "irr", "inputs": {"flows": [-5, 10.5, 1, -8, 1]}})
    assert out["outputs"]["irr"] is None
    assert out["outputs"]["count"] == 3
    assert out["outputs"]["sign_changes"] == 3
    assert "3 IRRs" in out["warnings"][0]
    with pytest.raises(NoSolutionError, match="not unique"):
        tv.irr([-5, 10.5, 1, -8, 1])


def test_irr_with_two_sign_changes_and_two_roots() -> None:
    # Brealey, Myers & Allen, ch. 5 (multiple rates of return): -1,600 now, +10,000, -10,000 -> 25% and 400%
    out = water_engine.run({"model": "irr", "inputs": {"flows": [-1600, 10000, -10000]}})
    assert out["outputs"]["irrs"] == pytest.approx([0.25, 4.0], abs=1e-12)
    assert out["warnings"]


def test_irr_without_sign_change_is_a_clear_error() -> None:
    with pytest.raises(NoSolutionError, match="never change sign"):
        water_engine.run({"model": "irr", "inputs": {"flows": [100, 50, 20]}})


@pytest.mark.parametrize("flows", [[0, 0, 0], [0.0, -0.0], [0] * 50])
def test_all_zero_flows_are_a_validation_error(flows: list[float]) -> None:
    # Every rate is a root of all-zero flows: reporting "roots" would be thousands of grid points.
    with pytest.raises(ValidationError) as exc:
        water_engine.run({"model": "irr", "inputs": {"flows": flows}})
    assert [(e.path, e.message) for e in exc.value.errors] == [
        ("inputs.flows", "must not all be zero (every rate is a root of all-zero flows, so no IRR is defined)")
    ]
    dates = [f"{2000 + i}-01-01" for i in range(len(flows))]
    with pytest.raises(ValidationError, match=r"^inputs.flows: must not all be zero .*no XIRR is defined"):
        water_engine.run({"model": "xirr", "inputs": {"flows": flows, "dates": dates}})
    with pytest.raises(ValidationError, match="must not all be zero"):
        tv.irr_all(flows)
    with pytest.raises(ValidationError, match="must not all be zero"):
        tv.xirr_all(flows, dates)


@pytest.mark.parametrize(
    ("flows", "message"),
    [
        ([100, 50, 20], "never change sign"),
        ([-100, -50, 0], "never change sign"),
        ([-100, 0, 0], r"only flows\[0\] is non-zero"),
        ([0, 0, 5], r"only flows\[2\] is non-zero"),
        ([0] * 400 + [5], r"only flows\[400\] is non-zero"),  # once gave ~900 false roots (underflow)
    ],
)
def test_no_irr_without_a_sign_change(flows: list[float], message: str) -> None:
    with pytest.raises(NoSolutionError, match=message):
        water_engine.run({"model": "irr", "inputs": {"flows": flows}})
    dates = [f"{2000 + i // 12}-{i % 12 + 1:02d}-01" for i in range(len(flows))]
    with pytest.raises(NoSolutionError, match=message):
        water_engine.run({"model": "xirr", "inputs": {"flows": flows, "dates": dates}})
    assert tv.irr_all(flows) == []
    assert tv.xirr_all(flows, dates) == []


def test_leading_zero_flows_do_not_change_the_roots() -> None:
    # NPV(r) with k leading zeros is (1+r)^-k NPV(r) without them: the same roots. Before the
    # leading zeros were dropped, (1+r)^-300 underflowed to 0 at high rates and every grid point
    # there was reported as a root.
    out = water_engine.run({"model": "irr", "inputs": {"flows": [0] * 300 + [-1, 2]}})
    assert out["outputs"]["irrs"] == [1.0]
    assert tv.irr_all([0, 0, -100, 110]) == tv.irr_all([-100, 110])
    dates = ["2000-01-01", "2001-01-01", "2002-01-01", "2003-01-01"]
    assert tv.xirr_all([0, 0, -100, 110], dates) == tv.xirr_all([-100, 110], dates[2:])
    far = [f"{1800 + i}-01-01" for i in range(0, 300, 100)] + ["2100-01-01", "2101-01-01"]
    assert tv.xirr_all([0, 0, 0, -1, 2], far) == pytest.approx([1.0], abs=1e-12)


def test_irr_outside_range_is_a_clear_error() -> None:
    with pytest.raises(NoSolutionError, match=r"no IRR between -99.00% and 10.00%"):
        water_engine.run({"model": "irr", "inputs": {"flows": [-1, 100]}, "conventions": {"upper": 0.1}})


def test_single_root_with_several_sign_changes_warns() -> None:
    out = water_engine.run({"model": "irr", "inputs": {"flows": [-100, 230, -132]}})
    assert out["outputs"]["count"] in (1, 2)
    assert out["warnings"]


def test_errors_name_the_field() -> None:
    with pytest.raises(ValidationError) as exc:
        water_engine.run(
            {"model": "xnpv", "inputs": {"rate": 0.1, "flows": [1, 2], "dates": ["2020-01-01", "2020-02-30"]}}
        )
    assert str(exc.value) == "inputs.dates[1]: must be an ISO date (YYYY-MM-DD)"
    with pytest.raises(ValidationError) as exc:
        water_engine.run({"model": "xirr", "inputs": {"flows": [-1, 2], "dates": ["2020-01-01", "2019-12-31"]}})
    assert str(exc.value) == "inputs.dates[1]: must not precede the first date (2020-01-01)"
    with pytest.raises(ValidationError) as exc:
        water_engine.run({"model": "perpetuity", "inputs": {"cash_flow": 1, "rate": 0.08, "growth": 0.08}})
    assert str(exc.value) == "inputs.growth: must be below the discount rate (8.0%)"
    with pytest.raises(ValidationError, match=r"inputs.dates: must have one date per flow \(2\)"):
        water_engine.run({"model": "xnpv", "inputs": {"rate": 0.1, "flows": [1, 2], "dates": ["2020-01-01"]}})
    with pytest.raises(ValidationError, match="exactly one of"):
        water_engine.run({"model": "discount_factors", "inputs": {"rate": 0.1}})
    with pytest.raises(ValidationError, match=r"inputs.rates\[1\]: must be above -100%"):
        water_engine.run({"model": "discount_factors", "inputs": {"rates": [0.1, -1.0]}})
    with pytest.raises(ValidationError, match=r"inputs.rate: must be greater than -1"):
        water_engine.run({"model": "npv", "inputs": {"rate": -1, "flows": [1]}})


def test_npv_schedule_and_mid_period() -> None:
    out = water_engine.run(
        {
            "model": "npv",
            "inputs": {"rate": 0.1, "flows": [100, 100]},
            "conventions": {"first_flow": "t1", "timing": "mid"},
        }
    )
    sched = out["schedule"]
    assert [r["period"] for r in sched] == [1, 2]
    assert sched[0]["discount_factor"] == (1 / 1.1) * math.sqrt(1.1)
    assert out["outputs"]["npv"] == math.fsum(r["present_value"] for r in sched)


@settings(max_examples=25, deadline=None)
@given(
    flows=st.lists(st.floats(1e-3, 1e6).flatmap(lambda x: st.sampled_from([x, -x])), min_size=2, max_size=10).filter(
        lambda fs: tv.sign_changes(fs) > 0
    ),
    gaps=st.lists(st.integers(0, 4000), min_size=10, max_size=10),
)
def test_xirr_scan_shortcut_finds_exactly_the_exact_scans_roots(flows: list[float], gaps: list[int]) -> None:
    # The scan prices each grid rate with one daily factor and its powers, and falls back to the
    # exact XNPV where the sign is in doubt; the roots must be those of scanning the exact XNPV,
    # to the last bit (Brent's method runs on the exact XNPV either way).
    start = dt.date(2001, 3, 15)
    offsets = [sum(gaps[:i]) for i in range(len(flows))]
    dates = [(start + dt.timedelta(days=d)).isoformat() for d in offsets]
    assert tv.xirr_all(flows, dates) == _exact_xirr_scan(flows, dates)


@settings(max_examples=40, deadline=None)
@given(
    flows=st.lists(st.floats(1e-3, 1e6).flatmap(lambda x: st.sampled_from([x, -x])), min_size=2, max_size=40).filter(
        lambda fs: tv.sign_changes(fs) > 0
    )
)
def test_irr_scan_shortcut_finds_exactly_the_exact_scans_roots(flows: list[float]) -> None:
    # As for XIRR: Horner's rule prices the grid, the exact NPV decides where the sign is in doubt
    # and Brent's method runs on it, so the roots are those of scanning `npv` to the last bit.
    expected = find_all_roots(lambda r: tv.npv(r, flows), -0.99, 100.0, points=tv.rate_grid(-0.99, 100.0), what="NPV")
    assert tv.irr_all(flows) == expected


def _exact_irr_scan(flows: list[float]) -> list[float]:
    """Every root the whole default grid gives when scanned with `npv` itself."""
    return find_all_roots(lambda r: tv.npv(r, flows), -0.99, 100.0, points=tv.rate_grid(-0.99, 100.0), what="NPV")


def _exact_xirr_scan(flows: list[float], dates: list[str]) -> list[float]:
    """Every root the whole default grid gives when scanned with the exact XNPV (times from the
    earliest date; the flows at that date must not all be zero)."""
    times = tv.year_fractions(dates, min(dates))

    def exact(r: float) -> float:
        return math.fsum(c / g for c, g in zip(flows, tv._powers(1.0 + r, times), strict=True))

    return find_all_roots(exact, -0.99, 100.0, points=tv.rate_grid(-0.99, 100.0), what="XNPV")


@settings(max_examples=60, deadline=None)
@given(
    outlay=st.floats(1.0, 1e7),
    inflows=st.lists(st.floats(0.0, 1e6), min_size=1, max_size=400),
    lead=st.integers(0, 3),
)
def test_conventional_irr_bisects_to_the_exact_scans_root(outlay: float, inflows: list[float], lead: int) -> None:
    # One sign change (outlays, then inflows): Descartes' rule of signs allows one IRR, so the grid
    # is bisected instead of walked. The root must be the full exact scan's, to the last bit.
    flows = [0.0] * lead + [-outlay, *inflows]
    assume(tv.sign_changes(flows) == 1)
    assert tv.irr_all(flows) == _exact_irr_scan(flows[lead:])


@settings(max_examples=80, deadline=None)
@given(
    steps=st.lists(st.floats(-1.0, 1.0), min_size=2, max_size=200),
    drift=st.floats(-0.5, 0.5),
    scale=st.sampled_from([1e-3, 1.0, 1e6]),
)
def test_irregular_irr_by_sides_finds_the_exact_scans_roots(steps: list[float], drift: float, scale: float) -> None:
    # Flows of both signs in any order: each side of r = 0 is skipped, bisected or scanned by the
    # sign changes of the flows' tail and running sums. Whatever the mix, the roots must be the
    # full exact scan's, to the last bit.
    flows = [scale * (step + drift) for step in steps]
    assume(any(flows) and tv.sign_changes(flows) > 0)
    first = next(i for i, c in enumerate(flows) if c != 0.0)
    assert tv.irr_all(flows) == _exact_irr_scan(flows[first:])


@pytest.mark.parametrize(
    ("flows", "below", "above"),
    [
        ([-100.0, 50.0, 70.0], 0, 1),  # pays back: one IRR above 0, none below
        ([-100.0, 10.0, 20.0], 1, 0),  # never pays back: one IRR below 0
        ([-100.0, 230.0, -132.0], 2, 2),  # two roots (10% and 20%): scanned
        ([-1000.0, 900.0, -50.0, 400.0], 0, 1),  # four sign changes in the flows, one root
    ],
)
def test_root_bounds_from_running_and_tail_sums(flows: list[float], below: int, above: int) -> None:
    assert tv._sums_sign_changes(flows) == (below, above)
    roots = tv.irr_all(flows)
    assert roots == _exact_irr_scan(flows)
    assert len([r for r in roots if r < 0]) <= below
    assert len([r for r in roots if r > 0]) <= above


def test_flows_that_add_up_to_zero_are_scanned_whole() -> None:
    # r = 0 is then a root and the sums bound nothing: the whole grid is walked.
    assert tv._sums_sign_changes([-100.0, 50.0, 50.0]) is None
    assert tv.irr_all([-100.0, 50.0, 50.0]) == [0.0]
    assert tv.irr_all([-100.0, 250.0, -150.0]) == _exact_irr_scan([-100.0, 250.0, -150.0])


def test_bounded_irr_does_not_walk_the_grid(monkeypatch: pytest.MonkeyPatch) -> None:
    from water_engine import rootfind

    def walk(*_args: Any) -> Any:
        raise AssertionError("scanned the whole grid")

    conventional = [-1000.0] + [15.0] * 359 + [1200.0]
    irregular = [-1000.0] + [(-40.0 if i % 7 == 3 else 60.0) for i in range(359)]
    never_pays_back = [-1000.0] + [2.0] * 359
    expected = [_exact_irr_scan(flows) for flows in (conventional, irregular, never_pays_back)]
    assert expected[2][0] < 0.0
    monkeypatch.setattr(rootfind, "scan_brackets", walk)
    assert [tv.irr_all(flows) for flows in (conventional, irregular, never_pays_back)] == expected
    assert tv.xirr_all([-100.0, 50.0, 70.0], ["2020-01-01", "2021-01-01", "2022-01-01"])
    with pytest.raises(AssertionError, match="scanned"):  # two roots: every one is looked for
        tv.irr_all([-100.0, 230.0, -132.0])


@pytest.mark.parametrize(
    ("flows", "dates", "bounds"),
    [
        # In list order the signs change twice, by date once (the two outlays share 2020-01-01).
        ([-100.0, 50.0, -10.0, 70.0], ["2020-01-01", "2021-01-01", "2020-01-01", "2022-01-01"], (0, 1)),
        # In list order once, by date twice (a late outlay after the inflow): a root each side at most.
        ([-100.0, -10.0, 120.0], ["2020-01-01", "2029-01-01", "2023-01-01"], (1, 1)),
        # The same day's inflow and outlay cancel: no sign change that day.
        ([-100.0, 60.0, -60.0, 130.0], ["2020-01-01", "2021-06-30", "2021-06-30", "2022-01-01"], (0, 1)),
    ],
)
def test_xirr_bounds_its_roots_from_the_flows_in_date_order(
    flows: list[float], dates: list[str], bounds: tuple[int, int]
) -> None:
    days = [tv.day_count(min(dates), d) for d in dates]
    assert tv._sums_sign_changes(tv._flows_by_day(flows, days)) == bounds
    assert tv.xirr_all(flows, dates) == _exact_xirr_scan(flows, dates)


@settings(max_examples=40, deadline=None)
@given(
    outlays=st.lists(st.floats(1.0, 1e6), min_size=1, max_size=3),
    inflows=st.lists(st.floats(0.0, 1e6), min_size=1, max_size=60),
    gaps=st.lists(st.integers(0, 400), min_size=63, max_size=63),
)
def test_conventional_xirr_bisects_to_the_exact_scans_root(
    outlays: list[float], inflows: list[float], gaps: list[int]
) -> None:
    flows = [-c for c in outlays] + inflows
    assume(tv.sign_changes(flows) == 1)
    start = dt.date(2010, 1, 31)
    dates = [(start + dt.timedelta(days=sum(gaps[:i]))).isoformat() for i in range(len(flows))]
    assert tv.xirr_all(flows, dates) == _exact_xirr_scan(flows, dates)


@pytest.mark.parametrize("text", ["2020-W01-1", "2020-W53-7", "２０２０-01-01", "+020-01-01", "2020/01/01", "20200101"])
def test_only_calendar_dates_are_dates(text: str) -> None:
    # Python 3.11's date.fromisoformat also reads week dates (2020-W01-1 is 2019-12-30): their text
    # does not sort in date order, and an XIRR whose earliest date sorted after another used to loop
    # for ever. Only YYYY-MM-DD is a date here, in every Python the engine runs on.
    with pytest.raises(ValueError, match=r"must be an ISO date \(YYYY-MM-DD\)"):
        tv.parse_date(text)
    request = {"model": "xirr", "inputs": {"flows": [-100.0, 50.0, 70.0], "dates": [text, "2020-01-01", "2021-01-01"]}}
    with pytest.raises(ValidationError, match=r"inputs.dates\[0\]: must be an ISO date \(YYYY-MM-DD\)"):
        water_engine.run(request)


def test_power_by_squaring_refuses_a_power_below_one() -> None:
    assert tv._power_by_squaring(1.5, 5) == 1.5**5
    with pytest.raises(ValueError, match="at least 1"):
        tv._power_by_squaring(0.5, -2)


def _irr_out(request: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    out = water_engine.run(request)
    return out["outputs"], out["warnings"]


def test_irr_reports_the_most_roots_the_flows_allow() -> None:
    # max_count: the smaller of Descartes' bound (sign changes) and Norstrom's (sign changes of the
    # running sums plus those of the tail sums). Irregular flows that change sign 103 times but whose
    # cumulative cash turns positive once have one IRR, provably: no warning.
    irregular = [-1000.0] + [(-40.0 if i % 7 == 3 else 60.0) for i in range(359)]
    outputs, warnings = _irr_out({"model": "irr", "inputs": {"flows": irregular}})
    assert (outputs["sign_changes"], outputs["max_count"], outputs["count"]) == (103, 1, 1)
    assert warnings == []
    outputs, warnings = _irr_out({"model": "irr", "inputs": {"flows": [-100.0, 50.0, 70.0]}})
    assert (outputs["sign_changes"], outputs["max_count"], warnings) == (1, 1, [])
    # Two roots, 10% and 20% (Descartes 2, Norstrom 2 + 2): the range that holds only one says so.
    outputs, warnings = _irr_out(
        {"model": "irr", "inputs": {"flows": [-100, 230, -132]}, "conventions": {"upper": 0.15}}
    )
    assert (outputs["count"], outputs["max_count"]) == (1, 2)
    assert warnings == [
        "the cash flows change sign 2 times; one IRR was found between -99.00% and 15.00%, and the flows allow up to 2"
    ]
    # Flows that add up to zero: Descartes' bound alone.
    outputs, _ = _irr_out({"model": "irr", "inputs": {"flows": [-100.0, 50.0, 50.0]}})
    assert (outputs["irrs"], outputs["max_count"]) == ([0.0], 1)


def test_xirr_counts_sign_changes_in_date_order() -> None:
    # In list order the signs change once; by date (a late outlay after the inflow) twice, and there
    # are indeed two XIRRs: the output and the warning count them by date.
    request = {
        "model": "xirr",
        "inputs": {"flows": [-100.0, -10.0, 120.0], "dates": ["2020-01-01", "2029-01-01", "2023-01-01"]},
    }
    outputs, warnings = _irr_out(request)
    assert (outputs["sign_changes"], outputs["max_count"], outputs["count"]) == (2, 2, 2)
    assert warnings[0].startswith("the cash flows change sign 2 times and have 2 XIRRs")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3).filter(lambda x: abs(x) > 1e-3), min_size=2, max_size=30))
def test_irr_count_never_exceeds_max_count(flows: list[float]) -> None:
    assume(tv.sign_changes(flows) > 0)
    try:
        outputs = water_engine.run({"model": "irr", "inputs": {"flows": flows}})["outputs"]
    except NoSolutionError:
        return  # no root between -99% and 10,000%: nothing to count
    assert 1 <= outputs["count"] <= outputs["max_count"] <= outputs["sign_changes"]

"""fcff_explicit: explicit FCFF forecast, Gordon or exit-multiple terminal value.

Cross-checked against numpy-financial's `npv` (a test-only dependency) on hypothesis inputs;
the worked example is Koller, Goedhart & Wessels, "Valuation" (7th ed.), ch. 10 arithmetic:
FCFF 100, 110, 121 at 10% with zero growth -> each year's PV is 90.909..., CV = 1,210.
"""

from __future__ import annotations

import math
from typing import Any

import numpy_financial as npf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import water_engine
from water_engine.boundary import from_dict, to_dict
from water_engine.models.dcf_explicit import ExplicitInputs


def _req(inputs: dict[str, Any], timing: str = "end_of_period") -> dict[str, Any]:
    return {"model": "fcff_explicit", "inputs": inputs, "conventions": {"timing": timing}}


def test_worked_example() -> None:
    out = water_engine.run(
        _req({"fcff": [100, 110, 121], "discount_rate": 0.10, "terminal": {"method": "gordon", "growth": 0.0}})
    )["outputs"]
    assert out["pv_cash_flows"] == pytest.approx(3 * 100 / 1.1, rel=1e-14)
    assert out["terminal_value"] == pytest.approx(1210.0, rel=1e-14)
    assert out["enterprise_value"] == pytest.approx(272.7272727272727 + 909.0909090909091, rel=1e-14)


def test_lines_build_fcff_and_bridge_to_per_share() -> None:
    inputs = {
        "ebit": [100.0, 120.0],
        "depreciation": [20.0, 22.0],
        "capex": [30.0, 35.0],
        "change_in_working_capital": [5.0, 6.0],
        "tax_rate": 0.25,
        "discount_rate": 0.09,
        "terminal": {"method": "exit_multiple", "multiple": 8.0, "metric": "ebitda"},
        "debt": 300.0,
        "cash": 50.0,
        "shares_outstanding": 10.0,
        "price": 100.0,
    }
    result = water_engine.run(_req(inputs))
    fcff = [r["fcff"] for r in result["schedule"]]
    assert fcff == [100 * 0.75 + 20 - 30 - 5, 120 * 0.75 + 22 - 35 - 6]
    out = result["outputs"]
    assert out["terminal_value"] == 8.0 * (120 + 22)
    assert out["value_per_share"] == (out["enterprise_value"] - 300 + 50) / 10


@settings(max_examples=200, deadline=None)
@given(
    flows=st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=30),
    rate=st.floats(0.001, 0.5),
)
def test_pv_matches_numpy_financial_npv(flows: list[float], rate: float) -> None:
    out = water_engine.run(
        _req(
            {
                "fcff": flows,
                "discount_rate": rate,
                "terminal": {"method": "exit_multiple", "multiple": 0.0, "metric": "fcff"},
            }
        )
    )["outputs"]
    # npf.npv treats the first flow as t = 0; prepend a zero so FCFF_1 is discounted one year.
    expected = float(npf.npv(rate, [0.0, *flows]))
    assert out["pv_cash_flows"] == pytest.approx(expected, rel=1e-9, abs=1e-6)


@settings(max_examples=200, deadline=None)
@given(
    flows=st.lists(st.floats(1.0, 1e6), min_size=1, max_size=20),
    rate=st.floats(0.02, 0.3),
    growth=st.floats(-0.05, 0.015),
)
def test_mid_period_gordon_is_end_period_times_half_period(flows: list[float], rate: float, growth: float) -> None:
    inputs = {"fcff": flows, "discount_rate": rate, "terminal": {"method": "gordon", "growth": growth}}
    end = water_engine.run(_req(inputs))["outputs"]["enterprise_value"]
    mid = water_engine.run(_req(inputs, "mid_period"))["outputs"]["enterprise_value"]
    assert mid == pytest.approx(end * (1 + rate) ** 0.5, rel=1e-12)


@settings(max_examples=100, deadline=None)
@given(
    flows=st.lists(st.floats(1.0, 1e6), min_size=1, max_size=20), rate=st.floats(0.03, 0.3), bump=st.floats(1e-3, 0.1)
)
def test_value_falls_as_the_discount_rate_rises(flows: list[float], rate: float, bump: float) -> None:
    def ev(r: float) -> float:
        inputs = {"fcff": flows, "discount_rate": r, "terminal": {"method": "gordon", "growth": 0.02}}
        return float(water_engine.run(_req(inputs))["outputs"]["enterprise_value"])

    assert ev(rate + bump) < ev(rate)


def test_errors_name_the_field() -> None:
    with pytest.raises(water_engine.ValidationError) as exc:
        water_engine.run(_req({"fcff": [1.0], "discount_rate": 0.08, "terminal": {"growth": 0.09}}))
    assert str(exc.value) == "inputs.terminal.growth: must be below the cost of capital (8.0%)"
    with pytest.raises(water_engine.ValidationError) as exc:
        water_engine.run(_req({"ebit": [1.0], "discount_rate": 0.08, "terminal": {"growth": 0.01}}))
    assert "inputs.fcff: give fcff, or the lines to build it" in str(exc.value)


def test_round_trip() -> None:
    x = from_dict(ExplicitInputs, {"fcff": [1.0, 2.0], "discount_rate": 0.1, "terminal": {"growth": 0.02}})
    assert from_dict(ExplicitInputs, to_dict(x)) == x
    assert math.isfinite(x.discount_rate)


def test_golden_cases() -> None:
    import json
    from pathlib import Path

    for path in sorted((Path(__file__).parent / "golden").glob("fcff_explicit_*.json")):
        case = json.loads(path.read_text())
        assert case["source"]
        out = water_engine.run(case["request"])["outputs"]
        for key, expected in case["expected"].items():
            assert out[key] == pytest.approx(expected, rel=case.get("rel_tol", 0.0)), (path.name, key)


@pytest.mark.parametrize("lines", [False, True])
def test_schedule_rows_match_the_generic_builder(lines: bool) -> None:
    """With FCFF given, the rows are dict displays (`_flow_rows`): the generic builder's rows, keys in order."""
    import dataclasses

    from water_engine.models.dcf_explicit import ExplicitConventions, compute
    from water_engine.registry import Table, _table_rows

    given: dict[str, Any] = (
        {
            "ebit": [100.0, 120.0],
            "depreciation": [20.0, 22.0],
            "capex": [30.0, 35.0],
            "change_in_working_capital": [5.0, 6.0],
            "tax_rate": 0.25,
        }
        if lines
        else {"fcff": [100.0, -110.0, 121.5]}
    )
    inputs = from_dict(
        ExplicitInputs, {**given, "discount_rate": 0.1, "terminal": {"method": "gordon", "growth": 0.02}}
    )
    table = compute(inputs, ExplicitConventions()).schedule
    assert isinstance(table, Table)
    assert (table.build_rows is None) == lines
    built, _ = _table_rows(table)
    generic, _ = _table_rows(dataclasses.replace(table, build_rows=None))
    assert [list(row.items()) for row in built] == [list(row.items()) for row in generic]
    assert list(built[0]) == list(table.keys)


# --- A cost of capital per forecast year (`discount_rates`) -----------------------------------
#
# Cumulated discounting, DF_t = DF_{t-1} / (1 + r_t): Damodaran, "Investment Valuation" (3rd ed.),
# ch. 15 (a changing cost of capital is compounded through the years, not applied as r_t^t), and
# the "Cumulated discount factor" row of his fcffsimpleginzu.xlsx ("Valuation output").


def _path_inputs(rates: list[float] | float, **terminal: Any) -> dict[str, Any]:
    key = "discount_rates" if isinstance(rates, list) else "discount_rate"
    return {"fcff": [110.0, 132.0, 165.0], key: rates, "terminal": {"method": "gordon", "growth": 0.05, **terminal}}


def test_three_year_rate_path_by_hand() -> None:
    # 10%, 20%, 25%: DF = 1/1.1, 1/1.32, 1/1.65, so each year's PV is 100; the Gordon value at the
    # last year's 25% is 165 x 1.05 / 0.20 = 866.25, discounted with DF_3: 866.25 / 1.65 = 525.
    result = water_engine.run(_req(_path_inputs([0.10, 0.20, 0.25])))
    out = result["outputs"]
    assert [r["pv_fcff"] for r in result["schedule"]] == pytest.approx([100.0, 100.0, 100.0], rel=1e-15)
    assert [r["discount_rate"] for r in result["schedule"]] == [0.10, 0.20, 0.25]
    assert [r["discount_factor"] for r in result["schedule"]] == pytest.approx([1 / 1.1, 1 / 1.32, 1 / 1.65], rel=1e-15)
    assert out["terminal_discount_rate"] == 0.25
    assert out["terminal_value"] == pytest.approx(866.25, rel=1e-15)
    assert out["pv_terminal_value"] == pytest.approx(525.0, rel=1e-15)
    assert out["enterprise_value"] == pytest.approx(825.0, rel=1e-15)
    # A terminal rate of its own: 165 x 1.05 / (0.15 - 0.05) = 1,732.5, still discounted with DF_3.
    out = water_engine.run(_req(_path_inputs([0.10, 0.20, 0.25], discount_rate=0.15)))["outputs"]
    assert out["terminal_value"] == pytest.approx(1732.5, rel=1e-15)
    assert out["pv_terminal_value"] == pytest.approx(1050.0, rel=1e-15)
    assert out["terminal_discount_rate"] == 0.15


def test_three_year_rate_path_mid_period() -> None:
    # Mid-year: PV_t = FCFF_t x DF_{t-1} x (1 + r_t)^-0.5 (the half year at the year's own rate);
    # the Gordon value moves half a year at the terminal rate.
    result = water_engine.run(_req(_path_inputs([0.10, 0.20, 0.25]), "mid_period"))
    expected = [110 / 1.1**0.5, 132 / 1.1 / 1.2**0.5, 165 / 1.32 / 1.25**0.5]
    assert [r["pv_fcff"] for r in result["schedule"]] == pytest.approx(expected, rel=1e-14)
    assert result["outputs"]["pv_terminal_value"] == pytest.approx(525.0 * 1.25**0.5, rel=1e-14)


@settings(max_examples=150, deadline=None)
@given(
    flows=st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=20),
    rate=st.floats(0.001, 0.5),
    growth=st.floats(-0.05, 0.0009),
    timing=st.sampled_from(["end_of_period", "mid_period"]),
    method=st.sampled_from(["gordon", "exit_multiple"]),
)
def test_constant_path_equals_one_rate_bit_for_bit(
    flows: list[float], rate: float, growth: float, timing: str, method: str
) -> None:
    # One rate is run as the path [r] * N through the same operations, so every float is equal
    # (not merely within an ulp): same divisions, same square roots, same order of the sums.
    terminal = {"method": "gordon", "growth": growth} if method == "gordon" else {"method": method, "multiple": 7.0}
    terminal |= {"metric": "fcff"} if method == "exit_multiple" else {}
    one = water_engine.run(_req({"fcff": flows, "discount_rate": rate, "terminal": terminal}, timing))
    path = water_engine.run(_req({"fcff": flows, "discount_rates": [rate] * len(flows), "terminal": terminal}, timing))
    assert repr(path["outputs"]) == repr(one["outputs"])
    assert repr(path["schedule"]) == repr(one["schedule"])


@settings(max_examples=150, deadline=None)
@given(
    pairs=st.lists(st.tuples(st.floats(-1e6, 1e6, allow_nan=False), st.floats(-0.05, 0.5)), min_size=1, max_size=20),
)
def test_rate_path_matches_cumulated_products(pairs: list[tuple[float, float]]) -> None:
    # Independent check: PV = sum of FCFF_t / prod_{k<=t} (1 + r_k) with math.prod; with every
    # rate equal it is numpy-financial's npv too.
    flows, rates = [f for f, _ in pairs], [r for _, r in pairs]
    terminal = {"method": "exit_multiple", "multiple": 0.0, "metric": "fcff"}
    out = water_engine.run(_req({"fcff": flows, "discount_rates": rates, "terminal": terminal}))["outputs"]
    expected = math.fsum(f / math.prod(1 + r for r in rates[: t + 1]) for t, f in enumerate(flows))
    assert out["pv_cash_flows"] == pytest.approx(expected, rel=1e-9, abs=1e-6)
    constant = water_engine.run(_req({"fcff": flows, "discount_rates": [rates[0]] * len(flows), "terminal": terminal}))
    assert constant["outputs"]["pv_cash_flows"] == pytest.approx(
        float(npf.npv(rates[0], [0.0, *flows])), rel=1e-9, abs=1e-6
    )


def test_wacc_path_output_feeds_the_explicit_dcf() -> None:
    path = water_engine.run({"model": "wacc_path", "inputs": {"initial": 0.09, "stable": 0.07, "years": 10}})
    rates = path["outputs"]["rates"]
    inputs = {"fcff": [100.0] * 10, "discount_rates": rates, "terminal": {"method": "gordon", "growth": 0.02}}
    result = water_engine.run(_req(inputs))
    assert [r["discount_factor"] for r in result["schedule"]] == path["outputs"]["discount_factors"]
    assert result["outputs"]["terminal_discount_rate"] == rates[-1]


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (
            {"fcff": [1.0, 2.0, 3.0], "discount_rates": [0.08, 0.09], "terminal": {"growth": 0.02}},
            "inputs.discount_rates: needs 3 entries (one per forecast year, as fcff), got 2",
        ),
        (
            {"fcff": [1.0, 2.0], "discount_rates": [0.08, -1.0], "terminal": {"growth": 0.02}},
            "inputs.discount_rates[1]: must be greater than -1",
        ),
        (
            {"fcff": [1.0, 2.0], "discount_rates": [0.08, 0.03], "terminal": {"growth": 0.04}},
            "inputs.terminal.growth: must be below the last forecast year's cost of capital (3.0%)",
        ),
        (
            {"fcff": [1.0, 2.0], "discount_rates": [0.08, 0.09], "terminal": {"growth": 0.04, "discount_rate": 0.035}},
            "inputs.terminal.growth: must be below terminal.discount_rate (3.5%)",
        ),
        (
            {"fcff": [1.0], "discount_rate": 0.08, "discount_rates": [0.08], "terminal": {"growth": 0.02}},
            "inputs.discount_rates: give discount_rate or discount_rates, not both",
        ),
        (
            {"fcff": [1.0], "terminal": {"growth": 0.02}},
            "inputs.discount_rate: is required (or give discount_rates, one per forecast year)",
        ),
        (
            {
                "fcff": [1.0],
                "discount_rate": 0.08,
                "terminal": {"method": "exit_multiple", "multiple": 5.0, "metric": "fcff", "discount_rate": 0.07},
            },
            "inputs.terminal.discount_rate: applies to the Gordon method only",
        ),
    ],
)
def test_rate_path_errors_name_the_field(inputs: dict[str, Any], message: str) -> None:
    with pytest.raises(water_engine.ValidationError) as exc:
        water_engine.run(_req(inputs))
    assert str(exc.value) == message

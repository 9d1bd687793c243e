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

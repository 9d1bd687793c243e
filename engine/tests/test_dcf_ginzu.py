"""fcff_ginzu: Damodaran's Ginzu FCFF template, reproduced to the last bit.

Sources:
* Coca-Cola (2024-09-01) and Amazon (2024-02-01) valuations in A. Damodaran's
  fcffsimpleginzu.xlsx, filled in and saved with cached values in the public repository
  github.com/QueryPlanner/valuation-pro (commit 2b5b418),
  _archive/valuation_engine_old/fcff_ginzu/reference_models/{ko,amzn}/*.xlsx; the cell
  formulas are exported beside them ("Valuation output.csv", "R& D converter.csv",
  "Operating lease converter.csv"). Expected values are in engine/tests/golden/fcff_ginzu_*.json.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from itertools import chain
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import water_engine
from water_engine.boundary import from_dict, to_dict
from water_engine.models import dcf_ginzu as G

sys.path.insert(0, str(Path(__file__).parent))
from random_cases import random_ginzu_request

GOLDEN = Path(__file__).parent / "golden"
GINZU_GOLDEN = sorted(GOLDEN.glob("fcff_ginzu_*.json"))
FROM_YEAR_1 = {"revenue_growth", "reinvestment", "fcff", "cost_of_capital", "discount_factor", "pv_fcff"}


def _load(name: str) -> dict[str, Any]:
    return json.loads((GOLDEN / name).read_text())


def _close(actual: float, expected: float, rel: float) -> bool:
    return actual == expected if rel == 0 else abs(actual - expected) <= rel * abs(expected)


@pytest.mark.parametrize("path", GINZU_GOLDEN, ids=lambda p: p.stem)
def test_golden_outputs_and_schedule(path: Path) -> None:
    case = json.loads(path.read_text())
    assert case["source"]
    rel = case.get("rel_tol", 0.0)
    result = water_engine.run(case["request"])
    for key, expected in case["expected"].items():
        assert _close(result["outputs"][key], expected, rel), (key, result["outputs"][key], expected)
    rows = result["schedule"]
    for column, values in case.get("expected_schedule", {}).items():
        start = 1 if column in FROM_YEAR_1 else 0
        for i, expected in enumerate(values):
            actual = rows[start + i][column]
            assert _close(actual, expected, rel), (column, start + i, actual, expected)


def test_coca_cola_value_per_share_is_bit_identical_to_excel() -> None:
    case = _load("fcff_ginzu_coca_cola_2024.json")
    out = water_engine.run(case["request"])["outputs"]
    assert out["value_per_share"] == 39.940608035934304  # Valuation output!B33
    assert out["price_to_value"] == 1.8096870216640206  # Valuation output!B35
    # Quirk: the default stable ROC is the year-10 rate after five subtractions (L12), not M12.
    assert out["stable_return_on_capital"] == 0.08910000000000003
    assert out["terminal_cost_of_capital"] == 0.0891


def test_rnd_converter_matches_the_template_sheet() -> None:
    # Coca-Cola copy, sheet "R& D converter": D35, E35 and D39 (Excel's cached values).
    rnd = G.RnDCapitalisation(amortization_years=3, current_expense=85622, past_expenses=[73213, 56052, 42740])
    assert G.rnd_adjustments(rnd) == (153114.66666666666, 57334.99999999999, 28287.000000000007)


def test_lease_converter_matches_the_template_sheet() -> None:
    # Coca-Cola copy, sheet "Operating lease converter" with a 5.35% pre-tax cost of debt:
    # debt C28, depreciation F31, adjustment to operating earnings F32 (3 years embedded).
    leases = G.LeaseCapitalisation(
        current_expense=295, commitments=[287, 235, 194, 151, 98], pre_tax_cost_of_debt=0.0535, beyond_year_5=605
    )
    debt, depreciation, adjustment = G.lease_adjustments(leases)
    assert debt == pytest.approx(1268.6295262067583, rel=1e-14)
    assert depreciation == pytest.approx(158.5786907758448, rel=1e-14)
    assert adjustment == pytest.approx(136.4213092241552, rel=1e-14)


def _ko(**overrides: Any) -> dict[str, Any]:
    request = _load("fcff_ginzu_coca_cola_2024.json")["request"]
    request["inputs"].update(overrides)
    return request


def _run(request: dict[str, Any]) -> dict[str, Any]:
    return water_engine.run(request)


def test_leases_feed_ebit_debt_and_invested_capital() -> None:
    leases = {"current_expense": 295, "commitments": [287, 235, 194, 151, 98], "pre_tax_cost_of_debt": 0.0535}
    leases["beyond_year_5"] = 605
    out = _run(_ko(leases=leases))["outputs"]
    debt, _, adjustment = G.lease_adjustments(from_dict(G.LeaseCapitalisation, leases))
    assert out["debt"] == 45063 + debt
    assert out["base_ebit_adjusted"] == 13815 + adjustment
    assert out["invested_capital_base"] == 25853 + 45063 - 19000 + debt


def test_margin_path_quirk_jumps_after_year_one() -> None:
    # Template: m_t = target - ((target - m_1)/N) * (N - t) for t >= 2, reaching the target in year N.
    rows = _run(_ko(margin_year_1=0.10, target_margin=0.20, margin_convergence_year=5))["schedule"]
    margins = [r["operating_margin"] for r in rows]
    assert margins[1] == 0.10
    assert margins[2] == 0.20 - ((0.20 - 0.10) / 5) * 3  # 0.14, not 0.125
    assert margins[5] == 0.20
    assert margins[10] == 0.20
    assert margins[11] == 0.20


def test_terminal_margin_is_year_ten_margin_when_convergence_is_late() -> None:
    result = _run(_ko(margin_year_1=0.10, target_margin=0.20, margin_convergence_year=12))
    rows = result["schedule"]
    assert rows[11]["operating_margin"] == rows[10]["operating_margin"] < 0.20
    assert any("after year 10" in w for w in result["warnings"])


def test_nol_shields_income_until_used_and_terminal_year_ignores_it() -> None:
    rows = _run(_ko(nol=20_000.0))["schedule"]
    # Year 1: EBIT 14,505.75 < NOL 20,000 -> no tax; NOL falls by EBIT.
    assert rows[1]["ebit_after_tax"] == rows[1]["ebit"]
    assert rows[1]["nol"] == 20_000.0 - rows[1]["ebit"]
    # Year 2: EBIT exceeds what is left: tax only on the excess, NOL exhausted.
    left = rows[1]["nol"]
    assert rows[2]["ebit_after_tax"] == rows[2]["ebit"] - (rows[2]["ebit"] - left) * 0.175
    assert rows[2]["nol"] == 0.0
    assert rows[11]["ebit_after_tax"] == rows[11]["ebit"] * (1 - 0.25)


def test_losses_add_to_the_nol() -> None:
    rows = _run(_ko(margin_year_1=-0.10, target_margin=0.20, nol=100.0))["schedule"]
    assert rows[1]["ebit"] < 0
    assert rows[1]["ebit_after_tax"] == rows[1]["ebit"]
    assert rows[1]["nol"] == 100.0 - rows[1]["ebit"]


@pytest.mark.parametrize("lag", [0, 1, 2, 3])
def test_reinvestment_lags(lag: int) -> None:
    rows = _run(_ko(reinvestment_lag=lag))["schedule"]
    rev = [r["revenues"] for r in rows]
    s2c = 1.7731795673077668
    g = 0.0458
    re = [r["reinvestment"] for r in rows]
    if lag == 0:
        assert re[1] == (rev[1] - rev[0]) / s2c
        assert re[10] == (rev[10] - rev[9]) / s2c
    elif lag == 1:
        assert re[1] == (rev[2] - rev[1]) / s2c
        assert re[10] == (rev[11] - rev[10]) / s2c
    elif lag == 2:
        assert re[8] == (rev[10] - rev[9]) / s2c
        assert re[9] == rev[10] * rows[10]["revenue_growth"] / s2c  # template: L3*L2/K38
        assert re[10] == rev[11] * g / s2c  # template: M3*M2/L38
    else:
        assert re[8] == (rev[11] - rev[10]) / s2c
        assert re[9] == rev[11] * g / s2c  # template: M3*M2/K38
        assert re[10] == re[9] * (1 + g)  # template: K8*(1+M2)


def test_failure_probability_book_and_fair_value() -> None:
    base = _run(_ko())["outputs"]
    fair = _run(_ko(failure_probability=0.2, distress_proceeds_basis="fair_value", distress_proceeds_fraction=0.5))
    assert fair["outputs"]["value_of_operating_assets"] == base["sum_of_pv"] * 0.8 + base["sum_of_pv"] * 0.5 * 0.2
    book = _run(_ko(failure_probability=0.2, distress_proceeds_basis="book", distress_proceeds_fraction=0.5))
    proceeds = (25853 + 45063) * 0.5
    assert book["outputs"]["distress_proceeds"] == proceeds
    assert book["outputs"]["value_of_operating_assets"] == base["sum_of_pv"] * 0.8 + proceeds * 0.2


def test_bridge_subtracts_preferred_options_and_trapped_cash_tax() -> None:
    out = _run(
        _ko(preferred_stock=1000.0, options_value=500.0, trapped_cash=10_000.0, trapped_cash_foreign_tax_rate=0.1)
    )
    o = out["outputs"]
    assert o["cash"] == 19000 - 10_000 * (0.25 - 0.1)
    assert o["value_of_equity"] == o["value_of_operating_assets"] - 45063 - 1558 - 1000.0 + o["cash"] + 21119
    assert o["value_per_share"] == (o["value_of_equity"] - 500.0) / 4315


def test_tax_rate_can_stay_at_effective() -> None:
    rows = _run(_ko(tax_rate_converges_to_marginal=False))["schedule"]
    assert {r["tax_rate"] for r in rows} == {0.175}


def test_overrides_of_stable_assumptions() -> None:
    out = _run(_ko(riskfree_rate_after_year_10=0.03))["outputs"]
    assert out["terminal_growth"] == 0.03
    assert out["terminal_cost_of_capital"] == 0.03 + 0.0433
    out = _run(_ko(stable_growth=-0.02, stable_cost_of_capital=0.08, stable_return_on_capital=0.15))["outputs"]
    assert out["terminal_reinvestment"] == 0.0  # negative growth: no terminal reinvestment (template)
    assert out["stable_return_on_capital"] == 0.15


def test_mid_year_multiplies_each_pv_by_half_a_period() -> None:
    end = _run(_ko())
    mid = _run({**_ko(), "conventions": {"timing": "mid_year"}})
    for e, m in zip(end["schedule"][1:11], mid["schedule"][1:11], strict=True):
        assert m["pv_fcff"] == pytest.approx(e["pv_fcff"] * math.sqrt(1 + e["cost_of_capital"]), rel=1e-15)
    assert mid["outputs"]["pv_terminal_value"] == pytest.approx(
        end["outputs"]["pv_terminal_value"] * math.sqrt(1.0891), rel=1e-15
    )


def test_validation_names_the_field_and_reason() -> None:
    with pytest.raises(water_engine.ValidationError) as exc:
        _run(_ko(stable_growth=0.09))
    assert (
        str(exc.value) == "inputs.stable_growth: stable growth (9.0%) must be below the stable cost of capital (8.9%)"
    )
    with pytest.raises(water_engine.ValidationError) as exc:
        _run(_ko(rnd={"amortization_years": 3, "current_expense": 1.0, "past_expenses": [1.0]}))
    assert "inputs.rnd.past_expenses: needs 3 entries" in str(exc.value)
    with pytest.raises(water_engine.ValidationError) as exc:
        _run(_ko(shares_outstanding=0, bogus=1))
    paths = {e.path for e in exc.value.errors}
    assert paths == {"inputs.shares_outstanding", "inputs.bogus"}


@pytest.mark.parametrize("seed", range(300))
def test_random_requests_are_valid_finite_and_fast_path_agrees(seed: int) -> None:
    request = random_ginzu_request(seed)
    result = water_engine.run(request)
    inputs = from_dict(G.GinzuInputs, request["inputs"])
    conventions = from_dict(G.GinzuConventions, request["conventions"])
    assert G.value_per_share(G.prepare(inputs, conventions)) == result["outputs"]["value_per_share"]
    assert len(result["schedule"]) == 12


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**6), bump=st.floats(0.001, 0.05))
def test_value_falls_as_cost_of_capital_rises(seed: int, bump: float) -> None:
    request = random_ginzu_request(seed)
    inputs = from_dict(G.GinzuInputs, request["inputs"])
    # Hold the operating value positive so "falls" is well defined: no failure, positive flows.
    inputs = dataclasses.replace(
        inputs, margin_year_1=0.2, target_margin=0.2, failure_probability=0.0, growth_year_1=0.05, growth_years_2_5=0.05
    )
    lo = G.prepare(inputs)
    hi = G.prepare(dataclasses.replace(inputs, initial_cost_of_capital=inputs.initial_cost_of_capital + bump))
    assert G.value_per_share(hi) < G.value_per_share(lo)


@pytest.mark.parametrize("seed", range(50))
def test_round_trip_through_the_json_boundary(seed: int) -> None:
    inputs = from_dict(G.GinzuInputs, random_ginzu_request(seed)["inputs"])
    assert from_dict(G.GinzuInputs, to_dict(inputs)) == inputs


def test_schema_is_generated() -> None:
    schema = water_engine.request_schema("fcff_ginzu")
    props = schema["$defs"]["GinzuInputs"]["properties"]
    assert "revenues" in props
    assert props["failure_probability"]["maximum"] == 1


def test_ginzu_schedule_rows_match_the_generic_builder() -> None:
    """The dict-display row builder gives the generic builder's rows, keys in the same order."""
    sys.path.insert(0, str(Path(__file__).parent))
    from random_cases import random_ginzu_request

    from water_engine.boundary import from_dict
    from water_engine.models import dcf_ginzu
    from water_engine.registry import Table, _table_rows

    for seed in range(20):
        request = random_ginzu_request(seed)
        inputs = from_dict(dcf_ginzu.GinzuInputs, request["inputs"], "inputs")
        table = dcf_ginzu.compute(inputs, dcf_ginzu.GinzuConventions()).schedule
        assert isinstance(table, Table)
        assert table.build_rows is not None
        fast, _ = _table_rows(table)
        generic, _ = _table_rows(dataclasses.replace(table, build_rows=None))
        assert [list(row.items()) for row in fast] == [list(row.items()) for row in generic]
        assert list(fast[0]) == list(table.keys)
        assert all(type(row) is dict for row in fast)
        # `numbers` (what run() sums to check finiteness) holds every number of the columns.
        summed = set(chain.from_iterable(table.numbers or ()))
        for key, column in zip(table.keys, table.columns, strict=True):
            if key not in table.text_columns:
                assert summed.issuperset(value for value in column if value is not None), (seed, key)


def test_ginzu_without_invested_capital_checks_its_columns() -> None:
    """With zero invested capital ROIC is None: `numbers` then holds None and run() checks the
    columns instead, and still answers."""
    inputs = {**random_ginzu_request(1)["inputs"], "book_equity": 500.0, "book_debt": 0.0, "cash": 500.0}
    inputs.pop("rnd", None), inputs.pop("leases", None)  # capitalised R&D or leases add invested capital
    out = water_engine.run({"model": "fcff_ginzu", "inputs": inputs})
    assert out["outputs"]["invested_capital_base"] == 0.0
    first, second = out["schedule"][0], out["schedule"][1]
    assert first["roic"] is None  # both divide by the zero base capital
    assert second["roic"] is None
    assert second["invested_capital"] == second["reinvestment"]

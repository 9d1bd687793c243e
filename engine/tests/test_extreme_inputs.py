"""Inputs at the edges of the float range: a clear engine error, never a bare Python exception.

Every field of these requests is valid on its own (a revenue of 1e308, a price of 5e-324, a rate of
1e-308 are finite numbers within their bounds), but the arithmetic they lead to overflows, divides
by a value that underflowed to zero, or runs for ever. Found by mutating the golden requests (the
last test here does it on every run, seeded). `run` must answer each with ValidationError (a field
and a reason) or NotComputableError, so the API gives a 422 and a grid cell is left empty, not a
KeyError, an OverflowError or a hang.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import pytest
from golden_cases import golden_request, golden_requests

import water_engine
from water_engine import EngineError, NotComputableError, ValidationError

NOT_COMPUTABLE = {
    "npv of two 1e308 flows (fsum overflows)": {
        "model": "npv",
        "inputs": {"rate": 0.08, "flows": [1e308, 1e308]},
        "conventions": {"first_flow": "t0"},
    },
    "two-stage DDM on earnings of 1e308": {
        "model": "ddm",
        "inputs": {
            "eps": 1e308, "payout": 0.5, "high_growth": 0.1, "high_growth_years": 5, "cost_of_equity": 0.08,
            "stable_growth": 0.03, "stable_payout": 0.75, "stable_cost_of_equity": 0.085,
        },
        "conventions": {"variant": "two_stage"},
    },
    "FCFE with 1e308 growth (inf - inf)": {
        "model": "fcfe",
        "inputs": {
            "net_income": 50.0, "roe": 0.2, "stable_roe": 0.15, "high_growth": 1e308, "high_growth_years": 5,
            "cost_of_equity": 0.10001, "stable_growth": 0.05,
        },
    },
    "WACC path fading from 1e308": {"model": "wacc_path", "inputs": {"initial": 1e308, "stable": 0.04}},
    "Altman Z on total assets of 5e-324": {
        "model": "altman_z",
        "inputs": {
            "working_capital": 200.0, "retained_earnings": -1, "ebit": 150.0, "total_assets": 5e-324,
            "total_liabilities": 500.0, "market_value_of_equity": 750.0, "book_equity": 500.0, "sales": 1100.0,
        },
        "conventions": {"variant": "z_double_prime"},
    },
    "beta on a benchmark price of 1e-308": {
        "model": "beta_regression",
        "inputs": {
            "stock": [["2024-01-31", 10.0], ["2024-02-29", 12.0], ["2024-03-28", 14.4], ["2024-04-30", 10.08]],
            "benchmark": [
                ["2024-01-15", 100.0], ["2024-01-31", 1e-308], ["2024-02-29", 121.0], ["2024-03-28", 133.1],
                ["2024-04-30", 119.79],
            ],
        },
        "conventions": {"frequency": "monthly"},
    },
    "present value of -1e308 a period at a rate near -100%": {
        "model": "annuity",
        "inputs": {"rate": -0.999998999, "periods": 240, "payment": -1e308, "solve_for": "present_value"},
    },
}  # fmt: skip


@pytest.mark.parametrize("request_", NOT_COMPUTABLE.values(), ids=NOT_COMPUTABLE.keys())
def test_valid_inputs_whose_arithmetic_fails_are_not_computable(request_: dict[str, Any]) -> None:
    with pytest.raises(NotComputableError, match=r"cannot be computed|beyond the float range") as caught:
        water_engine.run(request_)
    assert caught.value.code == "not_computable"
    assert "too large, too small, or in the wrong unit" in str(caught.value)


def test_not_computable_is_an_arithmetic_error_so_a_grid_cell_is_left_empty() -> None:
    # Cash flows of 1e307: at a 3% cost of capital the terminal value (1e307 x 1.01 / 2%) passes 1e308,
    # at 50% it does not. Before, the first row's error failed the whole grid.
    base = {
        "model": "fcff_explicit",
        "inputs": {"fcff": [1e307] * 10, "discount_rate": 0.5, "terminal": {"method": "gordon", "growth": 0.02}},
    }
    out = water_engine.run(
        {
            "model": "sensitivity",
            "inputs": {
                "base": base,
                "output": "enterprise_value",
                "rows": {"path": "inputs.discount_rate", "values": [0.03, 0.5]},
                "columns": {"path": "inputs.terminal.growth", "values": [0.01, 0.02]},
            },
        }
    )
    grid = out["outputs"]["grid"]
    assert grid[0] == [None, None]
    assert all(isinstance(v, float) for v in grid[1])
    assert any("beyond the float range" in w for w in out["warnings"])


def test_a_lease_lump_spread_over_more_than_a_century_is_refused_not_looped() -> None:
    # 1e9 after year 1 at 0.1 a year would have been ten billion discount factors (minutes, then
    # a MemoryError); the Ginzu converter looped int(lump / average) times.
    debt = _lease_debt(rate=0.055, commitments=[0.1], beyond=1e9)
    with pytest.raises(ValidationError) as caught:
        water_engine.run(debt)
    assert [e.path for e in caught.value.errors] == ["inputs.lease_beyond"]
    assert "more than 100 years" in caught.value.errors[0].message
    with pytest.raises(ValidationError, match=r"inputs\.lease_beyond_years: must be at most 100"):
        water_engine.run({**debt, "inputs": {**debt["inputs"], "lease_beyond_years": 10**12}})
    ginzu = golden_request("fcff_ginzu_amazon_2024")
    leases = {"current_expense": 10.0, "commitments": [1.0] * 5, "pre_tax_cost_of_debt": 0.05, "beyond_year_5": 1e300}
    with pytest.raises(ValidationError) as caught:
        water_engine.run({**ginzu, "inputs": {**ginzu["inputs"], "leases": leases}})
    assert [e.path for e in caught.value.errors] == ["inputs.leases.beyond_year_5"]


def test_lease_commitments_that_add_up_beyond_the_float_range_are_a_field_error() -> None:
    with pytest.raises(ValidationError) as caught:
        water_engine.run(_lease_debt(rate=0.05, commitments=[1e308, 1e308], beyond=0.0))
    assert [e.path for e in caught.value.errors] == ["inputs.lease_commitments"]
    ginzu = golden_request("fcff_ginzu_amazon_2024")
    leases = {"current_expense": 1.0, "commitments": [1e308] * 5, "pre_tax_cost_of_debt": 0.05, "beyond_year_5": 1.0}
    with pytest.raises(ValidationError) as caught:
        water_engine.run({**ginzu, "inputs": {**ginzu["inputs"], "leases": leases}})
    assert [e.path for e in caught.value.errors] == ["inputs.leases.commitments"]


def test_a_century_of_lease_years_is_still_valued() -> None:
    out = water_engine.run(_lease_debt(rate=0.05, commitments=[1.0], beyond=100.0))["outputs"]
    # 1 in year 1, then 1 a year in years 2..101: an annuity of 101 years at 5%.
    exact = sum(Fraction(1) / Fraction(105, 100) ** t for t in range(1, 102))
    assert out["lease_commitments_value"] == pytest.approx(float(exact), rel=1e-12)


def _lease_debt(rate: float, commitments: list[float], beyond: float) -> dict[str, Any]:
    """market_value_of_debt of leases alone: no book debt, the lump `beyond` after the commitments."""
    inputs = {"book_debt": 0.0, "interest_expense": 0.0, "average_maturity": 1, "pre_tax_cost_of_debt": rate}
    return {
        "model": "market_value_of_debt",
        "inputs": {**inputs, "lease_commitments": commitments, "lease_beyond": beyond},
    }


def test_a_model_name_that_is_not_a_string_is_a_field_error() -> None:
    golden = golden_request("reverse_dcf_terminal_growth")
    for name in ([0.1], {}, None, 7):
        request = copy.deepcopy(golden)
        request["inputs"]["base"]["model"] = name
        with pytest.raises(ValidationError) as caught:
            water_engine.run(request)
        assert [e.path for e in caught.value.errors] == ["inputs.base.model"]


def test_a_margin_convergence_year_beyond_the_float_range_is_a_field_error() -> None:
    ginzu = golden_request("fcff_ginzu_coca_cola_2024")
    with pytest.raises(ValidationError, match=r"inputs\.margin_convergence_year: must be at most 100"):
        water_engine.run({**ginzu, "inputs": {**ginzu["inputs"], "margin_convergence_year": 10**400}})


@pytest.mark.parametrize("rate", [1e-308, 1e-15, 1e-9, 5e-7, -5e-7, 9.9e-7])
def test_payment_at_a_tiny_rate_is_exact(rate: float) -> None:
    # PMT = -pv r (1+r)^n / ((1+r)^n - 1); (1+r)^n - 1 used to lose its digits (0 below 1.1e-16).
    out = water_engine.run(
        {"model": "annuity", "inputs": {"rate": rate, "periods": 10, "present_value": 10_000, "solve_for": "payment"}}
    )["outputs"]
    r = Fraction(rate)
    exact = -10_000 * r * (1 + r) ** 10 / ((1 + r) ** 10 - 1)
    assert out["payment"] == pytest.approx(float(exact), rel=1e-14)


def test_a_peer_multiple_beyond_the_float_range_is_excluded_with_a_reason() -> None:
    request = golden_request("comparables_worked")
    peers = request["inputs"]["peers"]
    peers[1] = {**peers[1], "market_cap": 5e-324}  # 5e-324 / earnings underflows to a P/E of 0
    out = water_engine.run(request)["outputs"]
    reasons = [e["reason"] for e in out["multiples"]["pe"]["excluded"] if e["peer"] == peers[1]["name"]]
    assert reasons == ["not meaningful: the multiple is beyond the float range"]


# --- every golden request, mutated ------------------------------------------------------------

EXTREMES: list[Any] = [
    0, 0.0, -1, 1e308, -1e308, 1e-308, 5e-324, 10**400, 0.999999, 1e9, -1e9, "x", None, True, [], {}, [0.0, 0.0],
    [1e308, 1e308], [-1.0, 1.0, -1.0], 11, 10**6, "2020-W01-1",
]  # fmt: skip


def test_mutated_golden_requests_raise_only_engine_errors() -> None:
    """3,000 seeded mutations of the golden requests: one to three values replaced by an extreme, a
    scaled copy or nothing (the key removed). Each must run or raise an EngineError; a
    ValidationError must name a field."""
    cases = [request for _, request in golden_requests()]
    rng = random.Random(20261126)
    outcomes = {"ran": 0, "invalid": 0, "other engine error": 0}
    unnamed: list[tuple[dict[str, Any], str]] = []
    for _ in range(3000):
        request = _mutated(rng.choice(cases), rng)
        try:
            json.dumps(water_engine.run(request), allow_nan=False)
            outcomes["ran"] += 1
        except ValidationError as exc:
            unnamed.extend((request, str(e)) for e in exc.errors if not e.path)
            outcomes["invalid"] += 1
        except EngineError:
            outcomes["other engine error"] += 1
        # Anything else (TypeError, OverflowError, ...) fails the test with the request in the traceback.
    assert unnamed == []
    assert min(outcomes.values()) > 0, outcomes  # the mutations reach every kind of outcome


def _mutated(request: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    mutated = copy.deepcopy(request)
    places = list(_places(mutated))
    for _ in range(rng.randint(1, 3)):
        container, key = rng.choice(places)
        if key not in container if isinstance(container, dict) else key >= len(container):
            continue  # removed by an earlier mutation
        old = container[key]
        if rng.random() < 0.15 and isinstance(container, dict):
            del container[key]
        elif type(old) in (int, float) and abs(old) < 1e300 and rng.random() < 0.5:
            container[key] = old * rng.choice([0, -1, 2, 10, 1e6, 1e-6, 0.5, 1.0001])
        else:
            container[key] = copy.deepcopy(rng.choice(EXTREMES))
    return mutated


def _places(value: Any) -> Iterator[tuple[Any, Any]]:
    """(container, key) of every value inside `value`."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        yield value, key
        yield from _places(item)

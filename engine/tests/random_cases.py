"""Seeded random `fcff_ginzu` requests (used by the Pyodide parity run and property tests).

`random_ginzu_request(seed)` returns a valid, varied request for the `fcff_ginzu` model:
the same seed always gives the same request (it uses only `random.Random(seed)`), and every
switch of the template is exercised across seeds (R&D and lease capitalisation, NOL,
failure probability with book or fair-value proceeds, reinvestment lag 0-3, tax rate kept
at the effective rate, a different riskfree rate after year 10, explicit stable growth,
cost of capital and return on capital, trapped cash, options, mid-year timing).
"""

from __future__ import annotations

import random
from typing import Any


def _r(rng: random.Random, lo: float, hi: float) -> float:
    return lo + (hi - lo) * rng.random()


def random_ginzu_request(seed: int) -> dict[str, Any]:
    """A valid `fcff_ginzu` request drawn from `random.Random(seed)`."""
    rng = random.Random(seed)
    revenues = _r(rng, 10.0, 500_000.0)
    margin = _r(rng, -0.25, 0.45)
    riskfree = _r(rng, 0.005, 0.07)
    erp = _r(rng, 0.03, 0.07)
    inputs: dict[str, Any] = {
        "revenues": revenues,
        "ebit": revenues * margin,
        "book_equity": revenues * _r(rng, 0.05, 1.5),
        "book_debt": revenues * _r(rng, 0.0, 0.8),
        "cash": revenues * _r(rng, 0.0, 0.4),
        "non_operating_assets": revenues * _r(rng, 0.0, 0.2),
        "minority_interests": revenues * _r(rng, 0.0, 0.05) if rng.random() < 0.3 else 0.0,
        "preferred_stock": revenues * _r(rng, 0.0, 0.05) if rng.random() < 0.2 else 0.0,
        "shares_outstanding": _r(rng, 1.0, 20_000.0),
        "price": _r(rng, 1.0, 500.0),
        "effective_tax_rate": _r(rng, 0.0, 0.35),
        "marginal_tax_rate": _r(rng, 0.15, 0.40),
        "growth_year_1": _r(rng, -0.10, 0.60),
        "sales_to_capital_years_1_5": _r(rng, 0.3, 6.0),
        "riskfree_rate": riskfree,
        "initial_cost_of_capital": riskfree + erp + _r(rng, 0.0, 0.06),
        "mature_market_erp": erp,
        "margin_convergence_year": rng.randint(1, 10),
    }
    if rng.random() < 0.7:
        inputs["growth_years_2_5"] = _r(rng, -0.05, 0.40)
    if rng.random() < 0.7:
        inputs["margin_year_1"] = _r(rng, -0.30, 0.40)
    if rng.random() < 0.8:
        inputs["target_margin"] = _r(rng, 0.02, 0.45)
    if rng.random() < 0.6:
        inputs["sales_to_capital_years_6_10"] = _r(rng, 0.3, 6.0)
    long_riskfree = riskfree
    if rng.random() < 0.2:
        long_riskfree = _r(rng, 0.01, 0.05)
        inputs["riskfree_rate_after_year_10"] = long_riskfree
    if rng.random() < 0.3:
        inputs["stable_growth"] = _r(rng, -0.03, 0.9 * min(riskfree, long_riskfree))
    if rng.random() < 0.3:
        inputs["stable_cost_of_capital"] = max(riskfree, long_riskfree) + _r(rng, 0.035, 0.08)
    if rng.random() < 0.25:
        inputs["stable_return_on_capital"] = _r(rng, 0.06, 0.30)
    if rng.random() < 0.3:
        inputs["failure_probability"] = _r(rng, 0.0, 0.5)
        inputs["distress_proceeds_basis"] = rng.choice(["book", "fair_value"])
        inputs["distress_proceeds_fraction"] = _r(rng, 0.0, 1.0)
    if rng.random() < 0.3:
        inputs["reinvestment_lag"] = rng.randint(0, 3)
    if rng.random() < 0.15:
        inputs["tax_rate_converges_to_marginal"] = False
    if rng.random() < 0.3:
        inputs["nol"] = revenues * _r(rng, 0.0, 0.5)
    if rng.random() < 0.15:
        inputs["trapped_cash"] = inputs["cash"] * _r(rng, 0.0, 1.0)
        inputs["trapped_cash_foreign_tax_rate"] = _r(rng, 0.0, 0.15)
    if rng.random() < 0.2:
        inputs["options_value"] = revenues * _r(rng, 0.0, 0.02)
    if rng.random() < 0.25:
        years = rng.randint(1, 10)
        inputs["rnd"] = {
            "amortization_years": years,
            "current_expense": revenues * _r(rng, 0.0, 0.15),
            "past_expenses": [revenues * _r(rng, 0.0, 0.12) for _ in range(years)],
        }
    if rng.random() < 0.2:
        inputs["leases"] = {
            "current_expense": revenues * _r(rng, 0.0, 0.03),
            "commitments": [revenues * _r(rng, 0.0, 0.03) for _ in range(5)],
            "beyond_year_5": revenues * _r(rng, 0.0, 0.1),
            "pre_tax_cost_of_debt": _r(rng, 0.02, 0.10),
        }
    conventions: dict[str, Any] = {}
    if rng.random() < 0.2:
        conventions["timing"] = "mid_year"
    return {"model": "fcff_ginzu", "inputs": inputs, "conventions": conventions}


def random_sensitivity_request(seed: int) -> dict[str, Any]:
    """A 5x5 cost of capital x stable growth grid over a random Ginzu base (valid centre cell)."""
    rng = random.Random(10_000_000 + seed)
    base = random_ginzu_request(seed)
    wacc = base["inputs"]["initial_cost_of_capital"]
    step = _r(rng, 0.001, 0.01)
    return {
        "model": "sensitivity",
        "inputs": {
            "base": base,
            "rows": {"path": "inputs.initial_cost_of_capital", "values": [wacc + (i - 2) * step for i in range(5)]},
            "columns": {"path": "inputs.target_margin", "values": [_r(rng, 0.02, 0.4) for _ in range(5)]},
        },
    }


def random_monte_carlo_request(seed: int) -> dict[str, Any]:
    """A small seeded Monte Carlo over a random Ginzu base: normal, lognormal, triangular, uniform, correlated."""
    rng = random.Random(20_000_000 + seed)
    base = random_ginzu_request(seed)
    inputs = base["inputs"]
    g1 = inputs["growth_year_1"]
    wacc = inputs["initial_cost_of_capital"]
    return {
        "model": "monte_carlo",
        "inputs": {
            "base": base,
            "paths": 200,
            "seed": rng.randint(0, 2**31),
            "drivers": [
                {"path": "inputs.growth_year_1", "distribution": "normal", "mean": g1, "stdev": _r(rng, 0.0, 0.05)},
                {
                    "path": "inputs.initial_cost_of_capital",
                    "distribution": "lognormal",
                    "mean": wacc,
                    "stdev": _r(rng, 0.0, 0.01),
                },
                {"path": "inputs.target_margin", "distribution": "triangular", "low": 0.05, "mode": 0.15, "high": 0.3},
                {"path": "inputs.sales_to_capital_years_1_5", "distribution": "uniform", "low": 0.5, "high": 3.0},
            ],
            "correlations": [{"a": "inputs.growth_year_1", "b": "inputs.target_margin", "rho": _r(rng, -0.8, 0.8)}],
        },
    }

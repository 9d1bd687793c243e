"""The engine benchmark's requests and timing loop.

Standard library only: this file runs unchanged in CPython (bench_engine.py) and in
Pyodide under Node.js (bench_pyodide.mjs), so both runtimes time the same calls the
same way. Every timing is the median of single calls of `water_engine.run` (the whole
JSON boundary: validation, model, output checks) measured with `time.perf_counter_ns`,
after warm-up calls.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import water_engine

MC_PATHS = 100_000
GRID = 21

# A 10-year Ginzu FCFF valuation of a mature, growing industrial (money in millions).
GINZU_REQUEST: dict[str, Any] = {
    "model": "fcff_ginzu",
    "inputs": {
        "revenues": 100_000.0,
        "ebit": 12_000.0,
        "book_equity": 40_000.0,
        "book_debt": 25_000.0,
        "cash": 10_000.0,
        "non_operating_assets": 2_000.0,
        "minority_interests": 500.0,
        "preferred_stock": 0.0,
        "shares_outstanding": 1_500.0,
        "price": 60.0,
        "effective_tax_rate": 0.21,
        "marginal_tax_rate": 0.25,
        "growth_year_1": 0.08,
        "growth_years_2_5": 0.06,
        "margin_year_1": 0.12,
        "target_margin": 0.15,
        "margin_convergence_year": 5,
        "sales_to_capital_years_1_5": 1.8,
        "sales_to_capital_years_6_10": 1.6,
        "riskfree_rate": 0.04,
        "initial_cost_of_capital": 0.085,
        "mature_market_erp": 0.045,
    },
    "conventions": {},
}

# FinanceToolkit's DCF inputs (intrinsic_model.get_intrinsic_value) for the same company:
# base free cash flow to the firm, constant growth for 10 years, Gordon terminal value.
FTK_INPUTS: dict[str, Any] = {
    "cash_flow": 6_000.0,
    "growth_rate": 0.06,
    "perpetual_growth_rate": 0.03,
    "weighted_average_cost_of_capital": 0.085,
    "cash_and_cash_equivalents": 10_000.0,
    "total_debt": 25_000.0,
    "shares_outstanding": 1_500.0,
    "periods": 10,
}


def sensitivity_request() -> dict[str, Any]:
    """21 x 21 grid: cost of capital (years 1-5) x stable (terminal) growth around the Ginzu base."""
    waccs = [round(0.065 + 0.002 * i, 4) for i in range(GRID)]
    growths = [round(0.01 + 0.002 * j, 4) for j in range(GRID)]
    return {
        "model": "sensitivity",
        "inputs": {
            "base": GINZU_REQUEST,
            "rows": {"path": "inputs.initial_cost_of_capital", "values": waccs},
            "columns": {"path": "inputs.stable_growth", "values": growths},
        },
        "conventions": {},
    }


def monte_carlo_request(paths: int = MC_PATHS) -> dict[str, Any]:
    """Monte Carlo over three Ginzu drivers (normal, triangular, uniform), seeded."""
    return {
        "model": "monte_carlo",
        "inputs": {
            "base": GINZU_REQUEST,
            "paths": paths,
            "seed": 20240611,
            "drivers": [
                {"path": "inputs.growth_years_2_5", "distribution": "normal", "mean": 0.06, "stdev": 0.02},
                {"path": "inputs.target_margin", "distribution": "triangular", "low": 0.10, "mode": 0.15, "high": 0.20},
                {"path": "inputs.initial_cost_of_capital", "distribution": "uniform", "low": 0.075, "high": 0.095},
            ],
        },
        "conventions": {},
    }


def explicit_dcf_request() -> dict[str, Any]:
    """Water's explicit-forecast DCF on exactly FinanceToolkit's inputs (FCFF grown at a constant rate)."""
    p = FTK_INPUTS
    flows, cf = [], p["cash_flow"]
    for _ in range(p["periods"]):
        cf = cf * (1 + p["growth_rate"])
        flows.append(cf)
    return {
        "model": "fcff_explicit",
        "inputs": {
            "fcff": flows,
            "discount_rate": p["weighted_average_cost_of_capital"],
            "terminal": {"method": "gordon", "growth": p["perpetual_growth_rate"]},
            "cash": p["cash_and_cash_equivalents"],
            "debt": p["total_debt"],
            "shares_outstanding": p["shares_outstanding"],
        },
        "conventions": {"timing": "end_of_period"},
    }


def median_call_seconds(
    call: Callable[[], Any], *, warmup: int, min_calls: int, min_seconds: float, max_calls: int = 100_000
) -> tuple[float, int]:
    """Median wall time of single calls (seconds) and the number of timed calls."""
    for _ in range(warmup):
        call()
    samples: list[int] = []
    clock = time.perf_counter_ns
    budget_end = clock() + int(min_seconds * 1e9)
    while len(samples) < max_calls and (len(samples) < min_calls or clock() < budget_end):
        start = clock()
        call()
        samples.append(clock() - start)
    return statistics.median(samples) / 1e9, len(samples)


def compute_only(request: dict[str, Any]) -> Callable[[], Any]:
    """The model's computation alone, on inputs parsed once (no JSON boundary)."""
    from water_engine.boundary import from_dict

    spec = water_engine.MODELS[request["model"]]
    inputs: Any = from_dict(spec.inputs, request["inputs"], "inputs")
    conventions: Any = from_dict(spec.conventions, request.get("conventions") or {}, "conventions")
    return lambda: spec.compute(inputs, conventions)


def end_to_end(request: dict[str, Any]) -> Callable[[], Any]:
    """`water_engine.run(request)`: validation, model, output conversion and checks."""
    return lambda: water_engine.run(request)


# name -> (request factory, how to call, warm-up calls, minimum timed calls, minimum seconds)
CASES: dict[
    str, tuple[Callable[[], dict[str, Any]], Callable[[dict[str, Any]], Callable[[], Any]], int, int, float]
] = {
    "ginzu": (lambda: GINZU_REQUEST, end_to_end, 200, 2_000, 1.0),
    "ginzu_compute": (lambda: GINZU_REQUEST, compute_only, 200, 5_000, 1.0),
    "explicit_dcf": (explicit_dcf_request, end_to_end, 200, 2_000, 0.5),
    "explicit_dcf_compute": (explicit_dcf_request, compute_only, 200, 5_000, 0.5),
    "sensitivity": (sensitivity_request, end_to_end, 3, 30, 1.0),
    "monte_carlo": (monte_carlo_request, end_to_end, 1, 3, 0.0),
}


def headline(response: dict[str, Any]) -> Any:
    """A value from the response, printed beside the timing so both runtimes can be compared."""
    outputs = response.get("outputs", {})
    for key in ("value_per_share", "mean", "base_value", "intrinsic_value", "equity_value", "value"):
        if key in outputs:
            return outputs[key]
    return sorted(outputs)[:3]


def available(name: str) -> str | None:
    """None when the case can run here, else why not (its model is not registered or rejects the request)."""
    request = CASES[name][0]()
    if request["model"] not in water_engine.MODELS:
        return f"model {request['model']!r} is not registered"
    try:
        water_engine.run(request if request["model"] != "monte_carlo" else monte_carlo_request(paths=100))
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def run_all(names: list[str] | None = None) -> dict[str, Any]:
    """Time every case (or the named ones); returns {name: {seconds, calls, headline} or {skipped}}."""
    results: dict[str, Any] = {}
    for name in names or list(CASES):
        factory, how, warmup, min_calls, min_seconds = CASES[name]
        reason = available(name)
        if reason is not None:
            results[name] = {"skipped": reason}
            continue
        request = factory()
        seconds, calls = median_call_seconds(how(request), warmup=warmup, min_calls=min_calls, min_seconds=min_seconds)
        results[name] = {"seconds": seconds, "calls": calls, "headline": headline(water_engine.run(request))}
    return results


def run_all_json(names: list[str] | None = None) -> str:
    return json.dumps(run_all(names))

"""The numpy Monte Carlo fast path (water_engine_fast) against the pure engine, statistically.

Two-sample Kolmogorov-Smirnov test on the value distributions (critical value at the 0.1%
level: c(alpha) * sqrt((n + m) / (n m)), c = 1.95; Smirnov 1948 / Massey 1951), plus means
and percentiles within a few standard errors.
"""

from __future__ import annotations

import bisect
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import water_engine
from water_engine.boundary import from_dict
from water_engine.models import analysis as A
from water_engine.models import dcf_ginzu as G
from water_engine_fast import monte_carlo_ginzu, sample, values

KO = json.loads((Path(__file__).parent / "golden" / "fcff_ginzu_coca_cola_2024.json").read_text())["request"]
DRIVERS = [
    {"path": "inputs.growth_year_1", "distribution": "normal", "mean": 0.05, "stdev": 0.02},
    {"path": "inputs.target_margin", "distribution": "triangular", "low": 0.25, "mode": 0.2973, "high": 0.33},
    {"path": "inputs.initial_cost_of_capital", "distribution": "lognormal", "mean": 0.073, "stdev": 0.01},
    {
        "path": "inputs.sales_to_capital_years_1_5",
        "distribution": "uniform",
        "low": 1.2,
        "high": 2.2,
        "truncate_high": 2.0,
    },
]
CORR = [{"a": "inputs.growth_year_1", "b": "inputs.target_margin", "rho": 0.5}]


def _request(paths: int, seed: int) -> dict[str, Any]:
    return {
        "model": "monte_carlo",
        "inputs": {"base": KO, "drivers": DRIVERS, "correlations": CORR, "paths": paths, "seed": seed},
    }


def _ks(a: list[float], b: list[float]) -> float:
    a, b = sorted(a), sorted(b)
    d = 0.0
    for x in a + b:
        d = max(d, abs(bisect.bisect_right(a, x) / len(a) - bisect.bisect_right(b, x) / len(b)))
    return d


def _pure_values(paths: int, seed: int) -> list[float]:
    inputs = from_dict(A.MonteCarloInputs, _request(paths, seed)["inputs"])
    draws, _ = A.sample_paths(inputs.drivers, inputs.correlations, paths, seed)
    ev = A.Evaluator(KO, "value_per_share", [d.path for d in inputs.drivers])
    return [ev(dict(zip([d.path for d in inputs.drivers], row, strict=True))) for row in draws]


def _fast_values(paths: int, seed: int) -> list[float]:
    inputs = from_dict(A.MonteCarloInputs, _request(paths, seed)["inputs"])
    draws = sample(inputs.drivers, inputs.correlations, paths, seed)
    ginzu = from_dict(G.GinzuInputs, KO["inputs"])
    names = [d.path[7:] for d in inputs.drivers]
    out = values(G._fields_of(ginzu), {n: draws[:, i] for i, n in enumerate(names)}, False)
    return [float(x) for x in out]


def test_same_distribution_ks() -> None:
    n = 8000
    pure, fast = _pure_values(n, 11), _fast_values(n, 12)
    assert _ks(pure, fast) < 1.95 * math.sqrt(2 / n)


def test_zero_variance_fast_equals_deterministic_value() -> None:
    ginzu = from_dict(G.GinzuInputs, KO["inputs"])
    v = values(G._fields_of(ginzu), {"initial_cost_of_capital": np.full(10, 0.0731766923949557)}, False)
    assert np.allclose(v, 39.940608035934304, rtol=1e-14, atol=0)


def test_summary_agrees_with_pure_model() -> None:
    pure = water_engine.run(_request(20_000, 3))["outputs"]
    fast = monte_carlo_ginzu(_request(20_000, 4))
    se = pure["stdev"] / math.sqrt(20_000)
    assert fast["mean"] == pytest.approx(pure["mean"], abs=5 * se)
    assert fast["stdev"] == pytest.approx(pure["stdev"], rel=0.05)
    for key in ("p5", "p50", "p95"):
        assert fast["percentiles"][key] == pytest.approx(pure["percentiles"][key], abs=8 * se)
    assert fast["probability_above_price"] == pytest.approx(pure["probability_above_price"], abs=0.01)


def test_fast_path_speed() -> None:
    best = math.inf
    for _ in range(3):
        t = time.perf_counter()
        monte_carlo_ginzu(_request(100_000, 1))
        best = min(best, time.perf_counter() - t)
    assert best < 1.5  # target 150 ms on an idle machine; generous for shared CI

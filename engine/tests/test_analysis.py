"""Analysis models: sensitivity, tornado, scenarios, Monte Carlo, football field.

Distribution checks follow Glasserman, "Monte Carlo Methods in Financial Engineering" (2003);
the inverse normal is Wichura's AS241 (the algorithm behind Python's statistics.NormalDist,
used here as the oracle), the normal CDF Hart/West (2005).
"""

from __future__ import annotations

import itertools
import json
import math
import random
import statistics
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import water_engine
from water_engine.models import analysis as A

sys.path.insert(0, str(Path(__file__).parent))
from random_cases import random_ginzu_request

KO = json.loads((Path(__file__).parent / "golden" / "fcff_ginzu_coca_cola_2024.json").read_text())["request"]
KO_VALUE = 39.940608035934304
WACC = 0.0731766923949557
ND = statistics.NormalDist()


def _run(model: str, **inputs: Any) -> dict[str, Any]:
    return water_engine.run({"model": model, "inputs": inputs})


# --- deterministic elementary functions ---------------------------------------------------


@settings(max_examples=500)
@given(x=st.floats(1e-300, 1e300))
def test_stable_log_is_within_an_ulp_or_two_of_libm(x: float) -> None:
    assert A.stable_log(x) == pytest.approx(math.log(x), rel=4e-16, abs=1e-300)


@settings(max_examples=500)
@given(x=st.floats(-700, 700))
def test_stable_exp_is_within_an_ulp_or_two_of_libm(x: float) -> None:
    assert A.stable_exp(x) == pytest.approx(math.exp(x), rel=4e-16)


@settings(max_examples=500)
@given(p=st.floats(1e-12, 1 - 1e-12))
def test_norm_ppf_matches_as241_in_statistics(p: float) -> None:
    assert A.norm_ppf(p) == pytest.approx(ND.inv_cdf(p), rel=1e-14, abs=1e-15)


@settings(max_examples=500)
@given(x=st.floats(-30, 30))
def test_norm_cdf_matches_statistics(x: float) -> None:
    assert A.norm_cdf(x) == pytest.approx(ND.cdf(x), rel=1e-12, abs=1e-15)


# --- sensitivity ------------------------------------------------------------------------------


def _grid(base: dict[str, Any], row_path: str, rows: list[float], col_path: str, cols: list[float]) -> dict[str, Any]:
    return _run(
        "sensitivity",
        base=base,
        rows={"path": row_path, "values": rows},
        columns={"path": col_path, "values": cols},
    )


def test_centre_cell_equals_base_and_value_falls_with_wacc() -> None:
    waccs = [WACC + (i - 10) * 0.0025 for i in range(21)]
    growths = [0.0458 + (i - 10) * 0.001 for i in range(21)]
    out = _grid(KO, "inputs.initial_cost_of_capital", waccs, "inputs.stable_growth", growths)["outputs"]
    assert out["grid"][10][10] == KO_VALUE
    assert out["base_value"] == KO_VALUE
    for j in range(21):
        column = [out["grid"][i][j] for i in range(21)]
        assert all(a > b for a, b in itertools.pairwise(column))


def test_fast_grid_cells_equal_full_runs() -> None:
    waccs = [0.07, 0.08]
    margins = [0.25, 0.3]
    grid = _grid(KO, "inputs.initial_cost_of_capital", waccs, "inputs.target_margin", margins)["outputs"]["grid"]
    for i, w in enumerate(waccs):
        for j, m in enumerate(margins):
            req = json.loads(json.dumps(KO))
            req["inputs"].update(initial_cost_of_capital=w, target_margin=m)
            assert grid[i][j] == water_engine.run(req)["outputs"]["value_per_share"]


def test_generic_grid_on_explicit_dcf_and_nested_paths() -> None:
    base = {
        "model": "fcff_explicit",
        "inputs": {"fcff": [100, 110, 121], "discount_rate": 0.1, "terminal": {"growth": 0.02}},
    }
    out = _run(
        "sensitivity",
        base=base,
        rows={"path": "inputs.discount_rate", "values": [0.09, 0.1, 0.11]},
        columns={"path": "inputs.terminal.growth", "values": [0.01, 0.02, 0.03]},
        output="enterprise_value",
    )["outputs"]
    assert out["grid"][1][1] == water_engine.run(base)["outputs"]["enterprise_value"] == out["base_value"]
    assert out["grid"][0][2] > out["grid"][1][1] > out["grid"][2][0]


def test_invalid_cells_are_none_with_a_warning() -> None:
    out = _grid(KO, "inputs.initial_cost_of_capital", [WACC], "inputs.stable_growth", [0.0458, 0.2])
    assert out["outputs"]["grid"][0][1] is None
    assert out["warnings"]


def test_grid_speed_21_by_21() -> None:
    import time

    waccs = [WACC + (i - 10) * 0.0025 for i in range(21)]
    growths = [0.0458 + (i - 10) * 0.001 for i in range(21)]
    best = math.inf
    for _ in range(5):
        t = time.perf_counter()
        _grid(KO, "inputs.initial_cost_of_capital", waccs, "inputs.stable_growth", growths)
        best = min(best, time.perf_counter() - t)
    assert best < 0.05  # target 5 ms on an idle machine; generous here (shared CI)


# --- tornado, scenarios, football field --------------------------------------------------------


def test_tornado_sorted_by_swing() -> None:
    out = _run(
        "tornado",
        base=KO,
        variables=[
            {"path": "inputs.growth_year_1", "low": 0.04, "high": 0.06},
            {"path": "inputs.initial_cost_of_capital", "low": 0.065, "high": 0.08},
        ],
    )["outputs"]
    swings = [b["swing"] for b in out["bars"]]
    assert swings == sorted(swings, reverse=True)
    assert out["base_value"] == KO_VALUE


def test_single_certain_scenario_equals_that_scenario() -> None:
    out = _run(
        "scenarios",
        base=KO,
        scenarios=[{"name": "bull", "probability": 1.0, "overrides": {"inputs.growth_year_1": 0.08}}],
    )["outputs"]
    req = json.loads(json.dumps(KO))
    req["inputs"]["growth_year_1"] = 0.08
    assert out["weighted_value"] == water_engine.run(req)["outputs"]["value_per_share"]


def test_scenario_probabilities_must_sum_to_one() -> None:
    with pytest.raises(water_engine.ValidationError) as exc:
        _run("scenarios", base=KO, scenarios=[{"name": "a", "probability": 0.5}, {"name": "b", "probability": 0.4}])
    assert str(exc.value) == "inputs.scenarios: probabilities must sum to 1 (they sum to 0.9)"


def test_weighted_scenarios() -> None:
    out = _run(
        "scenarios",
        base=KO,
        scenarios=[
            {"name": "base", "probability": 0.5},
            {"name": "bear", "probability": 0.5, "overrides": {"inputs.target_margin": 0.25}},
        ],
    )["outputs"]
    bear = out["scenarios"][1]["value"]
    assert out["weighted_value"] == 0.5 * KO_VALUE + 0.5 * bear


def test_football_field() -> None:
    out = _run(
        "football_field",
        methods=[
            {"name": "DCF", "low": 30, "high": 50, "weight": 3},
            {"name": "Comparables", "low": 40, "high": 80, "weight": 1},
        ],
        price=72.28,
    )["outputs"]
    assert out["weighted_low"] == pytest.approx(0.75 * 30 + 0.25 * 40)
    assert out["weighted_high"] == pytest.approx(0.75 * 50 + 0.25 * 80)
    assert out["price_in_weighted_range"] is False


# --- Monte Carlo ------------------------------------------------------------------------------


def _mc(drivers: list[dict[str, Any]], paths: int = 2000, **extra: Any) -> dict[str, Any]:
    return _run("monte_carlo", base=KO, drivers=drivers, paths=paths, **extra)


def test_zero_variance_equals_the_deterministic_value() -> None:
    drivers = [
        {"path": "inputs.growth_year_1", "distribution": "normal", "mean": 0.05, "stdev": 0.0},
        {"path": "inputs.initial_cost_of_capital", "distribution": "lognormal", "mean": WACC, "stdev": 0.0},
        {
            "path": "inputs.target_margin",
            "distribution": "triangular",
            "low": 0.29732056386527494,
            "mode": 0.29732056386527494,
            "high": 0.29732056386527494,
        },
        {
            "path": "inputs.stable_return_on_capital",
            "distribution": "uniform",
            "low": 0.08910000000000003,
            "high": 0.08910000000000003,
        },
    ]
    out = _mc(drivers, correlations=[{"a": "inputs.growth_year_1", "b": "inputs.target_margin", "rho": 0.3}])["outputs"]
    assert out["mean"] == KO_VALUE
    assert out["stdev"] == 0.0
    assert set(out["percentiles"].values()) == {KO_VALUE}
    assert out["deterministic_value"] == KO_VALUE


def test_seeded_and_reproducible() -> None:
    drivers = [{"path": "inputs.growth_year_1", "distribution": "normal", "mean": 0.05, "stdev": 0.02}]
    a = _mc(drivers, seed=7)
    b = _mc(drivers, seed=7)
    c = _mc(drivers, seed=8)
    assert a == b
    assert a["outputs"]["mean"] != c["outputs"]["mean"]


def test_sampled_moments_and_truncation() -> None:
    drivers = [
        A.Driver(path="inputs.a", distribution="normal", mean=1.0, stdev=2.0),
        A.Driver(path="inputs.b", distribution="lognormal", mean=2.0, stdev=0.5),
        A.Driver(path="inputs.c", distribution="triangular", low=0.0, mode=1.0, high=4.0),
        A.Driver(path="inputs.d", distribution="uniform", low=-1.0, high=1.0, truncate_low=0.0),
    ]
    draws, rejected = A.sample_paths(drivers, [], 40_000, 3)
    cols = list(zip(*draws, strict=True))
    assert statistics.fmean(cols[0]) == pytest.approx(1.0, abs=0.05)
    assert statistics.stdev(cols[0]) == pytest.approx(2.0, rel=0.03)
    assert statistics.fmean(cols[1]) == pytest.approx(2.0, rel=0.02)
    assert statistics.stdev(cols[1]) == pytest.approx(0.5, rel=0.05)
    assert statistics.fmean(cols[2]) == pytest.approx(5.0 / 3.0, rel=0.02)
    assert min(cols[3]) >= 0.0
    assert rejected > 0


def test_correlation_is_reproduced() -> None:
    drivers = [
        A.Driver(path="inputs.a", distribution="normal", mean=0.0, stdev=1.0),
        A.Driver(path="inputs.b", distribution="uniform", low=0.0, high=1.0),
    ]
    draws, _ = A.sample_paths(drivers, [A.Correlation(a="inputs.a", b="inputs.b", rho=0.7)], 20_000, 5)
    a, b = zip(*draws, strict=True)
    # Spearman-like: correlation of a with Phi^-1(b) should be 0.7.
    z = [ND.inv_cdf(x) for x in b]
    assert statistics.correlation(list(a), z) == pytest.approx(0.7, abs=0.02)


def test_non_positive_definite_correlation_is_rejected() -> None:
    drivers = [
        {"path": f"inputs.{n}", "distribution": "normal", "mean": 0.05, "stdev": 0.01}
        for n in ("growth_year_1", "growth_years_2_5", "target_margin")
    ]
    corr = [
        {"a": "inputs.growth_year_1", "b": "inputs.growth_years_2_5", "rho": 0.9},
        {"a": "inputs.growth_year_1", "b": "inputs.target_margin", "rho": 0.9},
        {"a": "inputs.growth_years_2_5", "b": "inputs.target_margin", "rho": -0.9},
    ]
    with pytest.raises(water_engine.ValidationError, match="not positive definite"):
        _mc(drivers, correlations=corr)


def test_statistics_and_probability_above_price() -> None:
    drivers = [{"path": "inputs.initial_cost_of_capital", "distribution": "uniform", "low": 0.05, "high": 0.09}]
    out = _mc(drivers, paths=3000, price=45.0)["outputs"]
    assert out["price"] == 45.0
    assert 0.0 < out["probability_above_price"] < 1.0
    assert sum(b["count"] for b in out["histogram"]) == out["valid_paths"] == 3000
    p = out["percentiles"]
    assert p["p5"] <= p["p50"] <= p["p95"]


def test_invalid_paths_are_counted() -> None:
    drivers = [{"path": "inputs.stable_growth", "distribution": "uniform", "low": 0.0, "high": 0.12}]
    result = _mc(drivers, paths=500)
    assert result["outputs"]["invalid_paths"] > 0
    assert result["warnings"]


def test_monte_carlo_mean_is_close_to_the_value_for_random_requests() -> None:
    rng = random.Random(1)
    for seed in rng.sample(range(1000), 5):
        base = random_ginzu_request(seed)
        mean = base["inputs"]["initial_cost_of_capital"]
        drivers = [{"path": "inputs.initial_cost_of_capital", "distribution": "normal", "mean": mean, "stdev": 0.0}]
        out = water_engine.run({"model": "monte_carlo", "inputs": {"base": base, "drivers": drivers, "paths": 50}})
        assert out["outputs"]["mean"] == water_engine.run(base)["outputs"]["value_per_share"]


def test_errors_name_paths() -> None:
    with pytest.raises(water_engine.ValidationError) as exc:
        _mc([{"path": "growth", "distribution": "normal", "mean": 0.0, "stdev": 1.0}])
    assert "drivers[0].path" in str(exc.value)
    with pytest.raises(water_engine.ValidationError) as exc:
        _mc([{"path": "inputs.growth_year_1", "distribution": "triangular", "low": 0.0, "high": 1.0}])
    assert "inputs.drivers[0].mode: is required" in str(exc.value)
    with pytest.raises(water_engine.ValidationError) as exc:
        _run("monte_carlo", base={"model": "fcff_ginzu", "inputs": {}}, drivers=[])
    assert "base.inputs.revenues" in str(exc.value) or "drivers" in str(exc.value)


# --- paths that name no input: request errors, before any computation ---------------------------

_EXPLICIT = {"model": "fcff_explicit", "inputs": {"fcff": [10.0, 11.0, 12.0], "discount_rate": 0.08}}
_NO_INPUT = "names no input of model fcff_ginzu; known:"


def _path_error(model: str, inputs: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """The single (path, message) a request is refused with, by validation alone."""

    def no_evaluation(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a path error must be raised before any computation")

    monkeypatch.setattr(A, "Evaluator", no_evaluation)
    request = {"model": model, "inputs": inputs}
    for check in (water_engine.validate, water_engine.run):
        with pytest.raises(water_engine.ValidationError) as exc:
            check(request)
        assert len(exc.value.errors) == 1, exc.value.errors
    error = exc.value.errors[0]
    return error.path, error.message


def test_sensitivity_path_that_names_no_input(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = {"path": "inputs.nope", "values": [0.07, 0.08]}
    columns = {"path": "inputs.stable_growth", "values": [0.02]}
    path, message = _path_error("sensitivity", {"base": KO, "rows": rows, "columns": columns}, monkeypatch)
    assert path == "inputs.rows.path"
    assert message.startswith(f"'inputs.nope' {_NO_INPUT}")
    assert message.endswith("(37 in all)")
    path, message = _path_error(
        "sensitivity",
        {"base": KO, "rows": columns, "columns": {"path": "inputs.initial_cost_of_capitl", "values": [0.08]}},
        monkeypatch,
    )
    assert path == "inputs.columns.path"
    assert "known: initial_cost_of_capital," in message  # the closest names first


def test_monte_carlo_driver_and_correlation_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    good = {"path": "inputs.growth_year_1", "distribution": "normal", "mean": 0.05, "stdev": 0.01}
    typo = {**good, "path": "inputs.growth_yr_1"}
    path, message = _path_error("monte_carlo", {"base": KO, "drivers": [good, typo]}, monkeypatch)
    assert (path, message.split(";")[0]) == (
        "inputs.drivers[1].path",
        "'inputs.growth_yr_1' names no input of model fcff_ginzu",
    )
    correlations = [{"a": "inputs.growth_year_1", "b": "inputs.target_margin", "rho": 0.5}]
    path, message = _path_error(
        "monte_carlo", {"base": KO, "drivers": [good], "correlations": correlations}, monkeypatch
    )
    assert (path, message) == ("inputs.correlations[0].b", "'inputs.target_margin' is not a driver path")
    path, message = _path_error("monte_carlo", {"base": KO, "drivers": [good], "percentiles": [101]}, monkeypatch)
    assert (path, message) == ("inputs.percentiles", "must lie between 0 and 100")


def test_tornado_scenarios_and_reverse_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    variables = [{"path": "inputs.growth_year_1", "low": 0.04, "high": 0.06}, {"path": "inputs.x", "low": 0, "high": 1}]
    path, message = _path_error("tornado", {"base": KO, "variables": variables}, monkeypatch)
    assert path == "inputs.variables[1].path"
    assert message.startswith(f"'inputs.x' {_NO_INPUT}")
    scenarios = [{"name": "bull", "probability": 1.0, "overrides": {"inputs.growth_yr_1": 0.1}}]
    path, message = _path_error("scenarios", {"base": KO, "scenarios": scenarios}, monkeypatch)
    assert path == "inputs.scenarios[0].overrides"
    assert message.startswith(f"'inputs.growth_yr_1' {_NO_INPUT}")
    reverse = {"base": _EXPLICIT, "solve_for": "path", "path": "inputs.discount_rat", "target": 100.0}
    path, message = _path_error("reverse_dcf", reverse, monkeypatch)
    assert path == "inputs.path"
    assert message.startswith("'inputs.discount_rat' names no input of model fcff_explicit; known: discount_rate")


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("inputs.terminal.grwth", "'inputs.terminal.grwth' names no field of inputs.terminal; known: "),
        ("inputs.fcff[3]", "'inputs.fcff[3]': index 3 is beyond the 3 values of inputs.fcff in the base request"),
        ("inputs.revenue[0]", "'inputs.revenue[0]': the base request gives no list at inputs.revenue"),
        ("inputs.discount_rate[0]", "'inputs.discount_rate[0]': inputs.discount_rate is not a list"),
        ("inputs.terminal.method", "'inputs.terminal.method' does not name a number"),
        ("conventions.nope", "'conventions.nope' names no convention of model fcff_explicit; known: timing"),
        ("discount_rate", "'discount_rate' must start with inputs. or conventions."),
    ],
)
def test_path_problems_on_nested_inputs(target: str, message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    variables = [{"path": target, "low": 0.01, "high": 0.02}]
    path, got = _path_error("tornado", {"base": _EXPLICIT, "variables": variables}, monkeypatch)
    assert path == "inputs.variables[0].path"
    assert got.startswith(message)


def test_paths_that_name_inputs_are_accepted() -> None:
    for target in ("inputs.terminal.growth", "inputs.fcff[2]", "inputs.discount_rate", "inputs.price"):
        assert A.path_problem(_EXPLICIT, target) is None, target
    assert A.path_problem(KO, "inputs.initial_cost_of_capital") is None
    assert A.path_problem(KO, "conventions.timing", numeric=False) is None
    # Below a free-form object (the base request of an analysis) any name is accepted.
    nested = {"model": "tornado", "inputs": {"base": KO, "variables": []}}
    assert A.path_problem(nested, "inputs.base.inputs.growth_year_1") is None
    # An unknown base model is reported by the evaluator, as before.
    assert A.path_problem({"model": "nope"}, "inputs.x") is None
    with pytest.raises(water_engine.ValidationError, match=r"base\.model: must name a model"):
        _run("tornado", base={"model": "nope"}, variables=[{"path": "inputs.x", "low": 0, "high": 1}])

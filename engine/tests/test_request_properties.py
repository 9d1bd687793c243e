"""Two properties of every request, beyond spot checks.

1. `from_dict(cls, to_dict(x)) == x` (also through JSON text) for the real input dataclasses:
   Ginzu, explicit DCF, FCFE, DDM, comparables, and the analysis models' inputs (sensitivity,
   tornado, scenarios, Monte Carlo, football field, reverse DCF), on hypothesis-generated values.
   Model inputs start from valid requests (golden cases, seeded random Ginzu requests) whose
   numbers hypothesis moves and whose optional fields it drops; analysis inputs are drawn whole.
2. Every request the golden cases and the seeded random cases use validates against the JSON
   Schema the engine generates (`water_engine.request_schema`), checked by the `jsonschema`
   package (a test-only oracle), and the schema refuses what the engine refuses for its types.
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import jsonschema
import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

import water_engine
from water_engine import MODELS, ValidationError, request_schema
from water_engine.boundary import _dataclass_info, from_dict, to_dict
from water_engine.models import analysis as A
from water_engine.models.reverse import ReverseInputs

sys.path.insert(0, str(Path(__file__).parent))
import random_cases
from golden_cases import golden_requests

GOLDEN = Path(__file__).parent / "golden"


GOLDEN_REQUESTS = golden_requests()
RANDOM_GENERATORS = sorted(
    name for name in dir(random_cases) if name.startswith("random_") and name.endswith("_request")
)


def _seeds(model: str) -> list[dict[str, Any]]:
    return [r for _, r in GOLDEN_REQUESTS if r["model"] == model]


# --- 1. round trips -----------------------------------------------------------------------------


def _plain(hint: Any) -> Any:
    """`X` from `X | None`."""
    if get_origin(hint) in (Union, types.UnionType):
        args = [a for a in get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return hint


def _is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and hasattr(tp, "__dataclass_fields__")


def _moved(draw: st.DrawFn, value: float) -> float | int:
    """A nearby number of another bit pattern (sign kept, so most bounds still hold)."""
    if value == 0:
        return draw(st.sampled_from([0, 0.0, -0.0]))
    return value * draw(st.floats(0.8, 1.25))


def _perturbed(draw: st.DrawFn, cls: Any, data: dict[str, Any]) -> dict[str, Any]:
    """A copy of valid `data` for dataclass `cls`: some numbers moved, some optional fields dropped."""
    out = dict(data)
    for info in _dataclass_info(cls):
        name = info.name
        if name not in out:
            continue
        hint = _plain(info.hint)
        value = out[name]
        if not info.required and draw(st.integers(0, 9)) == 0:
            del out[name]  # back to the default
        elif _is_dataclass_type(hint) and isinstance(value, dict):
            out[name] = _perturbed(draw, hint, value)
        elif get_origin(hint) is list and isinstance(value, list):
            item = _plain(get_args(hint)[0])
            if _is_dataclass_type(item):
                out[name] = [_perturbed(draw, item, v) if isinstance(v, dict) else v for v in value]
            elif item is float:
                out[name] = [_moved(draw, v) for v in value]
        elif hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            out[name] = _moved(draw, value)
    return out


@st.composite
def valid_inputs(draw: st.DrawFn, model: str, seeds: list[dict[str, Any]]) -> Any:
    base = draw(st.sampled_from(seeds))
    cls = MODELS[model].inputs
    data = _perturbed(draw, cls, base["inputs"])
    try:
        return from_dict(cls, data, "inputs")
    except ValidationError:
        reject()  # a move made the request invalid: draw another


def _assert_round_trip(cls: Any, x: Any) -> None:
    assert from_dict(cls, to_dict(x)) == x
    assert from_dict(cls, json.loads(json.dumps(to_dict(x), allow_nan=False))) == x
    assert to_dict(from_dict(cls, to_dict(x))) == to_dict(x)


GINZU_SEEDS = _seeds("fcff_ginzu") + [random_cases.random_ginzu_request(seed) for seed in range(40)]
ROUND_TRIP_MODELS = {
    "fcff_ginzu": GINZU_SEEDS,
    "fcff_explicit": _seeds("fcff_explicit"),
    "fcfe": _seeds("fcfe"),
    "ddm": _seeds("ddm"),
    "comparables": _seeds("comparables"),
    "football_field": _seeds("football_field"),
    "reverse_dcf": _seeds("reverse_dcf"),
}
ROUND_TRIP = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])


@pytest.mark.parametrize("model", sorted(ROUND_TRIP_MODELS))
def test_model_inputs_round_trip(model: str) -> None:
    seeds = ROUND_TRIP_MODELS[model]
    assert seeds, f"no valid request of {model} to start from"
    cls = MODELS[model].inputs

    @ROUND_TRIP
    @given(valid_inputs(model, seeds))
    def check(x: Any) -> None:
        _assert_round_trip(cls, x)

    check()


finite = st.floats(-1e6, 1e6, allow_nan=False)
BASES = GINZU_SEEDS[:10] + _seeds("fcff_explicit")


def _numeric_paths(base: dict[str, Any]) -> list[str]:
    """Numeric inputs of the base request, one level deep and the first items of lists (what an
    analysis may vary), as `path_problem` accepts them."""

    def number(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    paths = []
    for k, v in base["inputs"].items():
        if number(v):
            paths.append(f"inputs.{k}")
        elif isinstance(v, list):
            paths.extend(f"inputs.{k}[{i}]" for i, item in enumerate(v[:2]) if number(item))
        elif isinstance(v, dict):
            paths.extend(f"inputs.{k}.{name}" for name, item in v.items() if number(item))
    assert all(A.path_problem(base, p) is None for p in paths), paths
    return paths


@st.composite
def base_and_paths(draw: st.DrawFn, count: int) -> tuple[dict[str, Any], list[str]]:
    base = draw(st.sampled_from(BASES))
    paths = _numeric_paths(base)
    return base, draw(st.lists(st.sampled_from(paths), min_size=count, max_size=count, unique=True))


@st.composite
def sensitivity_inputs(draw: st.DrawFn) -> dict[str, Any]:
    base, (row, column) = draw(base_and_paths(2))
    axis = st.lists(finite, min_size=1, max_size=9)
    output = draw(st.sampled_from(["value_per_share", "enterprise_value"]))
    return {"base": base, "rows": {"path": row, "values": draw(axis)},
            "columns": {"path": column, "values": draw(axis)}, "output": output}  # fmt: skip


@st.composite
def tornado_inputs(draw: st.DrawFn) -> dict[str, Any]:
    base, paths = draw(base_and_paths(draw(st.integers(1, 3))))
    return {"base": base, "variables": [{"path": p, "low": draw(finite), "high": draw(finite)} for p in paths]}


@st.composite
def scenarios_inputs(draw: st.DrawFn) -> dict[str, Any]:
    base, paths = draw(base_and_paths(2))
    n = draw(st.integers(1, 4))
    probabilities = [1.0 / n] * n
    scenarios = [
        {"name": f"s{i}", "probability": p, "overrides": draw(st.dictionaries(st.sampled_from(paths), finite))}
        for i, p in enumerate(probabilities)
    ]
    return {"base": base, "scenarios": scenarios}


@st.composite
def driver(draw: st.DrawFn, path: str) -> dict[str, Any]:
    kind = draw(st.sampled_from(["normal", "lognormal", "triangular", "uniform"]))
    d: dict[str, Any] = {"path": path, "distribution": kind}
    if kind in ("normal", "lognormal"):
        d["mean"] = draw(st.floats(1e-6, 1e6) if kind == "lognormal" else finite)
        d["stdev"] = draw(st.floats(0.0, 1e3))
    else:
        lo, mode, hi = sorted(draw(st.lists(finite, min_size=3, max_size=3)))
        d.update(low=lo, high=hi, **({"mode": mode} if kind == "triangular" else {}))
    if draw(st.booleans()):
        cut_lo, cut_hi = sorted(draw(st.lists(finite, min_size=2, max_size=2)))
        d.update(truncate_low=cut_lo, truncate_high=cut_hi)
    return d


@st.composite
def monte_carlo_inputs(draw: st.DrawFn) -> dict[str, Any]:
    base, paths = draw(base_and_paths(draw(st.integers(1, 3))))
    data: dict[str, Any] = {"base": base, "drivers": [draw(driver(p)) for p in paths]}
    if len(paths) > 1 and draw(st.booleans()):
        data["correlations"] = [{"a": paths[0], "b": paths[1], "rho": draw(st.floats(-1.0, 1.0))}]
    if draw(st.booleans()):
        data.update(
            paths=draw(st.integers(1, 1_000_000)),
            seed=draw(st.integers(-(2**64), 2**64)),
            percentiles=draw(st.lists(st.floats(0.0, 100.0), max_size=8)),
            bins=draw(st.integers(1, 1000)),
            price=draw(st.none() | st.floats(0.01, 1e4)),
        )
    return data


@st.composite
def football_field_inputs(draw: st.DrawFn) -> dict[str, Any]:
    methods = []
    for i in range(draw(st.integers(1, 5))):
        lo, hi = sorted(draw(st.lists(finite, min_size=2, max_size=2)))
        methods.append({"name": f"m{i}", "low": lo, "high": hi, "weight": draw(st.floats(0.01, 10.0))})
    return {"methods": methods, "price": draw(st.none() | finite)}


@st.composite
def reverse_inputs(draw: st.DrawFn) -> dict[str, Any]:
    base, (path,) = draw(base_and_paths(1))
    low, high = sorted(draw(st.lists(finite, min_size=2, max_size=2, unique=True)))
    return {"base": base, "solve_for": "path", "path": path, "target": draw(st.none() | finite),
            "low": low, "high": high, "steps": draw(st.integers(1, 10_000))}  # fmt: skip


ANALYSIS = {
    "sensitivity": (A.SensitivityInputs, sensitivity_inputs()),
    "tornado": (A.TornadoInputs, tornado_inputs()),
    "scenarios": (A.ScenariosInputs, scenarios_inputs()),
    "monte_carlo": (A.MonteCarloInputs, monte_carlo_inputs()),
    "football_field": (A.FootballFieldInputs, football_field_inputs()),
    "reverse_dcf": (ReverseInputs, reverse_inputs()),
}


@pytest.mark.parametrize("model", sorted(ANALYSIS))
def test_analysis_inputs_round_trip(model: str) -> None:
    cls, strategy = ANALYSIS[model]
    assert MODELS[model].inputs is cls

    @settings(max_examples=60, deadline=None)
    @given(strategy)
    def check(data: dict[str, Any]) -> None:
        x = from_dict(cls, data, "inputs")  # every drawn request is valid
        _assert_round_trip(cls, x)
        _validator(model).validate({"model": model, "inputs": data})

    check()


# --- 2. the generated JSON Schema accepts every request the engine accepts -----------------------

_VALIDATORS: dict[str, Any] = {}


def _validator(model: str) -> Any:
    if model not in _VALIDATORS:
        schema = request_schema(model)
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        _VALIDATORS[model] = cls(schema)
    return _VALIDATORS[model]


def _schema_errors(request: dict[str, Any]) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in _validator(request["model"]).iter_errors(request)]


def _check_request(request: dict[str, Any]) -> None:
    water_engine.validate(request)  # the engine accepts it ...
    assert _schema_errors(request) == []  # ... and so does its schema
    base = request.get("inputs", {}).get("base")
    if isinstance(base, dict) and base.get("model") in MODELS:
        assert _schema_errors(base) == []  # an analysis' base is a request too


@pytest.mark.parametrize("request_", [r for _, r in GOLDEN_REQUESTS], ids=[n for n, _ in GOLDEN_REQUESTS])
def test_golden_requests_validate_against_the_schema(request_: dict[str, Any]) -> None:
    _check_request(request_)


@pytest.mark.parametrize("generator", RANDOM_GENERATORS)
def test_random_case_requests_validate_against_the_schema(generator: str) -> None:
    make = getattr(random_cases, generator)
    for seed in range(25):
        _check_request(make(seed))


def test_every_model_has_a_golden_or_random_request() -> None:
    covered = {r["model"] for _, r in GOLDEN_REQUESTS}
    covered |= {getattr(random_cases, g)(0)["model"] for g in RANDOM_GENERATORS}
    covered |= set(ANALYSIS)
    assert covered >= {"fcff_ginzu", "fcff_explicit", "fcfe", "ddm", "comparables", "irr", "xirr", "npv"}


@pytest.mark.parametrize(
    ("model", "inputs", "where"),
    [
        ("npv", {"rate": 0.1, "flows": [1.0], "bogus": 1}, ["inputs"]),  # unknown field
        ("npv", {"rate": "0.1", "flows": [1.0]}, ["inputs", "rate"]),  # wrong type
        ("npv", {"rate": -1, "flows": [1.0]}, ["inputs", "rate"]),  # out of bounds (gt -1)
        ("npv", {"flows": [1.0]}, ["inputs"]),  # required field missing
        ("comparables", {"peers": [{"name": "A", "market_cap": True}], "subject": {}}, None),  # bool is no number
    ],
)
def test_the_schema_refuses_what_the_engine_refuses(model: str, inputs: dict[str, Any], where: Any) -> None:
    request = {"model": model, "inputs": inputs}
    with pytest.raises(ValidationError):
        water_engine.validate(request)
    errors = list(_validator(model).iter_errors(request))
    assert errors, "the schema accepted a request the engine refuses"
    if where is not None:
        assert any(list(e.absolute_path)[: len(where)] == where for e in errors)

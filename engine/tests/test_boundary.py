"""The JSON boundary: round trips, rejection of unknown fields / NaN / infinity, field paths in
errors, and a JSON Schema for every registered model's request."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import water_engine
from water_engine import MODELS, ValidationError, request_schema
from water_engine.boundary import from_dict, json_schema, to_dict
from water_engine.errors import UnknownModelError
from water_engine.models.relative import ComparablesInputs

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(GOLDEN.glob("*.json"))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_schema_for_every_model(name: str) -> None:
    schema = request_schema(name)
    text = json.dumps(schema)  # JSON-serialisable
    assert json.loads(text) == schema
    assert schema["properties"]["model"] == {"const": name}
    assert schema["additionalProperties"] is False
    inputs = schema["properties"]["inputs"]
    assert "$ref" in inputs or inputs.get("type") == "object"
    assert schema["description"], f"{name} has no summary"


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_golden_requests_round_trip(path: Path) -> None:
    request = json.loads(path.read_text())["request"]
    spec = MODELS[request["model"]]
    inputs = from_dict(spec.inputs, request.get("inputs", {}))
    assert from_dict(spec.inputs, to_dict(inputs)) == inputs
    conventions = from_dict(spec.conventions, request.get("conventions") or {})
    assert from_dict(spec.conventions, to_dict(conventions)) == conventions
    out = water_engine.run(request)
    assert out["engine_version"] == water_engine.__version__
    assert json.loads(json.dumps(out, allow_nan=False)) == out  # no NaN or infinity anywhere


@dataclass(frozen=True)
class Leg:
    """A nested dataclass for the tests."""

    rate: float = field(metadata={"doc": "decimal", "ge": 0, "lt": 1})
    when: tuple[str, float] | None = None


@dataclass(frozen=True)
class Sample:
    """A sample input."""

    name: str
    amount: float
    legs: list[Leg] = field(default_factory=list)
    count: int = 1


samples = st.builds(
    Sample,
    name=st.text(max_size=8),
    amount=st.floats(allow_nan=False, allow_infinity=False),
    legs=st.lists(
        st.builds(
            Leg,
            rate=st.floats(0, 0.999),
            when=st.none() | st.tuples(st.text(max_size=5), st.floats(allow_nan=False, allow_infinity=False)),
        ),
        max_size=3,
    ),
    count=st.integers(-1000, 1000),
)


@given(samples)
def test_round_trip_property(sample: Sample) -> None:
    assert from_dict(Sample, to_dict(sample)) == sample
    assert from_dict(Sample, json.loads(json.dumps(to_dict(sample)))) == sample


def _errors(data: Any) -> list[str]:
    with pytest.raises(ValidationError) as exc:
        from_dict(Sample, data)
    return [str(e) for e in exc.value.errors]


def test_unknown_field_rejected() -> None:
    assert _errors({"name": "x", "amount": 1, "colour": "red"}) == ["colour: unknown field"]
    with pytest.raises(ValidationError, match=r"inputs.bogus: unknown field"):
        water_engine.run({"model": "npv", "inputs": {"rate": 0.1, "flows": [1], "bogus": 1}})
    with pytest.raises(ValidationError, match="extra: unknown field"):
        water_engine.run({"model": "npv", "inputs": {"rate": 0.1, "flows": [1]}, "extra": 1})


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_rejected(bad: float) -> None:
    assert _errors({"name": "x", "amount": bad}) == ["amount: must be a finite number"]
    with pytest.raises(ValidationError, match=r"inputs.flows\[1\]: must be a finite number"):
        water_engine.run({"model": "npv", "inputs": {"rate": 0.1, "flows": [1.0, bad]}})


def test_integer_beyond_the_float_range_rejected() -> None:
    # JSON numbers may have any number of digits; Python parses such a literal to an int.
    assert _errors({"name": "x", "amount": 10**400}) == ["amount: must be a finite number"]


def test_paths_in_errors() -> None:
    errors = _errors(
        {"name": 3, "amount": "1", "legs": [{"rate": 0.5}, {"rate": 1.5, "when": ["d", "x"]}], "count": 1.5}
    )
    assert errors == [
        "name: must be a string",
        "amount: must be a number",
        "legs[1].rate: must be less than 1",
        "legs[1].when[1]: must be a number",
        "count: must be an integer",
    ]
    assert _errors({"amount": 1}) == ["name: is required"]
    with pytest.raises(ValidationError) as exc:
        from_dict(
            ComparablesInputs,
            {"peers": [{"name": "A", "market_cap": 1}, {"name": "B", "market_cap": True}], "subject": {}},
            "inputs",
        )
    assert str(exc.value) == "inputs.peers[1].market_cap: must be a number"


def test_booleans_are_not_numbers_and_integers_become_floats() -> None:
    assert _errors({"name": "x", "amount": True}) == ["amount: must be a number"]
    value = from_dict(Sample, {"name": "x", "amount": 2})
    assert isinstance(value.amount, float)


def test_unknown_model() -> None:
    with pytest.raises(UnknownModelError, match="unknown model 'nope'"):
        water_engine.run({"model": "nope", "inputs": {}})


def test_schema_shapes() -> None:
    schema = json_schema(Sample)
    sample = schema["$defs"]["Sample"]
    assert sample["required"] == ["name", "amount"]
    assert sample["properties"]["count"]["default"] == 1
    leg = schema["$defs"]["Leg"]
    assert leg["properties"]["rate"]["minimum"] == 0
    assert leg["properties"]["rate"]["exclusiveMaximum"] == 1
    assert leg["properties"]["rate"]["description"] == "decimal"
    when = leg["properties"]["when"]["anyOf"][0]
    assert when["prefixItems"] == [{"type": "string"}, {"type": "number"}]
    assert when["minItems"] == when["maxItems"] == 2


@dataclass(frozen=True)
class Bounded:
    """One field per kind of bound the compiled plan turns into a closed interval."""

    open_low: float = field(default=0.5, metadata={"gt": 0})
    closed_both: float = field(default=0.5, metadata={"ge": 0, "le": 1})
    open_high: float | None = field(default=None, metadata={"lt": 1.5})
    unbounded: float = 0.0
    count: int = field(default=1, metadata={"ge": 1, "lt": 10})


_EDGES = [0, 1, 10, 1.5, 0.0, 1.0, -0.0, 5e-324, -5e-324, 1.4999999999999998, 1e308, -1e308, 2**1100]
_EDGES += [math.nan, math.inf, -math.inf, None, True, "1", 9, 10.0]


@given(st.dictionaries(st.sampled_from(["open_low", "closed_both", "open_high", "unbounded", "count"]),
                       st.one_of(st.sampled_from(_EDGES), st.floats(), st.integers())))  # fmt: skip
def test_compiled_plan_agrees_with_the_general_converter(data: dict[str, Any]) -> None:
    _assert_plan_agrees(Bounded, data)


def _assert_plan_agrees(cls: type, data: dict[str, Any]) -> None:
    """The fast plan either gives up or returns exactly what `_convert` returns without errors (the
    same values of the same types); whenever `_convert` finds an error, the fast plan gives up (so
    the error is reported)."""
    from water_engine.boundary import _BAIL, _convert, _fast

    errors: list[Any] = []
    expected = _convert(cls, data, "", errors)
    fast = _fast(cls)(data)
    if errors:
        assert fast is _BAIL
    elif fast is not _BAIL:
        assert fast == expected
        assert repr(vars(fast)) == repr(vars(expected))  # 1 and 1.0 compare equal; their reprs differ


@dataclass(frozen=True)
class Series:
    """Lists of floats, which the compiled plan checks with one type pass and one sum."""

    values: list[float] = field(default_factory=list)
    maybe: list[float] | None = None


@given(st.dictionaries(st.sampled_from(["values", "maybe"]),
                       st.one_of(st.none(), st.lists(st.one_of(st.sampled_from(_EDGES), st.floats()), max_size=6))))  # fmt: skip
def test_compiled_plan_agrees_on_lists_of_floats(data: dict[str, Any]) -> None:
    _assert_plan_agrees(Series, data)


def test_finite_floats_whose_sum_overflows_pass_the_compiled_plan() -> None:
    # The one-sum check sees infinity here, but every value is finite: the plan accepts them one by one.
    from water_engine.boundary import _BAIL, _fast

    values = [1e308, 1e308, -1e308]
    assert _fast(Series)({"values": values}) is not _BAIL
    assert from_dict(Series, {"values": values}).values == values
    with pytest.raises(ValidationError, match=r"values\[1\]: must be a finite number"):
        from_dict(Series, {"values": [1.0, math.nan]})

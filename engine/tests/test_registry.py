"""`run`'s guarantees on what models return: no NaN or infinity anywhere in the outputs or the
schedule (whichever form the model returns them in), and plain JSON out."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

import water_engine
from water_engine import EngineError, NotComputableError
from water_engine.registry import MODELS, Result, Table, _default_conventions, register_model


@dataclass(frozen=True)
class Given:
    """The test model returns whatever it is given."""

    outputs: dict[str, Any]
    columns: dict[str, list[Any]] | None = None
    text: list[str] | None = None
    numbers: list[list[Any]] | None = None


@pytest.fixture(scope="module", autouse=True)
def echo_model() -> Iterator[None]:
    @register_model("test_echo", inputs=Given)
    def compute(inputs: Given, conventions: Any) -> Result:
        schedule = None
        if inputs.columns is not None:
            keys = tuple(inputs.columns)
            numbers = None if inputs.numbers is None else tuple(inputs.numbers)
            schedule = Table(keys, tuple(inputs.columns.values()), None, frozenset(inputs.text or ()), numbers)
        return Result(outputs=dict(inputs.outputs), schedule=schedule)

    yield
    del MODELS["test_echo"]


def echo(
    outputs: dict[str, Any],
    columns: dict[str, list[Any]] | None = None,
    text: list[str] | None = None,
    numbers: list[list[Any]] | None = None,
) -> Any:
    inputs: dict[str, Any] = {"outputs": outputs, "columns": columns, "text": text, "numbers": numbers}
    return water_engine.run({"model": "test_echo", "inputs": inputs})


def test_plain_outputs_and_rows() -> None:
    out = echo(
        {"a": 1.5, "b": None, "c": True, "d": 2}, {"year": [1, 2], "label": ["x", None], "v": [0.5, None]}, ["label"]
    )
    assert out["outputs"] == {"a": 1.5, "b": None, "c": True, "d": 2}
    assert out["schedule"] == [{"year": 1, "label": "x", "v": 0.5}, {"year": 2, "label": None, "v": None}]


def test_integers_too_large_for_a_float_are_plain_json() -> None:
    out = echo({"a": 10**400, "b": 1.0}, {"count": [10**400, 1]})
    assert out["outputs"]["a"] == 10**400
    assert [row["count"] for row in out["schedule"]] == [10**400, 1]


def test_finite_values_whose_sum_overflows_are_accepted() -> None:
    # The one-pass check sums every value; finite values can overflow together and must pass.
    out = echo({"a": 1e308, "b": 1e308}, {"v": [1e308, 1e308], "w": [-1e308, 1e308]})
    assert out["outputs"] == {"a": 1e308, "b": 1e308}
    assert [row["v"] for row in out["schedule"]] == [1e308, 1e308]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_output_refused(bad: float) -> None:
    with pytest.raises(NotComputableError, match=r"beyond the float range at outputs\.b"):
        echo({"a": 1.0, "b": bad})
    with pytest.raises(EngineError, match=r"outputs\.nested\.x"):
        echo({"a": 1.0, "nested": {"x": bad}})


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_schedule_value_refused(bad: float) -> None:
    with pytest.raises(EngineError, match=r"schedule\[1\]\.v"):
        echo({"a": 1.0}, {"year": [1, 2], "v": [0.5, bad]})
    # ... also in a column declared as text, and beside text in an undeclared column.
    with pytest.raises(EngineError, match=r"schedule\[0\]\.label"):
        echo({"a": 1.0}, {"label": [bad, "x"]}, ["label"])
    with pytest.raises(EngineError, match=r"schedule\[1\]\.mixed"):
        echo({"a": 1.0}, {"mixed": ["x", bad]})


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_a_table_s_plain_numbers_are_checked(bad: float) -> None:
    # A model may hand over its numbers without the columns' None entries, for one unfiltered sum.
    columns = {"year": [1, 2], "v": [None, 0.5]}
    assert echo({"a": 1.0}, columns, numbers=[[1, 2], [0.5]])["schedule"][1] == {"year": 2, "v": 0.5}
    with pytest.raises(EngineError, match=r"schedule\[1\]\.v"):
        echo({"a": 1.0}, {"year": [1, 2], "v": [None, bad]}, numbers=[[1, 2], [bad]])


def test_plain_numbers_holding_none_fall_back_to_the_columns() -> None:
    out = echo({"a": 1.0}, {"v": [None, 0.5]}, numbers=[[None, 0.5]])
    assert out["schedule"] == [{"v": None}, {"v": 0.5}]
    with pytest.raises(EngineError, match=r"schedule\[1\]\.v"):
        echo({"a": 1.0}, {"v": [None, math.nan]}, numbers=[[None, math.nan]])


def test_columns_of_unequal_length_refused() -> None:
    with pytest.raises(EngineError, match="columns of equal length"):
        echo({"a": 1.0}, {"year": [1, 2], "v": [0.5]})


def test_default_conventions_are_parsed_once_and_shared() -> None:
    spec = MODELS["fcff_ginzu"]
    assert _default_conventions(spec) is _default_conventions(spec)
    assert _default_conventions(spec).timing == "end_of_year"
    end = water_engine.run({"model": "fcff_ginzu", "inputs": _GINZU})
    assert end == water_engine.run({"model": "fcff_ginzu", "inputs": _GINZU, "conventions": {}})
    assert end == water_engine.run({"model": "fcff_ginzu", "inputs": _GINZU, "conventions": None})
    assert end != water_engine.run({"model": "fcff_ginzu", "inputs": _GINZU, "conventions": {"timing": "mid_year"}})


_GINZU = {
    "revenues": 1000.0,
    "ebit": 100.0,
    "shares_outstanding": 10.0,
    "effective_tax_rate": 0.2,
    "marginal_tax_rate": 0.25,
    "growth_year_1": 0.05,
    "sales_to_capital_years_1_5": 2.0,
    "riskfree_rate": 0.04,
    "initial_cost_of_capital": 0.09,
}

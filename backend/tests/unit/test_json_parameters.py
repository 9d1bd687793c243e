"""JSON and JSONB parameters are written by orjson (water.db.session.json_dumps): the same JSON as
json.dumps for what Water stores, and null where json.dumps would write NaN (which PostgreSQL refuses)."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime
from typing import Any

import pytest

from water.db.session import json_dumps


@pytest.mark.parametrize(
    "value",
    [
        {"revenue": {"value": 1100.0, "source": "INCOME_STATEMENT.totalRevenue", "snapshot_id": None}},
        {"outputs": {"value_per_share": 108.54981890590882, "upside": -0.1}, "warnings": ["é ü — \u2028"]},
        [1, 2.5, True, None, "x", {"nested": [0.1, 1e-300, 1.7976931348623157e308]}],
    ],
)
def test_same_json_as_json_dumps(value: Any) -> None:
    assert json.loads(json_dumps(value)) == json.loads(json.dumps(value))


def test_keys_that_are_not_strings_become_strings_as_json_dumps_makes_them() -> None:
    assert json.loads(json_dumps({1: "a", 2.5: "b"})) == json.loads(json.dumps({1: "a", 2.5: "b"}))


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_become_null(bad: float) -> None:
    assert json.loads(json_dumps({"x": bad})) == {"x": None}


def test_what_orjson_cannot_write_goes_through_json_dumps() -> None:
    big = {"cik": 10**30, "nested": [2**64]}
    assert json.loads(json_dumps(big)) == big


def test_dates_are_written_as_orjson_writes_them_on_either_path() -> None:
    day, moment = date(2024, 12, 31), datetime(2024, 12, 31, 16, 30, tzinfo=UTC)
    assert json.loads(json_dumps({"end": day, "at": moment})) == {"end": "2024-12-31", "at": moment.isoformat()}
    assert json.loads(json_dumps({"end": day, "at": moment, "cik": 10**30})) == {
        "end": "2024-12-31",
        "at": moment.isoformat(),
        "cik": 10**30,
    }


def test_what_neither_can_write_is_still_an_error() -> None:
    with pytest.raises(TypeError):
        json_dumps({"x": object()})

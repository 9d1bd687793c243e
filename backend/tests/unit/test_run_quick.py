"""Which runs announce `running` at once: those that may take longer than tens of milliseconds."""

from __future__ import annotations

from water.valuations.compute import quick


def _grid(rows: int, columns: int) -> dict[str, object]:
    return {"inputs": {"rows": {"values": [0.0] * rows}, "columns": {"values": [0.0] * columns}}}


def test_quick_runs() -> None:
    assert quick({"fcff_ginzu": {}})
    assert quick({"fcff_ginzu": {}, "sensitivity": _grid(21, 21)})
    assert quick({"fcff_explicit": {}, "comparables": {}, "football_field": {}})


def test_runs_that_may_take_a_while() -> None:
    assert not quick({"fcff_ginzu": {}, "monte_carlo": {}})
    assert not quick({"fcff_ginzu": {}, "sensitivity": _grid(21, 22)})
    assert not quick({"fcff_ginzu": {}, "sensitivity": _grid(201, 201)})

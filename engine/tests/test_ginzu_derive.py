"""Sensitivity cells derived from one Ginzu resolution (`dcf_ginzu.derive`) against full re-resolution.

For random Ginzu bases and grids over the fields `derive` supports, every cell of the fast
evaluator must equal (`==` on floats, same error text) the evaluator that resolves every field
again (`cache=False`), and a plain `run()` of the varied request; the registered `sensitivity`
model must give the same grid, None positions and warnings as a grid built from the slow path.
"""

from __future__ import annotations

import copy
import dataclasses
import random
import sys
from pathlib import Path
from typing import Any

import pytest

import water_engine
from water_engine.boundary import from_dict
from water_engine.errors import ValidationError
from water_engine.models import analysis as A
from water_engine.models import dcf_ginzu as G

sys.path.insert(0, str(Path(__file__).parent))
from random_cases import random_ginzu_request

PAIRS = [
    ("initial_cost_of_capital", "stable_growth"),
    ("stable_growth", "initial_cost_of_capital"),
    ("stable_cost_of_capital", "stable_growth"),
    ("stable_growth", "stable_cost_of_capital"),
    ("stable_cost_of_capital", "initial_cost_of_capital"),
    ("shares_outstanding", "failure_probability"),
    ("distress_proceeds_fraction", "options_value"),
    ("minority_interests", "preferred_stock"),
    ("non_operating_assets", "stable_growth"),
]
OUTPUTS = ["value_per_share", "value_of_equity", "sum_of_pv", "terminal_value"]


def _values(rng: random.Random, name: str, base: dict[str, Any]) -> list[float]:
    """Axis values around the base, including ones that fail bounds or the stable-growth check."""
    inputs = base["inputs"]
    if name in ("stable_growth", "stable_cost_of_capital", "initial_cost_of_capital"):
        centre = inputs.get(name, inputs["riskfree_rate"])
        return [centre + rng.uniform(-0.06, 0.08) for _ in range(6)] + [0.0, -1.0, 0.2]
    if name in ("failure_probability", "distress_proceeds_fraction"):
        return [rng.uniform(-0.1, 1.1) for _ in range(6)] + [0.0, 1.0, -0.1, 1.1]
    if name == "shares_outstanding":
        return [inputs[name] * rng.uniform(0.5, 2.0) for _ in range(5)] + [0.0, -1.0]
    scale = inputs["revenues"]
    return [scale * rng.uniform(-0.05, 0.2) for _ in range(6)] + [0.0, -0.01 * scale]


def _cell(ev: A.Evaluator, overrides: dict[str, float]) -> tuple[str, Any]:
    try:
        return ("value", ev(overrides))
    except (ValidationError, ArithmeticError) as exc:
        return (type(exc).__name__, str(exc))


def _timed_case(salt: int, seed: int, timing: str) -> tuple[random.Random, dict[str, Any], tuple[str, str], list[str]]:
    """(random source, a random Ginzu base with `timing`, its axis pair, the pair's paths)."""
    base = random_ginzu_request(seed)
    base["conventions"] = {"timing": timing}
    row, col = PAIRS[seed % len(PAIRS)]
    return random.Random(salt + seed), base, (row, col), [f"inputs.{row}", f"inputs.{col}"]


def test_derivable_fields_are_read_once_by_resolve() -> None:
    """Each slot-copied field is copied unchanged: changing it changes exactly its own ValParams slot."""
    inputs = from_dict(G.GinzuInputs, random_ginzu_request(3)["inputs"], "inputs")
    fields = {f.name: getattr(inputs, f.name) for f in dataclasses.fields(G.GinzuInputs)}
    ref = G.prepare_fields(fields, False)
    for name, slot in G.VAL_SLOT.items():
        changed = G.prepare_fields({**fields, name: 12345.678}, False)
        assert changed.op == ref.op
        assert changed.info == ref.info
        diff = [i for i, (a, b) in enumerate(zip(changed.val, ref.val, strict=True)) if a != b]
        assert diff == [slot]
        assert changed.val[slot] == 12345.678


@pytest.mark.parametrize("seed", range(60))
def test_derived_cells_equal_full_resolution(seed: int) -> None:
    rng = random.Random(7_000 + seed)
    base = random_ginzu_request(seed)
    row, col = PAIRS[seed % len(PAIRS)]
    output = OUTPUTS[seed % len(OUTPUTS)]
    paths = [f"inputs.{row}", f"inputs.{col}"]
    fast = A.Evaluator(base, output, paths)
    slow = A.Evaluator(base, output, paths, cache=False)
    assert fast._fast
    assert slow._fast
    rows, cols = _values(rng, row, base), _values(rng, col, base)
    kinds: set[str] = set()
    for rv in rows:
        for cv in cols:
            overrides = {paths[0]: rv, paths[1]: cv}
            got, want = _cell(fast, overrides), _cell(slow, overrides)
            assert got == want, (overrides, got, want)
            kinds.add(got[0])
            if seed % 6 == 0 and got[0] == "value":
                request = copy.deepcopy(base)
                request["inputs"][row], request["inputs"][col] = rv, cv
                assert water_engine.run(request)["outputs"][output] == got[1]
    assert "value" in kinds
    if {row, col} != {"minority_interests", "preferred_stock"}:  # the only pair without bounds
        assert "ValidationError" in kinds  # out-of-bounds values and, for stable rates, growth >= cost of capital


@pytest.mark.parametrize("timing", ["end_of_year", "mid_year"])
@pytest.mark.parametrize("seed", range(25))
def test_sensitivity_grid_none_cells_and_warnings(seed: int, timing: str) -> None:
    """The registered grid (fast path) against a grid built cell by cell from full re-resolution."""
    rng = random.Random(9_000 + seed)
    base = random_ginzu_request(seed)
    base["conventions"] = {"timing": timing}
    row, col = ("initial_cost_of_capital", "stable_growth") if seed % 2 == 0 else PAIRS[seed % len(PAIRS)]
    rows, cols = _values(rng, row, base), _values(rng, col, base)
    request = {
        "model": "sensitivity",
        "inputs": {
            "base": base,
            "rows": {"path": f"inputs.{row}", "values": rows},
            "columns": {"path": f"inputs.{col}", "values": cols},
        },
    }
    result = water_engine.run(request)
    slow = A.Evaluator(base, "value_per_share", [f"inputs.{row}", f"inputs.{col}"], cache=False)
    grid: list[list[float | None]] = []
    errors: list[str] = []
    for rv in rows:
        line: list[float | None] = []
        for cv in cols:
            try:
                line.append(slow({f"inputs.{row}": rv, f"inputs.{col}": cv}))
            except (ValidationError, ArithmeticError) as exc:
                line.append(None)
                if len(errors) < 5:
                    errors.append(f"inputs.{row}={rv}, inputs.{col}={cv}: {exc}")
        grid.append(line)
    assert result["outputs"]["grid"] == grid
    assert [[v is None for v in line] for line in result["outputs"]["grid"]] == [
        [v is None for v in line] for line in grid
    ]
    assert result["warnings"] == [f"cell not computed: {e}" for e in errors]


@pytest.mark.parametrize("timing", ["end_of_year", "mid_year"])
@pytest.mark.parametrize("seed", range(30))
def test_value_per_share_cells_both_timings(seed: int, timing: str) -> None:
    """value_per_share through the row-shared discounting, both timings, every derivable pair."""
    rng, base, (row, col), paths = _timed_case(11_000, seed, timing)
    fast = A.Evaluator(base, "value_per_share", paths)
    slow = A.Evaluator(base, "value_per_share", paths, cache=False)
    for rv in _values(rng, row, base):
        for cv in _values(rng, col, base):
            overrides = {paths[0]: rv, paths[1]: cv}
            assert _cell(fast, overrides) == _cell(slow, overrides), overrides


@pytest.mark.parametrize("timing", ["end_of_year", "mid_year"])
@pytest.mark.parametrize("seed", range(36))
def test_whole_grid_equals_cell_by_cell(seed: int, timing: str) -> None:
    """`Evaluator.grid` (shared bounds checks, one derive per axis value) against full re-resolution per cell."""
    rng, base, (row, col), paths = _timed_case(13_000, seed, timing)
    rows, cols = _values(rng, row, base), _values(rng, col, base)
    cells = A.Evaluator(base, "value_per_share", paths).grid(paths[0], rows, paths[1], cols)
    if {row, col} <= {"stable_growth", "stable_cost_of_capital"}:
        assert cells is None  # neither axis is a single valuation slot: cell by cell
        return
    assert cells is not None
    slow = A.Evaluator(base, "value_per_share", paths, cache=False)
    got = [[("value", c) if isinstance(c, float) else (type(c).__name__, str(c)) for c in line] for line in cells]
    want = [[_cell(slow, {paths[0]: rv, paths[1]: cv}) for cv in cols] for rv in rows]
    assert got == want


def test_grid_falls_back_when_it_cannot_share_work() -> None:
    base = random_ginzu_request(1)
    path = "inputs.initial_cost_of_capital"
    assert A.Evaluator(base, "value_per_share", [path, path]).grid(path, [0.08], path, [0.09]) is None
    growth = "inputs.stable_growth"
    assert A.Evaluator(base, "sum_of_pv", [path, growth]).grid(path, [0.08], growth, [0.02]) is None
    assert A.Evaluator(base, "value_per_share", [path, growth], cache=False).grid(path, [0.08], growth, [0.02]) is None
    margin = "inputs.target_margin"  # changes the cash flows: not derivable
    assert A.Evaluator(base, "value_per_share", [path, margin]).grid(path, [0.08], margin, [0.1]) is None

"""The shared root finder: Brent in a bracket, and a scan that finds every root."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from water_engine.errors import NoSolutionError
from water_engine.rootfind import find_all_roots, find_root, find_roots_in_parts, linear_grid, scan_brackets


def test_sqrt2() -> None:
    r = find_root(lambda x: x * x - 2.0, 0.0, 2.0)
    assert abs(r - math.sqrt(2.0)) < 1e-12


def test_endpoint_zero_returned_exactly() -> None:
    assert find_root(lambda x: x - 1.0, 1.0, 3.0) == 1.0
    assert find_root(lambda x: x - 3.0, 1.0, 3.0) == 3.0


def test_same_sign_raises_readable_error() -> None:
    with pytest.raises(NoSolutionError, match=r"no solution between 0 and 1: price gap is 1 and 2"):
        find_root(lambda x: x + 1.0, 0.0, 1.0, what="price gap")


def test_invalid_range() -> None:
    with pytest.raises(NoSolutionError, match="invalid search range"):
        find_root(lambda x: x, 1.0, 0.0)


def test_unevaluable_end() -> None:
    with pytest.raises(NoSolutionError, match="cannot be evaluated"):
        find_root(lambda x: 1.0 / x, 0.0, 1.0)


def test_all_roots_of_cubic() -> None:
    roots = find_all_roots(lambda x: (x - 0.1) * (x - 0.25) * (x + 0.5), -1.0, 1.0, steps=97)
    assert len(roots) == 3
    for got, want in zip(roots, [-0.5, 0.1, 0.25], strict=True):
        assert abs(got - want) < 1e-12


def test_grid_point_zero_counted_once() -> None:
    roots = find_all_roots(lambda x: x - 0.5, 0.0, 1.0, steps=4)
    assert roots == [0.5]


def test_no_roots_gives_empty_list() -> None:
    assert find_all_roots(lambda x: x * x + 1.0, -3.0, 3.0, steps=50) == []


def test_non_finite_points_break_brackets() -> None:
    # 1/x changes sign across the pole at 0 but has no root there.
    assert find_all_roots(lambda x: 1.0 / x, -1.0, 1.0, steps=10) == []
    brackets, zeros = scan_brackets(lambda x: 1.0 / x, [-1.0, 0.0, 1.0])
    assert brackets == []
    assert zeros == []


def test_linear_grid_ends_exact() -> None:
    g = linear_grid(-0.99, 10.0, 7)
    assert g[0] == -0.99
    assert g[-1] == 10.0
    assert len(g) == 8


def test_deterministic() -> None:
    f = lambda x: math.cos(x) - x  # noqa: E731
    assert find_root(f, 0.0, 1.0) == find_root(f, 0.0, 1.0)


@given(st.floats(-100, 100), st.floats(0.01, 50))
def test_linear_root_property(root: float, slope: float) -> None:
    got = find_root(lambda x: slope * (x - root), root - 3.0, root + 7.0)
    assert abs(got - root) <= 1e-9


@given(
    root=st.floats(-0.95, 2.0),
    slope=st.sampled_from([-3.0, -0.01, 0.5, 40.0]),
    steps=st.integers(1, 300),
)
def test_single_root_bisection_finds_the_scans_bracket(root: float, slope: float, steps: int) -> None:
    # With at most one sign change on the grid, bisecting the grid must give exactly what walking
    # it gives: the same bracket (so the same root from Brent), a grid point that is exactly zero,
    # or nothing when the root is outside the range.
    def f(x: float) -> float:
        return slope * (x - root) * (1.0 + x * x)

    grid = linear_grid(-0.99, 1.5, steps)
    assert find_roots_in_parts(f, [(grid, 1)]) == find_all_roots(f, -0.99, 1.5, points=grid)


def test_single_root_bisection_on_grid_zeros_and_ends() -> None:
    grid = [0.0, 0.25, 0.5, 0.75, 1.0]
    for root in grid:
        assert find_roots_in_parts(lambda x, r=root: x - r, [(grid, 1)]) == [root]
    assert find_roots_in_parts(lambda x: x - 2.0, [(grid, 1)]) == []
    assert find_roots_in_parts(lambda x: 2.0 - x, [([0.0, 1.0], 1)]) == []


def test_single_root_bisection_steps_back_to_the_scan_where_f_fails() -> None:
    # f cannot be evaluated at 0.5, a point the bisection probes: the scan, which steps over such
    # points, decides instead, and finds the root beyond it.
    calls: list[float] = []

    def f(x: float) -> float:
        calls.append(x)
        if x == 0.5:
            raise ZeroDivisionError
        return x - 0.8

    grid = linear_grid(0.0, 1.0, 4)
    assert find_roots_in_parts(f, [(grid, 1)]) == [pytest.approx(0.8, abs=1e-12)]
    assert 0.25 in calls  # the scan ran: the bisection alone never looks at 0.25


def test_single_root_bisection_looks_at_few_points() -> None:
    calls: list[float] = []

    def f(x: float) -> float:
        calls.append(x)
        return x - 0.123456

    grid = linear_grid(-1.0, 1.0, 4096)
    find_roots_in_parts(f, [(grid, 1)])
    scanned = len(calls)
    calls.clear()
    find_all_roots(f, -1.0, 1.0, points=grid)
    assert scanned < 60 < len(calls)


@given(edge=st.floats(-1.0, 0.9), root=st.floats(-1.0, 1.0))
def test_single_root_bisection_starts_where_f_can_first_be_evaluated(edge: float, root: float) -> None:
    # As NPV overflows toward r = -1: f fails below `edge`. The scan cannot bracket across the
    # points where f fails; the bisection must find the same bracket, or the same nothing.
    def f(x: float) -> float:
        if x < edge:
            raise OverflowError
        return root - x

    grid = linear_grid(-1.0, 1.0, 200)
    assert find_roots_in_parts(f, [(grid, 1)]) == find_all_roots(f, -1.0, 1.0, points=grid)


def test_parts_skip_bisect_or_scan() -> None:
    # A cubic with roots at -0.5, 0.1 and 0.25, its grid in two parts that share 0.0: one root below
    # (bisected), two above (scanned). Skipping a part drops its roots, as the caller asked.
    def f(x: float) -> float:
        return (x - 0.1) * (x - 0.25) * (x + 0.5)

    grid = linear_grid(-1.0, 1.0, 200)
    below, above = grid[:101], grid[100:]
    assert below[-1] == above[0] == 0.0
    whole = find_all_roots(f, -1.0, 1.0, points=grid)
    assert len(whole) == 3
    assert find_roots_in_parts(f, [(below, 1), (above, None)]) == whole
    assert find_roots_in_parts(f, [(below, 0), (above, None)]) == whole[1:]

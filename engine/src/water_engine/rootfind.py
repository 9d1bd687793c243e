"""Deterministic root finding for the engine: bracket scan + Brent's method.

Used by IRR/XIRR, implied growth / cost of equity and the reverse DCF.

* `find_root(f, lo, hi)` -- one root in a bracket [lo, hi] whose ends have opposite
  signs (or where one end is exactly zero). Brent's method (zeroin): inverse quadratic
  interpolation / secant steps guarded by bisection, so it always converges on a valid
  bracket. Raises `NoSolutionError` with a readable message when [lo, hi] is not a bracket.
* `find_all_roots(f, lo, hi, steps=...)` -- scans a grid of `steps` equal intervals
  (or explicit `points`), keeps every interval where f changes sign and solves each with
  `find_root`. Roots are returned sorted and de-duplicated. Points where f is not finite
  (or raises ArithmeticError) are skipped: they break a bracket rather than make one.
* `find_roots_in_parts(f, parts)` -- the same on a grid in parts, each skipped, bisected or
  scanned by what the caller knows of f's roots there. Where f has at most one root, a sign
  change, the bracket is found by bisecting the part: about log2(n) evaluations instead of n, and
  the same bracket, so the same root, as the scan's.
* `scan_brackets(f, points)` -- the brackets alone.

Only +, -, *, / and comparisons are used, so results are bit-identical wherever IEEE 754
binary64 arithmetic is (CPython, Pyodide). Nothing here is random.

Source: R. P. Brent, "Algorithms for Minimization without Derivatives" (1973), ch. 4,
procedure zero; the same algorithm as netlib `zeroin` and `scipy.optimize.brentq`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from .errors import NoSolutionError

__all__ = ["find_all_roots", "find_root", "find_roots_in_parts", "linear_grid", "scan_brackets"]

_EPS = 2.220446049250313e-16


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def _safe(f: Callable[[float], float], x: float) -> float | None:
    """f(x), or None when it is not a finite number (or cannot be computed)."""
    try:
        y = f(x)
    except (ArithmeticError, ValueError):
        return None
    if not isinstance(y, (int, float)) or not math.isfinite(y):
        return None
    return float(y)


def find_root(
    f: Callable[[float], float],
    lo: float,
    hi: float,
    *,
    tol: float = 1e-12,
    max_iter: int = 200,
    what: str = "f",
) -> float:
    """A root of `f` in [lo, hi] by Brent's method.

    `f(lo)` and `f(hi)` must be finite with opposite signs (or one of them zero).
    Converges when the bracket is narrower than `2 * (tol + 2 * eps * |x|)`, or
    f(x) == 0 exactly. `what` names the quantity in error messages.
    """
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo >= hi:
        raise NoSolutionError(f"no solution: invalid search range [{_fmt(lo)}, {_fmt(hi)}]")
    fa = _safe(f, lo)
    fb = _safe(f, hi)
    if fa is None or fb is None:
        bad = lo if fa is None else hi
        raise NoSolutionError(f"no solution: {what} cannot be evaluated at {_fmt(bad)}")
    if fa == 0.0:
        return float(lo)
    if fb == 0.0:
        return float(hi)
    if (fa > 0.0) == (fb > 0.0):
        raise NoSolutionError(
            f"no solution between {_fmt(lo)} and {_fmt(hi)}: {what} is {_fmt(fa)} and {_fmt(fb)} "
            "at the two ends (same sign)"
        )
    a, b = float(lo), float(hi)
    c, fc = a, fa
    d = e = b - a
    for _ in range(max_iter):
        if (fb > 0.0) == (fc > 0.0):
            c, fc = a, fa
            d = e = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol1 = 2.0 * _EPS * abs(b) + 0.5 * tol
        xm = 0.5 * (c - b)
        if abs(xm) <= tol1 or fb == 0.0:
            return b
        if abs(e) >= tol1 and abs(fa) > abs(fb):
            s = fb / fa
            if a == c:
                p = 2.0 * xm * s
                q = 1.0 - s
            else:
                q = fa / fc
                r = fb / fc
                p = s * (2.0 * xm * q * (q - r) - (b - a) * (r - 1.0))
                q = (q - 1.0) * (r - 1.0) * (s - 1.0)
            if p > 0.0:
                q = -q
            p = abs(p)
            if 2.0 * p < min(3.0 * xm * q - abs(tol1 * q), abs(e * q)):
                e = d
                d = p / q
            else:
                d = xm
                e = d
        else:
            d = xm
            e = d
        a, fa = b, fb
        if abs(d) > tol1:
            b += d
        else:
            b += tol1 if xm > 0.0 else -tol1
        fb_new = _safe(f, b)
        if fb_new is None:
            raise NoSolutionError(f"no solution: {what} cannot be evaluated at {_fmt(b)}")
        fb = fb_new
    return b


def linear_grid(lo: float, hi: float, steps: int) -> list[float]:
    """`steps + 1` equally spaced points from lo to hi (ends exact)."""
    if steps < 1:
        raise ValueError("steps must be at least 1")
    width = hi - lo
    return [lo + width * i / steps for i in range(steps)] + [hi]


def scan_brackets(
    f: Callable[[float], float], points: Sequence[float]
) -> tuple[list[tuple[float, float]], list[float]]:
    """Walk sorted `points`; return (brackets with a sign change, points where f is exactly 0)."""
    brackets: list[tuple[float, float]] = []
    zeros: list[float] = []
    prev_x: float | None = None
    prev_y: float | None = None
    for x in points:
        y = _safe(f, x)
        if y is not None and y == 0.0:
            zeros.append(float(x))
        elif (
            y is not None
            and prev_y is not None
            and prev_x is not None
            and prev_y != 0.0
            and (prev_y > 0.0) != (y > 0.0)
        ):
            brackets.append((prev_x, float(x)))
        prev_x, prev_y = float(x), y
    return brackets, zeros


def _bisect_grid(
    f: Callable[[float], float], grid: Sequence[float]
) -> tuple[list[tuple[float, float]], list[float]] | None:
    """What `scan_brackets(f, grid)` returns when f changes sign at most once on the grid, from
    about log2(len(grid)) evaluations: the ends decide whether there is a sign change, and halving
    the index range keeps one end on each side of it. A point that is exactly zero is the root, as
    in the scan. Where f cannot be evaluated at the low end (NPV overflows toward r = -1), the
    first point where it can is found by bisection too, and the search starts there: the scan
    cannot bracket across such points either. None when f cannot be evaluated at any other point
    probed (the caller then scans)."""
    lo, hi = 0, len(grid) - 1
    y_lo, y_hi = _safe(f, grid[lo]), _safe(f, grid[hi])
    if y_hi is None:
        return None
    if y_lo is None:
        lo, y_lo = _first_evaluable(f, grid, hi, y_hi)
    for index, end in ((lo, y_lo), (hi, y_hi)):
        if end == 0.0:
            return [], [float(grid[index])]
    if (y_lo > 0.0) == (y_hi > 0.0) or hi == lo:
        return [], []
    while hi - lo > 1:
        mid = (lo + hi) // 2
        y = _safe(f, grid[mid])
        if y is None:
            return None
        if y == 0.0:
            return [], [float(grid[mid])]
        if (y > 0.0) == (y_lo > 0.0):
            lo = mid
        else:
            hi = mid
    return [(float(grid[lo]), float(grid[hi]))], []


def _first_evaluable(f: Callable[[float], float], grid: Sequence[float], good: int, y_good: float) -> tuple[int, float]:
    """The lowest index where f can be evaluated, and f there, given that it fails at index 0
    and not at `good`, and that the points where it fails all lie below those where it does not."""
    bad = 0
    while good - bad > 1:
        mid = (bad + good) // 2
        y = _safe(f, grid[mid])
        if y is None:
            bad = mid
        else:
            good, y_good = mid, y
    return good, y_good


def find_all_roots(
    f: Callable[[float], float],
    lo: float,
    hi: float,
    *,
    steps: int = 1000,
    points: Sequence[float] | None = None,
    tol: float = 1e-12,
    max_iter: int = 200,
    what: str = "f",
    scan: Callable[[float], float] | None = None,
) -> list[float]:
    """Every root of `f` found by scanning [lo, hi] (or `points`) and solving each sign change.

    Roots closer together than the grid spacing where f touches zero without changing
    sign (a double root) can be missed: that is the nature of a bracket scan. Returns an
    empty list when none is found; callers decide whether that is an error.
    `scan`, when given, stands in for f on the grid (a cheaper function): wherever f is finite
    it must return a value of f's sign, or f's own value; where f fails, it must fail too. Then the
    brackets, and so the roots that Brent's method finds on f itself, are exactly f's.
    """
    grid = sorted(points) if points is not None else linear_grid(lo, hi, steps)
    return find_roots_in_parts(f, [(grid, None)], tol=tol, max_iter=max_iter, what=what, scan=scan)


def find_roots_in_parts(
    f: Callable[[float], float],
    parts: Sequence[tuple[Sequence[float], int | None]],
    *,
    tol: float = 1e-12,
    max_iter: int = 200,
    what: str = "f",
    scan: Callable[[float], float] | None = None,
) -> list[float]:
    """`find_all_roots` on a grid given in consecutive sorted parts (a part may share its first
    point with the previous part's last), each with what the caller knows of f's roots there:
    0, none (the part is skipped); 1, at most one, where f changes sign, with any points where f
    cannot be evaluated below all those where it can (the part is bisected); None, nothing (the
    part is scanned). Brackets never span two parts, so parts that share their meeting point give
    exactly the brackets, and the roots, of scanning the whole grid."""
    probe = scan or f
    brackets: list[tuple[float, float]] = []
    zeros: list[float] = []
    for points, most in parts:
        if most == 0:
            continue
        found = _bisect_grid(probe, points) if most == 1 else None
        if found is None:  # scanned, or a point the bisection could not evaluate: the scan steps over it
            found = scan_brackets(probe, points)
        brackets.extend(found[0])
        zeros.extend(found[1])
    roots = list(zeros)
    for a, b in brackets:
        roots.append(find_root(f, a, b, tol=tol, max_iter=max_iter, what=what))
    roots.sort()
    unique: list[float] = []
    for r in roots:
        if not unique or abs(r - unique[-1]) > 4.0 * (tol + _EPS * abs(r)):
            unique.append(r)
    return unique

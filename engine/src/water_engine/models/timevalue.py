"""Time value of money: discount factors, NPV, IRR, XNPV/XIRR, annuities, perpetuities.

Units: rates are decimals per period (0.08 = 8%); money is in any one currency; periods are
whole periods (years unless the caller says otherwise); dates are ISO strings (YYYY-MM-DD).

Bit-identical arithmetic (CPython and Pyodide):
* Discount factors are built cumulatively, `df_t = df_{t-1} / (1 + r_t)`, never with `**`.
  The mid-period factor is `df_mid_t = df_t * sqrt(1 + r_t)` (`math.sqrt` is correctly rounded).
* Whole-number powers are repeated multiplication (`_ipow`).
* Fractional powers (XNPV's `(1 + r) ** (days / 365)`) use `fractional_power`, a pure-arithmetic
  exp/log (range reduction with `math.frexp` / `math.ldexp`, which are exact, and fixed
  polynomial series), never `**`, `math.pow`, `math.exp` or `math.log`, whose results depend on
  the platform's libm.
* Every sum of floats uses `math.fsum` (correctly rounded, so identical on every Python; the
  built-in `sum()` of floats changed to compensated summation in CPython 3.12).

Sign convention of the annuity helpers is the spreadsheet one (PV/FV/PMT): money paid out is
negative, so `pv + pmt * annuity_factor + fv * df = 0`.
"""

from __future__ import annotations

import bisect
import datetime as _dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from ..errors import FieldError, NoSolutionError, ValidationError
from ..registry import Result, register_model
from ..rootfind import find_roots_in_parts

__all__ = [
    "annuity_fv",
    "annuity_payment",
    "annuity_pv",
    "day_count",
    "discount_factors",
    "fractional_power",
    "irr",
    "irr_all",
    "mid_period_factors",
    "npv",
    "parse_date",
    "perpetuity",
    "sign_changes",
    "xirr",
    "xirr_all",
    "xnpv",
    "year_fractions",
]

Timing = Literal["end", "mid"]
FirstFlow = Literal["t0", "t1"]

# --- deterministic arithmetic -------------------------------------------------------------

_LN2_HI = 6.93147180369123816490e-01  # fdlibm split of ln 2: HI has 32 trailing zero bits
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e00
_SQRT_HALF = 0.7071067811865476


def _ipow(base: float, n: int) -> float:
    """base ** n for a whole n >= 0 by repeated multiplication (left to right)."""
    out = 1.0
    for _ in range(n):
        out *= base
    return out


def _log(x: float) -> float:
    """Natural log by frexp range reduction and the atanh series (pure arithmetic)."""
    if not x > 0.0 or not math.isfinite(x):
        raise ValueError("log of a non-positive or non-finite number")
    m, e = math.frexp(x)  # x = m * 2**e, 0.5 <= m < 1 (exact)
    if m < _SQRT_HALF:
        m *= 2.0
        e -= 1
    s = (m - 1.0) / (m + 1.0)  # |s| <= 0.1716
    s2 = s * s
    # 2*atanh(s) = 2*(s + s^3/3 + s^5/5 + ...); 14 terms reach below 1e-20 relative.
    poly = 0.0
    for k in range(27, 1, -2):
        poly = (poly + 1.0 / k) * s2
    ln_m = 2.0 * s + 2.0 * s * poly
    return e * _LN2_HI + (e * _LN2_LO + ln_m)


def _exp(x: float) -> float:
    """e ** x by reduction x = k ln2 + r, |r| <= ln2 / 2, and a Taylor series (pure arithmetic)."""
    if x > 709.0:
        raise OverflowError("exp overflow")
    if x < -745.0:
        return 0.0
    k = math.floor(x * _INV_LN2 + 0.5)
    r = (x - k * _LN2_HI) - k * _LN2_LO
    term = 0.0
    for n in range(22, 0, -1):  # Horner for sum r^n / n!, n = 0..22
        term = 1.0 + term * r / n
    return math.ldexp(term, int(k))


def fractional_power(base: float, exponent: float) -> float:
    """base ** exponent for base > 0, with deterministic pure arithmetic (see module doc).

    Whole-number exponents (up to 10,000 in size) use repeated multiplication instead.
    """
    if base <= 0.0:
        raise ValueError("fractional_power needs a positive base")
    return _powers(base, [exponent])[0]


def _powers(base: float, exponents: Sequence[float]) -> list[float]:
    """[base ** e for e in exponents], sharing one log of the base (same results as fractional_power)."""
    ln_base: float | None = None
    out: list[float] = []
    for exponent in exponents:
        e = float(exponent)
        if e == 0.0:
            out.append(1.0)
        elif e.is_integer() and abs(e) <= 10_000:
            p = _ipow(base, int(abs(e)))
            out.append(p if e > 0 else 1.0 / p)
        else:
            if ln_base is None:
                ln_base = _log(base)
            out.append(_exp(e * ln_base))
    return out


# --- dates --------------------------------------------------------------------------------


def parse_date(text: str) -> _dt.date:
    """An ISO calendar date `YYYY-MM-DD` (raises ValueError otherwise).

    Only that form: `date.fromisoformat` also reads week dates such as 2020-W01-1 (Python 3.11 and
    later), whose text does not sort in date order, and XIRR takes the earliest date as the text
    that sorts first."""
    if not isinstance(text, str) or len(text) != 10 or text[4] != "-" or text[7] != "-":
        raise ValueError("must be an ISO date (YYYY-MM-DD)")
    digits = text[:4] + text[5:7] + text[8:]
    if not (digits.isascii() and digits.isdigit()):
        raise ValueError("must be an ISO date (YYYY-MM-DD)")
    try:
        return _dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError("must be an ISO date (YYYY-MM-DD)") from None


def _date_errors(dates: Sequence[str], path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    for i, d in enumerate(dates):
        try:
            parse_date(d)
        except ValueError as exc:
            errors.append(FieldError(f"{path}[{i}]", str(exc)))
    return errors


def day_count(start: str | _dt.date, end: str | _dt.date) -> int:
    """Actual days from start to end."""
    a = parse_date(start) if isinstance(start, str) else start
    b = parse_date(end) if isinstance(end, str) else end
    return b.toordinal() - a.toordinal()


def year_fractions(dates: Sequence[str], base: str | None = None) -> list[float]:
    """Actual/365 (Fixed) year fractions of `dates` from `base` (default: the first date)."""
    origin = parse_date(base if base is not None else dates[0])
    return [day_count(origin, d) / 365.0 for d in dates]


# --- discounting --------------------------------------------------------------------------


def _rates(rate: float | Sequence[float], periods: int | None) -> list[float]:
    if isinstance(rate, (int, float)):
        if periods is None:
            raise ValueError("periods is required with a single rate")
        return [float(rate)] * periods
    return [float(r) for r in rate]


def discount_factors(rate: float | Sequence[float], periods: int | None = None, timing: Timing = "end") -> list[float]:
    """Discount factors for periods 1..n.

    `rate` is one rate for every period (then give `periods`) or a per-period path r_1..r_n.
    End of period: df_t = df_{t-1} / (1 + r_t), df_0 = 1.
    Mid period:    df_mid_t = df_t * sqrt(1 + r_t)  (the flow arrives half a period earlier).
    """
    rs = _rates(rate, periods)
    out: list[float] = []
    df = 1.0
    for r in rs:
        if r <= -1.0:
            raise ValueError("a discount rate must be above -100%")
        df = df / (1.0 + r)
        out.append(df * math.sqrt(1.0 + r) if timing == "mid" else df)
    return out


def mid_period_factors(rate: float | Sequence[float], periods: int | None = None) -> list[float]:
    """Mid-period discount factors (see `discount_factors`)."""
    return discount_factors(rate, periods, "mid")


def npv(rate: float, flows: Sequence[float], convention: FirstFlow = "t0", timing: Timing = "end") -> float:
    """Net present value of equally spaced flows at one rate.

    convention "t0": the first flow is at time 0 (undiscounted), as numpy-financial `npv`.
    convention "t1": the first flow is at the end of period 1, as spreadsheet NPV().
    timing "mid": every flow after time 0 arrives half a period earlier (df_t * sqrt(1+r)).
    NPV = fsum(flow_i * df_i).
    """
    if not flows:
        return 0.0
    if rate <= -1.0:
        raise ValueError("a discount rate must be above -100%")
    one_plus = 1.0 + rate
    root = math.sqrt(one_plus) if timing == "mid" else 1.0
    df = 1.0
    terms: list[float] = []
    for i, c in enumerate(flows):
        if i == 0 and convention == "t0":
            terms.append(c)
            continue
        df = df / one_plus  # the same operations as discount_factors()
        terms.append(c * (df * root) if timing == "mid" else c * df)
    return math.fsum(terms)


def sign_changes(flows: Sequence[float]) -> int:
    """How often the sign of the non-zero flows changes (Descartes' bound on the number of IRRs)."""
    changes = 0
    last = 0.0
    for c in flows:
        if c != 0.0:
            if last != 0.0 and (c > 0.0) != (last > 0.0):
                changes += 1
            last = c
    return changes


def rate_grid(lower: float, upper: float) -> list[float]:
    """The scan grid for IRR/XIRR: step 0.001 up to 100%, 0.01 up to 1000%, 0.1 beyond."""
    pts: list[float] = [lower]
    segments = ((-1.0, 1.0, 0.001), (1.0, 10.0, 0.01), (10.0, 1.0e9, 0.1))
    for start, stop, step in segments:
        k0 = max(0, math.ceil((lower - start) / step))
        k = k0
        while True:
            x = start + k * step
            if x >= stop or x >= upper:
                break
            if x > lower:
                pts.append(x)
            k += 1
        if upper <= stop:
            break
    pts.append(upper)
    return pts


_ALL_ZERO = "must not all be zero (every rate is a root of all-zero flows, so no {label} is defined)"


def _check_not_all_zero(flows: Sequence[float], label: str) -> None:
    if not any(flows):
        raise ValidationError(FieldError("flows", _ALL_ZERO.format(label=label)))


def irr_all(flows: Sequence[float], lower: float = -0.99, upper: float = 100.0) -> list[float]:
    """Every IRR (root of the t0-convention NPV) found in [lower, upper], sorted.

    Looks for sign changes of NPV on `rate_grid(lower, upper)` and polishes each with Brent's method;
    each side of r = 0 is skipped, bisected or walked by a bound on its roots (`_rate_grid_parts`).
    All-zero flows raise ValidationError (every rate would be a root). Flows that never change
    sign have no IRR (every term of NPV has the same sign): the result is empty, without a scan.
    Leading zero flows are dropped before the scan: they only scale NPV by (1+r)^-k, which
    underflows to exactly 0 at high rates and would turn every grid point into a false root.
    """
    return _irr_search(flows, lower, upper)[0]


def _irr_search(flows: Sequence[float], lower: float, upper: float) -> tuple[list[float], SumsSignChanges]:
    """(`irr_all`'s roots, `_sums_sign_changes(flows)`, which bounded the search; None when the
    flows never change sign, as there is then no search)."""
    _check_not_all_zero(flows, "IRR")
    if sign_changes(flows) == 0:
        return [], None
    first = next(i for i, c in enumerate(flows) if c != 0.0)
    if first:
        flows = flows[first:]

    def f(r: float) -> float:
        return npv(r, flows)

    sums = _sums_sign_changes(flows)  # leading zeros change neither kind of sum's sign changes
    parts = _rate_grid_parts(rate_grid(lower, upper), sums)
    return find_roots_in_parts(f, parts, what="NPV", scan=_npv_sign(flows, f)), sums


_EXACT = 1 << 1074  # every finite float is a whole multiple of 2**-1074
# (sign changes of the tail sums, of the running sums), or None when the coefficients add up to zero.
SumsSignChanges = tuple[int, int] | None


def _sums_sign_changes(coefficients: Sequence[float]) -> SumsSignChanges:
    """(sign changes of the tail sums c_n, c_n-1 + c_n, ..., c_0 + ... + c_n; sign changes of the
    running sums c_0, c_0 + c_1, ..., c_0 + ... + c_n), added exactly (in whole multiples of
    2**-1074), or None when the coefficients add up to exactly zero."""
    exact = [n * (_EXACT // d) for n, d in (float(c).as_integer_ratio() for c in coefficients)]
    running, total = [], 0
    for c in exact:
        total += c
        running.append(total)
    if total == 0:
        return None
    tails, total = [], 0
    for c in reversed(exact):
        total += c
        tails.append(total)
    return sign_changes(tails), sign_changes(running)


def _rate_grid_parts(grid: list[float], changes: SumsSignChanges) -> list[tuple[list[float], int | None]]:
    """The rate grid split at r = 0, each side with a bound on its roots (0, 1, or None for more)
    for `find_roots_in_parts`; `changes` is `_sums_sign_changes` of NPV's coefficients c_k, in order
    of their power of v = 1/(1+r).

    Above 0 (0 < v < 1) the bound is the sign changes of the running sums S_k = c_0 + ... + c_k:
    NPV / (1 - v) is the power series S_0 + S_1 v + ... + S_n v^n + S_n v^(n+1) + ..., and Descartes'
    rule of signs bounds its roots in 0 < v < 1 by its coefficients' sign changes (Norstrom's
    criterion, J. Financial and Quantitative Analysis 7(3), 1972). Below 0 (v > 1) the same rule in
    1/v counts the sign changes of the tail sums. The rule counts a double root twice, so a bound of
    one is a simple root, a sign change: that side is bisected; a bound of zero skips it. Dated flows
    (XNPV, real powers) follow the same bounds: XNPV is then a Laplace transform of the step function
    of running sums, and that kernel does not add sign changes (Karlin, Total Positivity, 1968).
    When the flows add up to exactly zero, r = 0 is a root and the whole grid is scanned."""
    if changes is None:
        return [(grid, None)]
    below, above = (bound if bound < 2 else None for bound in changes)
    if grid[-1] <= 0.0:
        return [(grid, below)]
    if grid[0] >= 0.0:
        return [(grid, above)]
    split = bisect.bisect_left(grid, 0.0)
    if grid[split] != 0.0:  # every rate_grid that spans 0 has it; scan rather than assume so
        return [(grid, None)]
    return [(grid[: split + 1], below), (grid[split:], above)]


def _npv_sign(flows: Sequence[float], exact: Callable[[float], float]) -> Callable[[float], float]:
    """NPV for the bracket scan by Horner's rule in v = 1/(1+r) (a multiply and an add a flow,
    against a division, a product and a list append for `npv`), with the same rule as
    `_xnpv_sign`: where the sign is in doubt it returns `exact(r)`, so the brackets and the roots
    are exactly those of scanning `npv`. Both sums differ by a few n ulps of the terms' total size
    (n = the number of flows); flows[0] is not zero, so that size never underflows to nothing."""
    backwards = [float(c) for c in reversed(flows)]
    sizes = [abs(c) for c in backwards]

    def scan(r: float) -> float:
        v = 1.0 / (1.0 + r)
        total = size = 0.0
        for c, a in zip(backwards, sizes, strict=True):
            total = total * v + c
            size = size * v + a
        if size < 1e300 and abs(total) > _SCAN_MARGIN * size + 1e-290:  # + 1e-290: terms that underflowed
            return total
        return exact(r)

    return scan


def _range_text(lower: float, upper: float) -> str:
    return f"between {lower:.2%} and {upper:.2%}"


def _no_irr_message(flows: Sequence[float], lower: float, upper: float) -> str:
    if sign_changes(flows) == 0:
        nonzero = [i for i, c in enumerate(flows) if c != 0.0]
        if len(nonzero) == 1:
            return f"no IRR: only flows[{nonzero[0]}] is non-zero (an IRR needs at least one outflow and one inflow)"
        return "no IRR: the cash flows never change sign (they need at least one outflow and one inflow)"
    return f"no IRR {_range_text(lower, upper)}: NPV does not cross zero in that range"


def irr(flows: Sequence[float], lower: float = -0.99, upper: float = 100.0) -> float:
    """The IRR when it is unique; raises NoSolutionError when there is none or more than one."""
    roots = irr_all(flows, lower, upper)
    if not roots:
        raise NoSolutionError(_no_irr_message(flows, lower, upper))
    if len(roots) > 1:
        listed = ", ".join(f"{r:.6%}" for r in roots)
        raise NoSolutionError(f"the IRR is not unique: NPV is zero at {listed}")
    return roots[0]


def xnpv(rate: float, flows: Sequence[float], dates: Sequence[str]) -> float:
    """Spreadsheet XNPV: fsum(flow_i / (1 + rate) ** ((d_i - d_0) / 365)), d_0 the first date."""
    if rate <= -1.0:
        raise ValueError("the rate must be above -100%")
    growth = _powers(1.0 + rate, year_fractions(dates))
    return math.fsum(c / g for c, g in zip(flows, growth, strict=True))


def xirr_all(flows: Sequence[float], dates: Sequence[str], lower: float = -0.99, upper: float = 100.0) -> list[float]:
    """Every rate in [lower, upper] where XNPV is zero, sorted.

    As `irr_all`: all-zero flows raise ValidationError; flows that never change sign give [].
    Zero flows are dropped and times are measured from the earliest non-zero flow (the same roots:
    this only scales XNPV by a positive factor), so no term can underflow or overflow into a false root.
    """
    return _xirr_search(flows, dates, lower, upper)[0]


def _xirr_search(
    flows: Sequence[float], dates: Sequence[str], lower: float, upper: float
) -> tuple[list[float], list[float], SumsSignChanges]:
    """(`xirr_all`'s roots, the non-zero flows by day: XNPV's coefficients in date order, and
    their `_sums_sign_changes`, which bounded the search); [] and None when the flows never
    change sign (no roots)."""
    _check_not_all_zero(flows, "XIRR")
    if sign_changes(flows) == 0:
        return [], [], None
    kept = [(c, d) for c, d in zip(flows, dates, strict=True) if c != 0.0]
    if len(kept) < len(flows):
        flows = [c for c, _ in kept]
        dates = [d for _, d in kept]
    origin = parse_date(min(dates))
    days = [day_count(origin, d) for d in dates]
    times = [d / 365.0 for d in days]  # Actual/365, as `year_fractions`

    def f(r: float) -> float:
        return math.fsum(c / g for c, g in zip(flows, _powers(1.0 + r, times), strict=True))

    scan = _xnpv_sign(flows, days, f)
    by_day = _flows_by_day(flows, days)
    sums = _sums_sign_changes(by_day)
    parts = _rate_grid_parts(rate_grid(lower, upper), sums)
    return find_roots_in_parts(f, parts, what="XNPV", scan=scan), by_day, sums


def _flows_by_day(flows: Sequence[float], days: Sequence[int]) -> list[float]:
    """The flows in date order, those of one day added up: XNPV's coefficients by exponent.
    `fsum` rounds each day's total correctly, so its sign is the exact sum's."""
    by_day: dict[int, list[float]] = {}
    for d, c in zip(days, flows, strict=True):
        by_day.setdefault(d, []).append(c)
    return [math.fsum(by_day[d]) for d in sorted(by_day)]


# The scan's XNPV is trusted when it is this far from zero, relative to the sum of its terms' sizes:
# its discount factors are within about 2e-9 of the exact ones' (the worst case, 3.65 million days
# from year 1 to 9999, amplifies the daily factor's few ulps), so a margin of 1e-7 leaves 50x.
_SCAN_MARGIN = 1e-7


def _xnpv_sign(
    flows: Sequence[float], days: Sequence[int], exact: Callable[[float], float]
) -> Callable[[float], float]:
    """XNPV for the bracket scan, at a few multiplications a flow instead of a pure-arithmetic
    exp: the daily factor v = (1+r)^(-1/365) once per rate, then v^d by powers of the gaps between
    sorted days. Where the sign of that sum is not beyond doubt (near a root, or near the float
    range's ends) it returns `exact(r)`, so the scan finds exactly the exact XNPV's brackets
    (and the roots, solved on `exact`, are the same to the last bit). A 1,000-flow XIRR scans the
    3,790 rates of the default grid in under a second instead of 9 to 14."""
    pairs = sorted(zip(days, flows, strict=True))

    def scan(r: float) -> float:
        daily = 1.0 / fractional_power(1.0 + r, 1.0 / 365.0)
        gap_powers: dict[int, float] = {}
        total = size = 0.0
        factor, day = 1.0, 0
        for d, c in pairs:
            if d != day:
                step = gap_powers.get(d - day)
                if step is None:
                    step = gap_powers[d - day] = _power_by_squaring(daily, d - day)
                factor *= step
                day = d
            term = c * factor
            total += term
            size += abs(term)
        if 1e-290 < factor < 1e290 and size < 1e300 and abs(total) > _SCAN_MARGIN * size:
            return total
        return exact(r)

    return scan


def _power_by_squaring(base: float, n: int) -> float:
    """base ** n for a whole n >= 1 in about 2 log2(n) multiplications."""
    if n < 1:  # a negative n would never reach 0 below (-1 >> 1 == -1)
        raise ValueError(f"the power must be a whole number of at least 1, not {n}")
    result, square = 1.0, base
    while n:
        if n & 1:
            result *= square
        n >>= 1
        if n:
            square *= square
    return result


def xirr(flows: Sequence[float], dates: Sequence[str], lower: float = -0.99, upper: float = 100.0) -> float:
    """The XIRR when it is unique; raises NoSolutionError when there is none or more than one."""
    roots = xirr_all(flows, dates, lower, upper)
    if not roots:
        raise NoSolutionError(_no_irr_message(flows, lower, upper).replace("IRR", "XIRR").replace("NPV", "XNPV"))
    if len(roots) > 1:
        listed = ", ".join(f"{r:.6%}" for r in roots)
        raise NoSolutionError(f"the XIRR is not unique: XNPV is zero at {listed}")
    return roots[0]


def _annuity_terms(rate: float, periods: int, due: bool) -> tuple[float, float]:
    """(growth = (1+r)^n, payment multiplier = (1 + r*due) * ((1+r)^n - 1) / r)."""
    g = _ipow(1.0 + rate, periods)
    if rate == 0.0:
        return g, float(periods)
    # For a tiny rate, (1+r)^n - 1 loses its digits to the subtraction (off by 11% at r = 1e-15,
    # and exactly 0, a division by zero, below 1.1e-16): sum the binomial series instead.
    grown = _binomial_growth(rate, periods) if abs(rate) < TINY_RATE else g - 1.0
    return g, (1.0 + rate * (1.0 if due else 0.0)) * grown / rate


TINY_RATE = 1e-6


def _binomial_growth(rate: float, periods: int) -> float:
    """(1+r)^n - 1 as sum over k = 1..n of C(n, k) r^k, for |r| < TINY_RATE: with n <= 10,000 each
    term is at most 1% of the one before, so a few terms reach full precision."""
    total, term = 0.0, 1.0
    for k in range(1, periods + 1):
        term *= rate * (periods - k + 1) / k
        total += term
        if abs(term) <= abs(total) * 1e-17:
            break
    return total


def annuity_pv(rate: float, periods: int, payment: float, future_value: float = 0.0, due: bool = False) -> float:
    """Spreadsheet PV(): pv = -(fv + pmt * (1 + r*due) * ((1+r)^n - 1) / r) / (1+r)^n."""
    g, mult = _annuity_terms(rate, periods, due)
    return -(future_value + payment * mult) / g


def annuity_fv(rate: float, periods: int, payment: float, present_value: float = 0.0, due: bool = False) -> float:
    """Spreadsheet FV(): fv = -(pv * (1+r)^n + pmt * (1 + r*due) * ((1+r)^n - 1) / r)."""
    g, mult = _annuity_terms(rate, periods, due)
    return -(present_value * g + payment * mult)


def annuity_payment(
    rate: float, periods: int, present_value: float, future_value: float = 0.0, due: bool = False
) -> float:
    """Spreadsheet PMT(): pmt = -(fv + pv * (1+r)^n) * r / ((1 + r*due) * ((1+r)^n - 1))."""
    g, mult = _annuity_terms(rate, periods, due)
    return -(future_value + present_value * g) / mult


def perpetuity(cash_flow: float, rate: float, growth: float = 0.0, timing: Timing = "end") -> float:
    """Value one period before the first flow: CF_1 / (r - g); mid-period multiplies by sqrt(1+r)."""
    if growth >= rate:
        raise ValueError("growth must be below the discount rate")
    value = cash_flow / (rate - growth)
    return value * math.sqrt(1.0 + rate) if timing == "mid" else value


# --- the JSON models ----------------------------------------------------------------------

_RATE_DOC = "discount rate per period, decimal (0.08 = 8%)"


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


@dataclass(frozen=True)
class TimingConventions:
    """Discounting convention."""

    timing: Timing = field(
        default="end", metadata={"doc": "end: flows at period ends; mid: half a period earlier (sqrt(1+r))"}
    )


@dataclass(frozen=True)
class DiscountFactorsInputs:
    """A constant rate over whole periods, a per-period rate path, or a rate and dates (Actual/365)."""

    rate: float | None = field(default=None, metadata={"doc": _RATE_DOC + "; with periods, or with dates"})
    periods: int | None = field(default=None, metadata={"doc": "number of periods (with rate)", "ge": 1, "le": 1000})
    rates: list[float] | None = field(default=None, metadata={"doc": "per-period rates r_1..r_n, decimals"})
    valuation_date: str | None = field(default=None, metadata={"doc": "ISO date at which factors are 1 (with dates)"})
    dates: list[str] | None = field(default=None, metadata={"doc": "ISO dates; factor = (1+rate)^-(days/365)"})

    def validate(self) -> list[FieldError]:
        errors: list[FieldError] = []
        modes = [self.periods is not None, self.rates is not None, self.dates is not None]
        if sum(modes) != 1:
            errors.append(FieldError("", "give exactly one of periods (with rate), rates, or dates (with rate)"))
            return errors
        if self.rates is not None:
            if self.rate is not None:
                errors.append(FieldError("rate", "give either rate or rates, not both"))
            if not self.rates:
                errors.append(FieldError("rates", "must not be empty"))
            errors.extend(FieldError(f"rates[{i}]", "must be above -100%") for i, r in enumerate(self.rates) if r <= -1)
        else:
            if self.rate is None:
                errors.append(FieldError("rate", "is required with periods or dates"))
            elif self.rate <= -1.0:
                errors.append(FieldError("rate", "must be above -100%"))
        if self.dates is not None:
            if self.valuation_date is None:
                errors.append(FieldError("valuation_date", "is required with dates"))
            else:
                errors.extend(FieldError("valuation_date", e.message) for e in _date_errors([self.valuation_date], ""))
            errors.extend(_date_errors(self.dates, "dates"))
        elif self.valuation_date is not None:
            errors.append(FieldError("valuation_date", "is only used with dates"))
        return errors


@register_model(
    "discount_factors",
    inputs=DiscountFactorsInputs,
    conventions=TimingConventions,
    summary="Discount factors: end- or mid-period, constant rate or path; or Actual/365 by date",
)
def _discount_factors_model(inputs: DiscountFactorsInputs, conv: TimingConventions) -> Result:
    """Discount factors.

    Periods: df_t = df_{t-1} / (1 + r_t); mid-period df_t * sqrt(1 + r_t).
    Dates: df(d) = (1 + rate) ** -(days(valuation_date, d) / 365), Actual/365 Fixed with annual
    compounding (QuantLib `FlatForward(..., Actual365Fixed(), Compounded, Annual)`); the
    mid-period convention does not apply to dated flows.
    Source: standard discounting; Brealey, Myers & Allen, Principles of Corporate Finance, ch. 2.
    """
    if inputs.dates is not None:
        assert inputs.rate is not None
        assert inputs.valuation_date is not None
        times = year_fractions(inputs.dates, inputs.valuation_date)
        factors = [1.0 / g for g in _powers(1.0 + inputs.rate, times)]
        schedule = [
            {"date": d, "year_fraction": t, "discount_factor": f}
            for d, t, f in zip(inputs.dates, times, factors, strict=True)
        ]
        warnings = []
        if conv.timing == "mid":
            warnings.append("mid-period timing does not apply to dated flows; used the dates as given")
        return Result({"factors": factors}, schedule, warnings)
    rates = inputs.rates if inputs.rates is not None else [inputs.rate or 0.0] * (inputs.periods or 0)
    end = discount_factors(rates)
    mid = discount_factors(rates, timing="mid")
    factors = mid if conv.timing == "mid" else end
    schedule = [
        {"period": i + 1, "rate": r, "discount_factor": e, "mid_period_factor": m}
        for i, (r, e, m) in enumerate(zip(rates, end, mid, strict=True))
    ]
    return Result({"factors": factors}, schedule)


@dataclass(frozen=True)
class NpvInputs:
    """Equally spaced cash flows and one discount rate."""

    rate: float = field(metadata={"doc": _RATE_DOC, "gt": -1})
    flows: list[float] = field(metadata={"doc": "cash flows, currency, one per period"})

    def validate(self) -> list[FieldError]:
        return [FieldError("flows", "must not be empty")] if not self.flows else []


@dataclass(frozen=True)
class NpvConventions:
    """When the first flow happens, and end- or mid-period timing."""

    first_flow: FirstFlow = field(
        default="t0",
        metadata={
            "doc": "t0: first flow undiscounted (numpy-financial npv); t1: discounted one period (spreadsheet NPV)"
        },
    )
    timing: Timing = field(default="end", metadata={"doc": "end or mid (flows after t=0 half a period earlier)"})


@register_model("npv", inputs=NpvInputs, conventions=NpvConventions, summary="Net present value of periodic flows")
def _npv_model(inputs: NpvInputs, conv: NpvConventions) -> Result:
    """NPV = fsum(CF_i * df_i); df from `discount_factors`.

    Source: numpy-financial `npv` (t0) and Microsoft Excel NPV function (t1).
    """
    value = npv(inputs.rate, inputs.flows, conv.first_flow, conv.timing)
    offset = 0 if conv.first_flow == "t0" else 1
    n = len(inputs.flows)
    dfs = discount_factors(inputs.rate, n - 1 + offset, conv.timing)
    dfs = [1.0, *dfs] if offset == 0 else dfs
    schedule = [
        {"period": i + offset, "flow": c, "discount_factor": d, "present_value": c * d}
        for i, (c, d) in enumerate(zip(inputs.flows, dfs, strict=True))
    ]
    return Result({"npv": value}, schedule)


@dataclass(frozen=True)
class IrrInputs:
    """Equally spaced cash flows, the first at t=0."""

    flows: list[float] = field(metadata={"doc": "cash flows, currency, one per period, first at t=0; not all zero"})

    def validate(self) -> list[FieldError]:
        if len(self.flows) < 2:
            return [FieldError("flows", "needs at least two flows")]
        return [] if any(self.flows) else [FieldError("flows", _ALL_ZERO.format(label="IRR"))]


@dataclass(frozen=True)
class IrrConventions:
    """The range of rates searched for roots."""

    lower: float = field(default=-0.99, metadata={"doc": "lowest rate searched, decimal", "gt": -1})
    upper: float = field(default=100.0, metadata={"doc": "highest rate searched, decimal", "le": 1e6})

    def validate(self) -> list[FieldError]:
        return [FieldError("upper", f"must be above lower ({_pct(self.lower)})")] if self.upper <= self.lower else []


def _irr_result(
    roots: list[float],
    flows: Sequence[float],
    coefficients: Sequence[float],
    sums: SumsSignChanges,
    label: str,
    lower: float,
    upper: float,
) -> Result:
    """The outputs and warnings of `irr` / `xirr`. `coefficients` are NPV's by power of 1/(1+r): the
    flows (IRR), or the non-zero flows in date order with each day's added up (XIRR); `sums` their
    `_sums_sign_changes`, from the search."""
    if not roots:
        message = _no_irr_message(flows, lower, upper)
        if label == "XIRR":
            message = message.replace("IRR", "XIRR").replace("NPV", "XNPV")
        raise NoSolutionError(message)
    changes = sign_changes(coefficients)
    most = _most_roots(coefficients, sums)
    warnings: list[str] = []
    if len(roots) > 1:
        listed = ", ".join(f"{r:.4%}" for r in roots)
        warnings.append(
            f"the cash flows change sign {changes} times and have {len(roots)} {label}s ({listed}); "
            f"no single {label} is meaningful, use NPV at the cost of capital instead"
        )
    elif most > 1:
        # Another root may lie outside the range, or between two grid rates where NPV only touches
        # zero; when the bound is one (however often the flows change sign), none can.
        warnings.append(
            f"the cash flows change sign {changes} times; one {label} was found {_range_text(lower, upper)}, "
            f"and the flows allow up to {most}"
        )
    outputs = {
        label.lower(): roots[0] if len(roots) == 1 else None,
        f"{label.lower()}s": roots,
        "count": len(roots),
        "unique": len(roots) == 1,
        "sign_changes": changes,
        "max_count": most,
    }
    return Result(outputs, None, warnings)


def _most_roots(coefficients: Sequence[float], sums: SumsSignChanges) -> int:
    """The most roots above r = -1 that NPV with these coefficients (in order of their power of
    1/(1+r)) can have: the smaller of Descartes' bound, the coefficients' sign changes, and
    Norstrom's, the sign changes of their running sums plus those of their tail sums (see
    `_rate_grid_parts`; only Descartes' when they add up to zero). `sums` is
    `_sums_sign_changes(coefficients)`."""
    descartes = sign_changes(coefficients)
    return descartes if sums is None else min(descartes, sums[0] + sums[1])


@register_model("irr", inputs=IrrInputs, conventions=IrrConventions, summary="Every internal rate of return")
def _irr_model(inputs: IrrInputs, conv: IrrConventions) -> Result:
    """IRR: every rate r in [lower, upper] with fsum(CF_t / (1+r)^t) = 0, t = 0..n-1.

    Found as sign changes of NPV on `rate_grid` and Brent's method in each bracket. Each side of
    r = 0 is walked only when the flows' running sums (above 0) or tail sums (below) change sign
    more than once (Norstrom, 1972); at most one root there is found by bisecting the grid.
    When the flows change sign more than once there may be several IRRs: all are reported
    (`irrs`), `irr` is null unless exactly one exists, and a warning says so. `max_count` is the
    most the flows allow (`_most_roots`); one root found where more are possible is a warning too.
    Two roots closer than the grid step (0.1 percentage point below 100%) can be missed.
    No IRR: all-zero flows are a ValidationError on `inputs.flows` (every rate is a root);
    flows that never change sign (including a single non-zero flow) and flows whose NPV does
    not cross zero in the range raise NoSolutionError. Leading zero flows do not change the roots.
    Source: Brealey, Myers & Allen, ch. 5 (multiple rates of return); numpy-financial `irr`.
    """
    roots, sums = _irr_search(inputs.flows, conv.lower, conv.upper)
    return _irr_result(roots, inputs.flows, inputs.flows, sums, "IRR", conv.lower, conv.upper)


def _dated_errors(flows: Sequence[float], dates: Sequence[str]) -> list[FieldError]:
    errors = _date_errors(dates, "dates")
    if len(dates) != len(flows):
        errors.append(FieldError("dates", f"must have one date per flow ({len(flows)})"))
    if errors:
        return errors
    first = parse_date(dates[0])
    errors.extend(
        FieldError(f"dates[{i}]", f"must not precede the first date ({dates[0]})")
        for i, d in enumerate(dates)
        if parse_date(d) < first
    )
    return errors


@dataclass(frozen=True)
class XnpvInputs:
    """Dated cash flows and an annual rate."""

    rate: float = field(metadata={"doc": "annual discount rate, decimal", "gt": -1})
    flows: list[float] = field(metadata={"doc": "cash flows, currency"})
    dates: list[str] = field(metadata={"doc": "ISO date of each flow; the first is the base date"})

    def validate(self) -> list[FieldError]:
        if not self.flows:
            return [FieldError("flows", "must not be empty")]
        return _dated_errors(self.flows, self.dates)


@register_model("xnpv", inputs=XnpvInputs, summary="NPV of dated flows (Actual/365, as spreadsheets)")
def _xnpv_model(inputs: XnpvInputs, _conv: object) -> Result:
    """XNPV = fsum(CF_i / (1 + r) ** ((d_i - d_0) / 365)), d_0 the first date.

    Source: Microsoft Excel XNPV function (Actual/365, first date as base).
    """
    times = year_fractions(inputs.dates)
    factors = [1.0 / g for g in _powers(1.0 + inputs.rate, times)]
    value = xnpv(inputs.rate, inputs.flows, inputs.dates)
    schedule = [
        {"date": d, "year_fraction": t, "flow": c, "discount_factor": f, "present_value": c * f}
        for d, t, c, f in zip(inputs.dates, times, inputs.flows, factors, strict=True)
    ]
    return Result({"xnpv": value}, schedule)


@dataclass(frozen=True)
class XirrInputs:
    """Dated cash flows."""

    flows: list[float] = field(metadata={"doc": "cash flows, currency; not all zero"})
    dates: list[str] = field(metadata={"doc": "ISO date of each flow; the first is the base date"})

    def validate(self) -> list[FieldError]:
        if len(self.flows) < 2:
            return [FieldError("flows", "needs at least two flows")]
        errors = [] if any(self.flows) else [FieldError("flows", _ALL_ZERO.format(label="XIRR"))]
        return errors + _dated_errors(self.flows, self.dates)


@register_model("xirr", inputs=XirrInputs, conventions=IrrConventions, summary="Every IRR of dated flows")
def _xirr_model(inputs: XirrInputs, conv: IrrConventions) -> Result:
    """XIRR: every annual rate r with XNPV(r) = 0 (Actual/365), found like `irr`.

    No XIRR as for `irr`: all-zero flows are a ValidationError on `inputs.flows`; flows that
    never change sign, or whose XNPV does not cross zero in the range, raise NoSolutionError.

    Source: Microsoft Excel XIRR function.
    """
    roots, by_day, sums = _xirr_search(inputs.flows, inputs.dates, conv.lower, conv.upper)
    return _irr_result(roots, inputs.flows, by_day, sums, "XIRR", conv.lower, conv.upper)


@dataclass(frozen=True)
class AnnuityInputs:
    """A level annuity; give the known values, the one solved for is ignored."""

    rate: float = field(metadata={"doc": "rate per period, decimal", "gt": -1})
    periods: int = field(metadata={"doc": "number of payments", "ge": 1, "le": 10000})
    solve_for: Literal["present_value", "future_value", "payment"] = field(metadata={"doc": "which value to compute"})
    payment: float = field(default=0.0, metadata={"doc": "payment per period, currency (paid out = negative)"})
    present_value: float = field(default=0.0, metadata={"doc": "value now, currency (spreadsheet sign)"})
    future_value: float = field(default=0.0, metadata={"doc": "value after the last period, currency"})


@dataclass(frozen=True)
class AnnuityConventions:
    """Payment timing."""

    due: bool = field(default=False, metadata={"doc": "true: payments at the start of each period (annuity due)"})


@register_model("annuity", inputs=AnnuityInputs, conventions=AnnuityConventions, summary="Annuity PV, FV or payment")
def _annuity_model(inputs: AnnuityInputs, conv: AnnuityConventions) -> Result:
    """pv * (1+r)^n + pmt * (1 + r*due) * ((1+r)^n - 1) / r + fv = 0, solved for one unknown.

    Spreadsheet sign convention (PV, FV, PMT functions); r = 0 gives pv + pmt*n + fv = 0.
    Source: Microsoft Excel PV/FV/PMT documentation; numpy-financial pv/fv/pmt.
    """
    r, n = inputs.rate, inputs.periods
    pv, fv, pmt = inputs.present_value, inputs.future_value, inputs.payment
    if inputs.solve_for == "present_value":
        pv = annuity_pv(r, n, pmt, fv, conv.due)
    elif inputs.solve_for == "future_value":
        fv = annuity_fv(r, n, pmt, pv, conv.due)
    else:
        pmt = annuity_payment(r, n, pv, fv, conv.due)
    _, mult = _annuity_terms(r, n, conv.due)
    factor = mult / _ipow(1.0 + r, n)
    return Result({"present_value": pv, "future_value": fv, "payment": pmt, "annuity_factor": factor})


@dataclass(frozen=True)
class PerpetuityInputs:
    """A level or growing perpetuity."""

    cash_flow: float = field(
        metadata={"doc": "cash flow, currency: next period's (CF1) unless cash_flow_is says current"}
    )
    rate: float = field(metadata={"doc": "discount rate per period, decimal", "gt": -1})
    growth: float = field(default=0.0, metadata={"doc": "growth per period, decimal", "gt": -1})
    cash_flow_is: Literal["next", "current"] = field(
        default="next", metadata={"doc": "next: cash_flow is CF1; current: CF0, so CF1 = CF0 * (1 + growth)"}
    )

    def validate(self) -> list[FieldError]:
        if self.growth >= self.rate:
            return [FieldError("growth", f"must be below the discount rate ({_pct(self.rate)})")]
        return []


@register_model(
    "perpetuity", inputs=PerpetuityInputs, conventions=TimingConventions, summary="Level or growing perpetuity"
)
def _perpetuity_model(inputs: PerpetuityInputs, conv: TimingConventions) -> Result:
    """PV = CF1 / (r - g), valued one period before CF1; mid-period timing x sqrt(1 + r).

    Source: Gordon & Shapiro (1956); Brealey, Myers & Allen, ch. 2 (growing perpetuity).
    """
    cf1 = inputs.cash_flow * (1.0 + inputs.growth) if inputs.cash_flow_is == "current" else inputs.cash_flow
    value = perpetuity(cf1, inputs.rate, inputs.growth, conv.timing)
    return Result({"value": value, "next_cash_flow": cf1})

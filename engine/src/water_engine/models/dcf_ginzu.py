"""FCFF DCF with Damodaran's "Ginzu" mechanics (model `fcff_ginzu`).

Reproduces the Valuation output sheet of Aswath Damodaran's fcffsimpleginzu.xlsx
(https://pages.stern.nyu.edu/~adamodar/New_Home_Page/spreadsh.htm), cell by cell and in the
same order of floating-point operations, so that the template's own numbers come back to the
last bit (see engine/tests/test_dcf_ginzu.py and the golden cases).

Units: money in the company's currency (any consistent unit, e.g. millions, shares in the
same unit); rates, margins and probabilities as decimals (0.05 = 5%); years as integers.
Convention: annual periods, cash flows at the end of each year (the template); the
`timing = "mid_year"` convention (not in the template) moves each year's cash flow to
mid-year, PV_t = FCFF_t * DF_t * sqrt(1 + r_t), and the terminal value by half a year at
the stable rate, PV(TV) = TV * DF_10 * sqrt(1 + r_stable).

Formulas (t = 1..10, "terminal" = year 11; DF = cumulated discount factor):
    growth:   g_1 = growth_year_1; g_2..g_5 = growth_years_2_5;
              g_{5+k} = g_5 - ((g_5 - g_stable)/5) * k   (k = 1..5);  g_11 = g_stable
    revenue:  R_t = R_{t-1} * (1 + g_t)
    margin:   m_1 = margin_year_1;  for t >= 2: m_t = target if t > N else
              target - ((target - m_1)/N) * (N - t)   (N = margin_convergence_year); m_11 = m_10
    EBIT_t  = m_t * R_t
    tax:      tau_1..tau_5 = effective; tau_{t} = tau_{t-1} + (tau_11 - tau_5)/5 for t = 6..10;
              tau_11 = marginal (or effective if tax_rate_converges_to_marginal is false)
    NOL:      EBIT(1-t)_t = EBIT_t if EBIT_t <= 0 or EBIT_t < NOL_{t-1}
                            else EBIT_t - (EBIT_t - NOL_{t-1}) * tau_t
              NOL_t = NOL_{t-1} - EBIT_t if EBIT_t < 0 or NOL_{t-1} > EBIT_t else 0
    reinvestment (lag 1, the default): (R_{t+1} - R_t) / (sales to capital)_t; lag 0, 2, 3
              shift the revenue change (template boundary formulas near year 10 reproduced)
    FCFF_t  = EBIT(1-t)_t - reinvestment_t
    cost of capital: r_1..r_5 = initial; r_t = r_{t-1} - (r_5 - r_stable)/5 for t = 6..10
    DF_t    = DF_{t-1} * (1 / (1 + r_t)),  PV_t = FCFF_t * DF_t
    terminal: EBIT(1-t)_11 = EBIT_11 * (1 - tau_11); reinvestment_11 = g/ROC * EBIT(1-t)_11
              if g > 0 else 0; TV = FCFF_11 / (r_stable - g); PV(TV) = TV * DF_10
    operating assets = (PV(TV) + sum PV_t) * (1 - p) + proceeds * p, proceeds =
              (book equity + book debt) * fraction ("book") or sum of PV * fraction ("fair_value")
    equity   = operating assets - debt - minority interests - preferred + cash + non-operating
              assets;  common equity = equity - options;  per share = common equity / shares

Template defaults (its "default assumptions" block): stable growth = riskfree rate (after
year 10, if given); stable cost of capital = that riskfree rate + mature-market ERP; stable
return on capital = the year-10 cost of capital; no failure; reinvestment lag 1; the tax rate
moves to the marginal rate; no NOL; no trapped cash. Inputs left out default as the template:
growth years 2-5 = year-1 growth, margin next year = base-year margin (after R&D and lease
adjustments), target margin = next year's margin, sales to capital years 6-10 = years 1-5.

Quirks of the template that are reproduced on purpose (documented in docs/engine.md):
  * the margin path is linear from year 1's margin *as if it started at year 0*: year 2 jumps
    to target - (target - m_1) * (N - 2) / N, and the target is reached in year N;
  * the terminal margin is the year-10 margin (not the target, if N > 10);
  * year 10's cost of capital is reached by five successive subtractions, so it can differ
    from the stable rate in the last bits; the default stable ROC is that year-10 rate, while
    the terminal value uses the stable rate itself;
  * the terminal year ignores the NOL (EBIT(1-t) = EBIT * (1 - tax)) and reinvests nothing
    when stable growth is zero or negative;
  * the terminal value is discounted with the year-10 factor;
  * failure proceeds tied to book value use book equity + book debt as entered (no lease debt,
    no R&D asset);
  * lags 2 and 3 near year 10 use the template's extrapolations (year 9 with lag 2 is
    R_10 * g_10 / S2C, year 10 with lag 3 is year 9's reinvestment * (1 + g));
  * options are an input value (the template's dilution-adjusted Black-Scholes sheet is
    not reproduced: it needs exp/log/normal CDF and is finicky even in Excel);
  * preferred stock is not in the template; it is subtracted beside minority interests
    (zero by default, which leaves the template's numbers unchanged).

R&D converter (template sheet "R& D converter"): research asset = sum over k = 0..n of
R&D_{-k} * (n - k)/n; amortization = sum over k = 1..n of R&D_{-k}/n; EBIT adjustment =
current R&D - amortization. Lease converter ("Operating lease converter"): debt = sum of
commitments_t / (1 + kd)^t (t = 1..5) + the beyond-year-5 lump spread as an annuity over
n = round(lump / average(commitments 1-5)) years and discounted 5 years; depreciation =
debt / (5 + n); EBIT adjustment = current lease expense - depreciation.

Arithmetic: only +, -, *, / and sqrt (correctly rounded), powers by repeated
multiplication; sums are explicit left-to-right loops (as Excel's SUM), so results are
bit-identical in CPython 3.11-3.14 and Pyodide.

Source: A. Damodaran, fcffsimpleginzu.xlsx (2024 versions), sheets "Input sheet",
"Valuation output", "R& D converter", "Operating lease converter"; A. Damodaran,
"Investment Valuation", 3rd ed. (Wiley, 2012), chapters 9, 12 and 15.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from operator import mul, sub
from typing import Any, Literal, NamedTuple

from ..errors import FieldError, ValidationError
from ..registry import Result, Table, register_model
from .capital import lease_spread_errors, lease_sum_errors

__all__ = [
    "GinzuConventions",
    "GinzuInputs",
    "LeaseCapitalisation",
    "RnDCapitalisation",
    "compute",
    "lease_adjustments",
    "per_share",
    "prepare",
    "prepare_fields",
    "rnd_adjustments",
    "valuation",
    "value_per_share",
]


def _m(doc: str, **bounds: float) -> dict[str, Any]:
    """Field metadata for the JSON boundary: a description with units, and numeric bounds."""
    return {"doc": doc, **bounds}


@dataclass(frozen=True)
class RnDCapitalisation:
    """R&D capitalisation (the template's R&D converter): straight-line amortization."""

    amortization_years: int = field(metadata=_m("amortizable life of R&D (years, 1-10)", ge=1, le=10))
    current_expense: float = field(metadata=_m("R&D expense of the base year (currency)", ge=0))
    past_expenses: list[float] = field(
        metadata=_m(
            "R&D expenses of past years, most recent first: year -1, -2, ... (currency); "
            "at least amortization_years entries, extra ones are ignored"
        )
    )

    def validate(self) -> list[FieldError]:
        if len(self.past_expenses) < self.amortization_years:
            return [
                FieldError(
                    "past_expenses",
                    f"needs {self.amortization_years} entries (one per amortization year), got {len(self.past_expenses)}",
                )
            ]
        return []


@dataclass(frozen=True)
class LeaseCapitalisation:
    """Operating-lease capitalisation (the template's operating lease converter)."""

    current_expense: float = field(metadata=_m("operating lease expense of the base year (currency)", ge=0))
    commitments: list[float] = field(metadata=_m("lease commitments for years 1 to 5 (currency, 5 entries)"))
    pre_tax_cost_of_debt: float = field(
        metadata=_m("pre-tax cost of debt used to discount commitments (decimal)", gt=0)
    )
    beyond_year_5: float = field(default=0.0, metadata=_m("total commitments beyond year 5 (currency)", ge=0))

    def validate(self) -> list[FieldError]:
        if len(self.commitments) != 5:
            return [FieldError("commitments", f"needs 5 entries (years 1 to 5), got {len(self.commitments)}")]
        errors = lease_sum_errors(self.commitments, "commitments")
        if self.beyond_year_5 > 0 and not errors:
            errors = lease_spread_errors(self.beyond_year_5, self.commitments, "beyond_year_5")
        return errors


@dataclass(frozen=True)
class GinzuInputs:
    """Inputs of the FCFF Ginzu valuation (fcffsimpleginzu.xlsx, Input sheet)."""

    # Base year
    revenues: float = field(metadata=_m("revenues of the base year, last twelve months (currency)", gt=0))
    ebit: float = field(metadata=_m("operating income (EBIT) of the base year, as reported (currency)"))
    shares_outstanding: float = field(metadata=_m("number of shares outstanding (shares, same unit as money)", gt=0))
    effective_tax_rate: float = field(metadata=_m("effective tax rate (decimal)", ge=0, le=1))
    marginal_tax_rate: float = field(metadata=_m("marginal tax rate (decimal)", ge=0, le=1))
    # Value drivers
    growth_year_1: float = field(metadata=_m("revenue growth rate for next year (decimal)", gt=-1))
    sales_to_capital_years_1_5: float = field(metadata=_m("sales to invested capital ratio, years 1-5 (ratio)", gt=0))
    riskfree_rate: float = field(metadata=_m("riskfree rate today (decimal)"))
    initial_cost_of_capital: float = field(metadata=_m("cost of capital for years 1-5 (decimal)", gt=0))
    growth_years_2_5: float | None = field(
        default=None, metadata=_m("compounded annual revenue growth, years 2-5 (decimal); default growth_year_1", gt=-1)
    )
    margin_year_1: float | None = field(
        default=None,
        metadata=_m("operating margin for next year (decimal); default the base-year margin after adjustments"),
    )
    target_margin: float | None = field(
        default=None, metadata=_m("target pre-tax operating margin (decimal); default margin_year_1")
    )
    margin_convergence_year: int = field(
        default=5,
        metadata=_m("year in which the margin reaches the target (years, 1-100; after 10: not reached)", ge=1, le=100),
    )
    sales_to_capital_years_6_10: float | None = field(
        default=None, metadata=_m("sales to invested capital ratio, years 6-10 (ratio); default years 1-5", gt=0)
    )
    # Balance sheet and per-share
    book_equity: float = field(default=0.0, metadata=_m("book value of equity (currency)"))
    book_debt: float = field(default=0.0, metadata=_m("book value of debt (currency)", ge=0))
    cash: float = field(default=0.0, metadata=_m("cash and marketable securities (currency)", ge=0))
    non_operating_assets: float = field(
        default=0.0, metadata=_m("cross holdings and other non-operating assets (currency)")
    )
    minority_interests: float = field(default=0.0, metadata=_m("minority interests (currency)"))
    preferred_stock: float = field(default=0.0, metadata=_m("preferred stock (currency; not in the template)"))
    options_value: float = field(default=0.0, metadata=_m("value of employee options outstanding (currency)", ge=0))
    price: float | None = field(default=None, metadata=_m("current stock price (currency per share)", ge=0))
    # Default assumptions the template lets you override
    mature_market_erp: float = field(
        default=0.045,
        metadata=_m(
            "mature-market equity risk premium added to the riskfree rate for the stable cost of capital (decimal)"
        ),
    )
    stable_cost_of_capital: float | None = field(
        default=None,
        metadata=_m(
            "cost of capital after year 10 (decimal); default riskfree rate (after year 10) + mature_market_erp"
        ),
    )
    stable_return_on_capital: float | None = field(
        default=None,
        metadata=_m("return on capital after year 10 (decimal); default the year-10 cost of capital", gt=0),
    )
    riskfree_rate_after_year_10: float | None = field(
        default=None, metadata=_m("riskfree rate after year 10 (decimal); default riskfree_rate")
    )
    stable_growth: float | None = field(
        default=None,
        metadata=_m("growth rate in perpetuity (decimal); default the riskfree rate (after year 10)", gt=-1),
    )
    failure_probability: float = field(
        default=0.0, metadata=_m("probability that the firm fails (decimal)", ge=0, le=1)
    )
    distress_proceeds_basis: Literal["book", "fair_value"] = field(
        default="fair_value",
        metadata=_m("what failure proceeds are tied to: book value of capital or the DCF (fair) value"),
    )
    distress_proceeds_fraction: float = field(
        default=0.5, metadata=_m("failure proceeds as a fraction of that value (decimal)", ge=0)
    )
    reinvestment_lag: int = field(
        default=1, metadata=_m("years between reinvesting and the growth it generates (0-3)", ge=0, le=3)
    )
    tax_rate_converges_to_marginal: bool = field(
        default=True, metadata=_m("move the tax rate to the marginal rate over years 6-10")
    )
    nol: float = field(default=0.0, metadata=_m("net operating loss carried into year 1 (currency)", ge=0))
    trapped_cash: float = field(
        default=0.0, metadata=_m("cash trapped abroad and taxed on repatriation (currency)", ge=0)
    )
    trapped_cash_foreign_tax_rate: float = field(
        default=0.0, metadata=_m("average tax rate already paid on the trapped cash (decimal)", ge=0, le=1)
    )
    rnd: RnDCapitalisation | None = field(default=None, metadata=_m("capitalise R&D (the template's R&D converter)"))
    leases: LeaseCapitalisation | None = field(
        default=None, metadata=_m("capitalise operating leases (the template's lease converter)")
    )

    def validate(self) -> list[FieldError]:
        try:
            prepared = _resolve(vars(self), False)
        except ValidationError as exc:
            return list(exc.errors)
        if self.rnd is None and self.leases is None:
            # Every field is then an immutable scalar, so this resolution cannot go stale:
            # `prepare` reuses it instead of resolving the same inputs a second time.
            vars(self)[_RESOLVED] = prepared
        return []


@dataclass(frozen=True)
class GinzuConventions:
    """Conventions of the Ginzu valuation."""

    timing: Literal["end_of_year", "mid_year"] = field(
        default="end_of_year", metadata=_m("cash flows at the end of each year (the template) or at mid-year")
    )


# --- Converters -------------------------------------------------------------------------


def rnd_adjustments(rnd: RnDCapitalisation) -> tuple[float, float, float]:
    """(research asset, amortization this year, EBIT adjustment), as the R&D converter."""
    n = rnd.amortization_years
    nf = float(n)
    asset = rnd.current_expense * 1.0
    amort = 0.0
    for k in range(1, n + 1):
        expense = rnd.past_expenses[k - 1]
        asset += expense * ((nf + -k) / nf)
        amort += expense / nf
    return asset, amort, rnd.current_expense - amort


def _round_half_away(x: float) -> float:
    """Excel ROUND(x, 0): halves away from zero."""
    return float(math.floor(x + 0.5)) if x >= 0 else -float(math.floor(-x + 0.5))


def lease_adjustments(leases: LeaseCapitalisation) -> tuple[float, float, float]:
    """(lease debt, depreciation, EBIT adjustment), as the operating lease converter."""
    kd = leases.pre_tax_cost_of_debt
    base = 1.0 + kd
    c = leases.commitments
    lump = leases.beyond_year_5
    average = (((c[0] + c[1]) + c[2]) + c[3] + c[4]) / 5.0
    years = _round_half_away(lump / average) if lump > 0 and average > 0 else 0.0
    debt = 0.0
    power = 1.0
    for t in range(5):
        power *= base
        debt += c[t] / power
    if lump > 0:
        if years > 0:
            annual = lump / years
            inverse = 1.0
            for _ in range(int(years)):
                inverse /= base
            debt += (annual * (1.0 - inverse) / kd) / power
        else:
            debt += lump / (power * base)
    depreciation = debt / (5.0 + years)
    return debt, depreciation, leases.current_expense - depreciation


# --- Resolution: inputs -> flat parameter tuples ------------------------------------------

# Operating parameters (stage 1, everything that shapes the cash flows):
#   (R0, EBIT0, g1, g25, gs, m1, target, N, tax_eff, tax_term, s2c_1_5, s2c_6_10, lag, nol0)
OpParams = tuple[float, float, float, float, float, float, float, int, float, float, float, float, int, float]
# Valuation parameters (stage 2: discounting, terminal value, failure, bridge):
#   (r0, r_stable, roc or -1, gs, mid_year, p_fail, proceeds_book, fraction, debt, minority,
#    preferred, cash_adjusted, non_operating, options, shares, price or -1)
ValParams = tuple[
    float, float, float, float, bool, float, bool, float, float, float, float, float, float, float, float, float
]


def _fields_of(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in fields(obj)}


# Key, in a validated GinzuInputs' instance dict, of its end-of-year resolution (see `validate`).
_RESOLVED = "_resolved_end_of_year"


class Prepared(NamedTuple):
    """Resolved parameters: stage 1 (`op`), stage 2 (`val`) and derived figures (`info`)."""

    op: OpParams
    val: ValParams
    info: dict[str, float]


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def _resolve(f: Mapping[str, Any], mid_year: bool) -> Prepared:
    """Apply the template's defaults and converters; raise ValidationError on inconsistencies."""
    revenues = f["revenues"]
    ebit = f["ebit"]
    invested = f["book_equity"] + f["book_debt"] - f["cash"]
    debt = f["book_debt"]
    info: dict[str, float] = {}
    leases = f["leases"]
    rnd = f["rnd"]
    if leases is not None:
        lease_debt, lease_dep, lease_adj = lease_adjustments(leases)
        ebit = ebit + lease_adj
        debt = debt + lease_debt
        invested = invested + lease_debt
        info.update(lease_debt=lease_debt, lease_depreciation=lease_dep, lease_ebit_adjustment=lease_adj)
    if rnd is not None:
        rnd_asset, rnd_amort, rnd_adj = rnd_adjustments(rnd)
        ebit = ebit + rnd_adj
        invested = invested + rnd_asset
        info.update(rnd_asset=rnd_asset, rnd_amortization=rnd_amort, rnd_ebit_adjustment=rnd_adj)
    info["ebit_adjusted"] = ebit
    info["invested_capital"] = invested
    base_margin = ebit / revenues
    info["base_margin"] = base_margin

    g1 = f["growth_year_1"]
    g25 = f["growth_years_2_5"]
    if g25 is None:
        g25 = g1
    m1 = f["margin_year_1"]
    if m1 is None:
        m1 = base_margin
    target = f["target_margin"]
    if target is None:
        target = m1
    s1 = f["sales_to_capital_years_1_5"]
    s2 = f["sales_to_capital_years_6_10"]
    if s2 is None:
        s2 = s1
    riskfree = f["riskfree_rate"]
    long_riskfree = f["riskfree_rate_after_year_10"]
    rf_stable = riskfree if long_riskfree is None else long_riskfree
    gs = f["stable_growth"]
    if gs is None:
        gs = rf_stable
    rs = f["stable_cost_of_capital"]
    if rs is None:
        rs = rf_stable + f["mature_market_erp"]
    if not rs > gs:
        path = "stable_growth" if f["stable_growth"] is not None else "stable_cost_of_capital"
        raise ValidationError(
            FieldError(path, f"stable growth ({_pct(gs)}) must be below the stable cost of capital ({_pct(rs)})")
        )
    if not rs > -1.0:
        raise ValidationError(FieldError("stable_cost_of_capital", "must be greater than -100%"))
    tax_eff = f["effective_tax_rate"]
    tax_term = f["marginal_tax_rate"] if f["tax_rate_converges_to_marginal"] else tax_eff
    roc = f["stable_return_on_capital"]
    cash = f["cash"] - f["trapped_cash"] * (f["marginal_tax_rate"] - f["trapped_cash_foreign_tax_rate"])
    price = f["price"]
    op: OpParams = (
        revenues,
        ebit,
        g1,
        g25,
        gs,
        m1,
        target,
        f["margin_convergence_year"],
        tax_eff,
        tax_term,
        s1,
        s2,
        f["reinvestment_lag"],
        f["nol"],
    )
    val: ValParams = (
        f["initial_cost_of_capital"],
        rs,
        -1.0 if roc is None else roc,
        gs,
        mid_year,
        f["failure_probability"],
        f["distress_proceeds_basis"] == "book",
        f["distress_proceeds_fraction"],
        debt,
        f["minority_interests"],
        f["preferred_stock"],
        cash,
        f["non_operating_assets"],
        f["options_value"],
        f["shares_outstanding"],
        -1.0 if price is None else price,
    )
    info["book_capital"] = f["book_equity"] + f["book_debt"]
    info["riskfree_rate_stable"] = rf_stable
    return Prepared(op, val, info)


# Fields that `_resolve` copies unchanged into one slot of ValParams (read nowhere else, no check).
VAL_SLOT = {
    "initial_cost_of_capital": 0,
    "failure_probability": 5,
    "distress_proceeds_fraction": 7,
    "minority_interests": 9,
    "preferred_stock": 10,
    "non_operating_assets": 12,
    "options_value": 13,
    "shares_outstanding": 14,
}
# Fields `derive` can change in a resolution without resolving every field again.
DERIVABLE = frozenset({*VAL_SLOT, "stable_growth", "stable_cost_of_capital"})


def derive(base: Prepared, f: Mapping[str, Any], changes: Mapping[str, Any]) -> Prepared:
    """`_resolve({**f, **changes}, mid_year)`, given `base = _resolve(f, mid_year)` and changes to DERIVABLE fields.

    Every value `_resolve` derives from a changed field is recomputed here with the same
    operations, and the same ValidationError is raised (stable growth must stay below the
    stable cost of capital; the stable cost of capital above -100%). Keep in step with `_resolve`.
    """
    op = base.op
    val = list(base.val)
    for name, value in changes.items():
        slot = VAL_SLOT.get(name)
        if slot is not None:
            val[slot] = value
    if "stable_growth" in changes or "stable_cost_of_capital" in changes:
        rf_stable = base.info["riskfree_rate_stable"]
        given_gs = changes["stable_growth"] if "stable_growth" in changes else f["stable_growth"]
        gs = rf_stable if given_gs is None else given_gs
        given_rs = (
            changes["stable_cost_of_capital"] if "stable_cost_of_capital" in changes else f["stable_cost_of_capital"]
        )
        rs = rf_stable + f["mature_market_erp"] if given_rs is None else given_rs
        if not rs > gs:
            path = "stable_growth" if given_gs is not None else "stable_cost_of_capital"
            raise ValidationError(
                FieldError(path, f"stable growth ({_pct(gs)}) must be below the stable cost of capital ({_pct(rs)})")
            )
        if not rs > -1.0:
            raise ValidationError(FieldError("stable_cost_of_capital", "must be greater than -100%"))
        op = (*op[:4], gs, *op[5:])
        val[1] = rs
        val[3] = gs
    return Prepared(op, tuple(val), base.info)  # type: ignore[arg-type]


def prepare(inputs: GinzuInputs, conventions: GinzuConventions | None = None) -> Prepared:
    """Resolve defaults and converters once; the result feeds `value_per_share` / `valuation`."""
    mid = conventions is not None and conventions.timing == "mid_year"
    resolved: Prepared | None = vars(inputs).get(_RESOLVED)
    if resolved is not None and not mid:
        return resolved
    return _resolve(vars(inputs), mid)


def prepare_fields(values: Mapping[str, Any], mid_year: bool = False) -> Prepared:
    """Like `prepare` from a plain mapping of GinzuInputs field values (no type validation)."""
    return _resolve(values, mid_year)


# --- The two stages -----------------------------------------------------------------------

Operating = tuple[
    list[float], list[float], list[float], list[float], list[float], list[float], list[float], list[float], list[float]
]


def operate(op: OpParams) -> Operating:
    """Stage 1: revenues .. FCFF for years 1-10 and the terminal year (index 11).

    Returns (growth, revenues, margin, ebit, tax, ebit_after_tax, reinvestment, fcff, nol),
    each a list of 12 (index 0 = base year; reinvestment/fcff[0] and growth[0] are 0).
    """
    r0, e0, g1, g25, gs, m1, target, conv, tax_eff, tax_term, s1, s2, lag, nol0 = op
    # growth
    step = (g25 - gs) / 5.0
    g = [
        0.0,
        g1,
        g25,
        g25,
        g25,
        g25,
        g25 - step * 1.0,
        g25 - step * 2.0,
        g25 - step * 3.0,
        g25 - step * 4.0,
        g25 - step * 5.0,
        gs,
    ]
    # revenues
    rev = [r0] * 12
    x = r0
    for t in range(1, 12):
        x = x * (1.0 + g[t])
        rev[t] = x
    # margins
    m = [e0 / r0, m1] + [target] * 10  # the target from the year after convergence on
    slope = (target - m1) / conv
    for t in range(2, min(conv, 10) + 1):
        m[t] = target - slope * (conv - t)
    m[11] = m[10]
    ebit = list(map(mul, m, rev))  # EBIT_t = margin_t * R_t (year 0's product is replaced below)
    ebit[0] = e0
    # tax rates
    dtax = (tax_term - tax_eff) / 5.0
    tax = [tax_eff] * 12
    y = tax_eff
    for t in range(6, 11):
        y = y + dtax
        tax[t] = y
    tax[11] = tax_term
    # after-tax operating income with the NOL
    eat = [e0 * (1.0 - tax_eff) if e0 > 0.0 else e0] + [0.0] * 11
    nol = [nol0] + [0.0] * 11
    prev = nol0
    for t in range(1, 11):
        e = ebit[t]
        if e > 0.0:
            if e < prev:
                eat[t] = e
                prev = prev - e
            else:
                eat[t] = e - (e - prev) * tax[t]
                prev = 0.0
        else:
            eat[t] = e
            prev = prev - e if e < 0.0 else prev
        nol[t] = prev
    e = ebit[11]
    nol[11] = prev - e if (e < 0.0 or prev > e) else 0.0
    eat[11] = e * (1.0 - tax_term)
    # reinvestment
    re = [0.0] * 12
    if lag == 0:
        for t in range(1, 11):
            re[t] = (rev[t] - rev[t - 1]) / (s1 if t <= 5 else s2)
    elif lag == 2:
        for t in range(1, 9):
            re[t] = (rev[t + 2] - rev[t + 1]) / (s1 if t <= 5 else s2)
        re[9] = rev[10] * g[10] / s2
        re[10] = rev[11] * gs / s2
    elif lag == 3:
        for t in range(1, 9):
            re[t] = (rev[t + 3] - rev[t + 2]) / (s1 if t <= 5 else s2)
        re[9] = rev[11] * gs / s2
        re[10] = re[9] * (1.0 + gs)
    else:
        for t in range(1, 11):
            re[t] = (rev[t + 1] - rev[t]) / (s1 if t <= 5 else s2)
    fcff = list(map(sub, eat, re))  # FCFF_t = EBIT(1-t)_t - reinvestment_t for years 1-10
    fcff[0] = fcff[11] = 0.0  # year 11's is set by the valuation, with its reinvestment
    return g, rev, m, ebit, tax, eat, re, fcff, nol


# What `_valuation` computes, in the order of its first result.
VALUATION_KEYS = (
    "terminal_cash_flow",
    "terminal_reinvestment",
    "stable_return_on_capital",
    "terminal_value",
    "pv_terminal_value",
    "pv_cash_flows",
    "sum_of_pv",
    "distress_proceeds",
    "value_of_operating_assets",
    "value_of_equity",
    "value_of_common_equity",
    "value_per_share",
    "discount_factor_year_10",
)


def valuation(val: ValParams, ops: Operating, book_capital: float = 0.0) -> dict[str, float]:
    """Stage 2: cost of capital path, discounting, terminal value, failure and the equity bridge."""
    return dict(zip(VALUATION_KEYS, _valuation(val, ops, book_capital)[0], strict=True))


def _valuation(
    val: ValParams, ops: Operating, book_capital: float
) -> tuple[tuple[float, ...], list[float], list[float], list[float]]:
    """`valuation`'s values (in VALUATION_KEYS order, a tuple: the model reads them without a dict
    lookup each), and the cost of capital, discount factor and PV of FCFF of years 1-10."""
    r0, rs, roc_in, gs, mid, p, book, fraction, debt, minority, preferred, cash, nonop, options, shares, _price = val
    eat, re, fcff = ops[5], ops[6], ops[7]
    step = (r0 - rs) / 5.0
    r10 = r0 - step - step - step - step - step
    roc = r10 if roc_in == -1.0 else roc_in
    eat11 = eat[11]
    re11 = (gs / roc) * eat11 if gs > 0.0 else 0.0
    re[11] = re11
    fcff11 = eat11 - re11
    fcff[11] = fcff11
    inv0 = 1.0 / (1.0 + r0)
    df = 1.0
    pv_sum = 0.0
    rate = r0
    inv = inv0
    rates: list[float] = []
    factors: list[float] = []
    pvs: list[float] = []
    for t in range(1, 11):
        if t > 5:
            rate = rate - step
            inv = 1.0 / (1.0 + rate)
        df = inv if t == 1 else df * inv
        pv = fcff[t] * df
        if mid:
            pv = pv * math.sqrt(1.0 + rate)
        pv_sum += pv
        rates.append(rate)
        factors.append(df)
        pvs.append(pv)
    tv = fcff11 / (rs - gs)
    pv_tv = tv * df
    if mid:
        pv_tv = pv_tv * math.sqrt(1.0 + rs)
    total = pv_tv + pv_sum
    proceeds = book_capital * fraction if book else total * fraction
    operating = total * (1.0 - p) + proceeds * p
    equity = operating - debt - minority - preferred + cash + nonop
    common = equity - options
    per_share = common / shares
    out = (fcff11, re11, roc, tv, pv_tv, pv_sum, total, proceeds, operating, equity, common, per_share, df)
    return out, rates, factors, pvs


def value_per_share(prepared: Prepared) -> float:
    """The fast path: value per share of a prepared valuation (no validation, no schedule).

    This is what sensitivity grids, tornado charts and Monte Carlo call repeatedly.
    """
    return per_share(prepared, operate(prepared.op))


def per_share(prepared: Prepared, ops: Operating) -> float:
    """Value per share from prepared parameters and stage-1 results (`operate(prepared.op)`)."""
    r0, rs, roc_in, gs, mid, p, book, fraction, debt, minority, preferred, cash, nonop, options, shares, _ = (
        prepared.val
    )
    eat, fcff = ops[5], ops[7]
    step = (r0 - rs) / 5.0
    roc = r0 - step - step - step - step - step if roc_in == -1.0 else roc_in
    eat11 = eat[11]
    fcff11 = eat11 - ((gs / roc) * eat11 if gs > 0.0 else 0.0)
    inv = 1.0 / (1.0 + r0)
    df = inv
    pv_sum = fcff[1] * df
    if mid:
        half = math.sqrt(1.0 + r0)
        pv_sum = pv_sum * half
        for t in range(2, 6):
            df = df * inv
            pv_sum += fcff[t] * df * half
        rate = r0
        for t in range(6, 11):
            rate = rate - step
            df = df * (1.0 / (1.0 + rate))
            pv_sum += fcff[t] * df * math.sqrt(1.0 + rate)
        pv_tv = fcff11 / (rs - gs) * df * math.sqrt(1.0 + rs)
    else:
        for t in range(2, 6):
            df = df * inv
            pv_sum += fcff[t] * df
        rate = r0
        for t in range(6, 11):
            rate = rate - step
            df = df * (1.0 / (1.0 + rate))
            pv_sum += fcff[t] * df
        pv_tv = fcff11 / (rs - gs) * df
    total = pv_tv + pv_sum
    proceeds = prepared.info["book_capital"] * fraction if book else total * fraction
    operating = total * (1.0 - p) + proceeds * p
    return (operating - debt - minority - preferred + cash + nonop - options) / shares


Discounting = tuple[float, tuple[float, ...], tuple[float, ...]]


def discounting(r0: float, rs: float, mid: bool) -> Discounting:
    """What `per_share` computes from (r0, r_stable, mid_year) alone, by the same operations:
    the default stable return on capital (the year-10 rate), DF_1..DF_10 and, mid-year, the
    factors each year's PV is multiplied by (sqrt(1 + r_t); the last is sqrt(1 + r_stable))."""
    step = (r0 - rs) / 5.0
    inv = 1.0 / (1.0 + r0)
    df = inv
    dfs = [df]
    for _ in range(2, 6):
        df = df * inv
        dfs.append(df)
    rate = r0
    rates = [rate] * 5
    for _ in range(6, 11):
        rate = rate - step
        df = df * (1.0 / (1.0 + rate))
        dfs.append(df)
        rates.append(rate)
    muls: tuple[float, ...] = ()
    if mid:
        half = math.sqrt(1.0 + r0)
        muls = (half, half, half, half, half, *(math.sqrt(1.0 + r) for r in rates[5:]), math.sqrt(1.0 + rs))
    return r0 - step - step - step - step - step, tuple(dfs), muls


def per_share_discounted(prepared: Prepared, ops: Operating, disc: Discounting) -> float:
    """`per_share(prepared, ops)` with `disc = discounting(r0, r_stable, mid_year)` of `prepared.val`."""
    return per_share_of(prepared.val, prepared.info["book_capital"], ops, disc)


def per_share_of(val: ValParams, book_capital: float, ops: Operating, disc: Discounting) -> float:
    """`per_share_discounted` from the parts of a resolution it reads (grids build no Prepared per cell).

    `val[0]` (r0) is not read: `disc` was computed from it.
    """
    _r0, rs, roc_in, gs, mid, p, book, fraction, debt, minority, preferred, cash, nonop, options, shares, _ = val
    r10, dfs, muls = disc
    eat, fcff = ops[5], ops[7]
    roc = r10 if roc_in == -1.0 else roc_in
    eat11 = eat[11]
    fcff11 = eat11 - ((gs / roc) * eat11 if gs > 0.0 else 0.0)
    if mid:
        pv_sum = fcff[1] * dfs[0] * muls[0]
        for t in range(2, 11):
            pv_sum += fcff[t] * dfs[t - 1] * muls[t - 1]
        pv_tv = fcff11 / (rs - gs) * dfs[9] * muls[10]
    else:
        pv_sum = fcff[1] * dfs[0]
        for t in range(2, 11):
            pv_sum += fcff[t] * dfs[t - 1]
        pv_tv = fcff11 / (rs - gs) * dfs[9]
    total = pv_tv + pv_sum
    proceeds = book_capital * fraction if book else total * fraction
    operating = total * (1.0 - p) + proceeds * p
    return (operating - debt - minority - preferred + cash + nonop - options) / shares


# --- The registered model -------------------------------------------------------------------


def _warnings(prepared: Prepared, terminal_cash_flow: float, per_share: float, ops: Operating) -> list[str]:
    warnings: list[str] = []
    gs = prepared.op[4]
    rf = prepared.info["riskfree_rate_stable"]
    if gs > rf:
        warnings.append(
            f"stable growth ({_pct(gs)}) is above the riskfree rate ({_pct(rf)}): the template warns you are on your own"
        )
    if prepared.op[7] > 10:
        warnings.append(
            "margin_convergence_year is after year 10: the terminal margin is the year-10 margin, not the target"
        )
    if terminal_cash_flow < 0:
        warnings.append("the terminal-year free cash flow is negative, so the terminal value is negative")
    if gs <= 0:
        warnings.append("stable growth is not positive: the template sets terminal reinvestment to zero")
    if ops[8][10] > 0:
        warnings.append("a net operating loss is left after year 10; the terminal year ignores it (as the template)")
    if per_share < 0:
        warnings.append("the value of equity is negative")
    return warnings


_SCHEDULE_KEYS = (
    "year",
    "period",
    "revenue_growth",
    "revenues",
    "operating_margin",
    "ebit",
    "tax_rate",
    "ebit_after_tax",
    "reinvestment",
    "fcff",
    "nol",
    "sales_to_capital",
    "cost_of_capital",
    "discount_factor",
    "pv_fcff",
    "invested_capital",
    "roic",
)
_YEARS = tuple(range(12))


class _Row:
    """One schedule row, filled attribute by attribute; the row is its `vars()`, a plain dict.

    Instance dicts of one class share a single key table (PEP 412), so CPython builds these rows
    faster than a 17-key dict display (which, past 15 keys, inserts the keys one at a time into a
    growing dict) and stores each in less than half the memory. Callers see ordinary dicts.
    """

    year: int
    period: str
    revenue_growth: float | None
    revenues: float
    operating_margin: float
    ebit: float
    tax_rate: float
    ebit_after_tax: float
    reinvestment: float | None
    fcff: float | None
    nol: float
    sales_to_capital: float | None
    cost_of_capital: float | None
    discount_factor: float | None
    pv_fcff: float | None
    invested_capital: float | None
    roic: float | None


def _schedule_rows(columns: tuple[Sequence[Any], ...]) -> list[dict[str, Any]]:
    """The schedule's rows, keys in _SCHEDULE_KEYS order (test_ginzu_schedule_rows checks it)."""
    rows = []
    for (
        year,
        period,
        revenue_growth,
        revenues,
        operating_margin,
        ebit,
        tax_rate,
        ebit_after_tax,
        reinvestment,
        fcff,
        nol,
        sales_to_capital,
        cost_of_capital,
        discount_factor,
        pv_fcff,
        invested_capital,
        roic,
    ) in zip(*columns, strict=True):
        row = _Row()
        row.year = year
        row.period = period
        row.revenue_growth = revenue_growth
        row.revenues = revenues
        row.operating_margin = operating_margin
        row.ebit = ebit
        row.tax_rate = tax_rate
        row.ebit_after_tax = ebit_after_tax
        row.reinvestment = reinvestment
        row.fcff = fcff
        row.nol = nol
        row.sales_to_capital = sales_to_capital
        row.cost_of_capital = cost_of_capital
        row.discount_factor = discount_factor
        row.pv_fcff = pv_fcff
        row.invested_capital = invested_capital
        row.roic = roic
        rows.append(vars(row))
    return rows


_PERIODS = ("base", *("forecast",) * 10, "terminal")
_TEXT_COLUMNS = frozenset({"period"})


@register_model(
    "fcff_ginzu",
    inputs=GinzuInputs,
    conventions=GinzuConventions,
    summary="FCFF DCF with Damodaran's Ginzu mechanics (fcffsimpleginzu.xlsx), ten years plus a terminal year",
)
def compute(inputs: GinzuInputs, conventions: GinzuConventions) -> Result:
    """Value a firm with the Ginzu FCFF template (see the module docstring for formulas)."""
    prepared = prepare(inputs, conventions)
    ops = operate(prepared.op)
    out, rates, factors, pvs = _valuation(prepared.val, ops, prepared.info["book_capital"])
    fcff11, re11, roc, tv, pv_tv, pv_sum, total, proceeds, operating, equity, common, vps, _df10 = out
    g, rev, m, ebit, tax, eat, re, fcff, nol = ops
    rs = prepared.val[1]
    s1, s2 = prepared.op[10], prepared.op[11]
    # Invested capital at the end of each year, and the return on the capital at its start.
    invested = prepared.info["invested_capital"]
    capital = [invested]
    roic: list[float | None] = [eat[0] / invested if invested != 0.0 else None]
    for t in range(1, 11):
        roic.append(eat[t] / invested if invested != 0.0 else None)
        invested = invested + re[t]
        capital.append(invested)
    roic.append(roc)
    # Year 0 (base), 1-10 (forecast) and 11 (terminal), one column per key of _SCHEDULE_KEYS.
    schedule = Table(
        _SCHEDULE_KEYS,
        (
            _YEARS,
            _PERIODS,
            [None, *g[1:]],
            rev,
            m,
            ebit,
            tax,
            eat,
            [None, *re[1:]],
            [None, *fcff[1:]],
            nol,
            (None, s1, s1, s1, s1, s1, s2, s2, s2, s2, s2, None),
            [None, *rates, rs],
            [None, *factors, None],
            [None, *pvs, None],
            [*capital, None],
            roic,
        ),
        _schedule_rows,
        _TEXT_COLUMNS,
        # Every number above, from the lists before their None entries (g, re and fcff hold 0.0
        # where the columns hold None); roic holds None when invested capital is zero, and then
        # `run` checks the columns instead.
        (_YEARS, g, rev, m, ebit, tax, eat, re, fcff, nol, (s1, s2, rs), rates, factors, pvs, capital, roic),
    )
    val = prepared.val
    info = prepared.info
    outputs: dict[str, Any] = {
        "revenues_year_10": rev[10],
        "ebit_terminal": ebit[11],
        "terminal_growth": val[3],
        "terminal_cost_of_capital": rs,
        "terminal_cash_flow": fcff11,
        "terminal_reinvestment": re11,
        "stable_return_on_capital": roc,
        "terminal_value": tv,
        "pv_terminal_value": pv_tv,
        "pv_cash_flows": pv_sum,
        "sum_of_pv": total,
        "failure_probability": val[5],
        "distress_proceeds": proceeds,
        "value_of_operating_assets": operating,
        "debt": val[8],
        "minority_interests": val[9],
        "preferred_stock": val[10],
        "cash": val[11],
        "non_operating_assets": val[12],
        "value_of_equity": equity,
        "options_value": val[13],
        "value_of_common_equity": common,
        "shares_outstanding": val[14],
        "value_per_share": vps,
        "base_ebit_adjusted": info["ebit_adjusted"],
        "base_operating_margin": info["base_margin"],
        "invested_capital_base": info["invested_capital"],
    }
    if inputs.rnd is not None or inputs.leases is not None:
        for key in ("rnd_asset", "rnd_amortization", "rnd_ebit_adjustment", "lease_debt", "lease_depreciation"):
            if key in info:
                outputs[key] = info[key]
        if "lease_ebit_adjustment" in info:
            outputs["lease_ebit_adjustment"] = info["lease_ebit_adjustment"]
    price = val[15]
    if price >= 0:
        outputs["price"] = price
        if vps > 0:
            outputs["price_to_value"] = price / vps
        if price > 0:
            outputs["upside"] = vps / price - 1
    return Result(outputs, schedule, _warnings(prepared, fcff11, vps, ops))

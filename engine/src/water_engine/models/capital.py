"""Cost of capital: CAPM, Hamada betas, regression beta, cost of debt, synthetic ratings,
market value of debt, WACC and period-specific WACC paths.

Units: rates, premiums, spreads and tax rates are decimals (0.05 = 5%); money is in the
company's currency; maturities are years; dates are ISO strings (YYYY-MM-DD).

Arithmetic follows the engine's bit-identical rules (see `timevalue`): sums use `math.fsum`,
discount factors are cumulative products, fractional powers use `timevalue.fractional_power`,
square roots use `math.sqrt`.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import EngineError, FieldError
from ..registry import Result, register_model
from .timevalue import discount_factors, fractional_power, parse_date

__all__ = [
    "DAMODARAN_LARGE_FIRMS_2024",
    "DAMODARAN_SMALL_FIRMS_2024",
    "RatingRow",
    "after_tax_cost_of_debt",
    "capm_cost_of_equity",
    "lease_beyond_years",
    "lease_debt_value",
    "levered_beta",
    "ols_regression",
    "rating_for_coverage",
    "sample_prices",
    "simple_returns",
    "straight_debt_value",
    "unlevered_beta",
    "wacc",
    "wacc_path_rates",
]


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


# --- CAPM -----------------------------------------------------------------------------------

CountryApproach = Literal["constant", "beta", "lambda"]


def capm_cost_of_equity(
    risk_free: float,
    beta: float,
    equity_risk_premium: float,
    size_premium: float = 0.0,
    country_risk_premium: float = 0.0,
    approach: CountryApproach = "constant",
    country_lambda: float = 1.0,
) -> float:
    """Cost of equity = rf + beta * ERP + size premium + country component.

    Country component (Damodaran): constant -> CRP; beta -> beta * CRP; lambda -> lambda * CRP.
    """
    return (
        risk_free
        + beta * equity_risk_premium
        + size_premium
        + _country_component(beta, country_risk_premium, approach, country_lambda)
    )


def _country_component(beta: float, crp: float, approach: CountryApproach, lam: float) -> float:
    if approach == "beta":
        return beta * crp
    if approach == "lambda":
        return lam * crp
    return crp


@dataclass(frozen=True)
class CapmInputs:
    """Capital asset pricing model inputs."""

    risk_free: float = field(metadata={"doc": "risk-free rate, decimal (e.g. 10-year government bond)"})
    beta: float = field(metadata={"doc": "levered equity beta"})
    equity_risk_premium: float = field(metadata={"doc": "mature-market equity risk premium, decimal"})
    size_premium: float = field(default=0.0, metadata={"doc": "small-company premium, decimal"})
    country_risk_premium: float = field(default=0.0, metadata={"doc": "country risk premium, decimal"})
    country_lambda: float = field(
        default=1.0, metadata={"doc": "exposure to country risk (lambda), used with approach 'lambda'", "ge": 0}
    )


@dataclass(frozen=True)
class CapmConventions:
    """How the country risk premium enters."""

    country_risk_approach: CountryApproach = field(
        default="constant",
        metadata={"doc": "constant: + CRP; beta: + beta x CRP; lambda: + lambda x CRP (Damodaran)"},
    )


@register_model("capm", inputs=CapmInputs, conventions=CapmConventions, summary="CAPM cost of equity")
def _capm_model(inputs: CapmInputs, conv: CapmConventions) -> Result:
    """k_e = rf + beta x ERP + size premium + country component.

    Source: Sharpe (1964); country risk approaches from Damodaran, "Damodaran on Valuation"
    (2nd ed.), ch. 2, Illustration 2.4 (Embraer).
    """
    country = _country_component(
        inputs.beta, inputs.country_risk_premium, conv.country_risk_approach, inputs.country_lambda
    )
    coe = capm_cost_of_equity(
        inputs.risk_free,
        inputs.beta,
        inputs.equity_risk_premium,
        inputs.size_premium,
        inputs.country_risk_premium,
        conv.country_risk_approach,
        inputs.country_lambda,
    )
    return Result(
        {
            "cost_of_equity": coe,
            "risk_free": inputs.risk_free,
            "market_component": inputs.beta * inputs.equity_risk_premium,
            "size_component": inputs.size_premium,
            "country_component": country,
        }
    )


# --- Hamada ---------------------------------------------------------------------------------


def unlevered_beta(levered: float, debt_to_equity: float, tax_rate: float) -> float:
    """Hamada: beta_U = beta_L / (1 + (1 - t) D/E)."""
    return levered / (1.0 + (1.0 - tax_rate) * debt_to_equity)


def levered_beta(unlevered: float, debt_to_equity: float, tax_rate: float) -> float:
    """Hamada: beta_L = beta_U x (1 + (1 - t) D/E)."""
    return unlevered * (1.0 + (1.0 - tax_rate) * debt_to_equity)


@dataclass(frozen=True)
class BetaLeveredInputs:
    """A beta to unlever and/or relever."""

    beta: float = field(metadata={"doc": "the beta you have (levered or unlevered, see beta_is)"})
    debt_to_equity: float = field(metadata={"doc": "D/E (market values) that goes with that beta", "ge": 0})
    tax_rate: float = field(metadata={"doc": "marginal tax rate, decimal", "ge": 0, "le": 1})
    beta_is: Literal["levered", "unlevered"] = field(default="levered", metadata={"doc": "what `beta` is"})
    target_debt_to_equity: float | None = field(
        default=None, metadata={"doc": "relever at this D/E (default: debt_to_equity)", "ge": 0}
    )


@register_model("beta_levered", inputs=BetaLeveredInputs, summary="Unlever and relever a beta (Hamada, debt beta zero)")
def _beta_levered_model(inputs: BetaLeveredInputs, _conv: object) -> Result:
    """beta_L = beta_U x (1 + (1 - t) x D/E), debt beta assumed zero.

    Source: Hamada (1972), Journal of Finance 27(2); Damodaran, "Damodaran on Valuation" (2nd ed.),
    Illustration 2.4 (Embraer: 0.95 unlevered, D/E 18.95%, t 34% -> 1.07).
    """
    if inputs.beta_is == "levered":
        bu = unlevered_beta(inputs.beta, inputs.debt_to_equity, inputs.tax_rate)
    else:
        bu = inputs.beta
    target = inputs.debt_to_equity if inputs.target_debt_to_equity is None else inputs.target_debt_to_equity
    return Result(
        {
            "unlevered_beta": bu,
            "levered_beta": levered_beta(bu, target, inputs.tax_rate),
            "debt_to_equity": target,
        }
    )


# --- regression beta ------------------------------------------------------------------------

Frequency = Literal["daily", "weekly", "monthly"]


def _period_key(d: _dt.date, frequency: Frequency) -> tuple[int, ...]:
    if frequency == "weekly":
        iso = d.isocalendar()
        return (iso[0], iso[1])
    if frequency == "monthly":
        return (d.year, d.month)
    return (d.toordinal(),)


def sample_prices(
    series: Sequence[tuple[str, float]], frequency: Frequency
) -> dict[tuple[int, ...], tuple[_dt.date, float]]:
    """Last close of each sampling period: day, ISO week (Mon-Sun) or calendar month."""
    out: dict[tuple[int, ...], tuple[_dt.date, float]] = {}
    for text, price in series:
        d = parse_date(text)
        key = _period_key(d, frequency)
        if key not in out or d > out[key][0]:
            out[key] = (d, float(price))
    return out


def simple_returns(prices: Sequence[float]) -> list[float]:
    """r_k = P_k / P_{k-1} - 1."""
    return [prices[i] / prices[i - 1] - 1.0 for i in range(1, len(prices))]


def ols_regression(x: Sequence[float], y: Sequence[float]) -> dict[str, float | int | None]:
    """OLS of y on x with an intercept: slope, intercept, R², standard errors, t, n.

    slope = Sxy / Sxx; intercept = mean(y) - slope x mean(x); s² = SSE / (n - 2);
    se(slope) = sqrt(s² / Sxx); se(intercept) = sqrt(s² (1/n + mean(x)² / Sxx));
    R² = 1 - SSE / Syy. Values that would be infinite or undefined are None.
    """
    n = len(x)
    mx = math.fsum(x) / n
    my = math.fsum(y) / n
    dx = [v - mx for v in x]
    dy = [v - my for v in y]
    sxx = math.fsum(a * a for a in dx)
    sxy = math.fsum(a * b for a, b in zip(dx, dy, strict=True))
    syy = math.fsum(b * b for b in dy)
    if sxx == 0.0:
        raise EngineError("the benchmark returns do not vary, so beta is undefined")
    slope = sxy / sxx
    intercept = my - slope * mx
    resid = [yv - intercept - slope * xv for xv, yv in zip(x, y, strict=True)]
    sse = math.fsum(e * e for e in resid)
    s2 = sse / (n - 2)
    se_slope = math.sqrt(s2 / sxx)
    se_intercept = math.sqrt(s2 * (1.0 / n + mx * mx / sxx))
    return {
        "slope": slope,
        "intercept": intercept,
        "r_squared": (1.0 - sse / syy) if syy > 0.0 else None,
        "standard_error": se_slope,
        "intercept_standard_error": se_intercept,
        "t_statistic": slope / se_slope if se_slope > 0.0 else None,
        "observations": n,
    }


def _series_errors(series: Sequence[tuple[str, float]], name: str) -> list[FieldError]:
    errors: list[FieldError] = []
    seen: set[str] = set()
    for i, (text, price) in enumerate(series):
        try:
            parse_date(text)
        except ValueError as exc:
            errors.append(FieldError(f"{name}[{i}][0]", str(exc)))
        if text in seen:
            errors.append(FieldError(f"{name}[{i}][0]", f"duplicate date {text}"))
        seen.add(text)
        if not price > 0.0:
            errors.append(FieldError(f"{name}[{i}][1]", "price must be positive"))
    return errors


@dataclass(frozen=True)
class BetaRegressionInputs:
    """Two price series as [date, price] pairs (any order; adjusted closes recommended)."""

    stock: list[tuple[str, float]] = field(metadata={"doc": "[ISO date, price] pairs of the stock"})
    benchmark: list[tuple[str, float]] = field(metadata={"doc": "[ISO date, price] pairs of the market index"})

    def validate(self) -> list[FieldError]:
        return _series_errors(self.stock, "stock") + _series_errors(self.benchmark, "benchmark")


@dataclass(frozen=True)
class BetaRegressionConventions:
    """Return sampling."""

    frequency: Frequency = field(
        default="weekly",
        metadata={"doc": "daily; weekly = last close of each ISO week; monthly = last close of each month"},
    )


@register_model(
    "beta_regression",
    inputs=BetaRegressionInputs,
    conventions=BetaRegressionConventions,
    summary="Regression beta of a stock's returns on a benchmark's",
)
def _beta_regression_model(inputs: BetaRegressionInputs, conv: BetaRegressionConventions) -> Result:
    """R_stock = alpha + beta x R_benchmark + e, ordinary least squares.

    Prices are sampled at the last close of each period (day, ISO week, calendar month); only
    periods present in both series are kept; simple returns between consecutive kept periods.
    Reports beta, alpha (per period), R², standard error and t-statistic of beta, observations,
    and Blume's adjusted beta 0.67 x beta + 0.33.
    Source: Damodaran, "Investment Valuation" (3rd ed.), ch. 8 (regression betas);
    Blume (1971), Journal of Finance 26(1).
    """
    s = sample_prices(inputs.stock, conv.frequency)
    b = sample_prices(inputs.benchmark, conv.frequency)
    keys = sorted(set(s) & set(b))
    if len(keys) < 4:
        raise EngineError(
            f"beta regression needs at least 4 {conv.frequency} periods common to both series "
            f"(3 returns); found {len(keys)}"
        )
    y = simple_returns([s[k][1] for k in keys])
    x = simple_returns([b[k][1] for k in keys])
    reg = ols_regression(x, y)
    beta = reg["slope"]
    assert isinstance(beta, float)
    warnings: list[str] = []
    if reg["t_statistic"] is None:
        warnings.append("the fit is exact, so the t-statistic is undefined")
    if reg["r_squared"] is None:
        warnings.append("the stock's returns do not vary, so R² is undefined")
    outputs: dict[str, Any] = {
        "beta": beta,
        "alpha": reg["intercept"],
        "r_squared": reg["r_squared"],
        "standard_error": reg["standard_error"],
        "alpha_standard_error": reg["intercept_standard_error"],
        "t_statistic": reg["t_statistic"],
        "observations": reg["observations"],
        "adjusted_beta": 0.67 * beta + 0.33,
        "start": s[keys[0]][0].isoformat(),
        "end": s[keys[-1]][0].isoformat(),
    }
    schedule = [
        {"period_end": s[k][0].isoformat(), "stock_return": yr, "benchmark_return": xr}
        for k, yr, xr in zip(keys[1:], y, x, strict=True)
    ]
    return Result(outputs, schedule, warnings)


# --- cost of debt ---------------------------------------------------------------------------


def after_tax_cost_of_debt(pre_tax: float, tax_rate: float) -> float:
    """k_d x (1 - t)."""
    return pre_tax * (1.0 - tax_rate)


@dataclass(frozen=True)
class CostOfDebtInputs:
    """A pre-tax cost of debt, or the risk-free rate plus default spreads; and a tax rate."""

    tax_rate: float = field(metadata={"doc": "marginal tax rate, decimal", "ge": 0, "le": 1})
    pre_tax_cost_of_debt: float | None = field(default=None, metadata={"doc": "pre-tax cost of debt, decimal"})
    risk_free: float | None = field(default=None, metadata={"doc": "risk-free rate, decimal"})
    default_spread: float | None = field(default=None, metadata={"doc": "company default spread, decimal", "ge": 0})
    country_default_spread: float = field(
        default=0.0, metadata={"doc": "country default spread added for emerging-market firms, decimal", "ge": 0}
    )

    def validate(self) -> list[FieldError]:
        built = self.risk_free is not None or self.default_spread is not None
        if self.pre_tax_cost_of_debt is not None and built:
            return [FieldError("pre_tax_cost_of_debt", "give either this or risk_free + default_spread, not both")]
        if self.pre_tax_cost_of_debt is None:
            missing = [n for n in ("risk_free", "default_spread") if getattr(self, n) is None]
            return [FieldError(n, "is required when pre_tax_cost_of_debt is not given") for n in missing]
        return []


@register_model("cost_of_debt", inputs=CostOfDebtInputs, summary="Pre- and after-tax cost of debt")
def _cost_of_debt_model(inputs: CostOfDebtInputs, _conv: object) -> Result:
    """k_d = rf + default spread (+ country default spread), or as given; after tax k_d x (1 - t).

    Source: Damodaran, "Damodaran on Valuation" (2nd ed.), ch. 2 (cost of debt).
    """
    if inputs.pre_tax_cost_of_debt is not None:
        pre = inputs.pre_tax_cost_of_debt + inputs.country_default_spread
    else:
        assert inputs.risk_free is not None
        assert inputs.default_spread is not None
        pre = inputs.risk_free + inputs.default_spread + inputs.country_default_spread
    return Result({"pre_tax_cost_of_debt": pre, "after_tax_cost_of_debt": after_tax_cost_of_debt(pre, inputs.tax_rate)})


# --- synthetic rating -----------------------------------------------------------------------


@dataclass(frozen=True)
class RatingRow:
    """One class: coverage at or above `min_coverage` (up to the next row) maps to rating and spread."""

    min_coverage: float = field(metadata={"doc": "lowest interest coverage (EBIT / interest) of this class"})
    rating: str = field(metadata={"doc": "rating label, e.g. Aaa/AAA"})
    spread: float = field(metadata={"doc": "default spread over the risk-free rate, decimal", "ge": 0})


def _rows(rows: Sequence[tuple[float, str, float]]) -> list[RatingRow]:
    return [RatingRow(m, r, s) for m, r, s in rows]


# Damodaran, ratings.xls / ratings.htm, "Data used is as of January 2024", non-financial service
# firms. Large: market cap > $5 billion; small: smaller and riskier firms. The lowest class
# starts at -100000 as in the source (it catches every lower coverage).
DAMODARAN_LARGE_FIRMS_2024: list[RatingRow] = _rows(
    [
        (-100000.0, "D2/D", 0.2000),
        (0.2, "C2/C", 0.1700),
        (0.65, "Ca2/CC", 0.1178),
        (0.8, "Caa/CCC", 0.0851),
        (1.25, "B3/B-", 0.0524),
        (1.5, "B2/B", 0.0361),
        (1.75, "B1/B+", 0.0314),
        (2.0, "Ba2/BB", 0.0221),
        (2.25, "Ba1/BB+", 0.0174),
        (2.5, "Baa2/BBB", 0.0147),
        (3.0, "A3/A-", 0.0121),
        (4.25, "A2/A", 0.0107),
        (5.5, "A1/A+", 0.0092),
        (6.5, "Aa2/AA", 0.0070),
        (8.5, "Aaa/AAA", 0.0059),
    ]
)
DAMODARAN_SMALL_FIRMS_2024: list[RatingRow] = _rows(
    [
        (-100000.0, "D2/D", 0.2000),
        (0.5, "C2/C", 0.1700),
        (0.8, "Ca2/CC", 0.1178),
        (1.25, "Caa/CCC", 0.0851),
        (1.5, "B3/B-", 0.0524),
        (2.0, "B2/B", 0.0361),
        (2.5, "B1/B+", 0.0314),
        (3.0, "Ba2/BB", 0.0221),
        (3.5, "Ba1/BB+", 0.0174),
        (4.0, "Baa2/BBB", 0.0147),
        (4.5, "A3/A-", 0.0121),
        (6.0, "A2/A", 0.0107),
        (7.5, "A1/A+", 0.0092),
        (9.5, "Aa2/AA", 0.0070),
        (12.5, "Aaa/AAA", 0.0059),
    ]
)


def rating_for_coverage(coverage: float | None, table: Sequence[RatingRow]) -> RatingRow:
    """The row with the largest min_coverage <= coverage (None = no interest = top row)."""
    if coverage is None:
        return table[-1]
    chosen = table[0]
    for row in table:
        if coverage >= row.min_coverage:
            chosen = row
    return chosen


@dataclass(frozen=True)
class SyntheticRatingInputs:
    """Operating income and interest expense; optionally the rates to build a cost of debt."""

    operating_income: float = field(metadata={"doc": "EBIT, currency (Damodaran suggests a normalised figure)"})
    interest_expense: float = field(metadata={"doc": "interest expense, currency", "ge": 0})
    risk_free: float | None = field(default=None, metadata={"doc": "risk-free rate, decimal (gives a cost of debt)"})
    country_default_spread: float = field(default=0.0, metadata={"doc": "added to the cost of debt, decimal", "ge": 0})
    tax_rate: float | None = field(
        default=None, metadata={"doc": "marginal tax rate for the after-tax cost", "ge": 0, "le": 1}
    )
    table: list[RatingRow] | None = field(
        default=None,
        metadata={"doc": "coverage classes ascending by min_coverage; default Damodaran January 2024 (firm_size)"},
    )

    def validate(self) -> list[FieldError]:
        if self.table is None:
            return []
        if not self.table:
            return [FieldError("table", "must not be empty")]
        return [
            FieldError(f"table[{i}].min_coverage", "must be above the previous row's (ascending order)")
            for i in range(1, len(self.table))
            if self.table[i].min_coverage <= self.table[i - 1].min_coverage
        ]


@dataclass(frozen=True)
class SyntheticRatingConventions:
    """Which default table."""

    firm_size: Literal["large", "small"] = field(
        default="large", metadata={"doc": "large: market cap > $5 billion; small: smaller and riskier firms"}
    )


@register_model(
    "synthetic_rating",
    inputs=SyntheticRatingInputs,
    conventions=SyntheticRatingConventions,
    summary="Synthetic rating and default spread from interest coverage",
)
def _synthetic_rating_model(inputs: SyntheticRatingInputs, conv: SyntheticRatingConventions) -> Result:
    """Coverage = EBIT / interest expense -> the class whose range contains it -> default spread.

    Pre-tax cost of debt = rf + spread + country default spread (when rf is given).
    Default table: Damodaran, "Ratings, Interest Coverage Ratios and Default Spread"
    (ratings.htm / ratings.xls), data as of January 2024, non-financial service firms.
    """
    default = DAMODARAN_LARGE_FIRMS_2024 if conv.firm_size == "large" else DAMODARAN_SMALL_FIRMS_2024
    table = inputs.table if inputs.table is not None else default
    warnings: list[str] = []
    coverage: float | None
    if inputs.interest_expense == 0.0:
        coverage = None
        warnings.append("no interest expense: coverage is unbounded, so the top class applies")
    else:
        coverage = inputs.operating_income / inputs.interest_expense
    row = rating_for_coverage(coverage, table)
    outputs: dict[str, Any] = {"interest_coverage": coverage, "rating": row.rating, "default_spread": row.spread}
    if inputs.risk_free is not None:
        pre = inputs.risk_free + row.spread + inputs.country_default_spread
        outputs["pre_tax_cost_of_debt"] = pre
        if inputs.tax_rate is not None:
            outputs["after_tax_cost_of_debt"] = after_tax_cost_of_debt(pre, inputs.tax_rate)
    return Result(outputs, None, warnings)


# --- market value of debt -------------------------------------------------------------------


def straight_debt_value(book_debt: float, interest_expense: float, maturity: float, pre_tax_rate: float) -> float:
    """Book debt as one coupon bond: I x (1 - (1+k)^-N) / k + B x (1+k)^-N (k = 0: I x N + B)."""
    df = 1.0 / fractional_power(1.0 + pre_tax_rate, maturity)
    annuity = maturity if pre_tax_rate == 0.0 else (1.0 - df) / pre_tax_rate
    return interest_expense * annuity + book_debt * df


LeaseYearsRounding = Literal["round", "round_down"]
# The longest spread of the lump sum after the listed lease commitments. Real leases run out well
# within it; a longer one means a unit slip (a lump in units, commitments in millions), and each year
# is a discount factor to compute.
MAX_LEASE_BEYOND_YEARS = 100


def lease_beyond_years(beyond: float, commitments: Sequence[float], rounding: LeaseYearsRounding = "round") -> int:
    """Years over which a lump sum after year n is spread: lump / average of the listed
    commitments, rounded as Excel ROUND (halves away from zero; Damodaran's lease converter and
    Ginzu template) or ROUNDDOWN (his Target illustration), at least 1."""
    average = _average_commitment(commitments)
    if not average > 0.0:
        return 1
    ratio = beyond / average
    years = math.floor(ratio) if rounding == "round_down" else math.floor(ratio + 0.5)
    return max(1, years)


def _average_commitment(commitments: Sequence[float]) -> float:
    """AVERAGE as the converters compute it: summed left to right, then divided by the count (the
    same operations as `fcff_ginzu`'s lease converter, so a lump at exactly a half-year boundary
    rounds to the same years in both; a correctly rounded fsum could differ in the last bit)."""
    total = 0.0
    for commitment in commitments:
        total += commitment
    return total / len(commitments) if commitments else 0.0


def lease_sum_errors(commitments: Sequence[float], path: str) -> list[FieldError]:
    """The error when the commitments add up beyond the float range (each one valid, their sum not)."""
    if math.isfinite(_average_commitment(commitments)):
        return []
    return [FieldError(path, "add up to more than the largest number a float holds (1.8e308): check the units")]


def lease_spread_errors(lump: float, commitments: Sequence[float], path: str) -> list[FieldError]:
    """The error when a lump sum spread at the average commitment would run past MAX_LEASE_BEYOND_YEARS."""
    average = _average_commitment(commitments)
    if not average > 0.0 or lump / average <= MAX_LEASE_BEYOND_YEARS:
        return []
    return [
        FieldError(
            path,
            f"is {lump / average:.4g} times the average yearly commitment ({average:.4g}): spread at that rate it "
            f"would last more than {MAX_LEASE_BEYOND_YEARS} years; check the units or give the number of years",
        )
    ]


def lease_debt_value(
    commitments: Sequence[float],
    rate: float,
    beyond: float = 0.0,
    beyond_years: int | None = None,
    rounding: LeaseYearsRounding = "round",
) -> tuple[float, list[dict[str, Any]]]:
    """PV of lease commitments (end of year t = 1..n) plus a lump sum after year n spread as an
    annuity of `beyond_years` (default: `lease_beyond_years` with `rounding`) starting in year
    n + 1. Returns (value, schedule)."""
    dfs = discount_factors(rate, len(commitments) + (beyond_years or 0) + 1)
    rows: list[dict[str, Any]] = []
    pvs: list[float] = []
    for t, c in enumerate(commitments, start=1):
        pv = c * dfs[t - 1]
        rows.append({"year": t, "commitment": c, "present_value": pv})
        pvs.append(pv)
    if beyond > 0.0:
        if beyond_years is None:
            beyond_years = lease_beyond_years(beyond, commitments, rounding)
            dfs = discount_factors(rate, len(commitments) + beyond_years)
        payment = beyond / beyond_years
        n = len(commitments)
        pv = payment * math.fsum(dfs[n : n + beyond_years])
        rows.append({"year": f"{n + 1}-{n + beyond_years}", "commitment": payment, "present_value": pv})
        pvs.append(pv)
    return math.fsum(pvs), rows


@dataclass(frozen=True)
class MarketValueOfDebtInputs:
    """Book debt treated as one bond, plus lease debt."""

    book_debt: float = field(metadata={"doc": "interest-bearing debt at book value, currency", "ge": 0})
    interest_expense: float = field(metadata={"doc": "annual interest expense (the coupon), currency", "ge": 0})
    average_maturity: float = field(metadata={"doc": "face-weighted average maturity, years", "gt": 0, "le": 100})
    pre_tax_cost_of_debt: float = field(metadata={"doc": "current pre-tax cost of debt, decimal", "gt": -1})
    lease_debt: float = field(default=0.0, metadata={"doc": "lease liability already valued, currency", "ge": 0})
    lease_commitments: list[float] = field(
        default_factory=list, metadata={"doc": "lease payments due in years 1..n, currency"}
    )
    lease_beyond: float = field(default=0.0, metadata={"doc": "lease payments due after year n (lump sum)", "ge": 0})
    lease_beyond_years: int | None = field(
        default=None,
        metadata={
            "doc": "years over which lease_beyond is spread (default: lump / average of the commitments, "
            f"rounded as the convention lease_beyond_years_rounding says; at most {MAX_LEASE_BEYOND_YEARS})",
            "ge": 1,
            "le": MAX_LEASE_BEYOND_YEARS,
        },
    )

    def validate(self) -> list[FieldError]:
        errors = [
            FieldError(f"lease_commitments[{i}]", "must not be negative")
            for i, c in enumerate(self.lease_commitments)
            if c < 0
        ]
        if self.lease_beyond > 0 and not self.lease_commitments and self.lease_beyond_years is None:
            errors.append(FieldError("lease_beyond_years", "is required when there are no yearly commitments"))
        elif not errors:
            errors.extend(lease_sum_errors(self.lease_commitments, "lease_commitments"))
            if self.lease_beyond > 0 and self.lease_beyond_years is None and not errors:
                errors.extend(lease_spread_errors(self.lease_beyond, self.lease_commitments, "lease_beyond"))
        return errors


@dataclass(frozen=True)
class MarketValueOfDebtConventions:
    """How the years of the lump sum after the listed lease commitments are rounded."""

    lease_beyond_years_rounding: LeaseYearsRounding = field(
        default="round",
        metadata={
            "doc": "lump / average commitment rounded as Excel ROUND (halves away from zero: Damodaran's lease "
            "converter and Ginzu template, default) or ROUNDDOWN (his Target illustration in Damodaran on Valuation)"
        },
    )


@register_model(
    "market_value_of_debt",
    inputs=MarketValueOfDebtInputs,
    conventions=MarketValueOfDebtConventions,
    summary="Market value of debt from book debt (as a bond) and leases",
)
def _market_value_of_debt_model(inputs: MarketValueOfDebtInputs, conv: MarketValueOfDebtConventions) -> Result:
    """MV = I x (1 - (1+k)^-N) / k + B / (1+k)^N + lease debt + PV(lease commitments at k).

    The lump sum after year n is an annuity over lease_beyond_years years starting in year n + 1;
    by default lump / average commitment rounded as Excel ROUND, as Damodaran's operating lease
    converter (fcffsimpleginzu.xlsx, "Operating lease converter": ROUND(lump / AVERAGE(years 1-5), 0);
    the same leases give the same debt as `fcff_ginzu`'s lease capitalisation), or rounded down
    (ROUNDDOWN) as in his Target illustration.
    Source: Damodaran, "Damodaran on Valuation" (2nd ed.), ch. 2: $1 billion of debt, $60 million
    interest, 6 years, 7.5% -> about $930 million; Target's leases (5.5%): 2,405 / 128.8 = 18.67
    years, spread over 18 years in the book -> $1,704.82 million (ROUNDDOWN); over 19 years as the
    converter rounds -> $1,679.33 million (ROUND).
    """
    straight = straight_debt_value(
        inputs.book_debt, inputs.interest_expense, inputs.average_maturity, inputs.pre_tax_cost_of_debt
    )
    leases, rows = lease_debt_value(
        inputs.lease_commitments,
        inputs.pre_tax_cost_of_debt,
        inputs.lease_beyond,
        inputs.lease_beyond_years,
        conv.lease_beyond_years_rounding,
    )
    total = math.fsum([straight, leases, inputs.lease_debt])
    return Result(
        {
            "straight_debt_value": straight,
            "lease_commitments_value": leases,
            "lease_debt": inputs.lease_debt,
            "market_value_of_debt": total,
        },
        rows or None,
    )


# --- WACC -----------------------------------------------------------------------------------


def wacc(
    cost_of_equity: float,
    equity_value: float,
    pre_tax_cost_of_debt: float,
    debt_value: float,
    tax_rate: float,
    preferred_value: float = 0.0,
    cost_of_preferred: float = 0.0,
) -> float:
    """(E k_e + D k_d (1 - t) + P k_p) / (E + D + P), market values."""
    total = math.fsum([equity_value, debt_value, preferred_value])
    return (
        math.fsum(
            [
                equity_value * cost_of_equity,
                debt_value * after_tax_cost_of_debt(pre_tax_cost_of_debt, tax_rate),
                preferred_value * cost_of_preferred,
            ]
        )
        / total
    )


@dataclass(frozen=True)
class WaccInputs:
    """Costs and market values of each source of capital."""

    cost_of_equity: float = field(metadata={"doc": "cost of equity, decimal"})
    equity_value: float = field(metadata={"doc": "market value of equity, currency", "ge": 0})
    pre_tax_cost_of_debt: float = field(metadata={"doc": "pre-tax cost of debt, decimal"})
    debt_value: float = field(metadata={"doc": "market value of debt (incl. leases), currency", "ge": 0})
    tax_rate: float = field(metadata={"doc": "marginal tax rate, decimal", "ge": 0, "le": 1})
    preferred_value: float = field(default=0.0, metadata={"doc": "market value of preferred stock, currency", "ge": 0})
    cost_of_preferred: float = field(default=0.0, metadata={"doc": "cost of preferred stock, decimal"})

    def validate(self) -> list[FieldError]:
        if self.equity_value + self.debt_value + self.preferred_value <= 0:
            return [FieldError("equity_value", "equity, debt and preferred values must not all be zero")]
        return []


@register_model("wacc", inputs=WaccInputs, summary="Weighted average cost of capital (market-value weights)")
def _wacc_model(inputs: WaccInputs, _conv: object) -> Result:
    """WACC = E/V k_e + D/V k_d (1 - t) + P/V k_p, V = E + D + P at market values.

    Source: Damodaran, "Damodaran on Valuation" (2nd ed.), ch. 2, note 52 (k_e 15%, after-tax
    k_d 5%: market D/V 10% -> 14%, book D/V 30% -> 12%); Brealey, Myers & Allen, ch. 19.
    """
    total = math.fsum([inputs.equity_value, inputs.debt_value, inputs.preferred_value])
    return Result(
        {
            "wacc": wacc(
                inputs.cost_of_equity,
                inputs.equity_value,
                inputs.pre_tax_cost_of_debt,
                inputs.debt_value,
                inputs.tax_rate,
                inputs.preferred_value,
                inputs.cost_of_preferred,
            ),
            "equity_weight": inputs.equity_value / total,
            "debt_weight": inputs.debt_value / total,
            "preferred_weight": inputs.preferred_value / total,
            "after_tax_cost_of_debt": after_tax_cost_of_debt(inputs.pre_tax_cost_of_debt, inputs.tax_rate),
            "debt_to_equity": inputs.debt_value / inputs.equity_value if inputs.equity_value > 0 else None,
        }
    )


def wacc_path_rates(initial: float, stable: float, years: int, fade_start: int) -> list[float]:
    """initial for years 1..fade_start, then a straight line to `stable` in year `years`.

    Year t in (fade_start, years]: initial - (initial - stable) x (t - fade_start) / (years - fade_start).
    """
    span = years - fade_start
    out: list[float] = []
    for t in range(1, years + 1):
        if t <= fade_start or span == 0:
            out.append(initial if t <= fade_start else stable)
        else:
            out.append(initial - (initial - stable) * (t - fade_start) / span)
    return out


@dataclass(frozen=True)
class WaccPathInputs:
    """Year-by-year costs of capital, given or faded from initial to stable."""

    rates: list[float] | None = field(default=None, metadata={"doc": "cost of capital for years 1..n, decimals"})
    initial: float | None = field(default=None, metadata={"doc": "cost of capital in years 1..fade_start, decimal"})
    stable: float | None = field(default=None, metadata={"doc": "cost of capital reached in the last year, decimal"})
    years: int = field(default=10, metadata={"doc": "number of years (with initial/stable)", "ge": 1, "le": 200})
    fade_start: int = field(default=5, metadata={"doc": "last year at the initial rate (with initial/stable)", "ge": 0})

    def validate(self) -> list[FieldError]:
        if self.rates is not None:
            if self.initial is not None or self.stable is not None:
                return [FieldError("rates", "give either rates or initial and stable, not both")]
            if not self.rates:
                return [FieldError("rates", "must not be empty")]
            return [FieldError(f"rates[{i}]", "must be above -100%") for i, r in enumerate(self.rates) if r <= -1]
        errors = [FieldError(n, "is required without rates") for n in ("initial", "stable") if getattr(self, n) is None]
        if self.fade_start > self.years:
            errors.append(FieldError("fade_start", f"must not exceed years ({self.years})"))
        for name in ("initial", "stable"):
            value = getattr(self, name)
            if value is not None and value <= -1:
                errors.append(FieldError(name, "must be above -100%"))
        return errors


@dataclass(frozen=True)
class WaccPathConventions:
    """Discounting convention."""

    timing: Literal["end", "mid"] = field(default="end", metadata={"doc": "end- or mid-year discount factors"})


@register_model(
    "wacc_path",
    inputs=WaccPathInputs,
    conventions=WaccPathConventions,
    summary="Period-specific cost of capital and cumulative discount factors",
)
def _wacc_path_model(inputs: WaccPathInputs, conv: WaccPathConventions) -> Result:
    """df_t = df_{t-1} / (1 + r_t) (mid-year: df_t x sqrt(1 + r_t)).

    With initial/stable: the rate stays at `initial` through `fade_start`, then moves in equal
    steps to `stable` in the final year (Damodaran's fcffginzu.xls: years 1-5 initial, 6-10 linear).
    Source: Damodaran, "Investment Valuation" (3rd ed.), ch. 15 (changing costs of capital must be
    compounded: cumulated discount factors).
    """
    if inputs.rates is not None:
        rates = list(inputs.rates)
    else:
        assert inputs.initial is not None
        assert inputs.stable is not None
        rates = wacc_path_rates(inputs.initial, inputs.stable, inputs.years, inputs.fade_start)
    end = discount_factors(rates)
    mid = discount_factors(rates, timing="mid")
    chosen = mid if conv.timing == "mid" else end
    schedule = [
        {"year": t, "rate": r, "discount_factor": e, "mid_year_factor": m}
        for t, (r, e, m) in enumerate(zip(rates, end, mid, strict=True), start=1)
    ]
    return Result({"rates": rates, "discount_factors": chosen}, schedule)

"""Explicit-forecast FCFF DCF (model `fcff_explicit`).

Either the free cash flows to the firm are given year by year (`fcff`), or they are built from
lines: FCFF_t = EBIT_t * (1 - tax_rate) + D&A_t - capex_t - change in working capital_t.

Discounting at one cost of capital r (`discount_rate`) or at a cost of capital per year r_t
(`discount_rates`, e.g. the `rates` of model `wacc_path`), decimals, annual periods t = 1..N,
with cumulated discount factors (DF_0 = 1):
    end of period:  PV_t = FCFF_t * DF_t,  DF_t = DF_{t-1} / (1 + r_t)  (repeated division)
    mid period:     PV_t = FCFF_t * DF_t * sqrt(1 + r_t) = FCFF_t * DF_{t-1} * (1 + r_t)^-0.5
                    (flows arrive mid-year; the half year at the year's own rate)
One rate is the path r_t = r for every t (the same operations, so the same bits).
Terminal value at the end of year N, at the terminal rate r_T (`terminal.discount_rate`,
default r_N, the last forecast year's rate):
    Gordon:         TV = FCFF_N * (1 + g) / (r_T - g), g < r_T; PV(TV) = TV * DF_N; with
                    mid-period flows PV(TV) is also multiplied by sqrt(1 + r_T) (the perpetuity's
                    flows are mid-year too), so mid-period value = end-period value * (1 + r)^0.5
                    exactly in exact arithmetic for one rate r
    exit multiple:  TV = multiple * metric_N (EBITDA = EBIT + D&A, EBIT, revenue or FCFF);
                    a sale at the end of year N, discounted with DF_N in both conventions
Bridge: equity = EV - debt - minority interests - preferred stock + cash + non-operating
assets - options; per share = equity / shares.

Units: money in the company's currency; rates as decimals; multiples as plain ratios.
Arithmetic: +, -, *, / and sqrt only, left-to-right sums (bit-identical in CPython and Pyodide).
Source: T. Koller, M. Goedhart, D. Wessels, "Valuation" (McKinsey, 7th ed., 2020), ch. 10
(continuing value, mid-year adjustment); A. Damodaran, "Investment Valuation" (3rd ed.,
2012), ch. 12 and 15 (when the cost of capital changes over time, discount with the cumulated
cost of capital, not each year's rate raised to the power t); A. Damodaran,
fcffsimpleginzu.xlsx, sheet "Valuation output", row "Cumulated discount factor"
(DF_t = DF_{t-1} * 1/(1 + r_t) as the cost of capital moves from initial to stable).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import mul
from typing import Any, Literal

from ..errors import FieldError
from ..registry import Result, Table, register_model

__all__ = [
    "ExplicitConventions",
    "ExplicitInputs",
    "TerminalValue",
    "compute",
    "discount_rates",
    "enterprise_value",
    "terminal_rate",
]


def _m(doc: str, **bounds: float) -> dict[str, Any]:
    return {"doc": doc, **bounds}


@dataclass(frozen=True)
class TerminalValue:
    """How the value beyond the forecast is estimated."""

    method: Literal["gordon", "exit_multiple"] = field(
        default="gordon", metadata=_m("Gordon growth perpetuity or an exit multiple")
    )
    growth: float | None = field(default=None, metadata=_m("perpetual growth of FCFF after year N (decimal)"))
    multiple: float | None = field(default=None, metadata=_m("exit multiple applied to the final-year metric"))
    metric: Literal["ebitda", "ebit", "revenue", "fcff"] = field(
        default="ebitda", metadata=_m("final-year quantity the exit multiple applies to")
    )
    discount_rate: float | None = field(
        default=None,
        metadata=_m(
            "cost of capital in perpetuity for the Gordon value (decimal; default: the last forecast year's rate)",
            gt=-1,
        ),
    )


@dataclass(frozen=True)
class ExplicitInputs:
    """Inputs of the explicit-forecast FCFF DCF."""

    discount_rate: float | None = field(
        default=None, metadata=_m("cost of capital for every year (decimal); or give discount_rates", gt=-1)
    )
    discount_rates: list[float] | None = field(
        default=None,
        metadata=_m("cost of capital of each forecast year 1..N (decimals, each > -1), e.g. wacc_path's rates"),
    )
    terminal: TerminalValue = field(default_factory=TerminalValue, metadata=_m("terminal value"))
    fcff: list[float] | None = field(default=None, metadata=_m("free cash flow to the firm, years 1..N (currency)"))
    revenue: list[float] | None = field(default=None, metadata=_m("revenue, years 1..N (currency)"))
    ebit: list[float] | None = field(default=None, metadata=_m("operating income, years 1..N (currency)"))
    depreciation: list[float] | None = field(default=None, metadata=_m("depreciation and amortization (currency)"))
    capex: list[float] | None = field(default=None, metadata=_m("capital expenditure, positive (currency)"))
    change_in_working_capital: list[float] | None = field(
        default=None, metadata=_m("increase in non-cash working capital (currency)")
    )
    tax_rate: float | None = field(default=None, metadata=_m("tax rate on EBIT (decimal)", ge=0, le=1))
    debt: float = field(default=0.0, metadata=_m("debt (currency)"))
    cash: float = field(default=0.0, metadata=_m("cash and marketable securities (currency)"))
    minority_interests: float = field(default=0.0, metadata=_m("minority interests (currency)"))
    preferred_stock: float = field(default=0.0, metadata=_m("preferred stock (currency)"))
    non_operating_assets: float = field(default=0.0, metadata=_m("non-operating assets (currency)"))
    options_value: float = field(default=0.0, metadata=_m("value of employee options (currency)", ge=0))
    shares_outstanding: float | None = field(default=None, metadata=_m("shares outstanding", gt=0))
    price: float | None = field(default=None, metadata=_m("current price per share (currency)", ge=0))

    def validate(self) -> list[FieldError]:
        errors: list[FieldError] = []
        lines = {
            "ebit": self.ebit,
            "depreciation": self.depreciation,
            "capex": self.capex,
            "change_in_working_capital": self.change_in_working_capital,
        }
        if self.fcff is None:
            missing = [k for k, v in lines.items() if v is None]
            if missing or self.tax_rate is None:
                names = ", ".join([*missing, *(["tax_rate"] if self.tax_rate is None else [])])
                errors.append(FieldError("fcff", f"give fcff, or the lines to build it (missing: {names})"))
                return errors
        n = len(self.fcff) if self.fcff is not None else len(self.ebit or [])
        if n == 0:
            errors.append(FieldError("fcff" if self.fcff is not None else "ebit", "needs at least one year"))
        for name, values in [*lines.items(), ("revenue", self.revenue)]:
            if values is not None and len(values) != n:
                errors.append(FieldError(name, f"needs {n} entries (one per forecast year), got {len(values)}"))
        errors.extend(self._rate_errors(n))
        t = self.terminal
        if t.method == "gordon":
            terminal_rate, which = self._terminal_rate()
            if t.growth is None:
                errors.append(FieldError("terminal.growth", "is required for the Gordon method"))
            elif terminal_rate is not None and terminal_rate > -1 and not t.growth < terminal_rate:
                errors.append(FieldError("terminal.growth", f"must be below {which} ({terminal_rate * 100:.1f}%)"))
        else:
            if t.discount_rate is not None:
                errors.append(FieldError("terminal.discount_rate", "applies to the Gordon method only"))
            if t.multiple is None:
                errors.append(FieldError("terminal.multiple", "is required for the exit-multiple method"))
            needs = {"ebitda": ("ebit", "depreciation"), "ebit": ("ebit",), "revenue": ("revenue",), "fcff": ()}
            for name in needs[t.metric]:
                if getattr(self, name) is None:
                    errors.append(FieldError(name, f"is required for an exit multiple of {t.metric}"))
        return errors

    def _rate_errors(self, n: int) -> list[FieldError]:
        """One of discount_rate or discount_rates, the path one rate per forecast year, each > -1."""
        rates = self.discount_rates
        if rates is None:
            if self.discount_rate is None:
                return [FieldError("discount_rate", "is required (or give discount_rates, one per forecast year)")]
            return []
        if self.discount_rate is not None:
            return [FieldError("discount_rates", "give discount_rate or discount_rates, not both")]
        errors = [FieldError(f"discount_rates[{i}]", "must be greater than -1") for i, r in enumerate(rates) if r <= -1]
        if len(rates) != n:
            source = "fcff" if self.fcff is not None else "ebit"
            errors.append(
                FieldError(
                    "discount_rates", f"needs {n} entries (one per forecast year, as {source}), got {len(rates)}"
                )
            )
        return errors

    def _terminal_rate(self) -> tuple[float | None, str]:
        """(r_T, how an error names it): terminal.discount_rate, else the last forecast year's rate."""
        if self.terminal.discount_rate is not None:
            return self.terminal.discount_rate, "terminal.discount_rate"
        if self.discount_rates is not None:
            last = self.discount_rates[-1] if self.discount_rates else None
            return last, "the last forecast year's cost of capital"
        return self.discount_rate, "the cost of capital"


@dataclass(frozen=True)
class ExplicitConventions:
    """Conventions of the explicit DCF."""

    timing: Literal["end_of_period", "mid_period"] = field(
        default="end_of_period", metadata=_m("cash flows at the end or in the middle of each year")
    )


def cash_flows(inputs: ExplicitInputs) -> list[float]:
    """FCFF per year: given, or EBIT(1 - t) + D&A - capex - change in working capital."""
    if inputs.fcff is not None:
        return list(map(float, inputs.fcff))
    t = inputs.tax_rate or 0.0
    lines = zip(
        _need(inputs.ebit),
        _need(inputs.depreciation),
        _need(inputs.capex),
        _need(inputs.change_in_working_capital),
        strict=True,
    )
    return [e * (1 - t) + d - c - w for e, d, c, w in lines]


def _need(values: list[float] | None) -> list[float]:
    """A line that validate() guarantees is present."""
    if values is None:
        raise ValueError("missing forecast line (validate() should have caught this)")
    return values


def discount_rates(inputs: ExplicitInputs, years: int) -> list[float]:
    """The cost of capital of each forecast year: the path given, or the one rate every year."""
    if inputs.discount_rates is not None:
        return [float(r) for r in inputs.discount_rates]
    if inputs.discount_rate is None:
        raise ValueError("no discount rate (validate() should have caught this)")
    return [inputs.discount_rate] * years


def terminal_rate(inputs: ExplicitInputs, rates: list[float]) -> float:
    """r_T: terminal.discount_rate, or the last forecast year's rate."""
    given = inputs.terminal.discount_rate
    return rates[-1] if given is None else given


def _terminal_value(inputs: ExplicitInputs, flows: list[float], rate: float) -> float:
    t = inputs.terminal
    if t.method == "gordon":
        assert t.growth is not None
        return flows[-1] * (1 + t.growth) / (rate - t.growth)
    assert t.multiple is not None
    if t.metric == "fcff":
        metric = flows[-1]
    elif t.metric == "revenue":
        metric = _need(inputs.revenue)[-1]
    elif t.metric == "ebit":
        metric = _need(inputs.ebit)[-1]
    else:
        metric = _need(inputs.ebit)[-1] + _need(inputs.depreciation)[-1]
    return t.multiple * metric


def enterprise_value(
    flows: list[float],
    rates: Sequence[float],
    terminal_value: float,
    mid_period: bool,
    shift_terminal: bool,
    terminal_rate: float | None = None,
) -> tuple[float, float, list[float], list[float]]:
    """(PV of flows, PV of the terminal value, cumulated discount factors, PVs), one rate per year.

    DF_t = DF_{t-1} / (1 + r_t); mid-period PV_t = FCFF_t * DF_t * sqrt(1 + r_t); the terminal
    value is discounted with DF_N and, when `shift_terminal` (a mid-period Gordon value), by
    sqrt(1 + terminal_rate) more (default r_N).
    """
    if len(flows) != len(rates):
        raise ValueError("one discount rate per cash flow")
    df = 1.0
    factors: list[float] = []
    for rate in rates:
        df = df / (1.0 + rate)  # 1.0, not 1: CPython 3.11 specialises float + float only
        factors.append(df)
    if mid_period:
        pvs = [cf * factor * math.sqrt(1.0 + rate) for cf, factor, rate in zip(flows, factors, rates, strict=True)]
    else:
        pvs = list(map(mul, flows, factors))
    total = 0.0
    for pv in pvs:
        total += pv  # left to right: `sum` of floats compensates from Python 3.12 (Pyodide's is 3.14)
    pv_tv = terminal_value * df
    if mid_period and shift_terminal:
        pv_tv = pv_tv * math.sqrt(1.0 + (rates[-1] if terminal_rate is None else terminal_rate))
    return total, pv_tv, factors, pvs


@register_model(
    "fcff_explicit",
    inputs=ExplicitInputs,
    conventions=ExplicitConventions,
    summary="FCFF DCF of an explicit forecast with a Gordon or exit-multiple terminal value",
)
def compute(inputs: ExplicitInputs, conventions: ExplicitConventions) -> Result:
    """Value an explicit FCFF forecast (see the module docstring for formulas)."""
    flows = cash_flows(inputs)
    rates = discount_rates(inputs, len(flows))
    r_terminal = terminal_rate(inputs, rates)
    tv = _terminal_value(inputs, flows, r_terminal)
    mid = conventions.timing == "mid_period"
    pv_flows, pv_tv, factors, pvs = enterprise_value(
        flows, rates, tv, mid, inputs.terminal.method == "gordon", r_terminal
    )
    ev = pv_flows + pv_tv
    equity = (
        ev
        - inputs.debt
        - inputs.minority_interests
        - inputs.preferred_stock
        + inputs.cash
        + inputs.non_operating_assets
        - inputs.options_value
    )
    outputs: dict[str, Any] = {
        "pv_cash_flows": pv_flows,
        "terminal_value": tv,
        "pv_terminal_value": pv_tv,
        "enterprise_value": ev,
        "terminal_value_share": pv_tv / ev if ev != 0 else 0.0,
        "value_of_equity": equity,
    }
    if inputs.terminal.method == "gordon":
        outputs["terminal_discount_rate"] = r_terminal
    warnings: list[str] = []
    if inputs.shares_outstanding is not None:
        vps = equity / inputs.shares_outstanding
        outputs["value_per_share"] = vps
        if inputs.price is not None:
            outputs["price"] = inputs.price
            if vps > 0:
                outputs["price_to_value"] = inputs.price / vps
            if inputs.price > 0:
                outputs["upside"] = vps / inputs.price - 1.0
    if tv < 0:
        warnings.append("the terminal value is negative")
    return Result(outputs, _schedule(inputs, (range(1, len(flows) + 1), flows, rates, factors, pvs)), warnings)


_FLOW_KEYS = ("year", "fcff", "discount_rate", "discount_factor", "pv_fcff")
_SCHEDULE_LINES = ("revenue", "ebit", "depreciation", "capex", "change_in_working_capital")


def _schedule(inputs: ExplicitInputs, flow_columns: tuple[Sequence[Any], ...]) -> Table:
    """One row per year: year, fcff, discount_rate, discount_factor, pv_fcff and each forecast line given."""
    lines = [(name, values) for name in _SCHEDULE_LINES if (values := getattr(inputs, name)) is not None]
    if not lines:  # FCFF given (the usual request): rows as dict displays
        return Table(_FLOW_KEYS, flow_columns, _flow_rows)
    return Table(
        (*_FLOW_KEYS, *(name for name, _ in lines)),
        (*flow_columns, *(list(map(float, values)) for _, values in lines)),
    )


def _flow_rows(columns: tuple[Sequence[Any], ...]) -> list[dict[str, Any]]:
    """The rows of a schedule without forecast lines, keys in Table order (the generic builder's rows)."""
    years, flows, rates, factors, pvs = columns
    return [
        {"year": year, "fcff": fcff, "discount_rate": rate, "discount_factor": factor, "pv_fcff": pv}
        for year, fcff, rate, factor, pv in zip(years, flows, rates, factors, pvs, strict=True)
    ]

"""Equity valuation: FCFE DCF, dividend discount models, implied growth and cost of equity.

Units: rates and growth are decimals per year; money is per share or in total, as the caller
gives it (the models never mix the two); years are whole years.

All staged models share one engine (`staged_value`): each explicit year t has a growth g_t,
a payout (the share of earnings paid out as dividends / FCFE) and a cost of equity k_t;
earnings_t = earnings_{t-1} (1 + g_t), cash_t = earnings_t x payout_t,
df_t = df_{t-1} / (1 + k_t); the terminal value at the end of year N is
cash_{N+1} / (k_stable - g_stable) with cash_{N+1} = earnings_N (1 + g_stable) x payout_stable.
Value = fsum(cash_t df_t) + TV x df_N. "Reinvestment = growth / ROE" sets
payout = 1 - g / ROE (Damodaran's equity reinvestment rate).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import FieldError, NoSolutionError, ValidationError
from ..registry import Result, register_model
from ..rootfind import find_all_roots

__all__ = ["StagedValue", "gordon", "h_model", "implied_cost_of_equity", "implied_growth", "staged_value"]


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


@dataclass(frozen=True)
class StagedValue:
    value: float
    pv_explicit: float
    terminal_value: float
    pv_terminal: float
    schedule: list[dict[str, Any]]


def staged_value(
    base: float,
    growths: Sequence[float],
    payouts: Sequence[float],
    costs: Sequence[float],
    stable_growth: float,
    stable_payout: float,
    stable_cost: float,
) -> StagedValue:
    """Explicit years from the per-year lists, then a Gordon terminal value (see module doc)."""
    if stable_growth >= stable_cost:
        raise ValueError("stable growth must be below the stable cost of equity")
    earnings = base
    df = 1.0
    pvs: list[float] = []
    rows: list[dict[str, Any]] = []
    for t, (g, p, k) in enumerate(zip(growths, payouts, costs, strict=True), start=1):
        earnings = earnings * (1.0 + g)
        cash = earnings * p
        df = df / (1.0 + k)
        pv = cash * df
        pvs.append(pv)
        rows.append(
            {
                "year": t,
                "growth": g,
                "earnings": earnings,
                "payout": p,
                "cash_flow": cash,
                "cost_of_equity": k,
                "discount_factor": df,
                "present_value": pv,
            }
        )
    next_cash = earnings * (1.0 + stable_growth) * stable_payout
    terminal = next_cash / (stable_cost - stable_growth)
    pv_terminal = terminal * df
    pv_explicit = math.fsum(pvs)
    return StagedValue(math.fsum([*pvs, pv_terminal]), pv_explicit, terminal, pv_terminal, rows)


def gordon(next_cash_flow: float, cost: float, growth: float) -> float:
    """Gordon growth: CF_1 / (k - g)."""
    if growth >= cost:
        raise ValueError("growth must be below the cost of equity")
    return next_cash_flow / (cost - growth)


def h_model(d0: float, cost: float, high_growth: float, stable_growth: float, half_life: float) -> float:
    """Fuller-Hsia H-model: D0 (1 + gL) / (r - gL) + D0 x H x (gS - gL) / (r - gL)."""
    if stable_growth >= cost:
        raise ValueError("stable growth must be below the cost of equity")
    return (d0 * (1.0 + stable_growth) + d0 * half_life * (high_growth - stable_growth)) / (cost - stable_growth)


def _linear(start: float, end: float, steps: int) -> list[float]:
    """Transition values for years 1..steps moving in equal steps from start to end (end in the last)."""
    return [start - (start - end) * j / steps for j in range(1, steps + 1)]


# --- shared inputs ------------------------------------------------------------------------

Variant = Literal["stable", "two_stage", "three_stage"]


def _stage_lists(
    variant: str,
    high_growth: float,
    years: int,
    transition_years: int,
    stable_growth: float,
    high_payout: float,
    stable_payout: float,
    cost: float,
    stable_cost: float,
) -> tuple[list[float], list[float], list[float]]:
    if variant == "stable":
        return [], [], []
    growths = [high_growth] * years
    payouts = [high_payout] * years
    costs = [cost] * years
    if variant == "three_stage" and transition_years > 0:
        growths += _linear(high_growth, stable_growth, transition_years)
        payouts += _linear(high_payout, stable_payout, transition_years)
        costs += _linear(cost, stable_cost, transition_years)
    return growths, payouts, costs


def _result(sv: StagedValue, shares: float | None, price: float | None, warnings: list[str]) -> Result:
    outputs: dict[str, Any] = {
        "value": sv.value,
        "pv_explicit": sv.pv_explicit,
        "terminal_value": sv.terminal_value,
        "pv_terminal": sv.pv_terminal,
    }
    per_share = sv.value
    if shares is not None:
        per_share = sv.value / shares
        outputs["value_per_share"] = per_share
    if price is not None:
        outputs["upside"] = per_share / price - 1.0
    return Result(outputs, sv.schedule, warnings)


def _growth_rules(
    stable_growth: float, stable_cost: float | None, cost: float, variant: str, years: int, transition: int
) -> list[FieldError]:
    errors: list[FieldError] = []
    k_s = cost if stable_cost is None else stable_cost
    if stable_growth >= k_s:
        errors.append(FieldError("stable_growth", f"must be below the stable cost of equity ({_pct(k_s)})"))
    if variant == "two_stage" and years < 1:
        errors.append(FieldError("high_growth_years", f"must be at least 1 for the {variant} model"))
    if variant == "three_stage" and transition < 1:
        errors.append(FieldError("transition_years", "must be at least 1 for the three_stage model"))
    return errors


# --- FCFE ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FcfeInputs:
    """Free cash flow to equity, from a current FCFE or from net income and ROE."""

    cost_of_equity: float = field(metadata={"doc": "cost of equity in high growth, decimal", "gt": -1})
    stable_growth: float = field(metadata={"doc": "growth forever after the high-growth years, decimal", "gt": -1})
    fcfe: float | None = field(default=None, metadata={"doc": "current (year 0) FCFE, currency"})
    net_income: float | None = field(
        default=None, metadata={"doc": "current (year 0) net income, currency; FCFE = NI x (1 - g / ROE)"}
    )
    high_growth: float = field(default=0.0, metadata={"doc": "growth in the high-growth years, decimal", "gt": -1})
    high_growth_years: int = field(default=0, metadata={"doc": "years of high growth (two_stage)", "ge": 0, "le": 100})
    roe: float | None = field(default=None, metadata={"doc": "return on equity in high growth, decimal", "gt": 0})
    stable_roe: float | None = field(
        default=None, metadata={"doc": "return on equity in stable growth, decimal", "gt": 0}
    )
    stable_cost_of_equity: float | None = field(
        default=None, metadata={"doc": "cost of equity in stable growth (default: cost_of_equity)", "gt": -1}
    )
    shares: float | None = field(default=None, metadata={"doc": "shares outstanding (gives value per share)", "gt": 0})
    price: float | None = field(default=None, metadata={"doc": "market price per share (gives upside)", "gt": 0})

    def validate(self) -> list[FieldError]:
        errors: list[FieldError] = []
        if (self.fcfe is None) == (self.net_income is None):
            errors.append(FieldError("fcfe", "give exactly one of fcfe or net_income"))
        if self.net_income is not None:
            errors.extend(
                FieldError(n, "is required with net_income") for n in ("roe", "stable_roe") if getattr(self, n) is None
            )
        return errors


@dataclass(frozen=True)
class FcfeConventions:
    """Model variant."""

    variant: Literal["stable", "two_stage"] = field(
        default="two_stage", metadata={"doc": "stable: Gordon on FCFE; two_stage: high growth then stable"}
    )


@register_model("fcfe", inputs=FcfeInputs, conventions=FcfeConventions, summary="FCFE discounted cash flow (equity)")
def _fcfe_model(inputs: FcfeInputs, conv: FcfeConventions) -> Result:
    """Equity value = sum FCFE_t / prod(1 + k_e) + [FCFE_{n+1} / (k_e,st - g_st)] / (1 + k_e)^n.

    From FCFE: FCFE_t = FCFE_0 (1 + g)^t. From net income: FCFE_t = NI_t x (1 - g / ROE)
    (equity reinvestment rate = g / ROE), with the stable ROE after year n.
    Source: Damodaran, "Investment Valuation" (3rd ed.), ch. 14 (FCFE models); "Damodaran on
    Valuation" (2nd ed.), ch. 5 (g 5%, ROE 15% -> payout 66.67%).
    """
    k_s = inputs.cost_of_equity if inputs.stable_cost_of_equity is None else inputs.stable_cost_of_equity
    years = inputs.high_growth_years if conv.variant == "two_stage" else 0
    errors = _growth_rules(inputs.stable_growth, k_s, inputs.cost_of_equity, conv.variant, years, 0)
    if errors:
        raise ValidationError([FieldError(f"inputs.{e.path}", e.message) for e in errors])
    if inputs.net_income is not None:
        assert inputs.roe is not None
        assert inputs.stable_roe is not None
        base = inputs.net_income
        high_payout = 1.0 - inputs.high_growth / inputs.roe
        stable_payout = 1.0 - inputs.stable_growth / inputs.stable_roe
    else:
        assert inputs.fcfe is not None
        base, high_payout, stable_payout = inputs.fcfe, 1.0, 1.0
    growths, payouts, costs = _stage_lists(
        conv.variant,
        inputs.high_growth,
        years,
        0,
        inputs.stable_growth,
        high_payout,
        stable_payout,
        inputs.cost_of_equity,
        k_s,
    )
    sv = staged_value(base, growths, payouts, costs, inputs.stable_growth, stable_payout, k_s)
    warnings = []
    if inputs.net_income is not None and (high_payout < 0 or stable_payout < 0):
        warnings.append("growth exceeds ROE, so reinvestment exceeds net income and FCFE is negative")
    result = _result(sv, inputs.shares, inputs.price, warnings)
    result.outputs["stable_reinvestment_rate"] = 1.0 - stable_payout
    return result


# --- DDM ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DdmInputs:
    """Dividends per share (or EPS and payout ratios) and the growth path."""

    cost_of_equity: float = field(metadata={"doc": "cost of equity in high growth, decimal", "gt": -1})
    stable_growth: float = field(metadata={"doc": "growth forever after the explicit years, decimal", "gt": -1})
    dividend: float | None = field(default=None, metadata={"doc": "current (year 0) dividend per share, currency"})
    eps: float | None = field(default=None, metadata={"doc": "current earnings per share (with payout ratios)"})
    payout: float | None = field(default=None, metadata={"doc": "payout ratio in high growth (with eps), decimal"})
    stable_payout: float | None = field(
        default=None, metadata={"doc": "payout ratio in stable growth (with eps; default 1 - g / stable_roe)"}
    )
    stable_roe: float | None = field(default=None, metadata={"doc": "ROE in stable growth, decimal", "gt": 0})
    high_growth: float = field(default=0.0, metadata={"doc": "growth in the high-growth years, decimal", "gt": -1})
    high_growth_years: int = field(
        default=0, metadata={"doc": "high-growth years (two/three stage; for the H-model, 2H)", "ge": 0, "le": 100}
    )
    transition_years: int = field(
        default=0, metadata={"doc": "years of linear decline (three_stage)", "ge": 0, "le": 100}
    )
    stable_cost_of_equity: float | None = field(
        default=None, metadata={"doc": "cost of equity in stable growth (default: cost_of_equity)", "gt": -1}
    )
    price: float | None = field(default=None, metadata={"doc": "market price per share (gives upside)", "gt": 0})

    def validate(self) -> list[FieldError]:
        errors: list[FieldError] = []
        if (self.dividend is None) == (self.eps is None):
            errors.append(FieldError("dividend", "give exactly one of dividend or eps"))
        if self.eps is not None:
            if self.payout is None:
                errors.append(FieldError("payout", "is required with eps"))
            if self.stable_payout is None and self.stable_roe is None:
                errors.append(FieldError("stable_payout", "give stable_payout or stable_roe with eps"))
        return errors


@dataclass(frozen=True)
class DdmConventions:
    """Model variant."""

    variant: Literal["gordon", "two_stage", "three_stage", "h_model"] = field(
        default="gordon",
        metadata={"doc": "gordon; two_stage; three_stage (linear transition of growth, payout, cost); h_model"},
    )


@register_model("ddm", inputs=DdmInputs, conventions=DdmConventions, summary="Dividend discount model")
def _ddm_model(inputs: DdmInputs, conv: DdmConventions) -> Result:
    """Value per share of expected dividends.

    gordon: D0 (1 + g) / (k - g). two_stage: n years at g_high then Gordon. three_stage: n years at
    g_high, then `transition_years` in which growth, payout and cost of equity move in equal steps
    to their stable values, then Gordon. h_model (Fuller & Hsia 1984, H = high_growth_years / 2):
    D0 (1 + gL) / (r - gL) + D0 H (gS - gL) / (r - gL).
    Source: Damodaran, "Damodaran on Valuation" (2nd ed.), ch. 5; Gordon (1962); Fuller & Hsia,
    Financial Analysts Journal 40(5), 1984.
    """
    k_s = inputs.cost_of_equity if inputs.stable_cost_of_equity is None else inputs.stable_cost_of_equity
    variant = conv.variant
    years = 0 if variant == "gordon" else inputs.high_growth_years
    errors = _growth_rules(
        inputs.stable_growth,
        k_s,
        inputs.cost_of_equity,
        "two_stage" if variant == "h_model" else variant,
        years,
        inputs.transition_years,
    )
    if variant == "h_model" and inputs.stable_cost_of_equity not in (None, inputs.cost_of_equity):
        errors.append(FieldError("stable_cost_of_equity", "the H-model uses one cost of equity"))
    if errors:
        raise ValidationError([FieldError(f"inputs.{e.path}", e.message) for e in errors])
    if inputs.eps is not None:
        assert inputs.payout is not None
        base, high_payout = inputs.eps, inputs.payout
        if inputs.stable_payout is not None:
            stable_payout = inputs.stable_payout
        else:
            assert inputs.stable_roe is not None
            stable_payout = 1.0 - inputs.stable_growth / inputs.stable_roe
    else:
        assert inputs.dividend is not None
        base, high_payout, stable_payout = inputs.dividend, 1.0, 1.0
    if variant == "h_model":
        d0 = base * high_payout
        value = h_model(d0, inputs.cost_of_equity, inputs.high_growth, inputs.stable_growth, years / 2.0)
        stable_part = d0 * (1.0 + inputs.stable_growth) / (inputs.cost_of_equity - inputs.stable_growth)
        outputs: dict[str, Any] = {
            "value": value,
            "stable_growth_value": stable_part,
            "extraordinary_growth_value": value - stable_part,
        }
        if inputs.price is not None:
            outputs["upside"] = value / inputs.price - 1.0
        return Result(outputs)
    growths, payouts, costs = _stage_lists(
        "stable" if variant == "gordon" else variant,
        inputs.high_growth,
        years,
        inputs.transition_years,
        inputs.stable_growth,
        high_payout,
        stable_payout,
        inputs.cost_of_equity,
        k_s,
    )
    sv = staged_value(base, growths, payouts, costs, inputs.stable_growth, stable_payout, k_s)
    return _result(sv, None, inputs.price, [])


# --- reverse: implied growth and cost of equity --------------------------------------------


def _two_stage(cash0: float, g: float, years: int, g_s: float, k: float) -> float:
    growths = [g] * years
    return staged_value(cash0, growths, [1.0] * years, [k] * years, g_s, 1.0, k).value


def implied_growth(
    price: float, cash0: float, cost: float, stable_growth: float | None = None, years: int = 0
) -> list[float]:
    """Growth that makes the Gordon (years = 0) or two-stage value equal `price`.

    years = 0: the stable growth g with cash0 (1 + g) / (k - g) = price, in (-99%, k).
    years > 0: the high growth with `stable_growth` after `years` years, in [-99%, 200%].
    """
    if years == 0:
        hi = cost - 1e-9
        return find_all_roots(
            lambda g: gordon(cash0 * (1.0 + g), cost, g) - price, -0.99, hi, steps=400, what="value gap"
        )
    assert stable_growth is not None
    g_s = stable_growth
    return find_all_roots(
        lambda g: _two_stage(cash0, g, years, g_s, cost) - price, -0.99, 2.0, steps=400, what="value gap"
    )


def implied_cost_of_equity(
    price: float, cash0: float, growth: float, stable_growth: float, years: int = 0
) -> list[float]:
    """Cost of equity that makes the value equal `price` (one k for all years), above stable growth."""
    lo = stable_growth + 1e-6
    if years == 0:
        return find_all_roots(
            lambda k: gordon(cash0 * (1.0 + stable_growth), k, stable_growth) - price, lo, 1.0, steps=400
        )
    return find_all_roots(lambda k: _two_stage(cash0, growth, years, stable_growth, k) - price, lo, 1.0, steps=400)


@dataclass(frozen=True)
class ImpliedGrowthInputs:
    """A price and the cash flow it buys; solve for growth."""

    price: float = field(metadata={"doc": "market price (per share, or market cap with total cash flows)", "gt": 0})
    cash_flow: float = field(metadata={"doc": "current (year 0) dividend or FCFE, same basis as price", "gt": 0})
    cost_of_equity: float = field(metadata={"doc": "cost of equity, decimal", "gt": -1})
    high_growth_years: int = field(
        default=0,
        metadata={
            "doc": "0: solve the stable growth (Gordon); n: solve the high growth for n years",
            "ge": 0,
            "le": 100,
        },
    )
    stable_growth: float | None = field(default=None, metadata={"doc": "growth after the high-growth years (n > 0)"})

    def validate(self) -> list[FieldError]:
        if self.high_growth_years > 0:
            if self.stable_growth is None:
                return [FieldError("stable_growth", "is required when high_growth_years > 0")]
            if self.stable_growth >= self.cost_of_equity:
                return [FieldError("stable_growth", f"must be below the cost of equity ({_pct(self.cost_of_equity)})")]
        return []


@register_model("implied_growth", inputs=ImpliedGrowthInputs, summary="Growth implied by a price (reverse DDM/FCFE)")
def _implied_growth_model(inputs: ImpliedGrowthInputs, _conv: object) -> Result:
    """Solve value(g) = price with a bracket scan and Brent's method.

    Gordon: price = CF0 (1 + g) / (k - g), closed form g = (P k - CF0) / (P + CF0) (reported as a check).
    Two-stage: high growth for n years, then `stable_growth`, all at the cost of equity.
    Source: Damodaran, "Investment Valuation" (3rd ed.), ch. 13 (implied growth from the Gordon model).
    """
    what = "growth rate"
    roots = implied_growth(
        inputs.price, inputs.cash_flow, inputs.cost_of_equity, inputs.stable_growth, inputs.high_growth_years
    )
    if not roots:
        hi = inputs.cost_of_equity if inputs.high_growth_years == 0 else 2.0
        raise NoSolutionError(f"no {what} between {_pct(-0.99)} and {_pct(hi)} makes the value equal the price")
    outputs: dict[str, Any] = {"implied_growth": roots[0]}
    if inputs.high_growth_years == 0:
        p, k, c = inputs.price, inputs.cost_of_equity, inputs.cash_flow
        outputs["closed_form"] = (p * k - c) / (p + c)
    warnings = [] if len(roots) == 1 else [f"several growth rates fit the price: {roots}"]
    return Result(outputs, None, warnings)


@dataclass(frozen=True)
class ImpliedCostInputs:
    """A price, the cash flow it buys and the growth path; solve for the cost of equity."""

    price: float = field(metadata={"doc": "market price (per share, or market cap with total cash flows)", "gt": 0})
    cash_flow: float = field(metadata={"doc": "current (year 0) dividend or FCFE, same basis as price", "gt": 0})
    stable_growth: float = field(metadata={"doc": "growth forever (after the high-growth years), decimal", "gt": -1})
    high_growth: float = field(default=0.0, metadata={"doc": "growth in the high-growth years, decimal", "gt": -1})
    high_growth_years: int = field(default=0, metadata={"doc": "years of high growth (0: Gordon)", "ge": 0, "le": 100})


@register_model(
    "implied_cost_of_equity", inputs=ImpliedCostInputs, summary="Cost of equity implied by a price (reverse DDM/FCFE)"
)
def _implied_cost_model(inputs: ImpliedCostInputs, _conv: object) -> Result:
    """Solve value(k) = price for k above the stable growth (bracket scan + Brent).

    Gordon: k = CF0 (1 + g) / P + g (closed form, reported as a check). Two-stage as in `ddm`.
    Source: Damodaran, "Equity Risk Premiums" (annual), implied-premium method; Gordon (1962).
    """
    roots = implied_cost_of_equity(
        inputs.price, inputs.cash_flow, inputs.high_growth, inputs.stable_growth, inputs.high_growth_years
    )
    if not roots:
        raise NoSolutionError(
            f"no cost of equity between {_pct(inputs.stable_growth)} and 100.0% makes the value equal the price"
        )
    outputs: dict[str, Any] = {"implied_cost_of_equity": roots[0]}
    if inputs.high_growth_years == 0:
        outputs["closed_form"] = inputs.cash_flow * (1.0 + inputs.stable_growth) / inputs.price + inputs.stable_growth
    warnings = [] if len(roots) == 1 else [f"several costs of equity fit the price: {roots}"]
    return Result(outputs, None, warnings)

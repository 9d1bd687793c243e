"""Quality and distress scores: Altman Z / Z'', Piotroski F, credit metrics (coverage,
net debt / EBITDA, ROIC).

Units: money in one currency, any scale (ratios are scale-free); rates are decimals.
Ratios that would divide by zero are reported as null with a warning, never as infinity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import FieldError, ValidationError
from ..registry import Result, register_model

__all__ = ["altman_z", "piotroski_signals"]

_M = "currency"

# Altman (1968): public manufacturers. Altman (2000/1995) Z'': non-manufacturers and emerging markets.
_Z_WEIGHTS = (1.2, 1.4, 3.3, 0.6, 1.0)
_Z2_WEIGHTS = (6.56, 3.26, 6.72, 1.05)
_ZONES = {"z": (1.81, 2.99), "z_double_prime": (1.10, 2.60), "z_double_prime_em": (4.35, 5.85)}


def altman_z(
    variant: str,
    working_capital: float,
    retained_earnings: float,
    ebit: float,
    equity_value: float,
    total_liabilities: float,
    total_assets: float,
    sales: float = 0.0,
) -> tuple[float, list[float]]:
    """(score, [X1..X5 or X1..X4]).

    z:   1.2 X1 + 1.4 X2 + 3.3 X3 + 0.6 X4 + 1.0 X5 (X4 = market value of equity / total liabilities)
    z'': 6.56 X1 + 3.26 X2 + 6.72 X3 + 1.05 X4 (X4 = book equity / total liabilities); the
    emerging-market form adds 3.25. X1 = WC/TA, X2 = RE/TA, X3 = EBIT/TA, X5 = sales/TA.
    """
    x = [
        working_capital / total_assets,
        retained_earnings / total_assets,
        ebit / total_assets,
        equity_value / total_liabilities,
    ]
    if variant == "z":
        x.append(sales / total_assets)
        return math.fsum(w * v for w, v in zip(_Z_WEIGHTS, x, strict=True)), x
    score = math.fsum(w * v for w, v in zip(_Z2_WEIGHTS, x, strict=True))
    return (score + 3.25 if variant == "z_double_prime_em" else score), x


@dataclass(frozen=True)
class AltmanInputs:
    """Balance sheet and income figures (same date and currency)."""

    working_capital: float = field(metadata={"doc": "current assets - current liabilities, " + _M})
    retained_earnings: float = field(metadata={"doc": _M})
    ebit: float = field(metadata={"doc": "earnings before interest and taxes, " + _M})
    total_assets: float = field(metadata={"doc": _M, "gt": 0})
    total_liabilities: float = field(metadata={"doc": _M, "gt": 0})
    market_value_of_equity: float | None = field(default=None, metadata={"doc": "for Z (X4), " + _M})
    book_equity: float | None = field(default=None, metadata={"doc": "for Z'' (X4), " + _M})
    sales: float | None = field(default=None, metadata={"doc": "for Z (X5), " + _M})


@dataclass(frozen=True)
class AltmanConventions:
    """Which score."""

    variant: Literal["z", "z_double_prime", "z_double_prime_em"] = field(
        default="z",
        metadata={
            "doc": "z: public manufacturers (1968); z_double_prime: non-manufacturers; _em: + 3.25 (emerging markets)"
        },
    )


@register_model("altman_z", inputs=AltmanInputs, conventions=AltmanConventions, summary="Altman Z and Z'' scores")
def _altman_model(inputs: AltmanInputs, conv: AltmanConventions) -> Result:
    """Altman Z (1968) and Z'' (1995); zones: Z > 2.99 safe, 1.81-2.99 grey, < 1.81 distress;
    Z'' > 2.60 safe, 1.10-2.60 grey, < 1.10 distress (EM: the same + 3.25: 5.85 / 4.35).

    Source: Altman, "Financial Ratios, Discriminant Analysis and the Prediction of Corporate
    Bankruptcy", Journal of Finance 23(4), 1968; Altman, Hartzell & Peck, "Emerging Markets
    Corporate Bonds: A Scoring System" (1995); Altman, "Predicting Financial Distress of Companies:
    Revisiting the Z-Score and ZETA Models" (2000).
    """
    if conv.variant == "z":
        missing = [n for n in ("market_value_of_equity", "sales") if getattr(inputs, n) is None]
        equity = inputs.market_value_of_equity
    else:
        missing = ["book_equity"] if inputs.book_equity is None else []
        equity = inputs.book_equity
    if missing:
        raise ValidationError([FieldError(f"inputs.{n}", f"is required for the {conv.variant} score") for n in missing])
    assert equity is not None
    score, ratios = altman_z(
        conv.variant,
        inputs.working_capital,
        inputs.retained_earnings,
        inputs.ebit,
        equity,
        inputs.total_liabilities,
        inputs.total_assets,
        inputs.sales or 0.0,
    )
    distress, safe = _ZONES[conv.variant]
    zone = "safe" if score > safe else "distress" if score < distress else "grey"
    names = ["x1_working_capital", "x2_retained_earnings", "x3_ebit", "x4_equity_to_liabilities", "x5_sales"]
    outputs: dict[str, Any] = {"score": score, "zone": zone, "distress_below": distress, "safe_above": safe}
    outputs.update(dict(zip(names, ratios, strict=False)))
    return Result(outputs)


# --- Piotroski F ----------------------------------------------------------------------------


@dataclass(frozen=True)
class YearFigures:
    """One fiscal year's figures."""

    net_income: float = field(metadata={"doc": "net income before extraordinary items, " + _M})
    operating_cash_flow: float = field(metadata={"doc": "cash flow from operations, " + _M})
    total_assets: float = field(metadata={"doc": "total assets at year end, " + _M, "gt": 0})
    total_assets_begin: float = field(metadata={"doc": "total assets at the beginning of the year, " + _M, "gt": 0})
    long_term_debt: float = field(metadata={"doc": _M, "ge": 0})
    current_assets: float = field(metadata={"doc": _M, "ge": 0})
    current_liabilities: float = field(metadata={"doc": _M, "gt": 0})
    shares_outstanding: float = field(metadata={"doc": "common shares outstanding at year end", "gt": 0})
    gross_profit: float = field(metadata={"doc": "revenue - cost of goods sold, " + _M})
    revenue: float = field(metadata={"doc": _M, "gt": 0})


def piotroski_signals(cur: YearFigures, prev: YearFigures) -> dict[str, bool]:
    """The nine binary signals of Piotroski (2000)."""

    def roa(y: YearFigures) -> float:
        return y.net_income / y.total_assets_begin

    def leverage(y: YearFigures) -> float:
        return y.long_term_debt / ((y.total_assets + y.total_assets_begin) / 2.0)

    def current_ratio(y: YearFigures) -> float:
        return y.current_assets / y.current_liabilities

    def margin(y: YearFigures) -> float:
        return y.gross_profit / y.revenue

    def turnover(y: YearFigures) -> float:
        return y.revenue / y.total_assets_begin

    return {
        "roa_positive": roa(cur) > 0.0,
        "cfo_positive": cur.operating_cash_flow > 0.0,
        "roa_improved": roa(cur) > roa(prev),
        "accruals": cur.operating_cash_flow / cur.total_assets_begin > roa(cur),
        "leverage_fell": leverage(cur) < leverage(prev),
        "liquidity_improved": current_ratio(cur) > current_ratio(prev),
        "no_equity_issued": cur.shares_outstanding <= prev.shares_outstanding,
        "margin_improved": margin(cur) > margin(prev),
        "turnover_improved": turnover(cur) > turnover(prev),
    }


@dataclass(frozen=True)
class PiotroskiInputs:
    """This year and last year."""

    current: YearFigures = field(metadata={"doc": "the latest fiscal year"})
    prior: YearFigures = field(metadata={"doc": "the fiscal year before"})


@register_model("piotroski_f", inputs=PiotroskiInputs, summary="Piotroski F-score (nine signals)")
def _piotroski_model(inputs: PiotroskiInputs, _conv: object) -> Result:
    """F = number of true signals (0-9).

    Profitability: ROA = NI / beginning total assets > 0; CFO > 0; ROA up; CFO / beginning assets > ROA.
    Leverage and liquidity: long-term debt / average total assets down; current ratio up; no new
    common shares. Efficiency: gross margin up; asset turnover (revenue / beginning assets) up.
    Source: Piotroski, "Value Investing: The Use of Historical Financial Statement Information to
    Separate Winners from Losers", Journal of Accounting Research 38 (Supplement), 2000.
    """
    signals = piotroski_signals(inputs.current, inputs.prior)
    score = sum(1 for v in signals.values() if v)
    return Result({"score": score, "signals": signals, "strong": score >= 8, "weak": score <= 1})


# --- credit metrics -------------------------------------------------------------------------


@dataclass(frozen=True)
class CreditInputs:
    """Income, debt and capital figures."""

    ebit: float = field(metadata={"doc": "operating income, " + _M})
    interest_expense: float = field(metadata={"doc": _M, "ge": 0})
    total_debt: float = field(
        metadata={"doc": "interest-bearing debt (incl. leases if used consistently), " + _M, "ge": 0}
    )
    cash: float = field(default=0.0, metadata={"doc": "cash and marketable securities, " + _M, "ge": 0})
    ebitda: float | None = field(default=None, metadata={"doc": "default: EBIT + depreciation_and_amortization"})
    depreciation_and_amortization: float = field(default=0.0, metadata={"doc": _M, "ge": 0})
    tax_rate: float = field(default=0.0, metadata={"doc": "tax rate on operating income, decimal", "ge": 0, "le": 1})
    invested_capital: float | None = field(
        default=None, metadata={"doc": "default: book_equity + total_debt - cash; average it yourself if wanted"}
    )
    book_equity: float | None = field(default=None, metadata={"doc": _M})

    def validate(self) -> list[FieldError]:
        if self.invested_capital is None and self.book_equity is None:
            return [FieldError("invested_capital", "give invested_capital or book_equity")]
        return []


@register_model("credit_metrics", inputs=CreditInputs, summary="Interest coverage, net debt / EBITDA, ROIC")
def _credit_model(inputs: CreditInputs, _conv: object) -> Result:
    """Interest coverage = EBIT / interest; EBITDA coverage = EBITDA / interest;
    net debt = debt - cash; leverage = net debt / EBITDA; ROIC = EBIT (1 - t) / invested capital,
    invested capital = book equity + debt - cash unless given.
    Source: Damodaran, "Return on Capital (ROC), Return on Invested Capital (ROIC) and Return on
    Equity (ROE): Measurement and Implications" (2007); S&P Global Ratings, "Corporate Methodology:
    Ratios and Adjustments" (2013).
    """
    warnings: list[str] = []
    ebitda = inputs.ebitda if inputs.ebitda is not None else inputs.ebit + inputs.depreciation_and_amortization
    net_debt = inputs.total_debt - inputs.cash
    coverage = ebitda_coverage = None
    if inputs.interest_expense > 0.0:
        coverage = inputs.ebit / inputs.interest_expense
        ebitda_coverage = ebitda / inputs.interest_expense
    else:
        warnings.append("no interest expense: coverage ratios are unbounded (null)")
    leverage = None
    if ebitda > 0.0:
        leverage = net_debt / ebitda
    else:
        warnings.append("EBITDA is not positive: net debt / EBITDA is not meaningful (null)")
    if inputs.invested_capital is not None:
        capital = inputs.invested_capital
    else:
        assert inputs.book_equity is not None
        capital = math.fsum([inputs.book_equity, inputs.total_debt, -inputs.cash])
    roic = None
    if capital > 0.0:
        roic = inputs.ebit * (1.0 - inputs.tax_rate) / capital
    else:
        warnings.append("invested capital is not positive: ROIC is not meaningful (null)")
    return Result(
        {
            "interest_coverage": coverage,
            "ebitda_interest_coverage": ebitda_coverage,
            "ebitda": ebitda,
            "net_debt": net_debt,
            "net_debt_to_ebitda": leverage,
            "invested_capital": capital,
            "roic": roic,
        },
        None,
        warnings,
    )

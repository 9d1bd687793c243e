"""Relative valuation: trading comparables.

Multiples: EV/EBITDA, EV/EBIT, EV/Sales (enterprise value), P/E, P/B, P/FCF (equity value).
Units: money in one currency (peers converted beforehand); per-share values in that currency.

Peer statistics: count, min, first quartile, median, mean, harmonic mean, third quartile, max.
Quartiles use the spreadsheet QUARTILE.INC / PERCENTILE.INC method (linear interpolation between
order statistics at position (n - 1) p; numpy's default 'linear' method).
Exclusions, each reported with its reason: a missing figure; a multiple that is not meaningful
(denominator or value <= 0, e.g. negative earnings); and, optionally, outliers by the IQR rule
(outside [Q1 - k IQR, Q3 + k IQR], k = 1.5 by default, computed on the meaningful multiples).
Implied value: subject metric x statistic. EV multiples are bridged to equity:
equity = EV - net debt - minority interests - preferred stock + non-operating assets;
per share = equity / shares.

One bridge for peers and subject: a peer's enterprise value (unless given) is built from its
market cap by the same bridge run backwards, EV = market cap + net debt + minority interests
+ preferred stock - non-operating assets. EV is therefore the value of the operating assets
alone, the numerator that matches operating metrics (EBITDA, EBIT, sales), and a peer's
non-operating assets (investments, stakes in other companies) do not inflate its multiples;
the subject's are added back after the multiple is applied. A peer's `enterprise_value`, when
given, is used as it is and should follow the same convention. Equity multiples (P/E, P/B,
P/FCF) use market cap and need no bridge.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import FieldError
from ..registry import Result, register_model

__all__ = ["MULTIPLES", "harmonic_mean", "peer_statistics", "quartile_inc"]

MultipleName = Literal["ev_ebitda", "ev_ebit", "ev_sales", "pe", "pb", "p_fcf"]
MULTIPLES: dict[str, tuple[str, str]] = {
    # name: (value basis, denominator field)
    "ev_ebitda": ("enterprise", "ebitda"),
    "ev_ebit": ("enterprise", "ebit"),
    "ev_sales": ("enterprise", "sales"),
    "pe": ("equity", "net_income"),
    "pb": ("equity", "book_equity"),
    "p_fcf": ("equity", "fcf"),
}
Statistic = Literal["median", "mean", "harmonic_mean", "q1", "q3", "min", "max"]


def quartile_inc(sorted_values: Sequence[float], p: float) -> float:
    """PERCENTILE.INC of ascending values at p in [0, 1] (linear interpolation at (n - 1) p)."""
    n = len(sorted_values)
    if n == 0:
        raise ValueError("no values")
    h = (n - 1) * p
    lo = math.floor(h)
    if lo >= n - 1:
        return float(sorted_values[-1])
    frac = h - lo
    a, b = sorted_values[lo], sorted_values[lo + 1]
    return float(a + frac * (b - a))


def harmonic_mean(values: Sequence[float]) -> float:
    """n / fsum(1 / x) for positive values."""
    return len(values) / math.fsum(1.0 / v for v in values)


def peer_statistics(values: Sequence[float]) -> dict[str, float | int]:
    """count, min, q1, median, mean, harmonic mean, q3, max of positive values."""
    xs = sorted(values)
    return {
        "count": len(xs),
        "min": xs[0],
        "q1": quartile_inc(xs, 0.25),
        "median": quartile_inc(xs, 0.5),
        "mean": math.fsum(xs) / len(xs),
        "harmonic_mean": harmonic_mean(xs),
        "q3": quartile_inc(xs, 0.75),
        "max": xs[-1],
    }


_MONEY = "currency"


@dataclass(frozen=True)
class Peer:
    """One comparable company (latest or forward figures, consistently across peers)."""

    name: str = field(metadata={"doc": "peer name or ticker"})
    market_cap: float = field(metadata={"doc": "market value of equity, " + _MONEY})
    net_debt: float = field(default=0.0, metadata={"doc": "debt - cash, " + _MONEY})
    minority_interest: float = field(default=0.0, metadata={"doc": _MONEY})
    preferred: float = field(default=0.0, metadata={"doc": "preferred stock, " + _MONEY})
    non_operating_assets: float = field(
        default=0.0, metadata={"doc": "e.g. investments, " + _MONEY + "; subtracted from EV (the subject's bridge)"}
    )
    enterprise_value: float | None = field(
        default=None,
        metadata={
            "doc": "EV if known (of the operating assets); default market_cap + net_debt + minority_interest"
            " + preferred - non_operating_assets"
        },
    )
    ebitda: float | None = field(default=None, metadata={"doc": _MONEY})
    ebit: float | None = field(default=None, metadata={"doc": _MONEY})
    sales: float | None = field(default=None, metadata={"doc": "revenue, " + _MONEY})
    net_income: float | None = field(default=None, metadata={"doc": _MONEY})
    book_equity: float | None = field(default=None, metadata={"doc": "book value of equity, " + _MONEY})
    fcf: float | None = field(default=None, metadata={"doc": "free cash flow (to equity), " + _MONEY})

    def ev(self) -> float:
        """Enterprise value of the operating assets: the subject's bridge to equity, run backwards."""
        if self.enterprise_value is not None:
            return self.enterprise_value
        return math.fsum(
            [self.market_cap, self.net_debt, self.minority_interest, self.preferred, -self.non_operating_assets]
        )


@dataclass(frozen=True)
class Subject:
    """The company being valued, with the bridge from enterprise value to equity."""

    ebitda: float | None = field(default=None, metadata={"doc": _MONEY})
    ebit: float | None = field(default=None, metadata={"doc": _MONEY})
    sales: float | None = field(default=None, metadata={"doc": "revenue, " + _MONEY})
    net_income: float | None = field(default=None, metadata={"doc": _MONEY})
    book_equity: float | None = field(default=None, metadata={"doc": _MONEY})
    fcf: float | None = field(default=None, metadata={"doc": "free cash flow (to equity), " + _MONEY})
    net_debt: float = field(default=0.0, metadata={"doc": "debt - cash, " + _MONEY})
    minority_interest: float = field(default=0.0, metadata={"doc": _MONEY})
    preferred: float = field(default=0.0, metadata={"doc": _MONEY})
    non_operating_assets: float = field(default=0.0, metadata={"doc": "e.g. investments, " + _MONEY})
    shares: float | None = field(default=None, metadata={"doc": "diluted shares outstanding", "gt": 0})
    price: float | None = field(default=None, metadata={"doc": "current share price", "gt": 0})


@dataclass(frozen=True)
class ComparablesInputs:
    """Peers and the subject."""

    peers: list[Peer] = field(metadata={"doc": "comparable companies"})
    subject: Subject = field(metadata={"doc": "the company valued"})

    def validate(self) -> list[FieldError]:
        errors: list[FieldError] = []
        if not self.peers:
            errors.append(FieldError("peers", "must not be empty"))
        seen: set[str] = set()
        for i, p in enumerate(self.peers):
            if p.name in seen:
                errors.append(FieldError(f"peers[{i}].name", f"duplicate peer {p.name!r}"))
            seen.add(p.name)
        return errors


@dataclass(frozen=True)
class ComparablesConventions:
    """Which multiples, which average, and how outliers are treated."""

    multiples: list[MultipleName] = field(
        default_factory=lambda: ["ev_ebitda", "ev_ebit", "ev_sales", "pe", "pb", "p_fcf"],
        metadata={"doc": "multiples to compute"},
    )
    statistic: Statistic = field(default="median", metadata={"doc": "peer average used for the point estimate"})
    outliers: Literal["iqr", "none"] = field(
        default="iqr", metadata={"doc": "iqr: exclude outside Q1 - k IQR .. Q3 + k IQR"}
    )
    iqr_k: float = field(default=1.5, metadata={"doc": "the k of the IQR rule", "gt": 0})

    def validate(self) -> list[FieldError]:
        if not self.multiples:
            return [FieldError("multiples", "must not be empty")]
        if len(set(self.multiples)) != len(self.multiples):
            return [FieldError("multiples", "must not repeat a multiple")]
        return []


def _bridge(kind: str, value: float, s: Subject) -> tuple[float | None, float]:
    """(enterprise value or None, equity value) from an implied value."""
    if kind == "enterprise":
        equity = math.fsum([value, -s.net_debt, -s.minority_interest, -s.preferred, s.non_operating_assets])
        return value, equity
    return None, value


@register_model(
    "comparables",
    inputs=ComparablesInputs,
    conventions=ComparablesConventions,
    summary="Trading comparables: peer multiples, statistics and implied values",
)
def _comparables_model(inputs: ComparablesInputs, conv: ComparablesConventions) -> Result:
    """Implied value = subject metric x peer statistic of the multiple (see the module doc).

    Source: Damodaran, "Investment Valuation" (3rd ed.), ch. 17-20 (relative valuation: drop or
    flag negative multiples, harmonic mean, medians); Rosenbaum & Pearl, "Investment Banking"
    (2nd ed.), ch. 1 (trading comparables, EV-to-equity bridge); Microsoft QUARTILE.INC.
    """
    s = inputs.subject
    outputs: dict[str, Any] = {}
    schedule: list[dict[str, Any]] = []
    warnings: list[str] = []
    for name in conv.multiples:
        kind, metric = MULTIPLES[name]
        excluded: list[dict[str, str]] = []
        kept: list[tuple[str, float]] = []
        for p in inputs.peers:
            denominator = getattr(p, metric)
            numerator = p.ev() if kind == "enterprise" else p.market_cap
            if denominator is None:
                excluded.append({"peer": p.name, "reason": f"missing {metric}"})
            elif denominator <= 0.0:
                excluded.append({"peer": p.name, "reason": f"not meaningful: {metric} is not positive"})
            elif numerator <= 0.0:
                label = "enterprise value" if kind == "enterprise" else "market cap"
                excluded.append({"peer": p.name, "reason": f"not meaningful: {label} is not positive"})
            elif 0.0 < numerator / denominator < math.inf:
                kept.append((p.name, numerator / denominator))
            else:  # two positive figures whose ratio underflows to zero or overflows
                excluded.append({"peer": p.name, "reason": "not meaningful: the multiple is beyond the float range"})
        if conv.outliers == "iqr" and len(kept) >= 4:
            xs = sorted(v for _, v in kept)
            q1, q3 = quartile_inc(xs, 0.25), quartile_inc(xs, 0.75)
            lo, hi = q1 - conv.iqr_k * (q3 - q1), q3 + conv.iqr_k * (q3 - q1)
            inside = []
            for peer, v in kept:
                if v < lo or v > hi:
                    excluded.append(
                        {"peer": peer, "reason": f"outlier: {v:.4g} outside [{lo:.4g}, {hi:.4g}] (IQR rule)"}
                    )
                else:
                    inside.append((peer, v))
            kept = inside
        for peer, v in kept:
            schedule.append({"multiple": name, "peer": peer, "value": v})
        entry: dict[str, Any] = {"excluded": excluded, "statistics": None, "implied": None}
        outputs[name] = entry
        if not kept:
            warnings.append(f"{name}: no meaningful peer multiple")
            continue
        stats = peer_statistics([v for _, v in kept])
        entry["statistics"] = stats
        subject_metric = getattr(s, metric)
        if subject_metric is None or subject_metric <= 0.0:
            warnings.append(f"{name}: the subject's {metric} is missing or not positive, so no implied value")
            continue
        implied: dict[str, Any] = {}
        for stat in ("min", "q1", "median", "mean", "harmonic_mean", "q3", "max"):
            value = subject_metric * float(stats[stat])
            ev, equity = _bridge(kind, value, s)
            row: dict[str, Any] = {"multiple": stats[stat], "enterprise_value": ev, "equity_value": equity}
            if s.shares is not None:
                row["per_share"] = equity / s.shares
                if s.price is not None:
                    row["upside"] = equity / s.shares / s.price - 1.0
            implied[stat] = row
        entry["implied"] = implied
        point = implied[conv.statistic]
        entry["point"] = point
        entry["range"] = {"low": implied["q1"], "mid": point, "high": implied["q3"]}
    return Result({"multiples": outputs, "statistic": conv.statistic}, schedule, warnings)

"""Beta on split-adjusted closes: a split inside the window must not read as a crash in the price.

The free plan's TIME_SERIES_DAILY is as traded: on a 4-for-1 split's effective date the close
drops to a quarter. Left as it is, that one week's -75% return dominates the regression.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from water.errors import InvalidInput
from water.market_data.demo import BENCHMARK, demo_data
from water.market_data.providers.base import PriceBar, Split
from water.market_data.service import _regression_beta, split_adjusted

SPLIT_DAY = date(2025, 6, 16)  # a Monday inside the demo's last two years


def _bars(symbol: str) -> list[PriceBar]:
    return [PriceBar(day=b.day, close=b.close) for b in demo_data().prices[symbol]]


def _as_traded(bars: list[PriceBar], effective: date, factor: float) -> list[PriceBar]:
    """The series as an exchange prints it when a split takes effect on `effective`: earlier closes are `factor` x."""
    return [PriceBar(day=b.day, close=b.close * factor if b.day < effective else b.close) for b in bars]


def _closes(adjusted: list[tuple[date, float]]) -> list[float]:
    return [close for _, close in adjusted]


def test_without_splits_the_closes_are_unchanged() -> None:
    bars = _bars("DAQI")
    assert split_adjusted(bars) == [(b.day, b.close) for b in bars]


def test_a_split_from_splits_restores_the_continuous_series() -> None:
    bars = _bars("DAQI")
    adjusted = split_adjusted(_as_traded(bars, SPLIT_DAY, 4.0), [Split(SPLIT_DAY, 4.0)])
    assert _closes(adjusted) == pytest.approx([b.close for b in bars], rel=1e-15)


def test_a_split_effective_on_a_day_without_a_bar_applies_to_the_bars_before_it() -> None:
    bars = _bars("DAQI")
    saturday = SPLIT_DAY - timedelta(days=2)
    adjusted = split_adjusted(_as_traded(bars, saturday, 2.0), [Split(saturday, 2.0)])
    assert _closes(adjusted) == pytest.approx([b.close for b in bars], rel=1e-15)


def test_splits_compound_and_the_series_coefficients_count_too() -> None:
    bars = _bars("DAQI")
    earlier = date(2024, 3, 4)
    traded = _as_traded(_as_traded(bars, earlier, 3.0), SPLIT_DAY, 2.0)
    # The adjusted series marks a split with its coefficient on the effective day's bar.
    marked = [PriceBar(day=b.day, close=b.close, split_coefficient=2.0 if b.day == SPLIT_DAY else 1.0) for b in traded]
    adjusted = split_adjusted(marked, [Split(earlier, 3.0)])
    assert _closes(adjusted) == pytest.approx([b.close for b in bars], rel=1e-15)
    assert adjusted[0][1] == pytest.approx(bars[0].close, rel=1e-15)  # before both: divided by 6


def test_beta_across_a_split_equals_beta_without_it_and_numpy_agrees() -> None:
    stock, market = _bars("DAQI"), _bars(BENCHMARK)
    clean = _regression_beta(split_adjusted(stock), split_adjusted(market))
    traded = _as_traded(stock, SPLIT_DAY, 4.0)
    unadjusted = _regression_beta(split_adjusted(traded), split_adjusted(market))
    adjusted = _regression_beta(split_adjusted(traded, [Split(SPLIT_DAY, 4.0)]), split_adjusted(market))

    assert clean["from"] < SPLIT_DAY <= clean["to"]
    assert adjusted["value"] == pytest.approx(clean["value"], rel=1e-12)
    assert adjusted["r_squared"] == pytest.approx(clean["r_squared"], rel=1e-12)
    assert adjusted["observations"] == clean["observations"]
    assert abs(unadjusted["value"] - clean["value"]) > 0.1  # what the split did to it, unadjusted
    assert unadjusted["r_squared"] < 0.5 * clean["r_squared"]

    # Independent check: last close of each ISO week in the window, simple returns, numpy least squares.
    def weekly(bars: list[PriceBar]) -> dict[tuple[int, int], float]:
        last: dict[tuple[int, int], float] = {}
        for b in bars:
            if clean["from"] <= b.day <= clean["to"]:
                last[b.day.isocalendar()[:2]] = b.close
        return last

    s, m = weekly(stock), weekly(market)
    weeks = sorted(set(s) & set(m))
    s_prices, m_prices = np.array([s[w] for w in weeks]), np.array([m[w] for w in weeks])
    slope, _ = np.polyfit(m_prices[1:] / m_prices[:-1] - 1, s_prices[1:] / s_prices[:-1] - 1, 1)
    assert adjusted["value"] == pytest.approx(slope, rel=1e-9)
    assert adjusted["returns"] == "price returns, split-adjusted"


def test_too_few_common_periods_is_a_readable_problem_not_an_engine_error() -> None:
    # Three weeks of prices (a recent listing) hold one or two monthly closes: the regression needs
    # four periods. Before, the engine's error escaped the market inputs as a 500.
    stock = split_adjusted(_bars("DAQI")[-15:])
    benchmark = split_adjusted(_bars(BENCHMARK)[-15:])
    with pytest.raises(InvalidInput) as caught:
        _regression_beta(stock, benchmark, frequency="monthly", years=1)
    assert caught.value.code == "beta_not_computable"
    assert caught.value.status == 422
    assert "monthly returns over 1 year)" in str(caught.value.detail)
    assert "Try a higher frequency or a longer window." in str(caught.value.detail)

"""Demo market data: fictional, deterministic, internally consistent, and parsed by the real provider.

Beta is checked against an independent computation (numpy least squares, test-only).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from water.market_data.canonical import PeriodType
from water.market_data.demo import (
    BENCHMARK,
    COMPANIES,
    DEMO_AS_OF,
    DemoData,
    DemoTransport,
    demo_data,
    demo_queries,
    write_demo_files,
)
from water.market_data.errors import PremiumEndpoint, SymbolNotFound
from water.market_data.normalize import trailing_twelve_months
from water.market_data.providers.alphavantage import AlphaVantageProvider, AlphaVantageTransport
from water.market_data.providers.base import PriceBar

from ...fakes.alphavantage_server import FakeAlphaVantage

TICKERS = [c.symbol for c in COMPANIES]


@pytest.fixture(scope="module")
def demo_server() -> Iterator[FakeAlphaVantage]:
    """The fake server with the demo data only (no recordings), so nothing recorded shadows it."""
    with FakeAlphaVantage(None) as server:
        yield server


@pytest.fixture
def provider(demo_server: FakeAlphaVantage) -> Iterator[AlphaVantageProvider]:
    """The real transport and provider, against the fake server's demo data."""
    demo_server.reset()
    with AlphaVantageTransport("demo-test-key", demo_server.url, timeout=5.0) as transport:
        yield AlphaVantageProvider(transport.fetch)


def _statement(symbol: str, function: str) -> dict[str, Any]:
    body: dict[str, Any] = demo_data().payload(function, {"symbol": symbol})
    return body


def _n(value: str) -> int:
    return int(value) if value != "None" else 0


# --- labelled and deterministic -----------------------------------------------------------------


def test_every_demo_company_is_labelled_fictional() -> None:
    for symbol in [*TICKERS, BENCHMARK]:
        overview = demo_data().payload("OVERVIEW", {"symbol": symbol})
        assert overview["Name"].endswith("(demo data)")
        assert "fictional" in overview["Description"]
        assert "demo data" in overview["Description"]
        assert overview["Exchange"] == "DEMO"
        assert overview["CIK"] == "None"


def test_generation_is_deterministic_and_has_no_clock() -> None:
    first, second = DemoData(), DemoData()
    for query, _file in demo_queries():
        params = {k: v for k, v in query.items() if k != "function"}
        assert first.respond(query["function"], params) == second.respond(query["function"], params), query
    other_seed = DemoData(seed=1)
    assert other_seed.respond("GLOBAL_QUOTE", {"symbol": "DAQI"}) != first.respond("GLOBAL_QUOTE", {"symbol": "DAQI"})
    series = first.payload("TIME_SERIES_DAILY", {"symbol": "DAQI", "outputsize": "full"})
    assert series["Meta Data"]["3. Last Refreshed"] == DEMO_AS_OF.isoformat()


def test_prices_cover_three_years_of_business_days() -> None:
    for symbol in [*TICKERS, BENCHMARK]:
        bars = demo_data().prices[symbol]
        assert bars[-1].day == DEMO_AS_OF
        assert 750 <= len(bars) <= 800
        assert all(bar.day.weekday() < 5 for bar in bars)
        assert all(bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high for bar in bars)


# --- statements are internally consistent --------------------------------------------------------


@pytest.mark.parametrize("symbol", TICKERS)
def test_balance_sheets_balance(symbol: str) -> None:
    body = _statement(symbol, "BALANCE_SHEET")
    reports = body["annualReports"] + body["quarterlyReports"]
    assert (len(body["annualReports"]), len(body["quarterlyReports"])) == (5, 20)
    for r in reports:
        n = {k: _n(v) for k, v in r.items() if k not in ("fiscalDateEnding", "reportedCurrency")}
        assert n["totalAssets"] == n["totalLiabilities"] + n["totalShareholderEquity"], r["fiscalDateEnding"]
        assert n["totalAssets"] == n["totalCurrentAssets"] + n["totalNonCurrentAssets"]
        assert n["totalLiabilities"] == n["totalCurrentLiabilities"] + n["totalNonCurrentLiabilities"]
        current = ("cashAndShortTermInvestments", "currentNetReceivables", "inventory", "otherCurrentAssets")
        assert n["totalCurrentAssets"] == sum(n[k] for k in current)
        assert (
            n["cashAndShortTermInvestments"] == n["cashAndCashEquivalentsAtCarryingValue"] + n["shortTermInvestments"]
        )
        assert n["totalShareholderEquity"] == n["commonStock"] + n["retainedEarnings"] - n["treasuryStock"]
        assert n["shortLongTermDebtTotal"] == n["shortTermDebt"] + n["longTermDebt"]
        assert n["totalShareholderEquity"] > 0
        assert n["cashAndCashEquivalentsAtCarryingValue"] > 0


@pytest.mark.parametrize("symbol", TICKERS)
def test_annual_flows_are_the_sum_of_their_quarters_and_cash_reconciles(symbol: str) -> None:
    for function, fields in (
        ("INCOME_STATEMENT", ("totalRevenue", "operatingIncome", "netIncome", "incomeTaxExpense")),
        ("CASH_FLOW", ("operatingCashflow", "capitalExpenditures", "changeInCashAndCashEquivalents")),
    ):
        body = _statement(symbol, function)
        for annual in body["annualReports"]:
            year = annual["fiscalDateEnding"][:4]
            quarters = [q for q in body["quarterlyReports"] if q["fiscalDateEnding"].startswith(year)]
            if len(quarters) == 4:
                for field in fields:
                    assert _n(annual[field]) == sum(_n(q[field]) for q in quarters), (function, year, field)
    income, cash_flow = _statement(symbol, "INCOME_STATEMENT"), _statement(symbol, "CASH_FLOW")
    balance = _statement(symbol, "BALANCE_SHEET")
    quarters = balance["quarterlyReports"]
    for newer, older, flows, pnl in zip(
        quarters, quarters[1:], cash_flow["quarterlyReports"], income["quarterlyReports"], strict=False
    ):
        delta = _n(newer["cashAndCashEquivalentsAtCarryingValue"]) - _n(older["cashAndCashEquivalentsAtCarryingValue"])
        assert _n(flows["changeInCashAndCashEquivalents"]) == delta
        retained = _n(newer["retainedEarnings"]) - _n(older["retainedEarnings"])
        assert retained == _n(pnl["netIncome"]) - _n(flows["dividendPayoutCommonStock"])


def test_dividends_paid_match_the_dividend_history() -> None:
    for company in COMPANIES:
        dividends = demo_data().payload("DIVIDENDS", {"symbol": company.symbol})["data"]
        cash_flow = _statement(company.symbol, "CASH_FLOW")["quarterlyReports"]
        shares = {
            r["fiscalDateEnding"]: _n(r["commonStockSharesOutstanding"])
            for r in _statement(company.symbol, "BALANCE_SHEET")["quarterlyReports"]
        }
        if not company.dividend0:
            assert dividends == []
            assert all(r["dividendPayoutCommonStock"] == "None" for r in cash_flow)
            continue
        assert [d["ex_dividend_date"] for d in dividends] == sorted(
            (d["ex_dividend_date"] for d in dividends), reverse=True
        )
        latest = cash_flow[0]
        paid_per_share = float(
            dividends[next(i for i, d in enumerate(dividends) if d["ex_dividend_date"] <= latest["fiscalDateEnding"])][
                "amount"
            ]
        )
        # paid on the shares outstanding at the start of the quarter (the previous balance sheet)
        previous_shares = shares[cash_flow[1]["fiscalDateEnding"]]
        assert _n(latest["dividendPayoutCommonStock"]) == pytest.approx(paid_per_share * previous_shares, abs=1_000_000)


# --- served through the real transport and provider ----------------------------------------------


@pytest.mark.parametrize("symbol", TICKERS)
def test_demo_company_through_the_real_provider(provider: AlphaVantageProvider, symbol: str) -> None:
    profile, _ = provider.company_profile(symbol)
    assert profile.name.endswith("(demo data)")
    assert profile.currency == "USD"
    quote, _ = provider.quote(symbol)
    assert quote.as_of == DEMO_AS_OF
    assert quote.price == pytest.approx(demo_data().prices[symbol][-1].close, abs=5e-5)
    bars, _ = provider.daily_prices(symbol)
    assert len(bars) == 100
    assert bars[-1].day == DEMO_AS_OF
    periods, _ = provider.statements(symbol)
    annual = [p for p in periods if p.period_type == PeriodType.annual]
    quarterly = [p for p in periods if p.period_type == PeriodType.quarterly]
    assert (len(annual), len(quarterly)) == (5, 20)
    latest = quarterly[-1]
    assert latest.fiscal_date_ending == date(2025, 9, 30)
    for line in (
        "revenue",
        "ebit",
        "net_income",
        "cash",
        "total_debt",
        "shares_outstanding",
        "change_in_working_capital",
    ):
        assert line in latest.figures, line
    # leases shown separately are added to shortLongTermDebtTotal
    assert latest.figures["total_debt"].source.endswith("+BALANCE_SHEET.capitalLeaseObligations")
    ttm = trailing_twelve_months(quarterly)
    assert ttm is not None
    assert ttm.value("revenue") == sum(q.value("revenue") or 0 for q in quarterly[-4:])
    fy2024 = next(p for p in annual if p.fiscal_date_ending == date(2024, 12, 31))
    assert fy2024.value("revenue") == sum(
        q.value("revenue") or 0 for q in quarterly if q.fiscal_date_ending.year == 2024
    )
    earnings, _ = provider.earnings(symbol)
    assert [e for e in earnings if e.period_type == "quarterly"][-1].fiscal_date_ending == date(2025, 9, 30)


def test_search_dividends_splits_and_rates_through_the_real_provider(
    demo_server: FakeAlphaVantage, provider: AlphaVantageProvider
) -> None:
    matches, _ = provider.search_symbols("demo")
    assert {m.symbol for m in matches} == {*TICKERS, BENCHMARK}
    exact, _ = provider.search_symbols("daqi")
    assert exact[0].symbol == "DAQI"
    assert exact[0].match_score == 1.0
    with AlphaVantageTransport("k", demo_server.url, timeout=5.0) as transport:
        csv_provider = AlphaVantageProvider(transport.fetch, prefer_csv=True)
        assert {m.symbol for m in csv_provider.search_symbols("demo")[0]} == {*TICKERS, BENCHMARK}
        assert csv_provider.quote("DBRK")[0].as_of == DEMO_AS_OF
    assert provider.search_symbols("nothing-like-this")[0] == []
    dividends, _ = provider.dividends("DAQI")
    assert dividends[-1].ex_date <= DEMO_AS_OF
    assert all(d.amount > 0 for d in dividends)
    splits, _ = provider.splits("DBRK")
    assert [(s.effective_date, s.factor) for s in splits] == [(date(2019, 6, 14), 2.0)]
    assert provider.splits("DAQI")[0] == []
    rates, _ = provider.treasury_yield()
    assert rates[-1].day == date(2025, 12, 1)
    assert all(0 < r.rate < 0.08 for r in rates)
    daily, _ = provider.treasury_yield(interval="daily")
    assert date(2025, 12, 25) not in {r.day for r in daily}  # "." (no observation) is skipped


def test_adjusted_series_and_the_free_plan(provider: AlphaVantageProvider, demo_server: FakeAlphaVantage) -> None:
    with AlphaVantageTransport("k", demo_server.url, timeout=5.0) as transport:
        bars, _ = AlphaVantageProvider(transport.fetch, premium=True).daily_prices("DAQI", full=True)
    assert bars[-1].adjusted_close == bars[-1].close
    paid = [b for b in bars if b.dividend]
    assert paid
    for bar in paid:  # adjusted returns carry no dividend drop
        before = bars[bars.index(bar) - 1]
        assert before.adjusted_close is not None
        assert bar.adjusted_close is not None
        # the API's adjustment: earlier closes scaled by (1 - dividend / previous close)
        expected = (before.close - (bar.dividend or 0)) / bar.close
        assert before.adjusted_close / bar.adjusted_close == pytest.approx(expected, abs=1e-5)
    with pytest.raises(PremiumEndpoint):
        AlphaVantageProvider(DemoTransport(premium=False).fetch, premium=True).daily_prices("DAQI")
    with pytest.raises(SymbolNotFound):
        AlphaVantageProvider(DemoTransport().fetch).company_profile("ZZZZ")


def _weekly_returns(bars: list[PriceBar]) -> np.ndarray:
    by_week: dict[tuple[int, int], float] = {}
    for bar in bars:
        iso = bar.day.isocalendar()
        by_week[(iso.year, iso.week)] = bar.close
    closes = np.array([by_week[k] for k in sorted(by_week)][-105:])
    returns: np.ndarray = closes[1:] / closes[:-1] - 1
    return returns


@pytest.mark.parametrize("symbol", TICKERS)
def test_beta_against_dspy_is_sensible_by_numpy_least_squares(provider: AlphaVantageProvider, symbol: str) -> None:
    stock, _ = provider.daily_prices(symbol, full=True)
    market, _ = provider.daily_prices(BENCHMARK, full=True)
    y, x = _weekly_returns(stock), _weekly_returns(market)
    assert len(y) == len(x) == 104  # two years of weekly returns
    design = np.column_stack([np.ones_like(x), x])
    (alpha, beta), *_ = np.linalg.lstsq(design, y, rcond=None)
    assert 0.8 <= beta <= 1.3, beta
    residuals = y - design @ np.array([alpha, beta])
    r_squared = 1 - residuals.var() / y.var()
    assert r_squared > 0.5
    overview, _ = provider.company_profile(symbol)
    assert overview.beta == pytest.approx(beta, abs=0.0005)  # OVERVIEW reports the same regression


# --- files --------------------------------------------------------------------------------------


def test_write_demo_files_in_the_fixtures_manifest_format(tmp_path: Path) -> None:
    manifest_path = write_demo_files(tmp_path)
    manifest = json.loads(manifest_path.read_text())
    assert manifest_path == tmp_path / "manifest.json"
    assert set(manifest) == {"base_url_path", "note", "responses"}
    assert manifest["base_url_path"] == "/query"
    assert "DEMO" in manifest["note"]
    for entry in manifest["responses"]:
        assert (tmp_path / entry["file"]).is_file()
        assert entry["http_status"] == 200
        assert entry["kind"] in ("data", "error")
        assert ("query" in entry) != ("when" in entry)
    data = [e for e in manifest["responses"] if e["kind"] == "data"]
    names = {e["file"] for e in data}
    for expected in (
        "OVERVIEW_DAQI.json",
        "GLOBAL_QUOTE_DAQI.csv",
        "TIME_SERIES_DAILY_ADJUSTED_DBRK_full.json",
        "BALANCE_SHEET_DCSH.json",
        "TREASURY_YIELD_monthly_10year.json",
        "SYMBOL_SEARCH_demo.csv",
        "OVERVIEW_DSPY.json",
    ):
        assert expected in names
    overview = (tmp_path / "OVERVIEW_DAQI.json").read_bytes()
    assert overview.startswith(b'{\n    "Symbol": "DAQI"')  # the API's 4-space layout
    assert not overview.endswith(b"\n")


def test_the_fake_server_replays_written_demo_files(tmp_path: Path) -> None:
    write_demo_files(tmp_path)
    with (
        FakeAlphaVantage(tmp_path, demo=DemoData(seed=1)) as server,
        AlphaVantageTransport("k", server.url, timeout=5.0) as transport,
    ):
        provider = AlphaVantageProvider(transport.fetch)
        quote, raw = provider.quote("DAQI")
        assert raw.body == (tmp_path / "GLOBAL_QUOTE_DAQI.json").read_bytes()  # from the file, not seed 1
        assert quote.as_of == DEMO_AS_OF
        server.serve_error("EMPTY_OBJECT.json")
        with pytest.raises(SymbolNotFound):
            provider.company_profile("DAQI")

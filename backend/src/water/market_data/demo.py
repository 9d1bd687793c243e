"""Offline demo data: FICTIONAL companies, served in Alpha Vantage's own response format.

Water runs without an API key by serving these bodies through `DemoTransport`, so the real
`AlphaVantageProvider` parses them exactly as it parses live answers. Every company here is
invented and labelled as demo data in its name and description; the prices, statements and
rates are generated from a fixed seed and end at the fixed date `DEMO_AS_OF` (no clock), so
the same bodies come out on every machine and every run.

| symbol | name | stands for |
|---|---|---|
| DAQI | Demo Aquifer Industries (demo data) | a water-infrastructure industrial, dividend payer |
| DBRK | Demo Brook Software (demo data) | a growth software company, no dividend, a 2:1 split in 2019 |
| DCSH | Demo Cascade Holdings (demo data) | a consumer-staples holding, dividend payer |
| DSPY | Demo Market Index ETF (demo data) | the benchmark (Water's default is SPY) |

The statements (5 annual and 20 quarterly reports, newest quarter 2025-09-30) come from one
quarterly model per company in whole millions, so every balance sheet balances exactly, annual
flows are the sums of their quarters and the cash-flow statement reconciles the change in cash.
Daily prices follow a one-factor model against DSPY, so each stock's beta on two years of weekly
returns lands between about 0.8 and 1.3.

`write_demo_files(directory)` writes every body as a file plus a `manifest.json` in the format of
`../shared/fixtures/alphavantage/manifest.json`; `python -m water.market_data.demo DIR` does the same.
"""

from __future__ import annotations

import csv
import io
import json
import random
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property, lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any

from .providers.alphavantage import classify_response
from .providers.base import ProviderRequest, RawResponse

DEMO_AS_OF = date(2025, 12, 31)  # the last trading day in the demo data
DEMO_PRICES_FROM = date(2023, 1, 2)
DEMO_LATEST_QUARTER = date(2025, 9, 30)
DEMO_SEED = 20251231
JSON_TYPE = "application/json"
CSV_TYPE = "application/x-download"
INVALID_CALL = "Invalid API call. Please retry or visit the documentation (https://www.alphavantage.co/documentation/) for {function}."
PREMIUM = (
    "Thank you for using Alpha Vantage! This is a premium endpoint. You may subscribe to any of the premium plans "
    "at https://www.alphavantage.co/premium/ to instantly unlock all premium endpoints"
)
QUARTER_ENDS = ((3, 31), (6, 30), (9, 30), (12, 31))
TREASURY_SPREADS = {"3month": 0.15, "2year": -0.1, "5year": -0.15, "7year": -0.05, "10year": 0.0, "30year": 0.25}
# 10-year yield anchors (percent) the demo curve interpolates between; a plausible shape, not history.
TREASURY_ANCHORS: tuple[tuple[date, float], ...] = (
    (date(2015, 1, 1), 2.1),
    (date(2019, 12, 1), 1.9),
    (date(2020, 8, 1), 0.7),
    (date(2022, 10, 1), 3.9),
)
TREASURY_ANCHORS += ((date(2023, 10, 1), 4.7), (date(2024, 9, 1), 3.8), (date(2025, 12, 1), 4.2))


@dataclass(frozen=True)
class DemoCompany:
    symbol: str
    name: str
    summary: str
    sector: str
    industry: str
    beta: float  # the one-factor model's loading on DSPY
    idio_vol: float  # daily idiosyncratic volatility
    start_price: float
    revenue0: int  # quarterly revenue in 2020-Q1, millions
    growth: float  # yearly revenue growth
    gross_margin: float
    sga: float
    rnd: float
    dividend0: float  # quarterly dividend per share in 2020 (grows 5% a year); 0 = none
    shares0: int
    debt: int  # long-term debt, millions
    split: tuple[date, float] | None = None


COMPANIES = (
    DemoCompany(
        symbol="DAQI",
        name="Demo Aquifer Industries (demo data)",
        summary="pumps, pipes and treatment plants for municipal water systems",
        sector="INDUSTRIALS",
        industry="WATER INFRASTRUCTURE EQUIPMENT",
        beta=0.98,
        idio_vol=0.007,
        start_price=58.0,
        revenue0=1200,
        growth=0.06,
        gross_margin=0.40,
        sga=0.12,
        rnd=0.02,
        dividend0=0.42,
        shares0=250_000_000,
        debt=2500,
    ),
    DemoCompany(
        symbol="DBRK",
        name="Demo Brook Software (demo data)",
        summary="subscription software for utilities' asset management",
        sector="TECHNOLOGY",
        industry="SERVICES-PREPACKAGED SOFTWARE",
        beta=1.16,
        idio_vol=0.008,
        start_price=70.0,
        revenue0=800,
        growth=0.15,
        gross_margin=0.72,
        sga=0.30,
        rnd=0.20,
        dividend0=0.0,
        shares0=250_000_000,
        debt=500,
        split=(date(2019, 6, 14), 2.0),
    ),
    DemoCompany(
        symbol="DCSH",
        name="Demo Cascade Holdings (demo data)",
        summary="bottled water, beverages and household staples",
        sector="CONSUMER DEFENSIVE",
        industry="BEVERAGES",
        beta=0.9,
        idio_vol=0.006,
        start_price=45.0,
        revenue0=2000,
        growth=0.03,
        gross_margin=0.36,
        sga=0.14,
        rnd=0.01,
        dividend0=0.38,
        shares0=300_000_000,
        debt=3000,
    ),
)
BENCHMARK = "DSPY"
BENCHMARK_NAME = "Demo Market Index ETF (demo data)"
SYMBOLS = (*(c.symbol for c in COMPANIES), BENCHMARK)


def _rng(seed: object) -> random.Random:
    """A generator seeded from a string, so the sequence is the same in every process and version."""
    return random.Random(str(seed))  # noqa: S311 - demo data, not security


def _business_days(start: date, end: date) -> list[date]:
    days, current = [], start
    while current <= end:
        if current.weekday() < 5:
            days.append(current)
        current += timedelta(days=1)
    return days


def _next_business_day(day: date) -> date:
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def _money(millions: float) -> str:
    return str(round(millions) * 1_000_000)


def _price(value: float) -> str:
    return f"{value:.4f}"


def _quarter_ends(first_year: int, last: date) -> list[date]:
    ends = [date(y, m, d) for y in range(first_year, last.year + 1) for m, d in QUARTER_ENDS]
    return [e for e in ends if e <= last]


# --- prices ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    day: date
    open: float
    high: float
    low: float
    close: float
    adjusted_close: float
    volume: int
    dividend: float


def _dividend_schedule(company: DemoCompany) -> list[dict[str, str]]:
    """Quarterly dividends from 2020 on: ex-date the 10th of Feb/May/Aug/Nov (next business day)."""
    if not company.dividend0:
        return []
    rows = []
    for year in range(2020, DEMO_AS_OF.year + 1):
        amount = round(company.dividend0 * 1.05 ** (year - 2020), 2)
        for month in (2, 5, 8, 11):
            ex = _next_business_day(date(year, month, 10))
            if ex > DEMO_AS_OF:
                continue
            rows.append(
                {
                    "ex_dividend_date": ex.isoformat(),
                    "declaration_date": (ex - timedelta(days=14)).isoformat(),
                    "record_date": _next_business_day(ex + timedelta(days=1)).isoformat(),
                    "payment_date": _next_business_day(ex + timedelta(days=30)).isoformat(),
                    "amount": f"{amount:.2f}",
                }
            )
    return rows[::-1]  # newest first, as the API sends it


def _bars(closes: list[float], days: list[date], dividends: Mapping[date, float], rng: random.Random) -> list[Bar]:
    """OHLC around each close, and the adjusted close (dividends taken out backwards, as the API does)."""
    factors, factor = [1.0] * len(closes), 1.0
    for i in range(len(closes) - 1, -1, -1):
        factors[i] = factor
        if i > 0 and dividends.get(days[i]):
            factor *= (closes[i - 1] - dividends[days[i]]) / closes[i - 1]
    bars = []
    for i, (day, close) in enumerate(zip(days, closes, strict=True)):
        previous = closes[i - 1] if i else close
        open_ = previous * (1 + rng.gauss(0, 0.004))
        high = max(open_, close) * (1 + abs(rng.gauss(0, 0.004)))
        low = min(open_, close) * (1 - abs(rng.gauss(0, 0.004)))
        volume = int(2_000_000 * (1 + abs(rng.gauss(0, 0.35))))
        bars.append(
            Bar(
                day,
                round(open_, 4),
                round(high, 4),
                round(low, 4),
                round(close, 4),
                round(close * factors[i], 4),
                volume,
                dividends.get(day, 0.0),
            )
        )
    return bars


# --- statements ------------------------------------------------------------------------------


def _quarter_model(company: DemoCompany, rng: random.Random) -> list[dict[str, Any]]:
    """One row per quarter from 2020-Q1, in whole millions; balance sheets balance by construction.

    Cash is what the cash-flow statement leaves; retained earnings are the opening plug, so
    assets = liabilities + equity holds at the start and every flow keeps it so.
    """
    season = (0.96, 1.01, 0.99, 1.04)
    dividends = {date.fromisoformat(r["ex_dividend_date"]): float(r["amount"]) for r in _dividend_schedule(company)}
    price_guess = company.start_price
    s_debt, c_debt, leases = company.debt // 10, company.debt // 10, company.debt // 8
    state: dict[str, float] = {
        "cash": company.revenue0 * 0.8,
        "sti": company.revenue0 // 4,
        "ppe": company.revenue0 * 3.0,
        "acc_dep": company.revenue0 * 2.0,
        "goodwill": company.revenue0 * 1.5,
        "intangibles": company.revenue0 // 2,
        "other_nca": company.revenue0 // 3,
        "other_ncl": company.revenue0 // 4,
        "lt_debt": company.debt,
        "treasury": 0,
        "common": company.revenue0,
        "shares": company.shares0,
        "nwc": 0.0,
    }
    rows = []
    for q, end in enumerate(_quarter_ends(2020, DEMO_LATEST_QUARTER)):
        rev = round(company.revenue0 * (1 + company.growth) ** (q / 4) * season[q % 4] * (1 + rng.gauss(0, 0.02)))
        cogs = round(rev * (1 - company.gross_margin))
        sga, rnd = round(rev * company.sga), round(rev * company.rnd)
        da = round(state["ppe"] * 0.025)
        operating = rev - cogs - sga - rnd - da
        interest_expense = round((state["lt_debt"] + s_debt + c_debt) * 0.045 / 4)
        interest_income = round(state["cash"] * 0.01 / 4)
        pretax = operating - interest_expense + interest_income
        tax = round(pretax * 0.21)
        net = pretax - tax
        wc = {
            "receivables": round(rev * 0.55),
            "inventory": round(cogs * 0.5),
            "other_ca": round(rev * 0.05),
            "payables": round(cogs * 0.4),
            "deferred": round(rev * (0.3 if company.rnd > 0.1 else 0.05)),
            "other_cl": round(rev * 0.06),
        }
        nwc = wc["receivables"] + wc["inventory"] + wc["other_ca"] - wc["payables"] - wc["deferred"] - wc["other_cl"]
        d_nwc = nwc - state["nwc"] if q else 0  # the opening quarter starts from its own working capital
        capex = round(da + rev * company.growth * 0.25)  # replacement plus growth
        shares = state["shares"]
        dividend = round(sum(a for d, a in dividends.items() if end - timedelta(days=91) < d <= end) * shares / 1e6)
        buyback = round(max(net, 0) * 0.25)
        ocf = net + da - d_nwc
        cash = state["cash"] + ocf - capex - dividend - buyback
        borrowed = 0
        if cash < rev * 0.3:  # a revolver keeps a cash floor
            borrowed = round(rev * 0.3 - cash + 49) // 50 * 50
            cash += borrowed
        if q == 0:  # opening balance: retained earnings balance the sheet
            state["re"] = 0.0
        state.update(
            cash=cash,
            ppe=state["ppe"] + capex - da,
            acc_dep=state["acc_dep"] + da,
            lt_debt=state["lt_debt"] + borrowed,
            treasury=state["treasury"] + buyback,
            shares=shares - round(buyback * 1e6 / price_guess),
            nwc=nwc,
            re=state["re"] + net - dividend,
        )
        price_guess *= 1.02
        rows.append(
            {"end": end, "revenue": rev, "cogs": cogs, "sga": sga, "rnd": rnd, "da": da, "operating": operating}
            | {"interest_expense": interest_expense, "interest_income": interest_income, "pretax": pretax, "tax": tax}
            | {"net": net, "capex": capex, "dividend": dividend, "buyback": buyback, "ocf": ocf, "borrowed": borrowed}
            | {
                "s_debt": s_debt,
                "c_debt": c_debt,
                "leases": leases,
                "d_cash": ocf - capex - dividend - buyback + borrowed,
            }
            | wc
            | {k: state[k] for k in ("cash", "sti", "ppe", "acc_dep", "goodwill", "intangibles", "other_nca")}
            | {k: state[k] for k in ("other_ncl", "lt_debt", "treasury", "common", "shares", "re")}
        )
    _open_balance(rows)
    return rows


def _open_balance(rows: list[dict[str, Any]]) -> None:
    """Shift retained earnings so the first balance sheet balances; every later one follows."""
    first = _balance_totals(rows[0])
    gap = first["assets"] - first["liabilities"] - (rows[0]["common"] + rows[0]["re"] - rows[0]["treasury"])
    for row in rows:
        row["re"] += gap


def _balance_totals(r: Mapping[str, Any]) -> dict[str, float]:
    current_assets = r["cash"] + r["sti"] + r["receivables"] + r["inventory"] + r["other_ca"]
    non_current_assets = r["ppe"] + r["goodwill"] + r["intangibles"] + r["other_nca"]
    current_liabilities = r["payables"] + r["deferred"] + r["s_debt"] + r["c_debt"] + r["other_cl"]
    non_current_liabilities = r["lt_debt"] + r["leases"] + r["other_ncl"]
    return {
        "current_assets": current_assets,
        "non_current_assets": non_current_assets,
        "assets": current_assets + non_current_assets,
        "current_liabilities": current_liabilities,
        "non_current_liabilities": non_current_liabilities,
        "liabilities": current_liabilities + non_current_liabilities,
    }


FLOW_KEYS: tuple[str, ...] = (
    "revenue",
    "cogs",
    "sga",
    "rnd",
    "da",
    "operating",
    "interest_expense",
    "interest_income",
    "pretax",
    "tax",
)
FLOW_KEYS += ("net", "capex", "dividend", "buyback", "ocf", "borrowed", "d_cash")


def _annual(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fiscal years (December) with all four quarters: flows summed, stocks at year end."""
    years = []
    for year in sorted({r["end"].year for r in rows}):
        quarters = [r for r in rows if r["end"].year == year]
        if len(quarters) == 4:
            years.append(quarters[-1] | {k: sum(q[k] for q in quarters) for k in FLOW_KEYS})
    return years


def _income_report(r: Mapping[str, Any]) -> dict[str, str]:
    m = _money
    return {
        "fiscalDateEnding": r["end"].isoformat(),
        "reportedCurrency": "USD",
        "grossProfit": m(r["revenue"] - r["cogs"]),
        "totalRevenue": m(r["revenue"]),
        "costOfRevenue": m(r["cogs"]),
        "costofGoodsAndServicesSold": m(r["cogs"]),
        "operatingIncome": m(r["operating"]),
        "sellingGeneralAndAdministrative": m(r["sga"]),
        "researchAndDevelopment": m(r["rnd"]) if r["rnd"] else "None",
        "operatingExpenses": m(r["sga"] + r["rnd"] + r["da"]),
        "investmentIncomeNet": "None",
        "netInterestIncome": m(r["interest_income"] - r["interest_expense"]),
        "interestIncome": m(r["interest_income"]),
        "interestExpense": m(r["interest_expense"]),
        "nonInterestIncome": "None",
        "otherNonOperatingIncome": "0",
        "depreciation": m(r["da"]),
        "depreciationAndAmortization": m(r["da"]),
        "incomeBeforeTax": m(r["pretax"]),
        "incomeTaxExpense": m(r["tax"]),
        "interestAndDebtExpense": m(r["interest_expense"]),
        "netIncomeFromContinuingOperations": m(r["net"]),
        "comprehensiveIncomeNetOfTax": m(r["net"]),
        "ebit": m(r["pretax"] + r["interest_expense"]),  # Alpha Vantage's own definition
        "ebitda": m(r["pretax"] + r["interest_expense"] + r["da"]),
        "netIncome": m(r["net"]),
    }


def _balance_report(r: Mapping[str, Any]) -> dict[str, str]:
    m, t = _money, _balance_totals(r)
    equity = r["common"] + r["re"] - r["treasury"]
    return {
        "fiscalDateEnding": r["end"].isoformat(),
        "reportedCurrency": "USD",
        "totalAssets": m(t["assets"]),
        "totalCurrentAssets": m(t["current_assets"]),
        "cashAndCashEquivalentsAtCarryingValue": m(r["cash"]),
        "cashAndShortTermInvestments": m(r["cash"] + r["sti"]),
        "inventory": m(r["inventory"]),
        "currentNetReceivables": m(r["receivables"]),
        "totalNonCurrentAssets": m(t["non_current_assets"]),
        "propertyPlantEquipment": m(r["ppe"]),
        "accumulatedDepreciationAmortizationPPE": m(r["acc_dep"]),
        "intangibleAssets": m(r["goodwill"] + r["intangibles"]),
        "intangibleAssetsExcludingGoodwill": m(r["intangibles"]),
        "goodwill": m(r["goodwill"]),
        "investments": "None",
        "longTermInvestments": "None",
        "shortTermInvestments": m(r["sti"]),
        "otherCurrentAssets": m(r["other_ca"]),
        "otherNonCurrentAssets": m(r["other_nca"]),
        "totalLiabilities": m(t["liabilities"]),
        "totalCurrentLiabilities": m(t["current_liabilities"]),
        "currentAccountsPayable": m(r["payables"]),
        "deferredRevenue": m(r["deferred"]),
        "currentDebt": m(r["s_debt"] + r["c_debt"]),
        "shortTermDebt": m(r["s_debt"]),
        "totalNonCurrentLiabilities": m(t["non_current_liabilities"]),
        "capitalLeaseObligations": m(r["leases"]),
        "longTermDebt": m(r["c_debt"] + r["lt_debt"]),
        "currentLongTermDebt": m(r["c_debt"]),
        "longTermDebtNoncurrent": m(r["lt_debt"]),
        "shortLongTermDebtTotal": m(r["s_debt"] + r["c_debt"] + r["lt_debt"]),
        "otherCurrentLiabilities": m(r["other_cl"]),
        "otherNonCurrentLiabilities": m(r["other_ncl"]),
        "totalShareholderEquity": m(equity),
        "treasuryStock": m(r["treasury"]) if r["treasury"] else "None",
        "retainedEarnings": m(r["re"]),
        "commonStock": m(r["common"]),
        "commonStockSharesOutstanding": str(int(r["shares"])),
    }


def _cash_flow_report(r: Mapping[str, Any]) -> dict[str, str]:
    m = _money
    none = "None"
    return {
        "fiscalDateEnding": r["end"].isoformat(),
        "reportedCurrency": "USD",
        "operatingCashflow": m(r["ocf"]),
        "paymentsForOperatingActivities": none,
        "proceedsFromOperatingActivities": none,
        "changeInOperatingLiabilities": none,
        "changeInOperatingAssets": none,
        "depreciationDepletionAndAmortization": m(r["da"]),
        "capitalExpenditures": m(r["capex"]),
        "changeInReceivables": none,
        "changeInInventory": none,
        "profitLoss": m(r["net"]),
        "cashflowFromInvestment": m(-r["capex"]),
        "cashflowFromFinancing": m(r["borrowed"] - r["dividend"] - r["buyback"]),
        "proceedsFromRepaymentsOfShortTermDebt": "0",
        "paymentsForRepurchaseOfCommonStock": m(r["buyback"]),
        "paymentsForRepurchaseOfEquity": m(r["buyback"]),
        "paymentsForRepurchaseOfPreferredStock": none,
        "dividendPayout": m(r["dividend"]) if r["dividend"] else none,
        "dividendPayoutCommonStock": m(r["dividend"]) if r["dividend"] else none,
        "dividendPayoutPreferredStock": none,
        "proceedsFromIssuanceOfCommonStock": "0",
        "proceedsFromIssuanceOfLongTermDebtAndCapitalSecuritiesNet": m(r["borrowed"]),
        "proceedsFromIssuanceOfPreferredStock": none,
        "proceedsFromRepurchaseOfEquity": "0",
        "proceedsFromSaleOfTreasuryStock": none,
        "changeInCashAndCashEquivalents": m(r["d_cash"]),
        "changeInExchangeRate": none,
        "netIncome": m(r["net"]),
    }


# --- the data set ----------------------------------------------------------------------------


def _ols_beta(stock: list[float], market: list[float]) -> float:
    n = len(stock)
    mean_s, mean_m = sum(stock) / n, sum(market) / n
    cov = sum((s - mean_s) * (m - mean_m) for s, m in zip(stock, market, strict=True))
    return cov / sum((m - mean_m) ** 2 for m in market)


def weekly_closes(bars: list[Bar], weeks: int = 104) -> list[float]:
    """The last close of each ISO week, the latest `weeks + 1` of them (for `weeks` returns)."""
    by_week: dict[tuple[int, int], float] = {}
    for bar in bars:
        iso = bar.day.isocalendar()
        by_week[(iso.year, iso.week)] = bar.close
    return [by_week[k] for k in sorted(by_week)][-(weeks + 1) :]


class DemoData:
    """Every demo body, generated once from the seed, answered the way Alpha Vantage answers."""

    def __init__(self, seed: int = DEMO_SEED) -> None:
        self.seed = seed

    @cached_property
    def prices(self) -> dict[str, list[Bar]]:
        rng = _rng(self.seed)
        days = _business_days(DEMO_PRICES_FROM, DEMO_AS_OF)
        market_returns = [rng.gauss(0.0004, 0.011) for _ in days]
        result = {BENCHMARK: self._path(days, market_returns, 400.0, {}, rng)}
        for company in COMPANIES:
            dividends = {
                ex: float(r["amount"])
                for r in _dividend_schedule(company)
                if (ex := date.fromisoformat(r["ex_dividend_date"])) >= DEMO_PRICES_FROM
            }
            returns = [0.0002 + company.beta * m + rng.gauss(0, company.idio_vol) for m in market_returns]
            result[company.symbol] = self._path(days, returns, company.start_price, dividends, rng)
        return result

    @staticmethod
    def _path(
        days: list[date], returns: list[float], start: float, dividends: Mapping[date, float], rng: random.Random
    ) -> list[Bar]:
        closes, close = [], start
        for day, r in zip(days, returns, strict=True):
            close = close * (1 + r) - dividends.get(day, 0.0)
            closes.append(close)
        return _bars(closes, days, dividends, rng)

    @cached_property
    def quarters(self) -> dict[str, list[dict[str, Any]]]:
        rng = _rng(self.seed + 1)
        return {c.symbol: _quarter_model(c, rng) for c in COMPANIES}

    def company(self, symbol: str) -> DemoCompany | None:
        return next((c for c in COMPANIES if c.symbol == symbol), None)

    def beta(self, symbol: str) -> float:
        """Beta of weekly returns over two years against DSPY (what OVERVIEW reports as Beta)."""

        def returns(closes: list[float]) -> list[float]:
            return [b / a - 1 for a, b in pairwise(closes)]

        return _ols_beta(returns(weekly_closes(self.prices[symbol])), returns(weekly_closes(self.prices[BENCHMARK])))

    # --- bodies, one per function ------------------------------------------------------------

    def payload(self, function: str, params: Mapping[str, str]) -> Any:
        """The decoded body Alpha Vantage would send, or a CSV text for datatype=csv."""
        handlers: dict[str, Callable[[Mapping[str, str]], Any]] = {
            "SYMBOL_SEARCH": self._search,
            "OVERVIEW": self._overview,
            "GLOBAL_QUOTE": self._quote,
            "TIME_SERIES_DAILY": self._series,
            "TIME_SERIES_DAILY_ADJUSTED": self._series,
            "INCOME_STATEMENT": self._statement,
            "BALANCE_SHEET": self._statement,
            "CASH_FLOW": self._statement,
            "EARNINGS": self._earnings,
            "DIVIDENDS": self._dividends,
            "SPLITS": self._splits,
            "TREASURY_YIELD": self._treasury,
        }
        handler = handlers.get(function)
        if handler is None:
            return {"Error Message": f"This API function ({function}) does not exist."}
        return handler({**params, "function": function})

    def respond(self, function: str, params: Mapping[str, str]) -> tuple[bytes, str]:
        """(body, content type) as the API sends them: 4-space JSON without a final newline, or CSV."""
        body = self.payload(function, params)
        if isinstance(body, str):
            return body.encode(), CSV_TYPE
        return json.dumps(body, indent=4).encode(), JSON_TYPE

    def _symbol(self, params: Mapping[str, str]) -> str:
        return params.get("symbol", "").strip().upper()

    def _search(self, params: Mapping[str, str]) -> Any:
        keywords = params.get("keywords", "").strip().lower()
        entries = [(c.symbol, c.name, "Equity") for c in COMPANIES] + [(BENCHMARK, BENCHMARK_NAME, "ETF")]
        matches = []
        for symbol, name, kind in entries:
            if not keywords or (keywords not in symbol.lower() and keywords not in name.lower()):
                continue
            score = (
                1.0
                if keywords == symbol.lower()
                else len(keywords) / (len(symbol) if keywords in symbol.lower() else len(name))
            )
            matches.append((round(score, 4), symbol, name, kind))
        matches.sort(key=lambda m: (-m[0], m[1]))
        rows = [
            {
                "symbol": s,
                "name": n,
                "type": k,
                "region": "United States",
                "marketOpen": "09:30",
                "marketClose": "16:00",
            }
            | {"timezone": "UTC-05", "currency": "USD", "matchScore": f"{score:.4f}"}
            for score, s, n, k in matches
        ]
        if params.get("datatype") == "csv":
            return _csv(
                ["symbol", "name", "type", "region", "marketOpen", "marketClose", "timezone", "currency", "matchScore"],
                rows,
            )
        return {"bestMatches": [{f"{i}. {k}": v for i, (k, v) in enumerate(row.items(), 1)} for row in rows]}

    def _overview(self, params: Mapping[str, str]) -> Any:
        symbol = self._symbol(params)
        bars = self.prices.get(symbol)
        if bars is None:
            return {}
        last = bars[-1].close
        year = [b.close for b in bars if b.day > DEMO_AS_OF - timedelta(days=365)]
        common = {
            "Symbol": symbol,
            "AssetType": "ETF" if symbol == BENCHMARK else "Common Stock",
            "Name": BENCHMARK_NAME if symbol == BENCHMARK else "",
            "Description": "",
            "CIK": "None",
            "Exchange": "DEMO",
            "Currency": "USD",
            "Country": "USA",
        }
        ranges = {
            "52WeekHigh": f"{max(year):.2f}",
            "52WeekLow": f"{min(year):.2f}",
            "50DayMovingAverage": f"{sum(b.close for b in bars[-50:]) / 50:.2f}",
            "200DayMovingAverage": f"{sum(b.close for b in bars[-200:]) / 200:.2f}",
        }
        company = self.company(symbol)
        if company is None:
            common["Description"] = (
                "A fictional market index fund generated by Water as demo data; the demo benchmark (stands in for SPY). Not a real security."
            )
            return common | {"Sector": "None", "Industry": "None", "Beta": "1.000"} | ranges
        rows = self.quarters[symbol]
        ttm = {k: sum(r[k] for r in rows[-4:]) for k in ("revenue", "net", "da", "pretax", "interest_expense")}
        latest = rows[-1]
        shares = int(latest["shares"])
        equity = latest["common"] + latest["re"] - latest["treasury"]
        eps = ttm["net"] * 1e6 / shares
        dps = sum(float(r["amount"]) for r in _dividend_schedule(company)[:4])
        dividends = _dividend_schedule(company)
        common["Name"] = company.name
        common["Description"] = (
            f"A fictional company generated by Water as demo data: {company.summary}. Not a real company or security."
        )
        return (
            common
            | {
                "Sector": company.sector,
                "Industry": company.industry,
                "Address": "Demo data, fictional company",
                "FiscalYearEnd": "December",
                "LatestQuarter": DEMO_LATEST_QUARTER.isoformat(),
                "MarketCapitalization": str(round(last * shares)),
                "EBITDA": _money(ttm["pretax"] + ttm["interest_expense"] + ttm["da"]),
                "PERatio": f"{last / eps:.2f}" if eps > 0 else "None",
                "BookValue": f"{equity * 1e6 / shares:.2f}",
                "DividendPerShare": f"{dps:.2f}",
                "DividendYield": f"{dps / last:.4f}",
                "EPS": f"{eps:.2f}",
                "ProfitMargin": f"{ttm['net'] / ttm['revenue']:.4f}",
                "RevenueTTM": _money(ttm["revenue"]),
                "Beta": f"{self.beta(symbol):.3f}",
                "SharesOutstanding": str(shares),
                "DividendDate": dividends[0]["payment_date"] if dividends else "None",
                "ExDividendDate": dividends[0]["ex_dividend_date"] if dividends else "None",
            }
            | ranges
        )

    def _quote(self, params: Mapping[str, str]) -> Any:
        bars = self.prices.get(self._symbol(params))
        if bars is None:
            return {"Global Quote": {}} if params.get("datatype") != "csv" else {}
        last, previous = bars[-1], bars[-2]
        change = last.close - previous.close
        row = {
            "symbol": self._symbol(params),
            "open": _price(last.open),
            "high": _price(last.high),
            "low": _price(last.low),
            "price": _price(last.close),
            "volume": str(last.volume),
            "latestDay": last.day.isoformat(),
            "previousClose": _price(previous.close),
            "change": _price(change),
            "changePercent": f"{change / previous.close * 100:.4f}%",
        }
        if params.get("datatype") == "csv":
            return _csv(list(row), [row])
        names = (
            "symbol",
            "open",
            "high",
            "low",
            "price",
            "volume",
            "latest trading day",
            "previous close",
            "change",
            "change percent",
        )
        return {
            "Global Quote": {f"{i:02d}. {n}": v for i, (n, v) in enumerate(zip(names, row.values(), strict=True), 1)}
        }

    def _series(self, params: Mapping[str, str]) -> Any:
        function, symbol = params["function"], self._symbol(params)
        bars = self.prices.get(symbol)
        if bars is None:
            return {"Error Message": INVALID_CALL.format(function=function)}
        full = params.get("outputsize") == "full"
        chosen = bars[::-1] if full else bars[::-1][:100]
        adjusted = function == "TIME_SERIES_DAILY_ADJUSTED"
        if params.get("datatype") == "csv":
            header = ["timestamp", "open", "high", "low", "close"]
            header += ["adjusted_close", "volume", "dividend_amount", "split_coefficient"] if adjusted else ["volume"]
            return _csv(header, [dict(zip(header, _bar_values(b, adjusted), strict=True)) for b in chosen])
        names = ["open", "high", "low", "close"] + (
            ["adjusted close", "volume", "dividend amount", "split coefficient"] if adjusted else ["volume"]
        )
        return {
            "Meta Data": {
                "1. Information": "Daily Time Series with Splits and Dividend Events"
                if adjusted
                else "Daily Prices (open, high, low, close) and Volumes",
                "2. Symbol": symbol,
                "3. Last Refreshed": DEMO_AS_OF.isoformat(),
                "4. Output Size": "Full size" if full else "Compact",
                "5. Time Zone": "US/Eastern",
            },
            "Time Series (Daily)": {
                b.day.isoformat(): {
                    f"{i}. {n}": v for i, (n, v) in enumerate(zip(names, _bar_values(b, adjusted)[1:], strict=True), 1)
                }
                for b in chosen
            },
        }

    def _statement(self, params: Mapping[str, str]) -> Any:
        rows = self.quarters.get(self._symbol(params))
        if rows is None:
            return {}
        report = {"INCOME_STATEMENT": _income_report, "BALANCE_SHEET": _balance_report, "CASH_FLOW": _cash_flow_report}[
            params["function"]
        ]
        return {
            "symbol": self._symbol(params),
            "annualReports": [report(r) for r in _annual(rows)[::-1][:5]],
            "quarterlyReports": [report(r) for r in rows[::-1][:20]],
        }

    def _earnings(self, params: Mapping[str, str]) -> Any:
        rows = self.quarters.get(self._symbol(params))
        if rows is None:
            return {}
        rng = _rng(f"{self.seed}:{self._symbol(params)}:earnings")
        quarterly = []
        for r in rows:
            reported = round(r["net"] * 1e6 / r["shares"], 2)
            estimated = round(reported * (1 + rng.gauss(0, 0.04)), 2)
            surprise = round(reported - estimated, 2)
            quarterly.append(
                {
                    "fiscalDateEnding": r["end"].isoformat(),
                    "reportedDate": _next_business_day(r["end"] + timedelta(days=25)).isoformat(),
                    "reportedEPS": f"{reported}",
                    "estimatedEPS": f"{estimated}",
                    "surprise": f"{surprise}",
                    "surprisePercentage": f"{surprise / abs(estimated) * 100:.4f}" if estimated else "None",
                    "reportTime": "post-market",
                }
            )
        annual = []  # like the API: the newest "year" may be partial (the quarters reported so far)
        for year in sorted({r["end"].year for r in rows}, reverse=True):
            eps = [float(q["reportedEPS"]) for q in quarterly if q["fiscalDateEnding"].startswith(str(year))]
            last = max(q["fiscalDateEnding"] for q in quarterly if q["fiscalDateEnding"].startswith(str(year)))
            annual.append({"fiscalDateEnding": last, "reportedEPS": f"{round(sum(eps), 2)}"})
        return {"symbol": self._symbol(params), "annualEarnings": annual, "quarterlyEarnings": quarterly[::-1]}

    def _dividends(self, params: Mapping[str, str]) -> Any:
        symbol = self._symbol(params)
        company = self.company(symbol)
        if company is None and symbol != BENCHMARK:
            return {}
        return {"symbol": symbol, "data": _dividend_schedule(company) if company else []}

    def _splits(self, params: Mapping[str, str]) -> Any:
        symbol = self._symbol(params)
        company = self.company(symbol)
        if company is None and symbol != BENCHMARK:
            return {}
        data = (
            [{"effective_date": company.split[0].isoformat(), "split_factor": f"{company.split[1]:.4f}"}]
            if company and company.split
            else []
        )
        return {"symbol": symbol, "data": data}

    def _treasury(self, params: Mapping[str, str]) -> Any:
        interval, maturity = params.get("interval", "monthly"), params.get("maturity", "10year")
        if interval not in ("daily", "weekly", "monthly") or maturity not in TREASURY_SPREADS:
            return {"Error Message": INVALID_CALL.format(function="TREASURY_YIELD")}
        return {
            "name": f"{_maturity_label(maturity)} Treasury Constant Maturity Rate",
            "interval": interval,
            "unit": "percent",
            "data": [{"date": d.isoformat(), "value": v} for d, v in self._yields(interval, maturity)],
        }

    def _yields(self, interval: str, maturity: str) -> list[tuple[date, str]]:
        if interval == "monthly":
            days = [date(y, m, 1) for y in range(2015, DEMO_AS_OF.year + 1) for m in range(1, 13)]
        elif interval == "weekly":
            days = [d for d in _business_days(date(2015, 1, 2), DEMO_AS_OF) if d.weekday() == 4]
        else:
            days = _business_days(date(2015, 1, 2), DEMO_AS_OF)
        rng = _rng(f"{self.seed}:treasury:{interval}")
        points = []
        for d in days:
            level = _interpolate(d) + TREASURY_SPREADS[maturity] + rng.gauss(0, 0.04)
            holiday = interval == "daily" and (d.month, d.day) in ((1, 1), (7, 4), (12, 25))
            points.append((d, "." if holiday else f"{level:.2f}"))  # "." = no observation, as the API sends it
        return points[::-1]


def _maturity_label(maturity: str) -> str:
    number, unit = (
        maturity.removesuffix("year").removesuffix("month"),
        "Month" if maturity.endswith("month") else "Year",
    )
    return f"{number}-{unit}"


def _interpolate(day: date) -> float:
    anchors = TREASURY_ANCHORS
    if day <= anchors[0][0]:
        return anchors[0][1]
    for (d0, v0), (d1, v1) in pairwise(anchors):
        if d0 <= day <= d1:
            return v0 + (v1 - v0) * (day - d0).days / (d1 - d0).days
    return anchors[-1][1]


def _bar_values(bar: Bar, adjusted: bool) -> list[str]:
    values = [bar.day.isoformat(), _price(bar.open), _price(bar.high), _price(bar.low), _price(bar.close)]
    if adjusted:
        return [*values, _price(bar.adjusted_close), str(bar.volume), _price(bar.dividend), "1.0000"]
    return [*values, str(bar.volume)]


def _csv(header: list[str], rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\r\n")  # the live API's line ends
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


@lru_cache(maxsize=1)
def demo_data() -> DemoData:
    """The shared, lazily generated demo data set."""
    return DemoData()


class DemoTransport:
    """Serves the demo bodies with AlphaVantageTransport's interface; errors classified the same way.

    `premium=False` answers TIME_SERIES_DAILY_ADJUSTED with the premium-endpoint notice, as a free key gets.
    """

    def __init__(self, *, premium: bool = True, data: DemoData | None = None) -> None:
        self.premium = premium
        self._data = data or demo_data()

    def fetch(self, request: ProviderRequest) -> RawResponse:
        params = dict(request.params)
        if request.function == "TIME_SERIES_DAILY_ADJUSTED" and not self.premium:
            body, content_type = json.dumps({"Information": PREMIUM}, indent=4).encode(), JSON_TYPE
        else:
            body, content_type = self._data.respond(request.function, params)
        now = datetime.now(UTC)
        payload = classify_response(request, status=200, content_type=content_type, body=body, now=now)
        return RawResponse(request=request, body=body, content_type=content_type, fetched_at=now, payload=payload)


# --- files -----------------------------------------------------------------------------------


def demo_queries() -> list[tuple[dict[str, str], str]]:
    """(query, file name) for every demo body, named like the recorded fixtures."""
    queries: list[tuple[dict[str, str], str]] = []
    for symbol in SYMBOLS:
        for function in (
            "OVERVIEW",
            "INCOME_STATEMENT",
            "BALANCE_SHEET",
            "CASH_FLOW",
            "EARNINGS",
            "DIVIDENDS",
            "SPLITS",
        ):
            if symbol != BENCHMARK or function in ("OVERVIEW", "DIVIDENDS", "SPLITS"):
                queries.append(({"function": function, "symbol": symbol}, f"{function}_{symbol}.json"))
        queries.append(({"function": "GLOBAL_QUOTE", "symbol": symbol}, f"GLOBAL_QUOTE_{symbol}.json"))
        queries.append(
            ({"function": "GLOBAL_QUOTE", "symbol": symbol, "datatype": "csv"}, f"GLOBAL_QUOTE_{symbol}.csv")
        )
        for function in ("TIME_SERIES_DAILY", "TIME_SERIES_DAILY_ADJUSTED"):
            queries.append(({"function": function, "symbol": symbol}, f"{function}_{symbol}.json"))
            queries.append(
                ({"function": function, "symbol": symbol, "outputsize": "full"}, f"{function}_{symbol}_full.json")
            )
    for keywords in ("demo", *SYMBOLS):
        queries.append(({"function": "SYMBOL_SEARCH", "keywords": keywords}, f"SYMBOL_SEARCH_{keywords}.json"))
    queries.append(({"function": "SYMBOL_SEARCH", "keywords": "demo", "datatype": "csv"}, "SYMBOL_SEARCH_demo.csv"))
    for interval in ("monthly", "weekly", "daily"):
        query = {"function": "TREASURY_YIELD", "interval": interval, "maturity": "10year"}
        queries.append((query, f"TREASURY_YIELD_{interval}_10year.json"))
    return queries


def write_demo_files(directory: Path | str, data: DemoData | None = None) -> Path:
    """Write every demo body and a manifest.json (the fixtures' format); returns the manifest's path."""
    data = data or demo_data()
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    responses: list[dict[str, Any]] = []
    for query, file_name in demo_queries():
        params = {k: v for k, v in query.items() if k != "function"}
        body, content_type = data.respond(query["function"], params)
        (target / file_name).write_bytes(body)
        responses.append(
            {"query": query, "file": file_name, "http_status": 200, "content_type": content_type, "kind": "data"}
        )
    errors: tuple[tuple[str, dict[str, str], str], ...] = (
        ("EMPTY_OBJECT.json", {}, "unknown symbol on OVERVIEW, the statements and EARNINGS: an empty JSON object"),
        (
            "ERROR_invalid_api_call_TIME_SERIES_DAILY.json",
            {"Error Message": INVALID_CALL.format(function="TIME_SERIES_DAILY")},
            "unknown symbol for TIME_SERIES_DAILY (text ends with the function name)",
        ),
    )
    for file_name, body_obj, when in errors:
        (target / file_name).write_bytes(json.dumps(body_obj, indent=4).encode())
        responses.append(
            {"when": when, "file": file_name, "http_status": 200, "content_type": JSON_TYPE, "kind": "error"}
        )
    manifest = {
        "base_url_path": "/query",
        "note": f"Water's generated DEMO data (fictional companies, data to {DEMO_AS_OF.isoformat()}). Matching ignores apikey.",
        "responses": responses,
    }
    path = target / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m water.market_data.demo DIRECTORY", file=sys.stderr)
        return 2
    print(write_demo_files(args[0]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

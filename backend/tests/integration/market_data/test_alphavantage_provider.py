"""The real Alpha Vantage transport and provider against the fake server on a real socket.

Replays every recorded response in ../shared/fixtures/alphavantage (skipped, naming that folder,
when it is not beside the checkout), every recorded error body, and the transport failures
(HTML, 5xx, timeouts, refused and reset connections).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import date

import httpx
import pytest

from water.market_data.canonical import PeriodType, StatementPeriod
from water.market_data.errors import (
    DemoKeyOnly,
    InvalidApiKey,
    InvalidCall,
    MarketDataError,
    PremiumEndpoint,
    ProviderUnavailable,
    RateLimited,
    SymbolNotFound,
)
from water.market_data.normalize import trailing_twelve_months
from water.market_data.providers.alphavantage import AlphaVantageProvider, AlphaVantageTransport
from water.market_data.providers.base import ProviderRequest, RawResponse

from ...fakes.alphavantage_server import FakeAlphaVantage, free_port

API_KEY = "TESTKEY0123456789"
M = 1_000_000


@pytest.fixture
def transport(fake_alphavantage: FakeAlphaVantage) -> Iterator[AlphaVantageTransport]:
    with AlphaVantageTransport(API_KEY, fake_alphavantage.url, timeout=2.0) as t:
        yield t


@pytest.fixture
def provider(transport: AlphaVantageTransport) -> AlphaVantageProvider:
    return AlphaVantageProvider(transport.fetch)


def _periods(periods: list[StatementPeriod], kind: PeriodType) -> dict[date, StatementPeriod]:
    return {p.fiscal_date_ending: p for p in periods if p.period_type == kind}


# --- every recorded body ------------------------------------------------------------------------


def test_every_recorded_data_response_replays_byte_exact_through_the_transport(
    recorded_alphavantage: FakeAlphaVantage, transport: AlphaVantageTransport
) -> None:
    folder = recorded_alphavantage.fixtures_dir
    assert folder is not None
    manifest = json.loads((folder / "manifest.json").read_text())
    data_entries = [e for e in manifest["responses"] if e["kind"] == "data"]
    assert len(data_entries) >= 19
    for entry in data_entries:
        query = dict(entry["query"])
        request = ProviderRequest.of("alphavantage", query.pop("function"), **query)
        raw = transport.fetch(request)
        assert raw.body == (folder / entry["file"]).read_bytes(), entry["file"]
        assert raw.content_type.startswith(entry["content_type"])
        assert raw.request == request
        assert not raw.from_cache


def test_transport_sends_function_params_and_key_over_one_reused_connection(
    recorded_alphavantage: FakeAlphaVantage, provider: AlphaVantageProvider
) -> None:
    for _ in range(3):
        provider.company_profile("IBM")
    provider.quote("ibm")  # symbols are normalized to upper case
    assert recorded_alphavantage.requests[0] == {"function": "OVERVIEW", "symbol": "IBM", "apikey": API_KEY}
    assert recorded_alphavantage.count("OVERVIEW", "IBM") == 3
    assert recorded_alphavantage.count("GLOBAL_QUOTE", "IBM") == 1
    assert len(recorded_alphavantage.connections) == 1  # keep-alive: one pooled connection


def test_request_counter_per_function_and_symbol(
    recorded_alphavantage: FakeAlphaVantage, provider: AlphaVantageProvider
) -> None:
    provider.statements("IBM")
    provider.treasury_yield()
    assert recorded_alphavantage.counts() == {
        ("INCOME_STATEMENT", "IBM"): 1,
        ("BALANCE_SHEET", "IBM"): 1,
        ("CASH_FLOW", "IBM"): 1,
        ("TREASURY_YIELD", None): 1,
    }
    assert recorded_alphavantage.total_requests == 4


# --- capabilities on the recorded bodies --------------------------------------------------------


def test_symbol_search_json_and_csv(recorded_alphavantage: FakeAlphaVantage, transport: AlphaVantageTransport) -> None:
    tesco, raw = AlphaVantageProvider(transport.fetch).search_symbols("tesco")
    assert [m.symbol for m in tesco] == ["TSCO.LON", "TSCDF", "TSCDY", "TCO2.FRK", "TCO0.FRK"]
    assert (tesco[0].name, tesco[0].region, tesco[0].currency, tesco[0].match_score) == (
        "Tesco PLC",
        "United Kingdom",
        "GBX",
        0.7273,
    )
    assert raw.request.params == (("keywords", "tesco"),)
    ba_json, _ = AlphaVantageProvider(transport.fetch).search_symbols("BA")
    ba_csv, raw_csv = AlphaVantageProvider(transport.fetch, prefer_csv=True).search_symbols("BA")
    assert len(ba_json) == 10
    assert ba_json[0].symbol == "BA"
    assert len(ba_csv) == 10
    assert raw_csv.body.startswith(b"symbol,name,type")
    assert ba_csv[2] == dataclasses.replace(ba_csv[2], symbol="BA.LON", name="BAE Systems plc", currency="GBX")
    assert ba_csv[2].match_score == 0.6667
    assert ba_csv[0].type == "Equity"


def test_company_profiles(recorded_alphavantage: FakeAlphaVantage, provider: AlphaVantageProvider) -> None:
    ibm, _ = provider.company_profile("IBM")
    assert (ibm.name, ibm.exchange, ibm.currency, ibm.country, ibm.cik) == (
        "International Business Machines",
        "NYSE",
        "USD",
        "USA",
        "51143",
    )
    assert (ibm.sector, ibm.industry) == ("TECHNOLOGY", "COMPUTER & OFFICE EQUIPMENT")
    assert ibm.shares_outstanding == 896_320_000
    assert ibm.market_capitalization == 126_228_750_000
    assert ibm.beta == 1.004
    tsla, _ = provider.company_profile("TSLA")
    assert (tsla.name, tsla.exchange, tsla.cik, tsla.beta) == ("Tesla Inc", "NASDAQ", "1318605", 2.03)
    # MarketCapitalization / SharesOutstanding gives the README's implied price
    assert tsla.market_capitalization is not None
    assert tsla.shares_outstanding is not None
    assert tsla.market_capitalization / tsla.shares_outstanding == pytest.approx(160.27, abs=0.01)


def test_quote_json_and_csv(recorded_alphavantage: FakeAlphaVantage, transport: AlphaVantageTransport) -> None:
    quote, _ = AlphaVantageProvider(transport.fetch).quote("IBM")
    assert (quote.symbol, quote.price, quote.as_of, quote.previous_close) == ("IBM", 137.96, date(2022, 6, 9), 140.83)
    assert quote.change_percent == -2.0379
    assert quote.volume == 3_587_161
    csv_quote, raw = AlphaVantageProvider(transport.fetch, prefer_csv=True).quote("IBM")
    assert raw.content_type == "application/x-download"
    assert (csv_quote.price, csv_quote.as_of, csv_quote.previous_close, csv_quote.change_percent) == (
        305.69,
        date(2025, 11, 14),
        304.86,
        0.2723,
    )


def test_daily_series_free_and_adjusted_premium(
    recorded_alphavantage: FakeAlphaVantage, transport: AlphaVantageTransport
) -> None:
    bars, raw = AlphaVantageProvider(transport.fetch).daily_prices("IBM")
    assert raw.request.function == "TIME_SERIES_DAILY"
    assert dict(raw.request.params) == {"symbol": "IBM"}
    assert len(bars) == 100
    assert [b.day for b in bars] == sorted(b.day for b in bars)  # oldest first
    assert (bars[-1].day, bars[-1].close, bars[-1].volume) == (date(2023, 11, 10), 149.02, 3_179_541)
    assert bars[-1].adjusted_close is None
    assert bars[-1].dividend is None
    adjusted, raw = AlphaVantageProvider(transport.fetch, premium=True).daily_prices("IBM", full=True)
    assert raw.request.function == "TIME_SERIES_DAILY_ADJUSTED"
    assert ("outputsize", "full") in raw.request.params
    assert [(b.day, b.close, b.adjusted_close, b.dividend, b.split_coefficient) for b in adjusted] == [
        (date(2020, 5, 7), 121.23, 121.23, 1.63, 1.0),
        (date(2020, 5, 8), 121.805, 121.805, 0.0, 1.0),
    ]


def test_ibm_statements_map_to_canonical_periods_with_sources(
    recorded_alphavantage: FakeAlphaVantage, provider: AlphaVantageProvider
) -> None:
    periods, raws = provider.statements("IBM")
    assert [r.request.function for r in raws] == ["INCOME_STATEMENT", "BALANCE_SHEET", "CASH_FLOW"]
    annual, quarterly = _periods(periods, PeriodType.annual), _periods(periods, PeriodType.quarterly)
    assert sorted(annual) == [date(y, 12, 31) for y in range(2017, 2022)]
    assert len(quarterly) == 20
    assert max(quarterly) == date(2022, 3, 31)
    assert min(quarterly) == date(2017, 6, 30)
    q1 = quarterly[date(2022, 3, 31)]
    assert q1.currency == "USD"
    expected = {
        "revenue": (14_197 * M, "INCOME_STATEMENT.totalRevenue"),
        "ebit": (470 * M, "INCOME_STATEMENT.operatingIncome"),  # not AV's `ebit` (1,005m)
        "depreciation_amortization": (625 * M, "INCOME_STATEMENT.depreciationAndAmortization"),
        "interest_expense": (311 * M, "INCOME_STATEMENT.interestExpense"),
        "pretax_income": (694 * M, "INCOME_STATEMENT.incomeBeforeTax"),
        "income_tax": (-39 * M, "INCOME_STATEMENT.incomeTaxExpense"),
        "net_income": (733 * M, "INCOME_STATEMENT.netIncome"),
        "rnd_expense": (1_679 * M, "INCOME_STATEMENT.researchAndDevelopment"),
        "capex": (281 * M, "CASH_FLOW.capitalExpenditures"),
        "operating_cash_flow": (3_248 * M, "CASH_FLOW.operatingCashflow"),
        "dividends_paid": (1_475 * M, "CASH_FLOW.dividendPayoutCommonStock"),
        "cash": (9_934 * M, "BALANCE_SHEET.cashAndShortTermInvestments"),
        "total_debt": (81_434 * M, "BALANCE_SHEET.shortLongTermDebtTotal"),
        "book_equity": (19_050 * M, "BALANCE_SHEET.totalShareholderEquity"),
        "total_assets": (133_275 * M, "BALANCE_SHEET.totalAssets"),
        "total_liabilities": (114_162 * M, "BALANCE_SHEET.totalLiabilities"),
        "current_assets": (31_330 * M, "BALANCE_SHEET.totalCurrentAssets"),
        "current_liabilities": (34_056 * M, "BALANCE_SHEET.totalCurrentLiabilities"),
        "retained_earnings": (153_401 * M, "BALANCE_SHEET.retainedEarnings"),
        "shares_outstanding": (899_300_000, "BALANCE_SHEET.commonStockSharesOutstanding"),
    }
    assert {line: (f.value, f.source) for line, f in q1.figures.items() if line in expected} == expected
    # Not reported by Alpha Vantage: no figure rather than a guessed zero.
    assert {"minority_interests", "preferred_equity", "lease_liabilities"}.isdisjoint(q1.figures)
    # Working capital from balance-sheet deltas: NWC = (TCA - cash) - (TCL - currentDebt).
    #   2022-03-31: 31,330 - 9,934 - 34,056 + 15,366 = 2,706;  2021-12-31: 29,539 - 6,650 - 33,619 + 13,551 = 2,821
    wc = q1.figures["change_in_working_capital"]
    assert wc.value == (2_706 - 2_821) * M
    assert wc.source == (
        "BALANCE_SHEET.delta(totalCurrentAssets-cashAndShortTermInvestments-totalCurrentLiabilities+currentDebt)"
        "@2021-12-31..2022-03-31"
    )
    assert "change_in_working_capital" not in quarterly[date(2017, 6, 30)].figures  # no earlier quarter
    assert "change_in_working_capital" not in annual[date(2017, 12, 31)].figures
    assert "change_in_working_capital" in annual[date(2018, 12, 31)].figures
    fy2021 = annual[date(2021, 12, 31)]
    assert (fy2021.value("revenue"), fy2021.value("ebit"), fy2021.value("total_debt")) == (
        57_350 * M,
        4_786 * M,
        110_496 * M,
    )


def test_tsla_statements_leases_missing_dividends_and_currency(
    recorded_alphavantage: FakeAlphaVantage, provider: AlphaVantageProvider
) -> None:
    periods, _ = provider.statements("TSLA")
    quarterly = _periods(periods, PeriodType.quarterly)
    latest = quarterly[date(2022, 9, 30)]
    # shortLongTermDebtTotal (1,919m) is exactly shortTermDebt + longTermDebt, so leases (678m) are added.
    debt = latest.figures["total_debt"]
    assert debt.value == (1_919 + 678) * M
    assert debt.source == "BALANCE_SHEET.shortLongTermDebtTotal+BALANCE_SHEET.capitalLeaseObligations"
    assert quarterly[date(2018, 12, 31)].figures["total_debt"].source == "BALANCE_SHEET.shortLongTermDebtTotal"
    assert "dividends_paid" not in latest.figures  # "None" in both dividend fields
    assert latest.value("cash") == 21_107 * M
    assert latest.currency == "USD"
    assert len(_periods(periods, PeriodType.annual)) == 5
    assert len(quarterly) == 20


def test_snapshot_ids_reach_every_figure(
    recorded_alphavantage: FakeAlphaVantage, transport: AlphaVantageTransport
) -> None:
    def fetch(request: ProviderRequest) -> RawResponse:
        return dataclasses.replace(transport.fetch(request), snapshot_id=f"snap-{request.function}")

    periods, _ = AlphaVantageProvider(fetch).statements("IBM")
    figures = _periods(periods, PeriodType.quarterly)[date(2022, 3, 31)].figures
    for line, figure in figures.items():
        assert figure.snapshot_id == "snap-" + figure.source.split(".", 1)[0], line


def test_ttm_from_ibm_quarterlies(recorded_alphavantage: FakeAlphaVantage, provider: AlphaVantageProvider) -> None:
    periods, _ = provider.statements("IBM")
    ttm = trailing_twelve_months([p for p in periods if p.period_type == PeriodType.quarterly])
    assert ttm is not None
    assert (ttm.period_type, ttm.fiscal_date_ending, ttm.currency) == (PeriodType.ttm, date(2022, 3, 31), "USD")
    # IBM's recorded 2021-12-31 quarter really says 3,257m (an Alpha Vantage data error, kept as is).
    assert ttm.value("revenue") == (14_197 + 3_257 + 17_618 + 18_745) * M
    assert ttm.figures["revenue"].source == (
        "TTM(INCOME_STATEMENT.totalRevenue@2022-03-31,INCOME_STATEMENT.totalRevenue@2021-12-31,"
        "INCOME_STATEMENT.totalRevenue@2021-09-30,INCOME_STATEMENT.totalRevenue@2021-06-30)"
    )
    assert ttm.value("ebit") == (470 + 913 + 1_761 + 2_304) * M
    assert ttm.value("cash") == 9_934 * M
    assert ttm.figures["cash"].source == "BALANCE_SHEET.cashAndShortTermInvestments"
    assert ttm.value("shares_outstanding") == 899_300_000


def test_earnings(recorded_alphavantage: FakeAlphaVantage, provider: AlphaVantageProvider) -> None:
    periods, _ = provider.earnings("IBM")
    annual = [p for p in periods if p.period_type == "annual"]
    quarterly = [p for p in periods if p.period_type == "quarterly"]
    assert (len(annual), len(quarterly)) == (27, 105)
    assert (annual[-1].fiscal_date_ending, annual[-1].reported_eps) == (date(2022, 3, 31), 1.4)  # partial year
    latest = quarterly[-1]
    assert (latest.reported_eps, latest.estimated_eps, latest.reported_date) == (1.4, 1.38, date(2022, 4, 19))
    tsla, _ = provider.earnings("TSLA")
    assert any(p.estimated_eps is None for p in tsla if p.period_type == "quarterly")  # "None" for old quarters


def test_treasury_yield_percent_to_decimal(
    recorded_alphavantage: FakeAlphaVantage, provider: AlphaVantageProvider
) -> None:
    points, raw = provider.treasury_yield()
    assert dict(raw.request.params) == {"interval": "monthly", "maturity": "10year"}
    assert [(p.day, p.rate) for p in points] == [(date(2022, 3, 1), 0.0213), (date(2022, 4, 1), 0.0275)]


# --- every recorded error body ------------------------------------------------------------------

ERROR_CASES = [
    ("ERROR_rate_limit_note_2022.json", RateLimited, "burst"),
    ("ERROR_burst_limit_information.json", RateLimited, "burst"),
    ("ERROR_daily_limit_information.json", RateLimited, "daily"),
    ("ERROR_daily_limit_information_early2024.json", RateLimited, "daily"),
    ("ERROR_demo_key_information.json", DemoKeyOnly, None),
    ("ERROR_premium_endpoint_information.json", PremiumEndpoint, None),
    ("ERROR_invalid_apikey.json", InvalidApiKey, None),
    ("ERROR_invalid_api_call_TIME_SERIES_DAILY.json", SymbolNotFound, None),
    ("EMPTY_OBJECT.json", SymbolNotFound, None),
]


def _assert_readable(error: MarketDataError) -> None:
    text = error.detail
    assert API_KEY not in text
    assert API_KEY not in repr(error.extra)
    assert API_KEY not in str(error)
    assert "Alpha Vantage" in text or "alphavantage" in text.lower()
    assert len(text) > 60
    assert "{" not in text
    assert "Traceback" not in text
    assert text.rstrip().endswith(".")  # a sentence that says what to do


@pytest.mark.parametrize(("file_name", "error_type", "scope"), ERROR_CASES)
def test_error_bodies_are_classified(
    recorded_alphavantage: FakeAlphaVantage,
    transport: AlphaVantageTransport,
    file_name: str,
    error_type: type[MarketDataError],
    scope: str | None,
) -> None:
    recorded_alphavantage.serve_error(file_name)
    provider = AlphaVantageProvider(transport.fetch)
    call = provider.daily_prices if "TIME_SERIES" in file_name else provider.company_profile
    with pytest.raises(error_type) as caught:
        call("IBM")
    error = caught.value
    _assert_readable(error)
    assert error.code
    assert error.status in (402, 404, 429, 502)
    if isinstance(error, RateLimited):
        assert error.scope == scope
        assert error.headers["Retry-After"] == str(error.retry_after)
        if scope == "burst":
            assert 1 <= error.retry_after <= 60
        else:
            assert 1 <= error.retry_after <= 24 * 3600


def test_daily_limit_text_echoes_the_key_and_the_error_redacts_it(
    recorded_alphavantage: FakeAlphaVantage, transport: AlphaVantageTransport
) -> None:
    recorded_alphavantage.serve_error("ERROR_daily_limit_information.json")
    served = httpx.get(f"{recorded_alphavantage.url}/query", params={"function": "OVERVIEW", "apikey": API_KEY})
    assert API_KEY in served.text  # the fake answers like the live API: the key echoed back
    with pytest.raises(RateLimited) as caught:
        transport.fetch(ProviderRequest.of("alphavantage", "OVERVIEW", symbol="IBM"))
    assert caught.value.scope == "daily"
    _assert_readable(caught.value)
    assert caught.value.__cause__ is None


def test_errors_come_back_as_json_even_for_csv_requests(
    recorded_alphavantage: FakeAlphaVantage, transport: AlphaVantageTransport
) -> None:
    recorded_alphavantage.serve_error("ERROR_premium_endpoint_information.json")
    with pytest.raises(PremiumEndpoint):
        AlphaVantageProvider(transport.fetch, prefer_csv=True).quote("IBM")


def test_invalid_api_call_without_a_symbol_is_an_invalid_call(
    recorded_alphavantage: FakeAlphaVantage, provider: AlphaVantageProvider
) -> None:
    recorded_alphavantage.serve_error("ERROR_invalid_api_call_TIME_SERIES_DAILY.json")
    with pytest.raises(InvalidCall) as caught:
        provider.treasury_yield(maturity="11year")
    _assert_readable(caught.value)


def test_error_mode_lasts_the_given_number_of_requests(
    recorded_alphavantage: FakeAlphaVantage, provider: AlphaVantageProvider
) -> None:
    recorded_alphavantage.serve_error("ERROR_burst_limit_information.json", times=1)
    with pytest.raises(RateLimited):
        provider.company_profile("IBM")
    assert provider.company_profile("IBM")[0].symbol == "IBM"


def test_unknown_symbols_answered_like_alpha_vantage(provider: AlphaVantageProvider) -> None:
    for call in (
        provider.company_profile,
        provider.quote,
        provider.daily_prices,
        provider.statements,
        provider.earnings,
    ):
        with pytest.raises(SymbolNotFound) as caught:
            call("NOSUCH")
        _assert_readable(caught.value)
        assert "NOSUCH" in caught.value.detail


def test_wrong_api_key(recorded_alphavantage: FakeAlphaVantage) -> None:
    with (
        FakeAlphaVantage(recorded_alphavantage.fixtures_dir, api_key="THE-RIGHT-KEY") as server,
        AlphaVantageTransport(API_KEY, server.url, timeout=2.0) as transport,
        pytest.raises(InvalidApiKey) as caught,
    ):
        AlphaVantageProvider(transport.fetch).company_profile("IBM")
    _assert_readable(caught.value)
    assert "WATER_ALPHAVANTAGE_API_KEY" in caught.value.detail


# --- transport failures -------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["html", "http_500", "http_503", "reset"])
def test_transport_failures_are_provider_unavailable(
    fake_alphavantage: FakeAlphaVantage, provider: AlphaVantageProvider, mode: str
) -> None:
    fake_alphavantage.fail(mode, times=1)
    with pytest.raises(ProviderUnavailable) as caught:
        provider.company_profile("DAQI")
    _assert_readable(caught.value)
    assert caught.value.status == 503
    assert caught.value.code == "market_data_unavailable"
    # No chained httpx exception: those carry the URL, and the URL carries the key.
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or caught.value.__suppress_context__
    assert provider.company_profile("DAQI")[0].symbol == "DAQI"  # the next call works


def test_timeout_is_provider_unavailable(fake_alphavantage: FakeAlphaVantage) -> None:
    fake_alphavantage.fail("slow", times=1, delay=1.5)
    with (
        AlphaVantageTransport(API_KEY, fake_alphavantage.url, timeout=0.3) as transport,
        pytest.raises(ProviderUnavailable) as caught,
    ):
        AlphaVantageProvider(transport.fetch).quote("DAQI")
    _assert_readable(caught.value)
    assert "0.3 s" in caught.value.detail


def test_connection_refused_is_provider_unavailable() -> None:
    with (
        AlphaVantageTransport(API_KEY, f"http://127.0.0.1:{free_port()}", timeout=1.0) as transport,
        pytest.raises(ProviderUnavailable) as caught,
    ):
        AlphaVantageProvider(transport.fetch).quote("IBM")
    _assert_readable(caught.value)
    assert "ConnectError" in caught.value.detail


def test_transport_repr_hides_the_key(fake_alphavantage: FakeAlphaVantage, transport: AlphaVantageTransport) -> None:
    assert API_KEY not in repr(transport)
    assert fake_alphavantage.url in repr(transport)


def test_bodies_are_read_as_json_loads_reads_them() -> None:
    """orjson for speed; what it refuses (NaN literals) is still read as json.loads reads it."""
    import json
    import math

    from water.market_data.providers.alphavantage import _loads

    body = b'{"a": "1.5", "b": [1, 2.25, null, true], "c": {"d": "None"}}'
    assert _loads(body) == json.loads(body)
    assert math.isnan(_loads(b'{"x": NaN}')["x"])
    # Beyond 64 bits orjson gives the nearest float (Alpha Vantage sends its numbers as strings).
    assert _loads(b'{"n": 123456789012345678901234567890}')["n"] == 1.2345678901234568e29
    with pytest.raises(json.JSONDecodeError, match="Expecting property name"):
        _loads(b"{not json")

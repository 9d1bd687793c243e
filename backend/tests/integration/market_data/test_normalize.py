"""Trailing twelve months and the Alpha Vantage statement mapping's fallbacks (pure functions)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest

from water.market_data.canonical import Figure, PeriodType, StatementPeriod
from water.market_data.errors import InvalidCall, ProviderUnavailable, RateLimited
from water.market_data.normalize import trailing_twelve_months
from water.market_data.providers.alphavantage import (
    classify_response,
    map_statements,
    number,
    percent_to_decimal,
    redact,
)
from water.market_data.providers.base import ProviderRequest, RawResponse

Q_ENDS = [date(2021, 3, 31), date(2021, 6, 30), date(2021, 9, 30), date(2021, 12, 31), date(2022, 3, 31)]


def _quarter(
    end: date, revenue: float | None, cash: float, *, currency: str = "USD", snapshot: str | None = "s1"
) -> StatementPeriod:
    figures = {"cash": Figure(cash, "BALANCE_SHEET.cashAndShortTermInvestments", snapshot)}
    if revenue is not None:
        figures["revenue"] = Figure(revenue, "INCOME_STATEMENT.totalRevenue", snapshot)
    return StatementPeriod(PeriodType.quarterly, end, currency, figures)


def test_ttm_sums_flows_and_takes_the_latest_stock() -> None:
    quarters = [_quarter(end, 10.0 * (i + 1), 100.0 + i) for i, end in enumerate(Q_ENDS)]
    ttm = trailing_twelve_months(list(reversed(quarters)))  # any order
    assert ttm is not None
    assert (ttm.period_type, ttm.fiscal_date_ending, ttm.currency) == (PeriodType.ttm, date(2022, 3, 31), "USD")
    assert ttm.value("revenue") == 20 + 30 + 40 + 50
    assert ttm.figures["revenue"].source == (
        "TTM(INCOME_STATEMENT.totalRevenue@2022-03-31,INCOME_STATEMENT.totalRevenue@2021-12-31,"
        "INCOME_STATEMENT.totalRevenue@2021-09-30,INCOME_STATEMENT.totalRevenue@2021-06-30)"
    )
    assert ttm.figures["revenue"].snapshot_id == "s1"
    assert ttm.figures["cash"] == quarters[-1].figures["cash"]


def test_ttm_refuses_gaps_short_histories_and_mixed_currencies() -> None:
    gap = [_quarter(end, 1.0, 1.0) for end in Q_ENDS if end != date(2021, 9, 30)]
    assert trailing_twelve_months(gap) is None
    assert trailing_twelve_months([_quarter(end, 1.0, 1.0) for end in Q_ENDS[:3]]) is None
    mixed = [_quarter(end, 1.0, 1.0, currency="EUR" if end == Q_ENDS[-1] else "USD") for end in Q_ENDS]
    assert trailing_twelve_months(mixed) is None
    assert trailing_twelve_months([]) is None


def test_ttm_drops_a_flow_missing_in_any_quarter_and_keeps_distinct_snapshots_honest() -> None:
    quarters = [_quarter(end, None if end == Q_ENDS[2] else 5.0, 1.0, snapshot=f"s{i}") for i, end in enumerate(Q_ENDS)]
    ttm = trailing_twelve_months(quarters)
    assert ttm is not None
    assert "revenue" not in ttm.figures
    complete = [_quarter(end, 5.0, 1.0, snapshot=f"s{i}") for i, end in enumerate(Q_ENDS)]
    ttm = trailing_twelve_months(complete)
    assert ttm is not None
    assert ttm.figures["revenue"].snapshot_id is None  # four different snapshots: named in the source instead


def test_ttm_ignores_annual_periods() -> None:
    annual = StatementPeriod(PeriodType.annual, date(2022, 6, 30), "USD", {"revenue": Figure(1e9, "x")})
    quarters = [_quarter(end, 1.0, 1.0) for end in Q_ENDS[1:]]
    ttm = trailing_twelve_months([annual, *quarters])
    assert ttm is not None
    assert ttm.fiscal_date_ending == date(2022, 3, 31)


# --- the statement mapping's fallbacks ----------------------------------------------------------


def _raw(function: str, quarterly: list[dict[str, Any]]) -> RawResponse:
    body = json.dumps({"symbol": "XMPL", "annualReports": [], "quarterlyReports": quarterly}).encode()
    return RawResponse(
        ProviderRequest.of("alphavantage", function, symbol="XMPL"), body, "application/json", datetime.now(UTC)
    )


def test_mapping_fallbacks_and_missing_markers() -> None:
    end, previous = "2022-03-31", "2021-12-31"
    income = [
        {
            "fiscalDateEnding": end,
            "reportedCurrency": "EUR",
            "totalRevenue": "100",
            "depreciationAndAmortization": "None",
            "interestExpense": "-7",
            "researchAndDevelopment": "-",
        }
    ]
    balance = [
        {
            "fiscalDateEnding": end,
            "reportedCurrency": "EUR",
            "cashAndShortTermInvestments": "None",
            "cashAndCashEquivalentsAtCarryingValue": "40",
            "shortTermDebt": "10",
            "longTermDebt": "50",
            "capitalLeaseObligations": "5",
            "shortLongTermDebtTotal": "",
            "totalCurrentAssets": "100",
            "totalCurrentLiabilities": "70",
        },
        {
            "fiscalDateEnding": previous,
            "reportedCurrency": "EUR",
            "cashAndShortTermInvestments": "30",
            "shortTermDebt": "10",
            "longTermDebt": "50",
            "shortLongTermDebtTotal": "60",
            "totalCurrentAssets": "90",
            "totalCurrentLiabilities": "75",
        },
    ]
    cash_flow = [
        {
            "fiscalDateEnding": end,
            "reportedCurrency": "EUR",
            "depreciationDepletionAndAmortization": "12",
            "capitalExpenditures": "-20",
            "dividendPayoutCommonStock": "None",
            "dividendPayout": "3",
        }
    ]
    periods = map_statements(
        _raw("INCOME_STATEMENT", income), _raw("BALANCE_SHEET", balance), _raw("CASH_FLOW", cash_flow)
    )
    latest = next(p for p in periods if p.fiscal_date_ending == date(2022, 3, 31))
    f = latest.figures
    assert latest.currency == "EUR"
    assert (f["depreciation_amortization"].value, f["depreciation_amortization"].source) == (
        12,
        "CASH_FLOW.depreciationDepletionAndAmortization",
    )
    assert (f["cash"].value, f["cash"].source) == (40, "BALANCE_SHEET.cashAndCashEquivalentsAtCarryingValue")
    assert (f["total_debt"].value, f["total_debt"].source) == (
        65,
        "BALANCE_SHEET.shortTermDebt+BALANCE_SHEET.longTermDebt+BALANCE_SHEET.capitalLeaseObligations",
    )
    assert f["interest_expense"].value == 7  # magnitudes
    assert f["capex"].value == 20
    assert (f["dividends_paid"].value, f["dividends_paid"].source) == (3, "CASH_FLOW.dividendPayout")
    assert "rnd_expense" not in f  # "-" is missing
    # NWC: now (100 - 40) - (70 - 10) = 0; before (90 - 30) - (75 - 10) = -5; increase 5
    assert f["change_in_working_capital"].value == 5
    assert "cashAndCashEquivalentsAtCarryingValue" in f["change_in_working_capital"].source
    assert f["change_in_working_capital"].source.endswith("@2021-12-31..2022-03-31")


def test_statements_without_currency_say_so() -> None:
    rows = [{"fiscalDateEnding": "2022-03-31", "totalRevenue": "1"}]
    periods = map_statements(_raw("INCOME_STATEMENT", rows), _raw("BALANCE_SHEET", []), _raw("CASH_FLOW", []))
    assert [p.currency for p in periods] == ["XXX"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("123", 123.0),
        ("-2.0379%", -2.0379),
        ("None", None),
        ("", None),
        ("-", None),
        (".", None),
        ("nan", None),
        ("abc", None),
        ("inf", None),
        ("-Infinity", None),
        (" 42 ", 42.0),
        ("1,234.5", 1234.5),
        ("1e400", None),
        (7, 7.0),
        (2.5, 2.5),
        (float("nan"), None),
        (True, None),
        (None, None),
        (["1"], None),
    ],
)
def test_number(text: object, expected: float | None) -> None:
    assert number(text) == expected
    assert type(number(text)) is (float if expected is not None else type(None))


def test_percent_to_decimal_is_the_nearest_float() -> None:
    assert percent_to_decimal("2.75") == 0.0275
    assert percent_to_decimal("4.13") == 0.0413
    assert percent_to_decimal(".") is None


def test_redact() -> None:
    text = "We have detected your API key as ABCDEF123456 and our standard API rate limit is 25 requests per day."
    assert "ABCDEF123456" not in redact(text)
    assert "ABCDEF123456" not in redact("key ABCDEF123456 here", "ABCDEF123456")


def test_classify_response_on_bodies_the_server_cannot_fake() -> None:
    request = ProviderRequest.of("alphavantage", "OVERVIEW", symbol="IBM")
    with pytest.raises(ProviderUnavailable, match="not valid JSON"):
        classify_response(request, status=200, content_type="application/json", body=b"oops")
    with pytest.raises(ProviderUnavailable):
        classify_response(request, status=200, content_type="application/json", body=b"[1, 2]")
    csv_request = ProviderRequest.of("alphavantage", "GLOBAL_QUOTE", symbol="IBM", datatype="csv")
    classify_response(
        csv_request, status=200, content_type="application/x-download", body=b"symbol,price\r\nIBM,1.0\r\n"
    )
    with pytest.raises(ProviderUnavailable, match="CSV"):
        classify_response(csv_request, status=200, content_type="application/x-download", body=b"just one column\n")
    with pytest.raises(RateLimited):
        classify_response(request, status=429, content_type="text/plain", body=b"")
    with pytest.raises(InvalidCall):
        classify_response(
            request, status=200, content_type="application/json", body=b'{"Information": "Something new."}'
        )
    # A notice next to real data is informational only.
    classify_response(
        request, status=200, content_type="application/json", body=b'{"Symbol": "IBM", "Information": "note"}'
    )


def test_a_body_the_transport_decoded_is_not_decoded_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """classify_response returns the decoded JSON; the parsers read it from the response instead of
    decoding the body a second time (a refresh decodes nine bodies, one of them a full daily series)."""
    from water.market_data.providers import alphavantage

    request = ProviderRequest.of("alphavantage", "GLOBAL_QUOTE", symbol="IBM")
    body = b'{"Global Quote": {"01. symbol": "IBM", "05. price": "101.5", "07. latest trading day": "2026-11-25"}}'
    payload = classify_response(request, status=200, content_type="application/json", body=body)
    assert payload == json.loads(body)
    csv_request = ProviderRequest.of("alphavantage", "GLOBAL_QUOTE", symbol="IBM", datatype="csv")
    assert (
        classify_response(csv_request, status=200, content_type="text/csv", body=b"symbol,price\r\nIBM,1\r\n") is None
    )

    def no_second_decoding(body: bytes) -> Any:
        raise AssertionError("decoded twice")

    monkeypatch.setattr(alphavantage, "_loads", no_second_decoding)
    now = datetime.now(UTC)
    raw = RawResponse(request=request, body=body, content_type="application/json", fetched_at=now, payload=payload)
    assert alphavantage.parse_quote(raw).price == 101.5
    # Read back from the cache or a snapshot, a response has no payload and its body is decoded.
    with pytest.raises(AssertionError, match="decoded twice"):
        alphavantage.parse_quote(
            RawResponse(request=request, body=body, content_type="application/json", fetched_at=now)
        )


def test_daily_limit_retry_after_runs_to_utc_midnight() -> None:
    request = ProviderRequest.of("alphavantage", "OVERVIEW", symbol="IBM")
    body = b'{"Information": "Thank you for using Alpha Vantage! Our standard API rate limit is 25 requests per day."}'
    with pytest.raises(RateLimited) as caught:
        classify_response(
            request, status=200, content_type="application/json", body=body, now=datetime(2025, 1, 1, 23, 0, tzinfo=UTC)
        )
    assert caught.value.retry_after == 3600

"""Alpha Vantage: the HTTP transport (with error classification) and the provider (parsing).

`AlphaVantageTransport.fetch` sends one `ProviderRequest` and returns the raw body, or
raises one of the classified errors of `market_data.errors`. Alpha Vantage answers
almost every error with HTTP 200, so the body decides (see `classify_payload`).
`AlphaVantageProvider` implements every capability Protocol of `providers.base` on top of
any `Fetch` (the gateway's cache → limiter → transport chain, or `demo.DemoTransport`).

Statement mapping (Alpha Vantage field → canonical line; `IS` INCOME_STATEMENT,
`BS` BALANCE_SHEET, `CF` CASH_FLOW; "a, else b" means b is used only when a is missing):

| canonical line | Alpha Vantage field | notes |
|---|---|---|
| revenue | IS totalRevenue | |
| ebit | IS operatingIncome | not IS `ebit`: Alpha Vantage computes that as incomeBeforeTax + interestExpense, so it carries non-operating gains and losses (IBM 2022-03-31: ebit 1,005m vs operatingIncome 470m) |
| depreciation_amortization | IS depreciationAndAmortization, else CF depreciationDepletionAndAmortization | |
| interest_expense | IS interestExpense | magnitude (positive) |
| pretax_income | IS incomeBeforeTax | |
| income_tax | IS incomeTaxExpense | signed: a tax benefit stays negative |
| net_income | IS netIncome, else CF netIncome | |
| rnd_expense | IS researchAndDevelopment | |
| capex | CF capitalExpenditures | magnitude: positive = spending |
| change_in_working_capital | BS deltas (below) | positive = cash absorbed |
| operating_cash_flow | CF operatingCashflow | |
| dividends_paid | CF dividendPayoutCommonStock, else CF dividendPayout | magnitude (positive) |
| cash | BS cashAndShortTermInvestments, else BS cashAndCashEquivalentsAtCarryingValue | |
| total_debt | BS shortLongTermDebtTotal, else BS shortTermDebt + longTermDebt; + capitalLeaseObligations where reported separately | leases are added when the total is exactly shortTermDebt + longTermDebt, i.e. evidently excludes them |
| lease_liabilities | — | not reported by Alpha Vantage (capitalLeaseObligations are finance leases, counted in total_debt) |
| minority_interests | — | not reported by Alpha Vantage: no figure (never a guessed zero) |
| preferred_equity | — | not reported by Alpha Vantage: no figure |
| book_equity | BS totalShareholderEquity | |
| total_assets / total_liabilities | BS totalAssets / totalLiabilities | |
| current_assets / current_liabilities | BS totalCurrentAssets / totalCurrentLiabilities | |
| retained_earnings | BS retainedEarnings | |
| shares_outstanding | BS commonStockSharesOutstanding | a count, never FX-converted |

Change in working capital is derived from consecutive balance sheets, not from the
cash-flow change lines: those are mostly `"None"` (every IBM report) and their signs are not
consistent across companies. Non-cash working capital = (totalCurrentAssets − cash) −
(totalCurrentLiabilities − currentDebt, else shortTermDebt, else 0); the figure is its
increase over the previous period of the same kind (the quarter ~3 months earlier, the year
~12 months earlier). The oldest period of each kind therefore has no figure. Its source reads
`BALANCE_SHEET.delta(totalCurrentAssets-cashAndShortTermInvestments-totalCurrentLiabilities+currentDebt)@<prev>..<end>`.

The statement currency is `reportedCurrency` ("XXX", ISO 4217's "no currency", when no
statement states one). `"None"`, `""`, `"-"` and `"."` are missing values: no Figure.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson

from ..canonical import Figure, PeriodType, StatementPeriod
from ..errors import (
    DemoKeyOnly,
    InvalidApiKey,
    InvalidCall,
    PremiumEndpoint,
    ProviderUnavailable,
    RateLimited,
    SymbolNotFound,
)
from .base import (
    CompanyProfile,
    Dividend,
    EarningsPeriod,
    Fetch,
    PriceBar,
    ProviderRequest,
    Quote,
    RatePoint,
    RawResponse,
    Split,
    SymbolMatch,
)
from .http import StdlibHTTPTransport

PROVIDER = "alphavantage"
MISSING = frozenset({"None", "none", "", "-", ".", "null", "N/A"})
# Functions that answer "Invalid API call" when the symbol is unknown (the symbol is their only variable).
SYMBOL_FUNCTIONS = frozenset(
    {
        "OVERVIEW",
        "GLOBAL_QUOTE",
        "TIME_SERIES_DAILY",
        "TIME_SERIES_DAILY_ADJUSTED",
        "INCOME_STATEMENT",
        "BALANCE_SHEET",
        "CASH_FLOW",
        "EARNINGS",
        "DIVIDENDS",
        "SPLITS",
    }
)
_KEY_ECHO = re.compile(r"(api ?key (?:as|is|=|:)\s*)([A-Za-z0-9_\-]+)", re.IGNORECASE)

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


# --- error classification -------------------------------------------------------------------


def redact(text: str, api_key: str | None = None) -> str:
    """Remove the API key from a provider text (the daily-limit text echoes it back)."""
    if api_key and len(api_key) >= 6:
        text = text.replace(api_key, "[redacted]")
    return _KEY_ECHO.sub(lambda m: m.group(1) + "[redacted]", text)


def _subject(request: ProviderRequest) -> str:
    params = dict(request.params)
    if request.symbol:
        return f"{request.function} for {request.symbol}"
    if "keywords" in params:
        return f"{request.function} for “{params['keywords']}”"
    return request.function


def _seconds_to_utc_midnight(now: datetime) -> int:
    tomorrow = (now.astimezone(UTC) + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, math.ceil((tomorrow - now.astimezone(UTC)).total_seconds()))


def classify_notice(text: str, request: ProviderRequest, *, api_key: str | None = None, now: datetime) -> Exception:
    """The error for a `Note` / `Information` body (throttle, premium, demo key, bad key)."""
    low = redact(text, api_key).lower()  # the key echoed in the text must not steer the decision
    subject = _subject(request)
    if "demo" in low and ("api key" in low or "apikey" in low):
        return DemoKeyOnly(
            f"Alpha Vantage refused {subject}: the “demo” API key only covers the documentation's examples. "
            "Set WATER_ALPHAVANTAGE_API_KEY to your own key (free at alphavantage.co), or run without a key to use demo data."
        )
    if "invalid" in low and ("apikey" in low or "api key" in low):
        return _invalid_key(subject)
    if "premium endpoint" in low or "premium function" in low or ("premium" in low and "unlock" in low):
        return PremiumEndpoint(
            f"Alpha Vantage serves {subject} only on a premium plan. Upgrade the plan behind "
            "WATER_ALPHAVANTAGE_API_KEY, or use the free alternative (e.g. unadjusted daily prices)."
        )
    if "per second" in low or "per minute" in low or "call frequency" in low or "spreading out" in low:
        per_second = "per second" in low
        return RateLimited(
            f"Alpha Vantage throttled {subject}: too many requests in a short time. "
            "Water will retry shortly; nothing needs doing unless it keeps happening.",
            scope="burst",
            retry_after=2 if per_second else 60,
        )
    if "per day" in low or "daily" in low:
        return RateLimited(
            f"Alpha Vantage's daily request quota for this API key is used up, so {subject} was not fetched. "
            "It resets at midnight UTC; a premium plan removes the daily limit.",
            scope="daily",
            retry_after=_seconds_to_utc_midnight(now),
        )
    return InvalidCall(
        f"Alpha Vantage declined {subject} with a notice Water does not recognise: “{redact(text, api_key)}”. "
        "Try again later; if it persists, check the API key's plan."
    )


def _invalid_key(subject: str) -> InvalidApiKey:
    return InvalidApiKey(
        f"Alpha Vantage rejected the API key while fetching {subject}. "
        "Check WATER_ALPHAVANTAGE_API_KEY (claim a free key at alphavantage.co/support/#api-key)."
    )


def classify_error_message(text: str, request: ProviderRequest) -> Exception:
    """The error for an `Error Message` body: a bad key, an unknown symbol or a bad parameter."""
    low = text.lower()
    subject = _subject(request)
    if "apikey" in low or "api key" in low:
        return _invalid_key(subject)
    if request.function in SYMBOL_FUNCTIONS and request.symbol and ("invalid api call" in low or "symbol" in low):
        return SymbolNotFound(
            f"Alpha Vantage does not know the symbol {request.symbol} ({request.function}). "
            "Check the ticker, including any exchange suffix (e.g. TSCO.LON); symbol search lists valid ones.",
            function=request.function,
            symbol=request.symbol,
        )
    return InvalidCall(
        f"Alpha Vantage rejected the request {subject} as invalid (a parameter it does not accept). "
        "This is a defect in Water's request, not in your data; please report it.",
        function=request.function,
    )


def classify_payload(
    payload: Any, request: ProviderRequest, *, api_key: str | None = None, now: datetime | None = None
) -> None:
    """Raise the classified error when a decoded JSON body is an Alpha Vantage error answer."""
    if not isinstance(payload, dict):
        raise _unexpected(request, "the answer is not a JSON object")
    if not payload and request.symbol is None:  # no symbol to be unknown (a search, the treasury yield)
        raise InvalidCall(
            f"Alpha Vantage answered {_subject(request)} with an empty object: no data and no reason. "
            "Try again; if it persists, check the request's parameters.",
            function=request.function,
        )
    if not payload:
        raise SymbolNotFound(
            f"Alpha Vantage has no data for {_subject(request)} (it answered with an empty object). "
            "Check the ticker; some non-US tickers and funds have no fundamentals.",
            function=request.function,
            symbol=request.symbol,
        )
    data_keys = [k for k in payload if k not in ("Note", "Information", "Error Message")]
    if "Error Message" in payload:
        raise classify_error_message(str(payload["Error Message"]), request)
    # A notice next to real data (seen on some endpoints) is informational only.
    for key in ("Note", "Information"):
        if key in payload and not data_keys:
            raise classify_notice(str(payload[key]), request, api_key=api_key, now=now or _utcnow())


def classify_response(
    request: ProviderRequest,
    *,
    status: int,
    content_type: str,
    body: bytes,
    api_key: str | None = None,
    now: datetime | None = None,
) -> Any:
    """Raise the classified error for one HTTP answer; when the body is usable data, return its decoded
    JSON (None for CSV), which the transport keeps on the response so that it is decoded once."""
    subject = _subject(request)
    if status >= 500:
        raise ProviderUnavailable(
            f"Alpha Vantage is failing (HTTP {status}) while fetching {subject}. Water will retry later; try again in a few minutes."
        )
    if status == 429:
        raise RateLimited(
            f"Alpha Vantage throttled {subject} (HTTP 429). Water will retry shortly.", scope="burst", retry_after=5
        )
    if status >= 400:
        raise InvalidCall(f"Alpha Vantage refused {subject} with HTTP {status}. Please report this to the Water team.")
    head = body.lstrip()[:200].lower()
    if "html" in content_type.lower() or head.startswith((b"<!doctype", b"<html", b"<")):
        raise ProviderUnavailable(
            f"Alpha Vantage answered {subject} with a web page instead of data (usually maintenance or a proxy error). "
            "Try again in a few minutes."
        )
    wants_csv = dict(request.params).get("datatype") == "csv"
    if wants_csv and not head.startswith((b"{", b"[")):
        if not _parses_as_csv(body):
            raise _unexpected(request, "the CSV answer could not be read")
        return None
    try:
        payload = _loads(body)
    except (ValueError, UnicodeDecodeError):
        raise _unexpected(request, "the answer is not valid JSON") from None
    classify_payload(payload, request, api_key=api_key, now=now)
    return payload


def _loads(body: bytes) -> Any:
    """json.loads, by orjson (several times faster on a daily series) for the bodies it reads.

    What orjson refuses (NaN or Infinity literals, a body that is not UTF-8) goes through
    json.loads, so it is read, or refused, as before. One difference is left: orjson reads a bare
    integer beyond 64 bits as the nearest float; Alpha Vantage sends every number as a string.
    """
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return json.loads(body)


def _parses_as_csv(body: bytes) -> bool:
    try:
        rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    except (UnicodeDecodeError, csv.Error):
        return False
    return bool(rows) and len(rows[0]) >= 2 and all(len(r) == len(rows[0]) for r in rows[1:] if r)


def _unexpected(request: ProviderRequest, what: str) -> ProviderUnavailable:
    return ProviderUnavailable(
        f"Alpha Vantage answered {_subject(request)} in a form Water cannot read ({what}). "
        "Try again later; if it keeps happening, please report it."
    )


# --- transport ------------------------------------------------------------------------------


class AlphaVantageTransport:
    """`GET {base_url}/query` as an `httpx.Request` over kept-alive connections; every failure is classified.

    It sends straight to an httpx transport rather than through an `httpx.Client`: the client's
    layers (cookie jar, redirects, auth, URL merging), none of which an Alpha Vantage call uses,
    cost about as much CPU as the transport, and a refresh makes nine calls per company. The
    transport is `StdlibHTTPTransport` (http.client underneath, see providers/http.py) unless
    one is given: any `httpx.BaseTransport` works.
    """

    def __init__(
        self,
        api_key: str,
        base_url: str,
        timeout: float,
        transport: httpx.BaseTransport | None = None,
        *,
        clock: Clock = _utcnow,
    ) -> None:
        self._api_key = api_key
        self._url = base_url.rstrip("/") + "/query"
        self._base = httpx.URL(self._url)
        self._timeout = timeout
        self._clock = clock
        self._owns_transport = transport is None
        self._transport = transport or StdlibHTTPTransport(max_keepalive=10, keepalive_expiry=30.0)
        self._headers = {"User-Agent": "water-market-data/1.0", "Accept": "application/json, text/csv"}
        self._extensions = {"timeout": httpx.Timeout(timeout, connect=min(timeout, 10.0)).as_dict()}

    def __repr__(self) -> str:  # never show the key
        return f"AlphaVantageTransport(url={self._url!r}, timeout={self._timeout})"

    def close(self) -> None:
        if self._owns_transport:
            self._transport.close()

    def __enter__(self) -> AlphaVantageTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fetch(self, request: ProviderRequest) -> RawResponse:
        params = {"function": request.function, **dict(request.params), "apikey": self._api_key}
        subject = _subject(request)
        try:
            url = self._base.copy_with(query=urlencode(params).encode("ascii"))
            http_request = httpx.Request("GET", url, headers=self._headers, extensions=self._extensions)
            response = self._transport.handle_request(http_request)
            try:
                response.read()
            finally:
                response.close()
        except httpx.TimeoutException:
            # `from None`: httpx exceptions carry the URL, and the URL carries the key.
            raise ProviderUnavailable(
                f"Alpha Vantage did not answer {subject} within {self._timeout:g} s. Water will retry; try again in a few minutes."
            ) from None
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(
                f"Water could not reach Alpha Vantage for {subject} ({type(exc).__name__}: the connection failed or was cut). "
                "Check the network or WATER_ALPHAVANTAGE_BASE_URL; Water will retry."
            ) from None
        content_type = response.headers.get("content-type", "")
        now = self._clock()
        payload = classify_response(
            request,
            status=response.status_code,
            content_type=content_type,
            body=response.content,
            api_key=self._api_key,
            now=now,
        )
        return RawResponse(
            request=request, body=response.content, content_type=content_type, fetched_at=now, payload=payload
        )


# --- value parsing --------------------------------------------------------------------------


def number(value: object) -> float | None:
    """An Alpha Vantage number (a JSON string, maybe with `%`); None for the missing markers."""
    if type(value) is not str:  # Alpha Vantage sends numbers as strings: the rest is rare
        if isinstance(value, bool) or value is None or not isinstance(value, int | float):
            return None
        return float(value) if math.isfinite(value) else None
    try:  # the common case, a plain number: float() strips whitespace and refuses every missing marker
        result = float(value)
    except ValueError:
        pass
    else:
        return result if result - result == 0.0 else None  # NaN exactly when result is NaN or infinite
    text = value.strip().removesuffix("%").replace(",", "")
    if text in MISSING:
        return None
    try:
        result = float(text)
    except ValueError:
        return None
    return result if math.isfinite(result) else None


def text_value(value: object) -> str | None:
    if not isinstance(value, str) or value.strip() in MISSING:
        return None
    return value.strip()


def day(value: object) -> date | None:
    """`YYYY-MM-DD`, also the date part of `YYYY-MM-DD HH:MM:SS`."""
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None


def percent_to_decimal(value: object) -> float | None:
    """`"2.75"` (percent) → 0.0275, through Decimal so the result is the float nearest 0.0275."""
    if not isinstance(value, str) or value.strip().removesuffix("%") in MISSING:
        return None
    try:
        result = Decimal(value.strip().removesuffix("%")) / 100
    except InvalidOperation:
        return None
    return float(result) if result.is_finite() else None


def _json_object(raw: RawResponse) -> dict[str, Any]:
    payload = raw.payload  # decoded (and classified) by the transport, when it fetched this response
    if payload is None:
        try:
            payload = _loads(raw.body)
        except (ValueError, UnicodeDecodeError):
            raise _unexpected(raw.request, "the answer is not valid JSON") from None
        classify_payload(payload, raw.request)
    assert isinstance(payload, dict)  # classify_payload raised otherwise
    return payload


def _is_csv(raw: RawResponse) -> bool:
    return not raw.body.lstrip().startswith((b"{", b"["))


def _csv_rows(raw: RawResponse) -> list[dict[str, str]]:
    try:
        return list(csv.DictReader(io.StringIO(raw.body.decode("utf-8-sig"))))
    except (UnicodeDecodeError, csv.Error):
        raise _unexpected(raw.request, "the CSV answer could not be read") from None


def _numbered(row: Mapping[str, Any], name: str) -> Any:
    """`row["05. price"]` by its name (`price`), whatever the number prefix."""
    for key, value in row.items():
        if key.split(". ", 1)[-1] == name:
            return value
    return None


# --- parsers (pure: RawResponse → results) --------------------------------------------------


def parse_symbol_search(raw: RawResponse) -> list[SymbolMatch]:
    """JSON `bestMatches` ("1. symbol" .. "9. matchScore") or the CSV variant (same names, no numbers)."""
    if _is_csv(raw):
        rows: Sequence[Mapping[str, Any]] = _csv_rows(raw)
    else:
        matches = _json_object(raw).get("bestMatches")
        if not isinstance(matches, list):
            raise _unexpected(raw.request, "no bestMatches list")
        rows = [{k.split(". ", 1)[-1]: v for k, v in m.items()} for m in matches if isinstance(m, dict)]
    result = []
    for row in rows:
        symbol = text_value(row.get("symbol"))
        if symbol is None:
            continue
        result.append(
            SymbolMatch(
                symbol=symbol,
                name=text_value(row.get("name")) or symbol,
                type=text_value(row.get("type")),
                region=text_value(row.get("region")),
                currency=text_value(row.get("currency")),
                match_score=number(row.get("matchScore")),
            )
        )
    return result


def parse_overview(raw: RawResponse) -> CompanyProfile:
    data = _json_object(raw)
    symbol, name = text_value(data.get("Symbol")), text_value(data.get("Name"))
    if symbol is None or name is None:
        raise _unexpected(raw.request, "no Symbol or Name in the overview")
    return CompanyProfile(
        symbol=symbol,
        name=name,
        exchange=text_value(data.get("Exchange")),
        currency=text_value(data.get("Currency")),
        country=text_value(data.get("Country")),
        sector=text_value(data.get("Sector")),
        industry=text_value(data.get("Industry")),
        cik=text_value(data.get("CIK")),
        shares_outstanding=number(data.get("SharesOutstanding")),
        market_capitalization=number(data.get("MarketCapitalization")),
        beta=number(data.get("Beta")),
    )


def parse_quote(raw: RawResponse) -> Quote:
    """`change_percent` stays in percent units, as quoted: "-2.0379%" → -2.0379."""
    symbol = raw.request.symbol or ""
    if _is_csv(raw):
        rows = _csv_rows(raw)
        row: Mapping[str, Any] = rows[0] if rows else {}
        fields = ("symbol", "price", "latestDay", "previousClose", "changePercent", "volume")
    else:
        quote = _json_object(raw).get("Global Quote")
        if not isinstance(quote, dict):
            raise _unexpected(raw.request, "no Global Quote object")
        row = {k.split(". ", 1)[-1]: v for k, v in quote.items()}
        fields = ("symbol", "price", "latest trading day", "previous close", "change percent", "volume")
    if not row:  # an unknown symbol gets `{"Global Quote": {}}` (or a header-only CSV)
        raise SymbolNotFound(
            f"Alpha Vantage has no quote for {symbol}. Check the ticker, including any exchange suffix.",
            function="GLOBAL_QUOTE",
            symbol=symbol,
        )
    price, as_of = number(row.get(fields[1])), day(row.get(fields[2]))
    if price is None or as_of is None:
        raise _unexpected(raw.request, "the quote has no price or trading day")
    return Quote(
        symbol=text_value(row.get(fields[0])) or symbol,
        price=price,
        as_of=as_of,
        previous_close=number(row.get(fields[3])),
        change_percent=number(row.get(fields[4])),
        volume=number(row.get(fields[5])),
    )


def daily_series_object(raw: RawResponse) -> dict[str, Any]:
    """The `Time Series (Daily)` object; raises exactly when `parse_daily_series` would (rows it cannot
    read are skipped, never an error), so it validates a body without building its bars."""
    data = _json_object(raw)
    series = next((v for k, v in data.items() if k.startswith("Time Series")), None)
    if not isinstance(series, dict):
        raise _unexpected(raw.request, "no Time Series object")
    return series


def parse_daily_series(raw: RawResponse) -> list[PriceBar]:
    """Daily bars, oldest first (the API sends an object keyed by date, newest first)."""
    series = daily_series_object(raw)
    names: dict[str, str] = {}  # "4. close" → "close", once per key: every row repeats the same keys
    bars = []
    for key, row in series.items():
        if not isinstance(row, dict):
            continue
        fields: dict[str, Any] = {}
        for field, value in row.items():
            name = names.get(field)
            if name is None:
                name = names[field] = field.split(". ", 1)[-1]
            fields.setdefault(name, value)  # the first field of a name wins, as with _numbered
        when, close = day(key), number(fields.get("close"))
        if when is None or close is None:
            continue
        bars.append(
            PriceBar(
                day=when,
                close=close,
                adjusted_close=number(fields.get("adjusted close")),
                volume=number(fields.get("volume")),
                dividend=number(fields.get("dividend amount")),
                split_coefficient=number(fields.get("split coefficient")),
            )
        )
    bars.sort(key=lambda bar: bar.day)
    return bars


def parse_earnings(raw: RawResponse) -> list[EarningsPeriod]:
    """Annual then quarterly, each oldest first. The newest annual row may be a partial year."""
    data = _json_object(raw)
    result: list[EarningsPeriod] = []
    for key, kind in (("annualEarnings", "annual"), ("quarterlyEarnings", "quarterly")):
        listed = data.get(key) or []
        if not isinstance(listed, list):
            raise _unexpected(raw.request, f"{key} is not a list")
        rows = [r for r in listed if isinstance(r, dict)]
        periods = []
        for row in rows:
            when = day(row.get("fiscalDateEnding"))
            if when is None:
                continue
            periods.append(
                EarningsPeriod(
                    fiscal_date_ending=when,
                    reported_eps=number(row.get("reportedEPS")),
                    estimated_eps=number(row.get("estimatedEPS")),
                    reported_date=day(row.get("reportedDate")),
                    period_type=kind,
                )
            )
        result.extend(sorted(periods, key=lambda p: p.fiscal_date_ending))
    return result


def _data_rows(raw: RawResponse) -> list[dict[str, Any]]:
    data = _json_object(raw).get("data")
    if not isinstance(data, list):
        raise _unexpected(raw.request, "no data list")
    return [row for row in data if isinstance(row, dict)]


def parse_dividends(raw: RawResponse) -> list[Dividend]:
    result = []
    for row in _data_rows(raw):
        when, amount = day(row.get("ex_dividend_date")), number(row.get("amount"))
        if when is not None and amount is not None:
            result.append(Dividend(ex_date=when, amount=amount))
    return sorted(result, key=lambda d: d.ex_date)


def parse_splits(raw: RawResponse) -> list[Split]:
    result = []
    for row in _data_rows(raw):
        when, factor = day(row.get("effective_date")), number(row.get("split_factor"))
        if when is not None and factor is not None and factor > 0:
            result.append(Split(effective_date=when, factor=factor))
    return sorted(result, key=lambda s: s.effective_date)


def parse_treasury_yield(raw: RawResponse) -> list[RatePoint]:
    """Percent → decimal (2.75 → 0.0275), oldest first; "." (no observation) is skipped."""
    result = []
    for row in _data_rows(raw):
        when, rate = day(row.get("date")), percent_to_decimal(row.get("value"))
        if when is not None and rate is not None:
            result.append(RatePoint(day=when, rate=rate))
    return sorted(result, key=lambda p: p.day)


# --- statements ------------------------------------------------------------------------------

IS, BS, CF = "INCOME_STATEMENT", "BALANCE_SHEET", "CASH_FLOW"

# canonical line → alternatives, first reported wins
DIRECT_LINES: dict[str, tuple[tuple[str, str], ...]] = {
    "revenue": ((IS, "totalRevenue"),),
    "ebit": ((IS, "operatingIncome"),),
    "depreciation_amortization": ((IS, "depreciationAndAmortization"), (CF, "depreciationDepletionAndAmortization")),
    "interest_expense": ((IS, "interestExpense"),),
    "pretax_income": ((IS, "incomeBeforeTax"),),
    "income_tax": ((IS, "incomeTaxExpense"),),
    "net_income": ((IS, "netIncome"), (CF, "netIncome")),
    "rnd_expense": ((IS, "researchAndDevelopment"),),
    "capex": ((CF, "capitalExpenditures"),),
    "operating_cash_flow": ((CF, "operatingCashflow"),),
    "dividends_paid": ((CF, "dividendPayoutCommonStock"), (CF, "dividendPayout")),
    "cash": ((BS, "cashAndShortTermInvestments"), (BS, "cashAndCashEquivalentsAtCarryingValue")),
    "book_equity": ((BS, "totalShareholderEquity"),),
    "total_assets": ((BS, "totalAssets"),),
    "total_liabilities": ((BS, "totalLiabilities"),),
    "current_assets": ((BS, "totalCurrentAssets"),),
    "current_liabilities": ((BS, "totalCurrentLiabilities"),),
    "retained_earnings": ((BS, "retainedEarnings"),),
    "shares_outstanding": ((BS, "commonStockSharesOutstanding"),),
}
# Lines Alpha Vantage reports with either sign but the canonical model holds as a positive amount.
MAGNITUDE_LINES = frozenset({"interest_expense", "capex", "dividends_paid"})
# How far apart consecutive periods' ends may be (52/53-week years shift the dates).
_GAP_DAYS = {PeriodType.quarterly: (75, 105), PeriodType.annual: (350, 380)}
_REPORT_KEYS = {PeriodType.annual: "annualReports", PeriodType.quarterly: "quarterlyReports"}


@dataclass(frozen=True)
class _Report:
    statement: str
    row: Mapping[str, Any]
    snapshot_id: str | None

    def get(self, field: str) -> float | None:
        return number(self.row.get(field))

    def figure(self, field: str, value: float) -> Figure:
        return Figure(value, f"{self.statement}.{field}", self.snapshot_id)


def _reports(raw: RawResponse, statement: str) -> dict[PeriodType, dict[date, _Report]]:
    data = _json_object(raw)
    result: dict[PeriodType, dict[date, _Report]] = {}
    for kind, key in _REPORT_KEYS.items():
        rows = data.get(key)
        if rows is not None and not isinstance(rows, list):
            raise _unexpected(raw.request, f"{key} is not a list")
        by_date: dict[date, _Report] = {}
        for row in rows or []:
            when = day(row.get("fiscalDateEnding")) if isinstance(row, dict) else None
            if when is not None and when not in by_date:
                by_date[when] = _Report(statement, row, raw.snapshot_id)
        result[kind] = by_date
    return result


def _total_debt(bs: _Report) -> Figure | None:
    short, long_, leases = bs.get("shortTermDebt"), bs.get("longTermDebt"), bs.get("capitalLeaseObligations")
    total = bs.get("shortLongTermDebtTotal")
    if total is not None:
        parts = (short or 0.0) + (long_ or 0.0)
        if leases and (short is not None or long_ is not None) and math.isclose(total, parts, abs_tol=0.5):
            return Figure(total + leases, f"{BS}.shortLongTermDebtTotal+{BS}.capitalLeaseObligations", bs.snapshot_id)
        return bs.figure("shortLongTermDebtTotal", total)
    if short is None and long_ is None:
        return None
    parts_used = [
        (field, value)
        for field, value in (("shortTermDebt", short), ("longTermDebt", long_), ("capitalLeaseObligations", leases))
        if value is not None
    ]
    return Figure(sum(v for _, v in parts_used), "+".join(f"{BS}.{f}" for f, _ in parts_used), bs.snapshot_id)


def _non_cash_working_capital(bs: _Report) -> tuple[float, str] | None:
    """(totalCurrentAssets − cash) − (totalCurrentLiabilities − current debt), and its formula."""
    assets, liabilities = bs.get("totalCurrentAssets"), bs.get("totalCurrentLiabilities")
    cash_field = next((f for _, f in DIRECT_LINES["cash"] if bs.get(f) is not None), None)
    if assets is None or liabilities is None or cash_field is None:
        return None
    debt_field = next((f for f in ("currentDebt", "shortTermDebt") if bs.get(f) is not None), None)
    debt = bs.get(debt_field) if debt_field else 0.0
    formula = f"totalCurrentAssets-{cash_field}-totalCurrentLiabilities" + (f"+{debt_field}" if debt_field else "")
    return assets - (bs.get(cash_field) or 0.0) - liabilities + (debt or 0.0), formula


def _working_capital_changes(balance: dict[date, _Report], kind: PeriodType) -> dict[date, Figure]:
    low, high = _GAP_DAYS[kind]
    ends = sorted(balance)
    working_capital = {end: _non_cash_working_capital(balance[end]) for end in ends}  # each once, not per pair
    result = {}
    for previous, end in pairwise(ends):
        if not low <= (end - previous).days <= high:
            continue
        before, after = working_capital[previous], working_capital[end]
        if before is None or after is None:
            continue
        formula = after[1] if after[1] == before[1] else f"{before[1]}→{after[1]}"
        result[end] = Figure(
            after[0] - before[0],
            f"{BS}.delta({formula})@{previous.isoformat()}..{end.isoformat()}",
            balance[end].snapshot_id,
        )
    return result


def _period(kind: PeriodType, end: date, reports: Mapping[str, _Report], wc_change: Figure | None) -> StatementPeriod:
    figures: dict[str, Figure] = {}
    for line, alternatives in DIRECT_LINES.items():
        for statement, field in alternatives:
            report = reports.get(statement)
            if report is None:
                continue
            value = number(report.row.get(field))
            if value is not None:
                figures[line] = report.figure(field, abs(value) if line in MAGNITUDE_LINES else value)
                break
    if (bs := reports.get(BS)) is not None and (debt := _total_debt(bs)) is not None:
        figures["total_debt"] = debt
    if wc_change is not None:
        figures["change_in_working_capital"] = wc_change
    currencies = [text_value(reports[s].row.get("reportedCurrency")) for s in (IS, BS, CF) if s in reports]
    currency = next((c for c in currencies if c), "XXX")
    return StatementPeriod(period_type=kind, fiscal_date_ending=end, currency=currency, figures=figures)


def map_statements(income: RawResponse, balance: RawResponse, cash_flow: RawResponse) -> list[StatementPeriod]:
    """The three statements → canonical annual and quarterly periods, each kind oldest first."""
    parsed = {IS: _reports(income, IS), BS: _reports(balance, BS), CF: _reports(cash_flow, CF)}
    periods = []
    for kind in (PeriodType.annual, PeriodType.quarterly):
        wc_changes = _working_capital_changes(parsed[BS][kind], kind)
        ends = sorted(set().union(*(parsed[s][kind] for s in parsed)))
        for end in ends:
            reports = {s: parsed[s][kind][end] for s in parsed if end in parsed[s][kind]}
            periods.append(_period(kind, end, reports, wc_changes.get(end)))
    return periods


# --- provider --------------------------------------------------------------------------------


class AlphaVantageProvider:
    """Every capability of `providers.base` from Alpha Vantage, over any `Fetch`.

    `premium` chooses TIME_SERIES_DAILY_ADJUSTED (premium plans) over TIME_SERIES_DAILY (free);
    `prefer_csv` asks for the CSV variants of SYMBOL_SEARCH and GLOBAL_QUOTE (both parse).
    """

    name = PROVIDER

    def __init__(self, fetch: Fetch, *, premium: bool = False, prefer_csv: bool = False) -> None:
        self._fetch = fetch
        self.premium = premium
        self._csv = {"datatype": "csv"} if prefer_csv else {}

    def _get(self, function: str, **params: str) -> RawResponse:
        return self._fetch(ProviderRequest.of(PROVIDER, function, **params))

    def company_requests(self, symbol: str, *, full_history: bool = True) -> list[ProviderRequest]:
        """The requests of `company_profile`, `quote`, `daily_prices(full=full_history)`, `statements`,
        `earnings`, `dividends` and `splits` for one symbol: fetch them in one batch, then parse them
        with `replaying`."""
        ticker = _symbol(symbol)
        of = ProviderRequest.of
        return [
            of(PROVIDER, "OVERVIEW", symbol=ticker),
            of(PROVIDER, "GLOBAL_QUOTE", symbol=ticker, **self._csv),
            self.daily_request(ticker, full=full_history),
            *(of(PROVIDER, function, symbol=ticker) for function in (IS, BS, CF)),
            of(PROVIDER, "EARNINGS", symbol=ticker),
            of(PROVIDER, "DIVIDENDS", symbol=ticker),
            of(PROVIDER, "SPLITS", symbol=ticker),
        ]

    def replaying(self, responses: Sequence[RawResponse]) -> AlphaVantageProvider:
        """This provider over the given responses only (a request they do not answer is an InvalidCall)."""
        by_request = {r.request: r for r in responses}

        def fetch(request: ProviderRequest) -> RawResponse:
            response = by_request.get(request)
            if response is None:
                raise InvalidCall(f"{_subject(request)} was not fetched with the batch.", function=request.function)
            return response

        copy = AlphaVantageProvider(fetch, premium=self.premium)
        copy._csv = self._csv
        return copy

    def search_symbols(self, keywords: str) -> tuple[list[SymbolMatch], RawResponse]:
        raw = self._get("SYMBOL_SEARCH", keywords=keywords.strip(), **self._csv)
        return parse_symbol_search(raw), raw

    def company_profile(self, symbol: str) -> tuple[CompanyProfile, RawResponse]:
        raw = self._get("OVERVIEW", symbol=_symbol(symbol))
        return parse_overview(raw), raw

    def quote_request(self, symbol: str) -> ProviderRequest:
        """What `quote` asks for (its cache key), for reads served from the cache."""
        return ProviderRequest.of(PROVIDER, "GLOBAL_QUOTE", symbol=_symbol(symbol), **self._csv)

    def quote(self, symbol: str) -> tuple[Quote, RawResponse]:
        raw = self._fetch(self.quote_request(symbol))
        return parse_quote(raw), raw

    def daily_request(self, symbol: str, *, full: bool) -> ProviderRequest:
        """The daily series: adjusted on a premium plan, as traded on the free one; `full` asks for all of it."""
        function = "TIME_SERIES_DAILY_ADJUSTED" if self.premium else "TIME_SERIES_DAILY"
        return ProviderRequest.of(
            PROVIDER, function, symbol=_symbol(symbol), **({"outputsize": "full"} if full else {})
        )

    def daily_prices(self, symbol: str, *, full: bool = False) -> tuple[list[PriceBar], RawResponse]:
        """Oldest first. Compact is the latest 100 days; `full` is the whole history (20+ years).

        Alpha Vantage has at times served the full history of TIME_SERIES_DAILY to premium plans
        only: then `full` gets the latest 100 days instead (`is_full_history(raw)` says which).
        """
        try:
            raw = self._fetch(self.daily_request(symbol, full=full))
        except PremiumEndpoint:
            if not full:
                raise
            raw = self._fetch(self.daily_request(symbol, full=False))
        return parse_daily_series(raw), raw

    def check_daily_prices(self, symbol: str, *, full: bool = False) -> RawResponse:
        """`daily_prices`' response, checked as it would parse but without its bars (for a refresh, which stores it)."""
        raw = self._fetch(self.daily_request(symbol, full=full))
        daily_series_object(raw)
        return raw

    def statements(self, symbol: str) -> tuple[list[StatementPeriod], list[RawResponse]]:
        ticker = _symbol(symbol)
        raws = [self._get(function, symbol=ticker) for function in (IS, BS, CF)]
        return map_statements(*raws), raws

    def earnings(self, symbol: str) -> tuple[list[EarningsPeriod], RawResponse]:
        raw = self._get("EARNINGS", symbol=_symbol(symbol))
        return parse_earnings(raw), raw

    def dividends(self, symbol: str) -> tuple[list[Dividend], RawResponse]:
        raw = self._get("DIVIDENDS", symbol=_symbol(symbol))
        return parse_dividends(raw), raw

    def splits(self, symbol: str) -> tuple[list[Split], RawResponse]:
        raw = self._get("SPLITS", symbol=_symbol(symbol))
        return parse_splits(raw), raw

    def treasury_yield(
        self, maturity: str = "10year", interval: str = "monthly"
    ) -> tuple[list[RatePoint], RawResponse]:
        raw = self._get("TREASURY_YIELD", interval=interval, maturity=maturity)
        return parse_treasury_yield(raw), raw


def is_full_history(raw: RawResponse) -> bool:
    """True when a daily series response is the whole history, False when it is the latest 100 days."""
    return dict(raw.request.params).get("outputsize") == "full"


def _symbol(symbol: str) -> str:
    return symbol.strip().upper()

"""Provider capabilities, one Protocol each, and the raw request/response types.

A provider turns a capability call into one or more `ProviderRequest`s and sends
them through a `Fetch` callable it is given. The gateway (`market_data.gateway`)
supplies that callable: cache → shared rate limiter → the vendor's transport.
So providers never cache or throttle themselves, and every raw response that a
result used is returned with it, to be stored as an immutable snapshot.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from ..canonical import StatementPeriod


@dataclass(frozen=True)
class ProviderRequest:
    provider: str  # "alphavantage"
    function: str  # e.g. "OVERVIEW"
    params: tuple[tuple[str, str], ...] = ()  # sorted; never the API key

    @classmethod
    def of(cls, provider: str, function: str, **params: str) -> ProviderRequest:
        return cls(provider, function, tuple(sorted((k, str(v)) for k, v in params.items())))

    @property
    def symbol(self) -> str | None:
        return dict(self.params).get("symbol")

    def cache_key(self) -> str:
        query = "&".join(f"{k}={v}" for k, v in self.params)
        return f"water:md:raw:{self.provider}:{self.function}:{query}"


@dataclass(frozen=True)
class RawResponse:
    request: ProviderRequest
    body: bytes
    content_type: str
    fetched_at: datetime
    from_cache: bool = False
    snapshot_id: str | None = None  # set by the gateway once the body is stored as a snapshot
    # The body's decoded JSON when the transport already decoded it to classify the answer (read
    # only: parsers share it); None for CSV and for responses read back from the cache or a snapshot.
    payload: Any = field(default=None, compare=False, hash=False, repr=False)


Fetch = Callable[[ProviderRequest], RawResponse]


@dataclass(frozen=True)
class SymbolMatch:
    symbol: str
    name: str
    type: str | None
    region: str | None
    currency: str | None
    match_score: float | None


@dataclass(frozen=True)
class CompanyProfile:
    symbol: str
    name: str
    exchange: str | None
    currency: str | None
    country: str | None
    sector: str | None
    industry: str | None
    cik: str | None
    shares_outstanding: float | None
    market_capitalization: float | None
    beta: float | None  # the vendor's own figure, for reference only


@dataclass(frozen=True)
class Quote:
    symbol: str
    price: float
    as_of: date
    previous_close: float | None
    change_percent: float | None
    volume: float | None


@dataclass(frozen=True)
class PriceBar:
    day: date
    close: float
    adjusted_close: float | None = None
    volume: float | None = None
    dividend: float | None = None
    split_coefficient: float | None = None


@dataclass(frozen=True)
class Dividend:
    ex_date: date
    amount: float


@dataclass(frozen=True)
class Split:
    effective_date: date
    factor: float


@dataclass(frozen=True)
class RatePoint:
    day: date
    rate: float  # decimal: 0.0275 for 2.75%


@dataclass(frozen=True)
class EarningsPeriod:
    fiscal_date_ending: date
    reported_eps: float | None
    estimated_eps: float | None
    reported_date: date | None
    period_type: str  # "annual" | "quarterly"


class SymbolSearch(Protocol):
    def search_symbols(self, keywords: str) -> tuple[list[SymbolMatch], RawResponse]: ...


class CompanyProfiles(Protocol):
    def company_profile(self, symbol: str) -> tuple[CompanyProfile, RawResponse]: ...


class Quotes(Protocol):
    def quote(self, symbol: str) -> tuple[Quote, RawResponse]: ...


class DailyPrices(Protocol):
    def daily_prices(self, symbol: str, *, full: bool = False) -> tuple[list[PriceBar], RawResponse]: ...


class Statements(Protocol):
    def statements(self, symbol: str) -> tuple[list[StatementPeriod], list[RawResponse]]:
        """Annual and quarterly periods (TTM is derived by market_data.normalize)."""
        ...


class Earnings(Protocol):
    def earnings(self, symbol: str) -> tuple[list[EarningsPeriod], RawResponse]: ...


class CorporateActions(Protocol):
    def dividends(self, symbol: str) -> tuple[list[Dividend], RawResponse]: ...

    def splits(self, symbol: str) -> tuple[list[Split], RawResponse]: ...


class Rates(Protocol):
    def treasury_yield(
        self, maturity: str = "10year", interval: str = "monthly"
    ) -> tuple[list[RatePoint], RawResponse]: ...

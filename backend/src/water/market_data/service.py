"""Market-data use cases: search, company from symbol, quote, prices, financials, market inputs, refresh, import."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

import water_engine

from ..audit import service as audit
from ..auth.principal import Principal
from ..companies import service as companies
from ..companies.schemas import CompanyCreate
from ..config import get_settings
from ..db.session import side_session
from ..errors import InvalidInput, NotFound
from ..jobs import service as jobs
from ..jobs.schemas import JobRead
from ..models import Company, StatementImport
from . import cache
from .canonical import PeriodType, StatementPeriod
from .errors import BetaNotComputable, MarketDataError, PremiumEndpoint, ProviderUnavailable, RateLimited
from .gateway import default_gateway, default_provider
from .normalize import trailing_twelve_months
from .providers.alphavantage import is_full_history
from .providers.base import PriceBar, ProviderRequest, RawResponse, Split, SymbolMatch
from .repository import MarketDataRepository

# What a full refresh fetches, and how many provider calls that costs (statements are three).
REFRESH_DATASETS = ("overview", "quote", "daily_prices", "statements", "earnings", "dividends", "splits")
CALLS_PER_REFRESH = 9
STATEMENT_FUNCTIONS = ("INCOME_STATEMENT", "BALANCE_SHEET", "CASH_FLOW")
# What a refresh does not fetch while the company's statements are an analyst's import: the
# statements and the reported earnings that go with them (a fund has neither).
FUNDAMENTAL_FUNCTIONS = frozenset({*STATEMENT_FUNCTIONS, "EARNINGS"})
# Small bodies whose parse has an effect (the price currency) or is the point (the quote): parsed on every refresh.
ALWAYS_PARSED = frozenset({"overview", "quote"})


def benchmark_symbol() -> str:
    settings = get_settings()
    if settings.market_data_benchmark:
        return settings.market_data_benchmark
    return "DSPY" if settings.use_demo_market_data else "SPY"


@dataclass(frozen=True)
class Sourced:
    """A value with the snapshot it came from."""

    value: Any
    snapshot_ids: list[str]
    fetched_at: datetime
    stale: bool = False
    full_history: bool = True  # a daily series: False when the plan served only the latest 100 days


def _ids(*responses: RawResponse) -> list[str]:
    return [r.snapshot_id for r in responses if r.snapshot_id]


def _latest(*responses: RawResponse) -> datetime:
    return max(r.fetched_at for r in responses)


# --- search and company creation -----------------------------------------------------------


def search_symbols(keywords: str) -> list[SymbolMatch]:
    matches, _raw = default_provider().search_symbols(keywords)
    return list(matches)


def create_company_from_symbol(session: Session, principal: Principal, symbol: str) -> Company:
    """Create a covered company from a symbol: the overview fills name, exchange, currency, sector..."""
    profile, raw = default_provider().company_profile(symbol.strip().upper())
    identifiers = {"cik": profile.cik} if profile.cik else {}
    data = CompanyCreate(
        name=profile.name[:200],
        ticker=profile.symbol,
        currency=(profile.currency or "USD").upper(),
        exchange=profile.exchange,
        country=profile.country,
        sector=profile.sector,
        industry=profile.industry,
        identifiers=identifiers,
    )
    company = companies.create_company(session, principal, data)
    company.price_currency = (profile.currency or "USD").upper()
    company.is_demo = get_settings().use_demo_market_data
    MarketDataRepository(session).record_dataset(company, "overview", _ids(raw), raw.fetched_at)
    return company


# --- reads -----------------------------------------------------------------------------------


def quote(session: Session, company: Company) -> Sourced:
    """The latest quote (cached minutes); when the provider is throttled or down, the last one stored, marked stale."""
    try:
        result, raw = default_provider().quote(_ticker(company))
    except (RateLimited, ProviderUnavailable):
        stored = _replay_quote(session, company)
        if stored is None:
            raise
        return stored
    _remember(company, "quote", raw)
    return Sourced(result, _ids(raw), raw.fetched_at)


def daily_prices(session: Session, company: Company) -> Sourced:
    bars, raw = default_provider().daily_prices(_ticker(company), full=True)
    _remember(company, "daily_prices", raw)
    return Sourced(sorted(bars, key=lambda b: b.day), _ids(raw), raw.fetched_at, full_history=is_full_history(raw))


@dataclass(frozen=True)
class SplitAdjustment:
    """Closes in today's shares by day, the splits behind them and their snapshots; or why there are none."""

    closes: dict[date, float] | None
    splits: list[Split]
    snapshot_ids: list[str]
    warning: str | None = None


def split_adjustment(company: Company, bars: list[PriceBar]) -> SplitAdjustment:
    """The split-adjusted closes of a company's bars (sorted by day). A chart of prices without them
    shows a cliff at every split; when the splits cannot be read (throttled, provider down) the prices
    are still served, without them, and a warning says why."""
    try:
        fetched, raws = _splits_unless_marked(default_provider(), _ticker(company), bars)
    except (RateLimited, ProviderUnavailable) as exc:
        return SplitAdjustment(None, [], [], f"Split-adjusted closes are missing: {exc.detail}")
    applied = [Split(day, factor) for day, factor in sorted(_split_factors(bars, fetched).items())]
    return SplitAdjustment(dict(split_adjusted(bars, fetched)), applied, _ids(*raws))


def resample(bars: list[PriceBar], interval: str) -> list[PriceBar]:
    """One bar per ISO week or calendar month (bars sorted by day): the last trading day's bar, with
    the volume of all the period's trading days among `bars` (as Alpha Vantage's weekly and monthly
    series report it), or None when a day's volume is missing."""
    if interval == "daily":
        return bars
    key = (lambda d: d.isocalendar()[:2]) if interval == "weekly" else (lambda d: (d.year, d.month))
    periods: dict[Any, list[PriceBar]] = {}
    for bar in bars:
        periods.setdefault(key(bar.day), []).append(bar)
    return [replace(days[-1], volume=_total_volume(days)) for days in periods.values()]


def _total_volume(days: list[PriceBar]) -> float | None:
    total = 0.0
    for bar in days:
        if bar.volume is None:
            return None
        total += bar.volume
    return total


def financials(session: Session, company: Company, period_type: str | None) -> list[Any]:
    return MarketDataRepository(session).periods(company.id, period_type)


@dataclass(frozen=True)
class BetaOptions:
    """How the market inputs' beta is estimated: against which benchmark, on which returns, over how long."""

    benchmark: str | None = None  # None: the configured benchmark (`benchmark_symbol()`)
    frequency: str = "weekly"  # daily, weekly (last close of each ISO week) or monthly
    years: int = 2


def market_inputs(session: Session, company: Company, options: BetaOptions = BetaOptions()) -> dict[str, Any]:
    """Price, regression beta (weekly over two years against the benchmark, unless `options` say
    otherwise) and the 10-year risk-free rate."""
    provider = default_provider()
    benchmark = options.benchmark or benchmark_symbol()
    current = quote(session, company)
    stock = daily_prices(session, company)
    benchmark_bars, benchmark_raw = provider.daily_prices(benchmark, full=True)
    benchmark_bars = sorted(benchmark_bars, key=lambda b: b.day)
    stock_splits, stock_splits_raw = _splits_unless_marked(provider, _ticker(company), stock.value)
    benchmark_splits, benchmark_splits_raw = _splits_unless_marked(provider, benchmark, benchmark_bars)
    treasury, treasury_raw = provider.treasury_yield("10year", "monthly")
    beta = _regression_beta(
        split_adjusted(stock.value, stock_splits),
        split_adjusted(benchmark_bars, benchmark_splits),
        frequency=options.frequency,
        years=options.years,
    )
    beta["history"] = "full" if stock.full_history and is_full_history(benchmark_raw) else LATEST_100_DAYS
    warnings = (
        []
        if beta["history"] == "full"
        else [SHORT_HISTORY_WARNING.format(observations=beta["observations"], frequency=options.frequency)]
    )
    beta_sources = stock.snapshot_ids + _ids(benchmark_raw, *stock_splits_raw, *benchmark_splits_raw)
    latest_rate = max(treasury, key=lambda p: p.day)
    return {
        "price": {
            "value": current.value.price,
            "as_of": current.value.as_of,
            "currency": company.price_currency or company.currency,
            "stale": current.stale,
            "snapshot_ids": current.snapshot_ids,
        },
        "beta": {**beta, "benchmark": benchmark, "snapshot_ids": beta_sources},
        "risk_free_rate": {
            "value": latest_rate.rate,
            "as_of": latest_rate.day,
            "series": "TREASURY_YIELD 10year monthly",
            "snapshot_ids": _ids(treasury_raw),
        },
        "warnings": warnings,
        "engine_version": water_engine.__version__,
    }


LATEST_100_DAYS = "latest_100_days"
SHORT_HISTORY_WARNING = (
    "Alpha Vantage served only the latest 100 trading days of prices on this plan, so the beta rests on "
    "{observations} {frequency} returns instead of the whole window. A premium plan (WATER_MARKET_DATA_PREMIUM=true) "
    "serves the full history."
)


def _splits_unless_marked(provider: Any, symbol: str, bars: list[PriceBar]) -> tuple[list[Split], list[RawResponse]]:
    """The symbol's splits (SPLITS, cached a day), unless its daily series marks them on their days.

    The adjusted series (premium plans) carries a split coefficient on every bar, so it needs no
    extra call; the free plan's TIME_SERIES_DAILY is as traded, so its splits come from SPLITS.
    """
    if any(bar.split_coefficient is not None for bar in bars):
        return [], []
    splits, raw = provider.splits(symbol)
    return splits, [raw]


def split_adjusted(bars: list[PriceBar], splits: Sequence[Split] = ()) -> list[tuple[date, float]]:
    """(day, close in today's shares) for bars sorted by day: each close divided by the factors of the
    splits that took effect after it.

    Without this a 2-for-1 split inside the window reads as a 50% one-week loss and wrecks the
    beta. Splits come from the series' own split coefficients (on the adjusted series, on the day
    the split takes effect) and from `splits` (SPLITS: effective dates, which may fall on a day
    without a bar). Dividends are not added back: beta is on price returns, as Bloomberg's raw
    beta, the same on every plan.
    """
    newest_first = sorted(_split_factors(bars, splits).items(), reverse=True)
    adjusted: list[tuple[date, float]] = []
    divisor, taken = 1.0, 0
    for bar in reversed(bars):
        while taken < len(newest_first) and newest_first[taken][0] > bar.day:
            divisor *= newest_first[taken][1]
            taken += 1
        adjusted.append((bar.day, bar.close / divisor))
    adjusted.reverse()
    return adjusted


def _split_factors(bars: list[PriceBar], splits: Sequence[Split]) -> dict[date, float]:
    """Effective date -> factor of every split: those given and those the bars mark (a coefficient other than 1)."""
    factors = {split.effective_date: split.factor for split in splits}
    for bar in bars:
        coefficient = bar.split_coefficient
        if coefficient is not None and coefficient > 0 and coefficient != 1.0:
            factors[bar.day] = coefficient
    return factors


def _regression_beta(
    stock: list[tuple[date, float]],
    benchmark: list[tuple[date, float]],
    *,
    frequency: str = "weekly",
    years: int = 2,
) -> dict[str, Any]:
    """OLS beta of `frequency` returns over the last `years` both series cover, on (day, close) sorted by day."""
    if not stock or not benchmark:
        raise InvalidInput("Not enough price history to estimate beta.")
    end = min(stock[-1][0], benchmark[-1][0])
    start = end - timedelta(days=365 * years + 7)

    def series(closes: list[tuple[date, float]]) -> list[list[Any]]:
        return [[day.isoformat(), close] for day, close in closes if start <= day <= end]

    try:
        result = water_engine.run(
            {
                "model": "beta_regression",
                "inputs": {"stock": series(stock), "benchmark": series(benchmark)},
                "conventions": {"frequency": frequency},
            }
        )
    except water_engine.EngineError as exc:
        # Too few common periods (a recent listing, a short history, monthly returns over a year), or
        # a price the regression cannot use: the analyst can choose another frequency or window.
        raise BetaNotComputable(
            f"The beta cannot be estimated from these prices ({frequency} returns over {years} "
            f"year{'' if years == 1 else 's'}): {exc}. "
            "Try a higher frequency or a longer window."
        ) from exc
    out = result["outputs"]
    return {
        "value": out["beta"],
        "r_squared": out["r_squared"],
        "standard_error": out["standard_error"],
        "t_statistic": out.get("t_statistic"),
        "observations": out["observations"],
        "frequency": frequency,
        "years": years,
        "returns": "price returns, split-adjusted",
        "from": start,
        "to": end,
    }


# --- refresh ------------------------------------------------------------------------------------


class RefreshOutdated(Exception):
    """What the refresh fetched no longer fits the company (its ticker changed, or its imported
    statements were deleted, while it fetched): nothing is stored, and the job is retried."""


def refresh_company(session: Session, company: Company, *, deadline: float) -> dict[str, Any]:
    """Fetch every dataset of a company (cache first), store snapshots, datasets and normalized financials.

    The nine responses are fetched as one batch (`Gateway.fetch_many`: one cache read, the
    misses through the shared limiter, their snapshots stored in one transaction). A dataset
    whose snapshots are exactly the ones it already points at was parsed (and, for statements,
    mapped into the stored periods) when that pointer was written, in the same transaction:
    it is not parsed again. Statements imported by an analyst are kept, never replaced.

    Raises RateLimited when the burst limit stops it; already fetched datasets are stored and
    cached, so the retried task picks up where this one stopped. Raises RefreshOutdated when the
    ticker changed, or the imported statements were deleted, while it fetched (the company row is
    locked before anything is written).
    """
    provider = default_provider()
    repo = MarketDataRepository(session)
    symbol = _ticker(company)
    if time.monotonic() > deadline:
        raise RateLimited("Refresh paused to stay within the task time limit.", scope="burst", retry_after=1)
    # An analyst's imported statements stand: a refresh never replaces them, so it does not fetch the
    # provider's fundamentals either (a fund, or a ticker the provider has none for, would fail on them).
    statements_imported = "import" in repo.period_sources(company.id)
    raws, provider_calls = _fetch_company(provider, symbol, deadline, fundamentals=not statements_imported)
    by_function = {r.request.function: r for r in raws}
    replay = provider.replaying(raws)
    statement_raws = [by_function[f] for f in STATEMENT_FUNCTIONS if f in by_function]
    responses: dict[str, list[RawResponse]] = {
        "overview": [by_function["OVERVIEW"]],
        "quote": [by_function["GLOBAL_QUOTE"]],
        "daily_prices": [r for r in raws if r.request.function.startswith("TIME_SERIES_DAILY")],
        **({"statements": statement_raws} if statement_raws else {}),
        **({"earnings": [by_function["EARNINGS"]]} if "EARNINGS" in by_function else {}),
        "dividends": [by_function["DIVIDENDS"]],
        "splits": [by_function["SPLITS"]],
    }
    if repo.lock_company(company.id) != symbol:
        raise RefreshOutdated(f"The company's ticker changed from {symbol} while its refresh ran; refreshing again.")
    current = repo.dataset_pointers(company.id)
    period_sources = repo.period_sources(company.id)
    imported_statements_kept = "import" in period_sources
    if statements_imported and not imported_statements_kept:
        raise RefreshOutdated("The company's imported statements were deleted while its refresh ran; refreshing again.")
    unchanged = [
        dataset
        for dataset in responses
        if dataset not in ALWAYS_PARSED
        and [str(i) for i in current.get(dataset, ())] == _ids(*responses[dataset])
        and (dataset != "statements" or period_sources == {"provider"})
    ]
    price_currency = company.price_currency
    for dataset in responses:
        if dataset in unchanged:
            continue
        if dataset == "statements":
            if not imported_statements_kept:  # an import that landed while this refresh fetched stands too
                periods, _ = replay.statements(symbol)
                _store_statements(repo, company, periods, statement_raws)
        elif dataset == "overview":
            profile, _ = replay.company_profile(symbol)
            price_currency = (profile.currency or price_currency or company.currency).upper()
        elif dataset == "daily_prices":
            full = is_full_history(responses["daily_prices"][0])
            replay.check_daily_prices(symbol, full=full)  # the bars are built by the reads that use them
        else:
            {
                "quote": replay.quote,
                "earnings": replay.earnings,
                "dividends": replay.dividends,
                "splits": replay.splits,
            }[dataset](symbol)
    repo.record_datasets(company, {d: (_ids(*rs), _latest(*rs)) for d, rs in responses.items()}, current=current)
    repo.record_refresh(company, price_currency, datetime.now(UTC))
    return {
        "company_id": str(company.id),
        "symbol": symbol,
        "datasets": list(responses),
        "provider_calls": provider_calls,
        "unchanged": unchanged,
        "imported_statements_kept": imported_statements_kept,
    }


def _fetch_company(
    provider: Any, symbol: str, deadline: float, *, fundamentals: bool = True
) -> tuple[list[RawResponse], int]:
    """The refresh's nine responses (five without the `fundamentals`) and the provider calls they took.

    Alpha Vantage has at times served TIME_SERIES_DAILY's full history to premium plans only; then
    the refresh goes on with the latest 100 days. A refusal is remembered for a day (see
    `cache.refused`), so only the first refresh after it asks for the full history in vain.
    """
    gateway = default_gateway()

    def batch(full_history: bool) -> list[ProviderRequest]:
        requests = provider.company_requests(symbol, full_history=full_history)
        return requests if fundamentals else [r for r in requests if r.function not in FUNDAMENTAL_FUNCTIONS]

    full_history = cache.refused(provider.daily_request(symbol, full=True)) is None
    started = datetime.now(UTC)
    try:
        raws = gateway.fetch_many(batch(full_history), deadline=deadline)
        return raws, sum(1 for r in raws if not r.from_cache)
    except PremiumEndpoint:
        if not full_history:
            raise  # something else is premium-only: the refusal stands
    # The rest of the batch is stored and cached by now, so this costs the compact series' one call.
    raws = gateway.fetch_many(batch(False), deadline=deadline)
    # The first batch's calls are cache hits now: count what was fetched since the refresh began, and
    # the call that was refused.
    return raws, 1 + sum(1 for r in raws if not r.from_cache or r.fetched_at >= started)


def _store_statements(
    repo: MarketDataRepository, company: Company, periods: list[StatementPeriod], raws: list[RawResponse]
) -> None:
    snapshot_of = {r.request.function: r.snapshot_id for r in raws}
    quarterlies = sorted(
        (p for p in periods if p.period_type == PeriodType.quarterly), key=lambda p: p.fiscal_date_ending
    )
    ttm = trailing_twelve_months(quarterlies)
    rows = [_period_row(p, snapshot_of) for p in [*periods, *([ttm] if ttm else [])]]
    repo.replace_periods(company, "provider", rows)


def _period_row(period: StatementPeriod, snapshot_of: dict[str, str | None]) -> dict[str, Any]:
    def snapshot_for(source: str) -> str | None:
        for function, snapshot_id in snapshot_of.items():
            if function in source:
                return snapshot_id
        return None

    figures = {
        line: {"value": f.value, "source": f.source, "snapshot_id": f.snapshot_id or snapshot_for(f.source)}
        for line, f in period.figures.items()
    }
    return {
        "period_type": period.period_type.value,
        "fiscal_date_ending": period.fiscal_date_ending,
        "currency": period.currency,
        "figures": figures,
    }


# --- private companies: statement import -----------------------------------------------------


def import_statements(
    session: Session, principal: Principal, company: Company, filename: str, content: bytes
) -> StatementImport:
    """Validate the whole file first; store its periods only if every check passes."""
    from .imports import parse_statement_import

    result = parse_statement_import(filename, content)
    record = StatementImport(
        id=uuid.uuid4(),
        organization_id=company.organization_id,
        company_id=company.id,
        filename=filename[:255],
        content_hash=hashlib.sha256(content).hexdigest(),
        size_bytes=len(content),
        periods=len(result.periods),
        warnings=[w.to_dict() for w in result.warnings],
        created_by_id=principal.user_id,
    )
    repo = MarketDataRepository(session)
    repo.add_import(record)
    session.flush()
    rows = [_period_row(p, {}) for p in result.periods]
    quarterlies = sorted(
        (p for p in result.periods if p.period_type == PeriodType.quarterly), key=lambda p: p.fiscal_date_ending
    )
    ttm = trailing_twelve_months(quarterlies)
    if ttm is not None:
        rows.append(_period_row(ttm, {}))
    repo.replace_periods(company, "import", rows, import_id=record.id)
    audit.record(
        session, principal, action="company.statements_import", object_type="company", object_id=company.id,
        after={"import_id": str(record.id), "filename": record.filename, "periods": record.periods},
    )  # fmt: skip
    return record


def delete_imported_statements(session: Session, principal: Principal, company: Company) -> int:
    """Delete the company's imported statements; how many periods that removed (0: it had none).

    A listed company's next refresh then stores the provider's statements again.
    """
    removed = MarketDataRepository(session).delete_imported_periods(company)
    if removed:
        audit.record(
            session, principal, action="company.statements_import_delete", object_type="company",
            object_id=company.id, after={"removed_periods": removed},
        )  # fmt: skip
    return removed


# --- helpers -------------------------------------------------------------------------------------


def _remember(company: Company, dataset: str, raw: RawResponse) -> None:
    """Point the company's dataset at the snapshot a read used, in a short transaction of its own.

    Reads must not hold the pointer row's lock for the rest of their request: concurrent
    readers of one company would queue behind each other.
    """
    key, pointer = (company.id, dataset), (tuple(_ids(raw)), raw.fetched_at)
    if _REMEMBERED.get(key) == pointer:
        return  # this process already recorded exactly this pointer: a cache hit costs no database write
    with side_session() as own:
        MarketDataRepository(own).record_dataset(company, dataset, list(pointer[0]), raw.fetched_at)
        own.commit()
    if len(_REMEMBERED) > 10_000:
        _REMEMBERED.clear()
    _REMEMBERED[key] = pointer


_REMEMBERED: dict[tuple[uuid.UUID, str], tuple[tuple[str, ...], datetime]] = {}


def queue_refresh(session: Session, principal: Principal, company_id: uuid.UUID) -> JobRead:
    """Queue a refresh of a listed company (sent to a worker when the caller commits); 404 for a company
    the organization does not have, 422 for a private one (it has nothing to fetch)."""
    from .tasks import refresh_company_task

    job = jobs.create_job_for_listed_company(
        session, principal, "market_data.refresh", company_id, refresh_company_task
    )
    if job is None:
        _ticker(companies.get_company(session, principal, company_id))  # says which: NotFound or InvalidInput
        raise NotFound("No such company.")  # deleted in between
    return JobRead.model_validate(job)


def _ticker(company: Company) -> str:
    if not company.ticker or company.is_private:
        raise InvalidInput("This company has no ticker; market data exists only for listed companies.")
    return company.ticker


def _replay_quote(session: Session, company: Company) -> Sourced | None:
    """The last stored quote, parsed again from its snapshot (no provider call)."""
    from .providers.alphavantage import AlphaVantageProvider

    repo = MarketDataRepository(session)
    pointer = repo.dataset(company.id, "quote")
    if pointer is None:
        return None
    stored = {s.function: s for s in repo.snapshots(pointer.snapshot_ids)}

    def fetch(request: ProviderRequest) -> RawResponse:
        snapshot = stored.get(request.function)
        if snapshot is None:
            raise MarketDataError("The stored market data does not cover this request.")
        return RawResponse(request, snapshot.body, snapshot.content_type, snapshot.fetched_at, True, str(snapshot.id))

    result, raw = AlphaVantageProvider(fetch).quote(_ticker(company))
    return Sourced(result, _ids(raw), raw.fetched_at, stale=True)


def today() -> date:
    return datetime.now(UTC).date()

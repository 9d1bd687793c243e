"""Market data: symbol search, company from symbol, quote, prices, financials, market inputs, refresh, import.

The quote and financials reads are async handlers whose common case is one SELECT awaited in the
event loop and a body rendered once and kept (docs/market-data.md); the other reads run their
database work, commit and ETag body in one thread-pool hop (`run_in_transaction`), as the
companies endpoints do.
"""

from __future__ import annotations

import functools
import re
import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, File, Query, Request, Response, UploadFile, status
from sqlalchemy.orm import Session

from ..auth.dependencies import DbSession, Reader, Writer
from ..auth.principal import Principal
from ..companies import service as companies
from ..companies.schemas import CompanyRead
from ..config import get_settings
from ..db import reads
from ..db.session import run_in_new_session, run_in_transaction
from ..errors import InvalidInput, NotFound, WaterError
from ..jobs.schemas import JobRead
from ..kit.etag import Rendered, RenderedBodies, etag_json, render_json, respond
from ..middleware import RouteBodyLimit
from . import cache, nightly, service
from . import repository as market_repository
from .gateway import cache_lookups, default_gateway, default_provider
from .providers.alphavantage import parse_quote
from .providers.base import Quote, RawResponse
from .schemas import (
    CompanyFromSymbol,
    FinancialsRead,
    ImportedStatementsDeleted,
    PriceBarRead,
    PricesRead,
    QuotaRead,
    QuoteRead,
    SplitRead,
    StatementImportRead,
    SymbolMatchRead,
)

router = APIRouter(tags=["market data"])
Interval = Literal["daily", "weekly", "monthly"]
PeriodType = Literal["annual", "quarterly", "ttm"]
MAX_IMPORT_BYTES = 2_000_000  # per imported file, as `imports.MAX_BYTES` (docs/market-data.md)
# The import route's own body allowance (the app-wide `max_body_bytes` is 1 MiB): the file plus its
# multipart envelope (boundaries, part headers, the file name). A larger body is refused before it is
# read, with the import's documented `file_too_large` rejection rather than the generic 413.
IMPORT_ENVELOPE_BYTES = 64 * 1024
IMPORT_BODY_LIMIT = RouteBodyLimit(
    pattern=re.compile(r"^/api/companies/[^/]+/statements/import$"),
    max_bytes=MAX_IMPORT_BYTES + IMPORT_ENVELOPE_BYTES,
    reject=lambda declared: _file_too_large(declared),
)


def _file_too_large(size: int | None) -> WaterError:
    from .imports import file_too_large  # the import package (openpyxl) loads on first use

    return file_too_large(size)


@router.get("/symbols/search", response_model=list[SymbolMatchRead])
def search_symbols(
    principal: Reader, request: Request, q: Annotated[str, Query(min_length=1, max_length=60)]
) -> Response:
    """Search listed symbols by ticker or name (with an ETag; If-None-Match answers 304)."""
    return etag_json(request, [SymbolMatchRead(**m.__dict__) for m in service.search_symbols(q)])


@router.post("/companies/from-symbol", status_code=status.HTTP_201_CREATED, response_model=CompanyRead)
def create_company_from_symbol(data: CompanyFromSymbol, principal: Writer, session: DbSession) -> CompanyRead:
    """Add a listed company from a symbol; its overview fills name, exchange, currency, sector and identifiers."""
    return CompanyRead.model_validate(service.create_company_from_symbol(session, principal, data.symbol))


@router.get("/companies/{company_id}/quote", response_model=QuoteRead)
async def get_quote(company_id: uuid.UUID, principal: Reader, request: Request) -> Response:
    """The latest price (cached for minutes; the last stored one, marked stale, if the provider is unavailable)."""
    subject = await market_repository.read_quote_subject(principal.organization_id, company_id)
    if subject is None:
        raise NotFound("No such company.")
    fresh = await _fresh_quote(subject, request)
    if fresh is not None:
        return fresh
    key, rendered = await run_in_new_session(_quote, principal, company_id)
    if key is not None:
        _quote_bodies().put(key, rendered)  # what `_fresh_quote` will look up for this pointer
    return respond(request, rendered)


async def _fresh_quote(subject: reads.Row, request: Request) -> Response | None:
    """The quote the company's pointer names, when that was fetched within the quote TTL; else None.

    The common case, a quote read again within minutes, is then the one SELECT that found the
    company (its pointer joined in), awaited in the event loop: no thread-pool hop, no transaction,
    no Redis. The body is rendered once per process per snapshot (from the immutable snapshot, if
    it is the current ticker's) and kept. The pointer's `fetched_at` only lags the raw cache's (a
    refresh that got the same bytes leaves it), so this path can miss a fresh quote, never serve a
    stale one. Anything else takes the full path: no pointer or an old one (fetch through the cache
    and the limiter, record the pointer), a private company (a 422 there).
    """
    ids, fetched_at = subject["quote_snapshot_ids"], subject["quote_fetched_at"]
    if not subject["ticker"] or subject["is_private"] or not ids or len(ids) != 1 or fetched_at is None:
        return None
    if (datetime.now(UTC) - fetched_at).total_seconds() >= cache.ttl_for("GLOBAL_QUOTE"):
        return None
    currency = subject["price_currency"] or subject["currency"]
    key: QuoteKey = (ids[0], fetched_at, currency, subject["ticker"])
    bodies = _quote_bodies()
    rendered = bodies.get(key)
    if rendered is None:
        request_ = default_provider().quote_request(subject["ticker"])
        snapshot = await market_repository.read_snapshot_body(ids[0])
        if snapshot is None or snapshot["symbol"] != request_.symbol:
            return None  # the ticker changed since the pointer was written: fetch the new one
        raw = RawResponse(
            request=request_, body=bytes(snapshot["body"]), content_type=snapshot["content_type"],
            fetched_at=fetched_at, from_cache=True, snapshot_id=str(ids[0]),
        )  # fmt: skip
        sourced = service.Sourced(parse_quote(raw), [str(ids[0])], fetched_at)
        rendered = render_json(_quote_read(sourced, currency))
        bodies.put(key, rendered)
    cache_lookups.labels("GLOBAL_QUOTE", "hit").inc()
    return respond(request, rendered)


# A rendered quote is determined by its snapshot, when it was fetched and the price currency; the
# ticker is in the key too, so that a body is only found for the ticker whose snapshot it was
# rendered from (a pointer still names the old ticker's quote right after the ticker is changed).
QuoteKey = tuple[uuid.UUID, datetime, str, str]


@functools.cache
def _quote_bodies() -> RenderedBodies:
    return RenderedBodies(4 * 1_048_576)  # ~300 bytes a quote: thousands of companies


def _quote(session: Session, principal: Principal, company_id: uuid.UUID) -> tuple[QuoteKey | None, Rendered]:
    """The full path: the quote through the cache and the limiter, the pointer recorded. Returns the
    rendered body and, unless it is a stale replay, its key in `_quote_bodies`."""
    company = companies.get_company(session, principal, company_id)
    sourced = service.quote(session, company)
    currency = company.price_currency or company.currency
    rendered = render_json(_quote_read(sourced, currency))
    if sourced.stale or len(sourced.snapshot_ids) != 1:
        return None, rendered
    return (uuid.UUID(sourced.snapshot_ids[0]), sourced.fetched_at, currency, company.ticker or ""), rendered


def _quote_read(sourced: service.Sourced, currency: str) -> QuoteRead:
    q: Quote = sourced.value
    return QuoteRead(
        symbol=q.symbol, price=q.price, as_of=q.as_of, previous_close=q.previous_close, change_percent=q.change_percent,
        volume=q.volume, currency=currency, fetched_at=sourced.fetched_at, stale=sourced.stale,
        snapshot_ids=sourced.snapshot_ids,
    )  # fmt: skip


@router.get("/companies/{company_id}/prices", response_model=PricesRead)
async def get_prices(
    company_id: uuid.UUID,
    principal: Reader,
    session: DbSession,
    request: Request,
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: date | None = None,
    interval: Interval = "daily",
) -> Response:
    """Daily closes (adjusted where the plan has them), optionally resampled to weeks or months."""
    if from_ and to and from_ > to:
        raise InvalidInput(
            "`from` must not be after `to`.", errors=[{"loc": ["query", "from"], "msg": "after `to`", "type": "range"}]
        )
    return await run_in_transaction(session, _prices, session, principal, company_id, request, from_, to, interval)


def _prices(
    session: Session,
    principal: Principal,
    company_id: uuid.UUID,
    request: Request,
    from_: date | None,
    to: date | None,
    interval: Interval,
) -> Response:
    company = companies.get_company(session, principal, company_id)
    sourced = service.daily_prices(session, company)
    adjustment = service.split_adjustment(company, sourced.value)
    split_close = adjustment.closes or {}
    bars = [b for b in sourced.value if (from_ is None or b.day >= from_) and (to is None or b.day <= to)]
    payload = PricesRead(
        symbol=company.ticker or "", interval=interval, currency=company.price_currency or company.currency,
        bars=[
            PriceBarRead(day=b.day, close=b.close, adjusted_close=b.adjusted_close, split_adjusted_close=split_close.get(b.day), volume=b.volume)
            for b in service.resample(bars, interval)
        ],
        snapshot_ids=sourced.snapshot_ids + adjustment.snapshot_ids, fetched_at=sourced.fetched_at,
        history="full" if sourced.full_history else service.LATEST_100_DAYS,
        splits=[SplitRead(effective_date=s.effective_date, factor=s.factor) for s in adjustment.splits],
        warnings=[adjustment.warning] if adjustment.warning else [],
    )  # fmt: skip
    return etag_json(request, payload)


@router.get("/companies/{company_id}/financials", response_model=FinancialsRead)
async def get_financials(
    company_id: uuid.UUID, principal: Reader, request: Request, period_type: PeriodType | None = None
) -> Response:
    """Normalized statements (annual, quarterly, trailing twelve months); every figure names its source.

    Single-statement reads awaited in the event loop (the company, then its periods), no
    transaction: each period row is written whole by one refresh or import, and the response
    carries the snapshot of every figure. The rendered body is kept in memory under the company's
    financials revision (bumped in the commit that replaces its periods), so a read after the
    first is the company SELECT alone.
    """
    company = await market_repository.read_financials_subject(principal.organization_id, company_id)
    if company is None:
        raise NotFound("No such company.")
    price_currency = company["price_currency"] or company["currency"]
    key = (company_id, company["financials_revision"], period_type, price_currency)
    bodies = _financials_bodies()
    rendered = bodies.get(key)
    if rendered is None:
        rows = await market_repository.read_periods(company_id, period_type)
        payload = FinancialsRead.model_validate(
            {
                "company_id": company_id,
                "statement_currency": rows[0]["currency"] if rows else None,
                "price_currency": price_currency,
                "periods": rows,
            }
        )
        rendered = render_json(payload)
        # Periods committed after the revision was read may be in this body: it is then newer than its
        # key, never older, and readers that see the newer revision render it again under that key.
        bodies.put(key, rendered)
    return respond(request, rendered)


@functools.cache
def _financials_bodies() -> RenderedBodies:
    return RenderedBodies(get_settings().financials_cache_mb * 1_048_576)


@router.get("/companies/{company_id}/market-inputs")
async def get_market_inputs(
    company_id: uuid.UUID,
    principal: Reader,
    session: DbSession,
    request: Request,
    benchmark: Annotated[str | None, Query(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9.\-]+$")] = None,
    frequency: Interval = "weekly",
    years: Annotated[int, Query(ge=1, le=10)] = 2,
) -> Response:
    """Price, regression beta against the benchmark (with R² and standard error) and the risk-free rate, with as-of dates.

    The beta's benchmark (default: the configured one, SPY), return frequency and window in years
    can be chosen per request.
    """
    options = service.BetaOptions(benchmark=benchmark.upper() if benchmark else None, frequency=frequency, years=years)
    return await run_in_transaction(session, _market_inputs, session, principal, company_id, request, options)


def _market_inputs(
    session: Session, principal: Principal, company_id: uuid.UUID, request: Request, options: service.BetaOptions
) -> Response:
    company = companies.get_company(session, principal, company_id)
    return etag_json(request, service.market_inputs(session, company, options))


@router.post("/companies/{company_id}/refresh", status_code=status.HTTP_202_ACCEPTED, response_model=JobRead)
async def refresh_company(company_id: uuid.UUID, principal: Writer, session: DbSession, response: Response) -> JobRead:
    """Fetch the company's market data again on a worker; poll the returned job."""
    # One thread-pool hop: the job's insert (with the company check), the commit, then the send.
    job = await run_in_transaction(session, service.queue_refresh, session, principal, company_id)
    response.headers["Location"] = f"/api/jobs/{job.id}"
    return job


@router.get("/market-data/quota", response_model=QuotaRead)
def get_quota(principal: Reader, session: DbSession) -> QuotaRead:
    """The provider plan and the calls left today (shared by every Water process), and the organization's
    last nightly refresh (what it queued and what it skipped, and why)."""
    gateway = default_gateway()
    state = gateway.limiter.state()
    last = nightly.latest_run(session, principal)
    return QuotaRead(
        provider=gateway.provider, requests_per_second=state.plan.requests_per_second, burst=state.plan.burst,
        daily_budget=state.plan.daily_budget if state.plan.daily_budget >= 0 else None,
        used_today=state.used_today, remaining_today=state.remaining_today, resets_at=state.resets_at,
        exhausted_by_provider=state.exhausted_by_provider,
        last_nightly_run=JobRead.model_validate(last) if last is not None else None,
    )  # fmt: skip


@router.get("/market-data/import-template.{extension}", response_class=Response)
def get_import_template(extension: Literal["csv", "xlsx"], principal: Reader) -> Response:
    """The statement import template for private companies (CSV or XLSX), with instructions."""
    from .imports import template_csv, template_xlsx

    if extension == "csv":
        return Response(
            template_csv(),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="water-statements-template.csv"'},
        )
    return Response(
        template_xlsx(),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": 'attachment; filename="water-statements-template.xlsx"'},
    )


@router.post(
    "/companies/{company_id}/statements/import", status_code=status.HTTP_201_CREATED, response_model=StatementImportRead
)
def import_statements(
    company_id: uuid.UUID,
    principal: Writer,
    session: DbSession,
    file: Annotated[UploadFile, File(description="CSV (UTF-8) or XLSX")],
) -> StatementImportRead:
    """Import a company's statements from the template; all or nothing, with row/column errors.

    For a private company, its financials; for a listed one, the analyst's figures in place of the
    provider's, which refreshes then keep until they are deleted (DELETE on this path)."""
    company = companies.get_company(session, principal, company_id)
    content = file.file.read(MAX_IMPORT_BYTES + 1)
    if len(content) > MAX_IMPORT_BYTES:
        raise _file_too_large(file.size)
    record = service.import_statements(session, principal, company, file.filename or "upload", content)
    return StatementImportRead.model_validate(record)


@router.delete("/companies/{company_id}/statements/import", response_model=ImportedStatementsDeleted)
def delete_imported_statements(
    company_id: uuid.UUID, principal: Writer, session: DbSession
) -> ImportedStatementsDeleted:
    """Delete the company's imported statements (a refresh never replaces them); a listed company's
    next refresh stores the provider's statements again."""
    company = companies.get_company(session, principal, company_id)
    removed = service.delete_imported_statements(session, principal, company)
    return ImportedStatementsDeleted(company_id=company.id, removed_periods=removed)

"""Company use cases: create, read, update, soft-delete; every write is audited."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..audit import service as audit
from ..auth.principal import Principal
from ..errors import Conflict, NotFound
from ..kit.schemas import Page
from ..models import Company
from .repository import CompanyRepository, read_live
from .schemas import CompanyCreate, CompanyRead, CompanySort, CompanyUpdate

AUDITED = ("name", "ticker", "is_private", "currency", "exchange", "country", "sector", "industry", "identifiers")


def _snapshot(company: Company) -> dict[str, Any]:
    return {field: getattr(company, field) for field in AUDITED}


def _ticker_conflict(ticker: str) -> Conflict:
    return Conflict(f"A company with ticker {ticker} already exists in your organization.", code="ticker_taken")


def create_company(session: Session, principal: Principal, data: CompanyCreate) -> Company:
    repo = CompanyRepository(session)
    if data.ticker and repo.ticker_taken(principal.organization_id, data.ticker):
        raise _ticker_conflict(data.ticker)
    company = Company(
        id=uuid.uuid4(), organization_id=principal.organization_id, created_by_id=principal.user_id, **data.model_dump()
    )
    repo.add(company)
    _flush_or_conflict(session, data.ticker)
    audit.record(
        session,
        principal,
        action="company.create",
        object_type="company",
        object_id=company.id,
        after=_snapshot(company),
    )
    return company


def get_company(session: Session, principal: Principal, company_id: uuid.UUID) -> Company:
    company = CompanyRepository(session).get(principal.organization_id, company_id)
    if company is None:
        raise NotFound("No such company.")
    return company


async def read_company(principal: Principal, company_id: uuid.UUID) -> CompanyRead:
    row = await read_live(principal.organization_id, company_id)
    if row is None:
        raise NotFound("No such company.")
    return CompanyRead.model_validate(row)


def list_companies(
    session: Session, principal: Principal, q: str | None, sort: CompanySort, cursor: str | None, limit: int
) -> Page[CompanyRead]:
    rows, next_cursor = CompanyRepository(session).list(
        principal.organization_id, q=q, sort=sort.value, cursor=cursor, limit=limit
    )
    return Page(items=[CompanyRead.model_validate(r) for r in rows], next_cursor=next_cursor)


def create_company_read(session: Session, principal: Principal, data: CompanyCreate) -> CompanyRead:
    return CompanyRead.model_validate(create_company(session, principal, data))


def update_company_read(
    session: Session, principal: Principal, company_id: uuid.UUID, data: CompanyUpdate
) -> CompanyRead:
    return CompanyRead.model_validate(update_company(session, principal, company_id, data))


def update_company(session: Session, principal: Principal, company_id: uuid.UUID, data: CompanyUpdate) -> Company:
    repo = CompanyRepository(session)
    company = get_company(session, principal, company_id)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("name") is None:
        changes.pop("name", None)
    if changes.get("currency") is None:
        changes.pop("currency", None)
    if "identifiers" in changes and changes["identifiers"] is None:
        changes["identifiers"] = {}  # null clears them (the column holds an object, never JSON null)
    ticker = changes.get("ticker")
    if (
        ticker
        and ticker != company.ticker
        and repo.ticker_taken(principal.organization_id, ticker, excluding=company.id)
    ):
        raise _ticker_conflict(ticker)
    before = _snapshot(company)
    ticker_changed = "ticker" in changes and changes["ticker"] != company.ticker
    for field, value in changes.items():
        setattr(company, field, value)
    if not company.is_private and not company.ticker:
        raise Conflict("A listed company must keep a ticker.", code="ticker_required")
    if ticker_changed and not company.is_private:
        # The old ticker's statements must not meet the new ticker's price in a valuation.
        repo.forget_provider_data(company)
    _flush_or_conflict(session, ticker)
    after = _snapshot(company)
    if after != before:
        audit.record(
            session,
            principal,
            action="company.update",
            object_type="company",
            object_id=company.id,
            before=before,
            after=after,
        )
    return company


def delete_company(session: Session, principal: Principal, company_id: uuid.UUID) -> None:
    company = get_company(session, principal, company_id)
    company.deleted_at = datetime.now(UTC)
    audit.record(
        session,
        principal,
        action="company.delete",
        object_type="company",
        object_id=company.id,
        before=_snapshot(company),
    )


def _flush_or_conflict(session: Session, ticker: str | None) -> None:
    """The partial unique index is the last word when two requests race for one ticker."""
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise _ticker_conflict(ticker or "") from exc

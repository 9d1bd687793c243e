"""Companies endpoints.

Async handlers. Reading one company is a single statement awaited in the event loop
(`water.db.reads`); the others run their database work, commit included, in one thread-pool hop
(`run_in_transaction`), building the read schema inside that hop while the rows are loaded.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from ..auth.dependencies import DbSession, Reader, Writer
from ..db.session import run_in_transaction
from ..kit.pagination import MAX_LIMIT
from ..kit.schemas import Page
from . import service
from .schemas import CompanyCreate, CompanyRead, CompanySort, CompanyUpdate

router = APIRouter(prefix="/companies", tags=["companies"])


@router.get("", response_model=Page[CompanyRead])
async def list_companies(
    principal: Reader,
    session: DbSession,
    q: Annotated[str | None, Query(max_length=100, description="Search name or ticker")] = None,
    sort: CompanySort = CompanySort.name,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> Page[CompanyRead]:
    """List covered companies, searchable and sortable, a page at a time."""
    return await run_in_transaction(session, service.list_companies, session, principal, q, sort, cursor, limit)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CompanyRead)
async def create_company(data: CompanyCreate, principal: Writer, session: DbSession) -> CompanyRead:
    """Add a listed (ticker) or private company to the organization's coverage."""
    return await run_in_transaction(session, service.create_company_read, session, principal, data)


@router.get("/{company_id}", response_model=CompanyRead)
async def get_company(company_id: uuid.UUID, principal: Reader) -> Response:
    """One company."""
    company = await service.read_company(principal, company_id)
    # Already validated: serialise it once, without FastAPI validating it again against response_model.
    return Response(company.model_dump_json(), media_type="application/json")


@router.patch("/{company_id}", response_model=CompanyRead)
async def update_company(
    company_id: uuid.UUID, data: CompanyUpdate, principal: Writer, session: DbSession
) -> CompanyRead:
    """Change a company's details."""
    return await run_in_transaction(session, service.update_company_read, session, principal, company_id, data)


@router.delete("/{company_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_company(company_id: uuid.UUID, principal: Writer, session: DbSession) -> Response:
    """Remove a company from coverage (soft delete; its history stays in the audit log)."""
    await run_in_transaction(session, service.delete_company, session, principal, company_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

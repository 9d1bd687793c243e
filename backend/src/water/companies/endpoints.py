from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from ..auth.dependencies import DbSession, Reader, Writer
from ..kit.pagination import MAX_LIMIT
from ..kit.schemas import Page
from . import service
from .repository import CompanyRepository
from .schemas import CompanyCreate, CompanyRead, CompanySort, CompanyUpdate

router = APIRouter(prefix="/companies", tags=["companies"])


@router.get("", response_model=Page[CompanyRead])
def list_companies(
    principal: Reader,
    session: DbSession,
    q: Annotated[str | None, Query(max_length=100, description="Search name or ticker")] = None,
    sort: CompanySort = CompanySort.name,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> Page[CompanyRead]:
    """List covered companies, searchable and sortable, a page at a time."""
    rows, next_cursor = CompanyRepository(session).list(
        principal.organization_id, q=q, sort=sort.value, cursor=cursor, limit=limit
    )
    return Page(items=[CompanyRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CompanyRead)
def create_company(data: CompanyCreate, principal: Writer, session: DbSession) -> CompanyRead:
    """Add a listed (ticker) or private company to the organization's coverage."""
    return CompanyRead.model_validate(service.create_company(session, principal, data))


@router.get("/{company_id}", response_model=CompanyRead)
def get_company(company_id: uuid.UUID, principal: Reader, session: DbSession) -> CompanyRead:
    """One company."""
    return service.read_company(session, principal, company_id)


@router.patch("/{company_id}", response_model=CompanyRead)
def update_company(company_id: uuid.UUID, data: CompanyUpdate, principal: Writer, session: DbSession) -> CompanyRead:
    """Change a company's details."""
    return CompanyRead.model_validate(service.update_company(session, principal, company_id, data))


@router.delete("/{company_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_company(company_id: uuid.UUID, principal: Writer, session: DbSession) -> Response:
    """Remove a company from coverage (soft delete; its history stays in the audit log)."""
    service.delete_company(session, principal, company_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

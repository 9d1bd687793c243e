from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from ..auth.dependencies import Admin, DbSession
from ..kit.pagination import MAX_LIMIT
from ..kit.schemas import Page
from .repository import AuditEventRepository
from .schemas import AuditEventRead

router = APIRouter(prefix="/audit-events", tags=["audit"])


@router.get("", response_model=Page[AuditEventRead])
def list_audit_events(
    principal: Admin,
    session: DbSession,
    object_id: uuid.UUID | None = None,
    action: Annotated[str | None, Query(max_length=80)] = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> Page[AuditEventRead]:
    """List the organization's audit events, newest first (admins only)."""
    rows, next_cursor = AuditEventRepository(session).list(
        principal.organization_id, object_id=object_id, action=action, cursor=cursor, limit=limit
    )
    return Page(items=[AuditEventRead.model_validate(r) for r in rows], next_cursor=next_cursor)

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..kit.pagination import SortSpec, paginate, split_page
from ..models import AuditEvent

SORT = SortSpec(AuditEvent.at, lambda e: e.at, datetime)


class AuditEventRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def list(
        self,
        organization_id: uuid.UUID,
        *,
        object_id: uuid.UUID | None,
        action: str | None,
        cursor: str | None,
        limit: int,
    ) -> tuple[list[AuditEvent], str | None]:
        query = select(AuditEvent).where(AuditEvent.organization_id == organization_id)
        if object_id is not None:
            query = query.where(AuditEvent.object_id == object_id)
        if action:
            query = query.where(AuditEvent.action == action)
        query = paginate(query, sort="-at", spec=SORT, id_column=AuditEvent.id, cursor=cursor, limit=limit)
        rows = list(self.session.scalars(query))
        return split_page(rows, limit, "-at", SORT)

"""Recording audit events: every write records who did what, with before and after."""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from sqlalchemy.orm import Session

from ..auth.principal import Principal
from ..models import AuditEvent


def record(
    session: Session,
    principal: Principal,
    *,
    action: str,
    object_type: str,
    object_id: uuid.UUID | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    event = AuditEvent(
        organization_id=principal.organization_id,
        actor_user_id=principal.user_id,
        actor_api_key_id=principal.api_key_id,
        action=action,
        object_type=object_type,
        object_id=object_id,
        before=before,
        after=after,
        request_id=request_id,
    )
    session.add(event)
    return event

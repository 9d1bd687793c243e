"""Run state changes: a persisted event log (for replay) published on Redis pub/sub (for live streams)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from ..db.session import after_commit
from ..models import RunEvent
from ..redis_client import get_redis


def channel(organization_id: uuid.UUID | str) -> str:
    return f"water:events:{organization_id}"


def append(
    session: Session, organization_id: uuid.UUID, run_id: uuid.UUID, event_type: str, data: dict[str, Any]
) -> None:
    """Write the event in the caller's transaction; publish it once that transaction commits.

    Event ids come from a sequence, so without care a transaction could commit id 11 before
    another commits id 10, and a stream that already sent 11 would never send 10. An advisory
    lock per organization, held until commit, makes each organization's events commit in id
    order, which is the order streams replay them in.
    """
    session.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"water-events:{organization_id}"))))
    event_id = session.execute(
        insert(RunEvent)
        .values(organization_id=organization_id, run_id=run_id, type=event_type, data=data)
        .returning(RunEvent.id)
    ).scalar_one()
    after_commit(session, lambda: publish(organization_id, event_id, event_type, run_id, data))


def publish(
    organization_id: uuid.UUID, event_id: int, event_type: str, run_id: uuid.UUID, data: dict[str, Any]
) -> None:
    """Tell live streams about a committed event (they replay the log from their last id on every message)."""
    message = json.dumps({"id": event_id, "type": event_type, "run_id": str(run_id), "data": data}, default=str)
    get_redis().publish(channel(organization_id), message)

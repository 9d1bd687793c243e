from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from ..kit.schemas import ReadSchema, Schema
from ..models.job import JobStatus
from ..worker.queues import Queue


class JobRead(ReadSchema):
    id: uuid.UUID
    kind: str
    status: JobStatus
    payload: dict[str, Any]
    result: dict[str, Any] | None
    error: dict[str, Any] | None
    attempts: int
    request_id: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class ProbeCreate(Schema):
    """A probe job proves the pipeline end to end: API → broker → worker on a queue → database."""

    queue: Queue = Queue.default
    sleep_seconds: Annotated[float, Field(ge=0, le=10)] = 0.0

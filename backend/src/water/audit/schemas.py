from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from ..kit.schemas import ReadSchema


class AuditEventRead(ReadSchema):
    id: uuid.UUID
    actor_user_id: uuid.UUID | None
    actor_api_key_id: uuid.UUID | None
    action: str
    object_type: str
    object_id: uuid.UUID | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None
    at: datetime

"""Who is calling: the authenticated principal and what its role may do."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass

from ..models.user import Role


class Permission(enum.StrEnum):
    read = "read"  # read the organization's data
    write = "write"  # create and change companies, valuations, imports
    review = "review"  # sign off valuations, resolve findings
    manage = "manage"  # users, API keys, audit log


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.admin: frozenset(Permission),
    Role.analyst: frozenset({Permission.read, Permission.write}),
    Role.reviewer: frozenset({Permission.read, Permission.review}),
    Role.viewer: frozenset({Permission.read}),
}


@dataclass(frozen=True)
class Principal:
    organization_id: uuid.UUID
    role: Role
    user_id: uuid.UUID | None = None
    api_key_id: uuid.UUID | None = None

    def can(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import EmailStr, Field

from ..kit.schemas import ReadSchema, Schema
from ..models.user import Role

Password = Annotated[str, Field(min_length=1, max_length=256)]


class SignUp(Schema):
    organization_name: Annotated[str, Field(min_length=1, max_length=200)]
    email: EmailStr
    full_name: Annotated[str, Field(max_length=200)] = ""
    password: Password


class OrganizationRead(ReadSchema):
    id: uuid.UUID
    name: str
    is_demo: bool
    created_at: datetime


class UserRead(ReadSchema):
    id: uuid.UUID
    organization_id: uuid.UUID
    email: str
    full_name: str
    role: Role
    is_active: bool
    last_login_at: datetime | None
    created_at: datetime


class SignUpRead(Schema):
    organization: OrganizationRead
    user: UserRead


class Token(Schema):
    access_token: str
    token_type: str = "bearer"  # noqa: S105  (the OAuth2 token type, not a secret)
    expires_in: int = Field(description="Seconds until the access token expires.")


class ApiKeyCreate(Schema):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    role: Role = Role.analyst


class ApiKeyRead(ReadSchema):
    id: uuid.UUID
    name: str
    prefix: str
    role: Role
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="The API key. It is shown only once; store it now.")


class Me(Schema):
    organization_id: uuid.UUID
    role: Role
    user: UserRead | None = None
    api_key_id: uuid.UUID | None = None

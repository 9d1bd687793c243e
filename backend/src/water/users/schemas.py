from __future__ import annotations

from typing import Annotated

from pydantic import EmailStr, Field

from ..auth.schemas import UserRead
from ..kit.schemas import Schema
from ..models.user import Role

__all__ = ["UserCreate", "UserRead", "UserUpdate"]


class UserCreate(Schema):
    email: EmailStr
    full_name: Annotated[str, Field(max_length=200)] = ""
    password: Annotated[str, Field(min_length=1, max_length=256)]
    role: Role = Role.analyst


class UserUpdate(Schema):
    full_name: Annotated[str | None, Field(max_length=200)] = None
    role: Role | None = None
    is_active: bool | None = None

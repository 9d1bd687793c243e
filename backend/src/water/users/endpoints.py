from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from ..auth.dependencies import Admin, DbSession
from . import service
from .repository import UserRepository
from .schemas import UserCreate, UserRead, UserUpdate

router = APIRouter(prefix="/users", tags=["users"])


@router.get("", response_model=list[UserRead])
def list_users(principal: Admin, session: DbSession) -> list[UserRead]:
    """List the organization's users (admins only)."""
    return [UserRead.model_validate(u) for u in UserRepository(session).list(principal.organization_id)]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=UserRead)
def create_user(data: UserCreate, principal: Admin, session: DbSession) -> UserRead:
    """Create a user with a role (admins only)."""
    return UserRead.model_validate(service.create_user(session, principal, data))


@router.get("/{user_id}", response_model=UserRead)
def get_user(user_id: uuid.UUID, principal: Admin, session: DbSession) -> UserRead:
    """One user of the organization (admins only)."""
    return UserRead.model_validate(service.get_user(session, principal, user_id))


@router.patch("/{user_id}", response_model=UserRead)
def update_user(user_id: uuid.UUID, data: UserUpdate, principal: Admin, session: DbSession) -> UserRead:
    """Change a user's name or role, or deactivate them (admins only)."""
    return UserRead.model_validate(service.update_user(session, principal, user_id, data))

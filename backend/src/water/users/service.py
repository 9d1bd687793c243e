"""Admins create users, change their role and deactivate them."""

from __future__ import annotations

import uuid

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..audit import service as audit
from ..auth.principal import Principal
from ..auth.repository import RefreshTokenRepository
from ..auth.security import check_password_policy, hash_password
from ..errors import Conflict, NotFound
from ..models import User
from ..models.user import Role
from .repository import UserRepository
from .schemas import UserCreate, UserUpdate


def user_snapshot(user: User) -> dict[str, object]:
    """The audited fields of a user."""
    return {"email": user.email, "full_name": user.full_name, "role": user.role.value, "is_active": user.is_active}


def create_user(session: Session, principal: Principal, data: UserCreate) -> User:
    check_password_policy(data.password, email=data.email)
    repo = UserRepository(session)
    if repo.email_taken(data.email):
        raise Conflict("An account with this email already exists.", code="email_taken")
    user = User(
        id=uuid.uuid4(),
        organization_id=principal.organization_id,
        email=data.email.lower(),
        full_name=data.full_name,
        password_hash=hash_password(data.password),
        role=data.role,
    )
    repo.add(user)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict("An account with this email already exists.", code="email_taken") from exc
    audit.record(
        session, principal, action="user.create", object_type="user", object_id=user.id, after=user_snapshot(user)
    )
    return user


def get_user(session: Session, principal: Principal, user_id: uuid.UUID) -> User:
    user = UserRepository(session).get(principal.organization_id, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def update_user(session: Session, principal: Principal, user_id: uuid.UUID, data: UserUpdate) -> User:
    repo = UserRepository(session)
    user = get_user(session, principal, user_id)
    before = user_snapshot(user)
    loses_admin = (
        user.role == Role.admin
        and user.is_active
        and ((data.role is not None and data.role != Role.admin) or data.is_active is False)
    )
    if loses_admin and repo.count_active_admins(principal.organization_id) <= 1:
        raise Conflict("The organization must keep at least one active admin.", code="last_admin")
    for field, value in data.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(user, field, value)
    if data.is_active is False or (data.role is not None and data.role != Role(str(before["role"]))):
        # Sessions end at once; the access token still in hand expires within minutes.
        RefreshTokenRepository(session).revoke_all_for_user(user.id)
    after = user_snapshot(user)
    if after != before:
        audit.record(
            session, principal, action="user.update", object_type="user", object_id=user.id, before=before, after=after
        )
    return user

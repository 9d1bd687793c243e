from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import User
from ..models.user import Role


class UserRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, user: User) -> None:
        self.session.add(user)

    def get(self, organization_id: uuid.UUID, user_id: uuid.UUID) -> User | None:
        return self.session.scalar(select(User).where(User.id == user_id, User.organization_id == organization_id))

    def list(self, organization_id: uuid.UUID) -> list[User]:
        return list(
            self.session.scalars(select(User).where(User.organization_id == organization_id).order_by(User.email))
        )

    def count_active_admins(self, organization_id: uuid.UUID) -> int:
        query = select(func.count()).where(
            User.organization_id == organization_id, User.role == Role.admin, User.is_active.is_(True)
        )
        return int(self.session.scalar(query) or 0)

    def email_taken(self, email: str) -> bool:
        return self.session.scalar(select(User.id).where(func.lower(User.email) == email.lower())) is not None

"""The demo organization and user that `water up` creates (idempotent)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from .auth.security import hash_password
from .config import Settings
from .models import Company, Organization, User
from .models.user import Role

DEMO_ORGANIZATION = "Water Demo (fictional data)"
DEMO_COMPANIES = [
    # Fictional companies, clearly labelled demo; market data arrives with the market-data capability.
    {"name": "Demo Aquifer Industries (demo)", "ticker": "DAQI", "sector": "Industrials"},
    {"name": "Demo Brook Software (demo)", "ticker": "DBRK", "sector": "Technology"},
    {"name": "Demo Cascade Health (demo)", "ticker": "DCSH", "sector": "Health Care"},
]


def seed_demo(session: Session, settings: Settings) -> tuple[User, bool]:
    """Create the demo organization, its admin and demo companies unless they exist; (user, created)."""
    existing = session.scalar(select(User).where(User.email == settings.demo_email))
    if existing is not None:
        return existing, False
    organization = Organization(id=uuid.uuid4(), name=DEMO_ORGANIZATION, is_demo=True)
    session.add(organization)
    session.flush()
    user = User(
        id=uuid.uuid4(),
        organization_id=organization.id,
        email=settings.demo_email,
        full_name="Demo Admin",
        password_hash=hash_password(settings.demo_password.get_secret_value()),
        role=Role.admin,
    )
    session.add(user)
    session.flush()
    for company in DEMO_COMPANIES:
        session.add(Company(organization_id=organization.id, created_by_id=user.id, is_demo=True, **company))
    return user, True

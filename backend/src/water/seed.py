"""The demo organization and user that `water up` creates (idempotent).

Its companies are the project's fictional demo companies (labelled "(demo data)"); without an
Alpha Vantage key their market data comes from the generated demo data through the real
provider code, and is refreshed here so the demo can value them at once.
"""

from __future__ import annotations

import time
import uuid

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from .auth.security import hash_password
from .config import Settings
from .models import Company, Organization, User
from .models.user import Role

DEMO_ORGANIZATION = "Water Demo (fictional data)"
DEMO_SYMBOLS = ("DAQI", "DBRK", "DCSH")
log = structlog.get_logger("water.seed")


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
    if settings.use_demo_market_data:
        _demo_companies(session, organization, user)
    return user, True


def _demo_companies(session: Session, organization: Organization, user: User) -> None:
    from .auth.principal import Principal
    from .market_data import service as market_data

    principal = Principal(organization_id=organization.id, role=Role.admin, user_id=user.id)
    for symbol in DEMO_SYMBOLS:
        company: Company = market_data.create_company_from_symbol(session, principal, symbol)
        session.flush()
        market_data.refresh_company(session, company, deadline=time.monotonic() + 60)
        log.info("seed.demo_company", symbol=symbol)

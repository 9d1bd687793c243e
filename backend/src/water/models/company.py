from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from ..db.base import Base, IdMixin, TimestampMixin


class Company(IdMixin, TimestampMixin, Base):
    """A covered company: listed (with a ticker) or private. Soft-deleted via deleted_at."""

    __tablename__ = "companies"
    __table_args__ = (
        Index(
            "uq_companies_org_ticker_live",
            "organization_id",
            "ticker",
            unique=True,
            postgresql_where=text("deleted_at IS NULL AND ticker IS NOT NULL"),
        ),
        Index("ix_companies_org_name", "organization_id", "name", "id"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    ticker: Mapped[str | None] = mapped_column(String(20))
    is_private: Mapped[bool] = mapped_column(default=False, server_default="false", nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False, default="USD", server_default="USD")
    exchange: Mapped[str | None] = mapped_column(String(40))
    country: Mapped[str | None] = mapped_column(String(80))
    sector: Mapped[str | None] = mapped_column(String(120))
    industry: Mapped[str | None] = mapped_column(String(200))
    identifiers: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict, server_default="{}")
    is_demo: Mapped[bool] = mapped_column(default=False, server_default="false", nullable=False)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    price_currency: Mapped[str | None] = mapped_column(String(3))
    market_data_refreshed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    # Bumped in the transaction that replaces the company's financial periods: the version of its
    # financials, which the API's rendered-body cache is keyed by (market_data.endpoints).
    financials_revision: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0", nullable=False)

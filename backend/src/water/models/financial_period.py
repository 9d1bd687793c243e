from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from ..db.base import Base, IdMixin, TimestampMixin


class FinancialPeriod(IdMixin, TimestampMixin, Base):
    """One normalized statement period of a company; each figure keeps its provenance.

    `figures` maps canonical line → {"value", "source", "snapshot_id"} (see market_data.canonical).
    """

    __tablename__ = "financial_periods"
    __table_args__ = (UniqueConstraint("company_id", "period_type", "fiscal_date_ending"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    company_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    period_type: Mapped[str] = mapped_column(String(12), nullable=False)
    fiscal_date_ending: Mapped[date] = mapped_column(Date, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    source_kind: Mapped[str] = mapped_column(String(20), nullable=False)  # "provider" | "import"
    statement_import_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("statement_imports.id", ondelete="SET NULL")
    )
    figures: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Index, LargeBinary, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from ..db.base import Base, IdMixin


class MarketDataSnapshot(IdMixin, Base):
    """One raw provider response exactly as received: immutable and content-addressed.

    Vendor market data is not tenant data, so snapshots are shared and deduplicated
    by content hash across organizations; an organization reaches a snapshot only
    through its own objects (company datasets, financials, valuation runs). A
    database trigger refuses UPDATE, so a valuation's pinned inputs never change.
    """

    __tablename__ = "market_data_snapshots"
    __table_args__ = (Index("ix_market_data_snapshots_symbol_function", "symbol", "function", "fetched_at"),)

    provider: Mapped[str] = mapped_column(String(40), nullable=False)
    function: Mapped[str] = mapped_column(String(60), nullable=False)
    symbol: Mapped[str | None] = mapped_column(String(40))
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    content_type: Mapped[str] = mapped_column(String(120), nullable=False)
    body: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    size_bytes: Mapped[int] = mapped_column(nullable=False)
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, DateTime, Enum, Float, ForeignKey, Index, String, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from ..db.base import Base, IdMixin, TimestampMixin


class RunStatus(enum.StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


# queued → running → succeeded | failed | cancelled; queued → cancelled. Nothing else.
ALLOWED_TRANSITIONS: dict[RunStatus, frozenset[RunStatus]] = {
    RunStatus.queued: frozenset({RunStatus.running, RunStatus.cancelled, RunStatus.failed}),
    RunStatus.running: frozenset({RunStatus.succeeded, RunStatus.failed, RunStatus.cancelled}),
    RunStatus.succeeded: frozenset(),
    RunStatus.failed: frozenset(),
    RunStatus.cancelled: frozenset(),
}


class ValuationRun(IdMixin, TimestampMixin, Base):
    """One valuation of one company: what was asked, with what data, and what came out.

    `requests` holds the exact engine requests (assumptions resolved, defaults filled),
    so a rerun is the same computation; `input_hash` covers them, the conventions, the
    pinned snapshots' content hashes and the engine version.
    """

    __tablename__ = "valuation_runs"
    __table_args__ = (
        Index(
            "uq_valuation_runs_org_idempotency_key",
            "organization_id",
            "idempotency_key",
            unique=True,
            postgresql_where=text("idempotency_key IS NOT NULL"),
        ),
        Index("ix_valuation_runs_org_created", "organization_id", "created_at", "id"),
        Index("ix_valuation_runs_status_updated", "status", "updated_at"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    company_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[RunStatus] = mapped_column(
        Enum(RunStatus, name="run_status", values_callable=lambda e: [m.value for m in e]), nullable=False
    )
    methods: Mapped[list[str]] = mapped_column(ARRAY(String(40)), nullable=False)
    assumptions: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)  # as submitted
    requests: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)  # resolved engine requests per method
    defaults_applied: Mapped[list[Any]] = mapped_column(JSONB, nullable=False)
    snapshot_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)), nullable=False)
    input_hash: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    engine_version: Mapped[str] = mapped_column(String(20), nullable=False)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    body_hash: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(128))
    rerun_of_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("valuation_runs.id", ondelete="SET NULL"))
    attempts: Mapped[int] = mapped_column(default=0, server_default="0", nullable=False)
    cancel_requested: Mapped[bool] = mapped_column(default=False, server_default="false", nullable=False)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    value_per_share: Mapped[float | None] = mapped_column(Float)
    equity_value: Mapped[float | None] = mapped_column(Float)
    enterprise_value: Mapped[float | None] = mapped_column(Float)
    price: Mapped[float | None] = mapped_column(Float)
    upside: Mapped[float | None] = mapped_column(Float)
    queued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    compute_ms: Mapped[float | None] = mapped_column(Float)

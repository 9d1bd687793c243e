"""Every query of the valuations domain."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from ..kit.pagination import SortSpec, paginate, split_page
from ..models import MarketDataSnapshot, RunEvent, ValuationRun
from ..models.valuation_run import RunStatus


@dataclass(frozen=True)
class Claimed:
    """A run this worker now holds, with what it needs to compute (one round trip: no re-read)."""

    attempt: int
    organization_id: uuid.UUID
    company_id: uuid.UUID
    methods: list[str]
    requests: dict[str, Any]


SORT = SortSpec(ValuationRun.created_at, lambda r: r.created_at, datetime)


class ValuationRunRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, run: ValuationRun) -> None:
        self.session.add(run)

    def get(self, organization_id: uuid.UUID, run_id: uuid.UUID) -> ValuationRun | None:
        return self.session.scalar(
            select(ValuationRun).where(ValuationRun.id == run_id, ValuationRun.organization_id == organization_id)
        )

    def by_idempotency_key(self, organization_id: uuid.UUID, key: str) -> ValuationRun | None:
        query = select(ValuationRun).where(
            ValuationRun.organization_id == organization_id, ValuationRun.idempotency_key == key
        )
        return self.session.scalar(query)

    def snapshots(self, ids: list[uuid.UUID]) -> list[MarketDataSnapshot]:
        if not ids:
            return []
        return list(self.session.scalars(select(MarketDataSnapshot).where(MarketDataSnapshot.id.in_(ids))))

    def search(
        self, organization_id: uuid.UUID, filters: dict[str, Any], cursor: str | None, limit: int
    ) -> tuple[list[ValuationRun], str | None]:
        query = select(ValuationRun).where(ValuationRun.organization_id == organization_id)
        if filters.get("company_id"):
            query = query.where(ValuationRun.company_id == filters["company_id"])
        if filters.get("status"):
            query = query.where(ValuationRun.status == filters["status"])
        if filters.get("method"):
            query = query.where(ValuationRun.methods.any(filters["method"]))
        if filters.get("created_by"):
            query = query.where(ValuationRun.created_by_id == filters["created_by"])
        if filters.get("created_from"):
            query = query.where(ValuationRun.created_at >= filters["created_from"])
        if filters.get("created_to"):
            query = query.where(ValuationRun.created_at <= filters["created_to"])
        query = paginate(query, sort="-created_at", spec=SORT, id_column=ValuationRun.id, cursor=cursor, limit=limit)
        return split_page(list(self.session.scalars(query)), limit, "-created_at", SORT)

    def claim(self, run_id: uuid.UUID, lease: timedelta) -> Claimed | None:
        """queued (or running past its lease) → running; what the worker needs, when this caller won."""
        now = datetime.now(UTC)
        row = self.session.execute(
            update(ValuationRun)
            .where(
                ValuationRun.id == run_id,
                or_(
                    ValuationRun.status == RunStatus.queued,
                    (ValuationRun.status == RunStatus.running) & (ValuationRun.started_at < now - lease),
                ),
            )
            .values(status=RunStatus.running, attempts=ValuationRun.attempts + 1, started_at=now)
            .returning(
                ValuationRun.attempts,
                ValuationRun.organization_id,
                ValuationRun.company_id,
                ValuationRun.methods,
                ValuationRun.requests,
            )
        ).first()
        return Claimed(int(row[0]), row[1], row[2], list(row[3]), row[4]) if row else None

    def finish(self, run_id: uuid.UUID, attempt: int, status: RunStatus, values: dict[str, Any]) -> bool:
        """running → succeeded | failed, only for the attempt that holds the claim (a cancel wins over a late result)."""
        done = self.session.execute(
            update(ValuationRun)
            .where(
                ValuationRun.id == run_id, ValuationRun.status == RunStatus.running, ValuationRun.attempts == attempt
            )
            .values(status=status, finished_at=datetime.now(UTC), **values)
        )
        return bool(done.rowcount)  # type: ignore[attr-defined]

    def cancel(self, run_id: uuid.UUID) -> RunStatus | None:
        """queued or running → cancelled; the previous status, or None when it had already finished."""
        row = self.session.execute(
            select(ValuationRun.status).where(ValuationRun.id == run_id).with_for_update()
        ).first()
        if row is None or row[0] not in (RunStatus.queued, RunStatus.running):
            return None
        self.session.execute(
            update(ValuationRun)
            .where(ValuationRun.id == run_id)
            .values(status=RunStatus.cancelled, cancel_requested=True, finished_at=datetime.now(UTC))
        )
        return RunStatus(row[0])

    def status(self, run_id: uuid.UUID) -> tuple[RunStatus, datetime | None] | None:
        row = self.session.execute(
            select(ValuationRun.status, ValuationRun.started_at).where(ValuationRun.id == run_id)
        ).first()
        return (RunStatus(row[0]), row[1]) if row else None

    def stale_queued(self, older_than: datetime, limit: int) -> list[uuid.UUID]:
        query = (
            select(ValuationRun.id)
            .where(ValuationRun.status == RunStatus.queued, ValuationRun.queued_at < older_than)
            .limit(limit)
        )
        return list(self.session.scalars(query))

    def overdue_running(self, started_before: datetime) -> list[ValuationRun]:
        query = (
            select(ValuationRun)
            .where(ValuationRun.status == RunStatus.running, ValuationRun.started_at < started_before)
            .with_for_update(skip_locked=True)
        )
        return list(self.session.scalars(query))

    def events_after(
        self, organization_id: uuid.UUID, after_id: int, run_id: uuid.UUID | None, limit: int = 1000
    ) -> list[RunEvent]:
        query = select(RunEvent).where(RunEvent.organization_id == organization_id, RunEvent.id > after_id)
        if run_id is not None:
            query = query.where(RunEvent.run_id == run_id)
        return list(self.session.scalars(query.order_by(RunEvent.id).limit(limit)))

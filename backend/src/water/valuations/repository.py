"""Every query of the valuations domain."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import any_, literal, select, update
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
            query = query.where(literal(filters["method"]) == any_(ValuationRun.methods))
        if filters.get("created_by"):
            query = query.where(ValuationRun.created_by_id == filters["created_by"])
        if filters.get("created_from"):
            query = query.where(ValuationRun.created_at >= filters["created_from"])
        if filters.get("created_to"):
            query = query.where(ValuationRun.created_at <= filters["created_to"])
        query = paginate(query, sort="-created_at", spec=SORT, id_column=ValuationRun.id, cursor=cursor, limit=limit)
        return split_page(list(self.session.scalars(query)), limit, "-created_at", SORT)

    def finish(self, run_id: uuid.UUID, attempt: int, status: RunStatus, values: dict[str, Any]) -> bool:
        """running → failed for the reaper (the worker finishes with `RunStatements.finish`): that attempt only."""
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
    ) -> list[tuple[int, str, uuid.UUID, dict[str, Any], datetime]]:
        """(id, type, run_id, data, at) of the organization's events after `after_id`, oldest first.

        Plain rows, not RunEvent objects: live streams read this for every burst of state changes.
        """
        event = RunEvent.__table__.c
        query = select(event.id, event.type, event.run_id, event.data, event.at).where(
            event.organization_id == organization_id, event.id > after_id
        )
        if run_id is not None:
            query = query.where(event.run_id == run_id)
        return [tuple(row) for row in self.session.execute(query.order_by(event.id).limit(limit))]  # type: ignore[misc]


# --- the worker's hot path: one statement per state change, on a plain psycopg connection ---------------

# Each statement runs alone in autocommit mode: it is its own transaction, so the run row's change, its
# event and the events lock all commit (and the lock is released) together, in one round trip.
#
# Event order (see events.py): the organization's events lock must be held before the event's id is drawn
# and until commit. `locked` takes it in its select list, for the one row the UPDATE returned; the INSERT
# reads its rows from `locked`, so no row reaches the INSERT (which draws the identity value) before
# that lock is held, and the lock is a transaction lock, released at the statement's commit. `locked` is
# MATERIALIZED (and calls a volatile function): never inlined, evaluated once.
# The row lock comes before the events lock, the order every other writer of run events follows (a
# cancel locks the run, then appends its event), so the two cannot deadlock.
CLAIM_SQL = """
WITH claimed AS (
    UPDATE valuation_runs
    SET status = 'running', attempts = attempts + 1, started_at = %(now)s, updated_at = %(now)s
    WHERE id = %(run_id)s
      AND (status = 'queued' OR (status = 'running' AND started_at < %(lease_start)s))
    RETURNING id, organization_id, company_id, attempts, methods, requests
), locked AS MATERIALIZED (
    SELECT claimed.*, pg_advisory_xact_lock(hashtext('water-events:' || organization_id::text)) AS lock
    FROM claimed
), event AS (
    INSERT INTO run_events (organization_id, run_id, type, data)
    SELECT organization_id, id, 'run.running', jsonb_build_object('status', 'running', 'attempt', attempts)
    FROM locked
    RETURNING id
)
SELECT locked.attempts, locked.organization_id, locked.company_id, locked.methods, locked.requests, event.id
FROM locked CROSS JOIN event
"""

# running -> succeeded | failed for the attempt that holds the claim only: a cancel (status no longer
# running) or a reclaim after the lease expired (attempts moved on) makes it change nothing.
FINISH_SQL = """
WITH done AS (
    UPDATE valuation_runs
    SET status = %(status)s::run_status, finished_at = %(now)s, updated_at = %(now)s,
        result = %(result)s, error = %(error)s, compute_ms = %(compute_ms)s,
        value_per_share = %(value_per_share)s, equity_value = %(equity_value)s,
        enterprise_value = %(enterprise_value)s, price = %(price)s, upside = %(upside)s
    WHERE id = %(run_id)s AND status = 'running' AND attempts = %(attempt)s
    RETURNING id, organization_id
), locked AS MATERIALIZED (
    SELECT done.*, pg_advisory_xact_lock(hashtext('water-events:' || organization_id::text)) AS lock
    FROM done
)
INSERT INTO run_events (organization_id, run_id, type, data)
SELECT organization_id, id, %(event_type)s, %(event_data)s FROM locked
RETURNING id
"""


def _dumps(value: Any) -> bytes | str:
    """JSON text for a JSONB parameter: orjson (~20x faster than json.dumps on a 15 kB run result).

    Numbers come out as the shortest text that round-trips, as with json.dumps, and PostgreSQL
    stores JSONB numbers as exact decimals, so the stored result is the same either way. orjson
    refuses what it cannot encode exactly (integers beyond 64 bits): those go through json.dumps.
    The engine never returns NaN or infinity (which orjson would write as null).
    """
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        return json.dumps(value)


def _jsonb(value: Any) -> Jsonb:
    return Jsonb(value, dumps=_dumps)


class RunStatements:
    """The worker's claim and finish, each one autocommitted statement on a plain psycopg connection.

    Safe to repeat after a connection failure: a repeated claim finds the run `running` inside
    its lease (the task retries after the lease and reclaims it with the next attempt); a repeated
    finish finds the run no longer `running` and changes nothing.
    """

    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        self.connection = connection

    def claim(self, run_id: uuid.UUID, lease: timedelta) -> tuple[Claimed, int] | None:
        """queued (or running past its lease) -> running, with its `run.running` event; (claim, event id)."""
        now = datetime.now(UTC)
        row = self.connection.execute(CLAIM_SQL, {"run_id": run_id, "now": now, "lease_start": now - lease}).fetchone()
        if row is None:
            return None
        return Claimed(int(row[0]), row[1], row[2], list(row[3]), row[4]), int(row[5])

    def finish(
        self,
        run_id: uuid.UUID,
        attempt: int,
        status: RunStatus,
        values: dict[str, Any],
        event_data: dict[str, Any],
    ) -> int | None:
        """running -> succeeded | failed with its event, for the claiming attempt only; the event id, or None."""
        params = {column: values.get(column) for column in FINISH_COLUMNS}
        params.update(
            run_id=run_id,
            attempt=attempt,
            status=status.value,
            now=datetime.now(UTC),
            result=_jsonb(values["result"]) if values.get("result") is not None else None,
            error=_jsonb(values["error"]) if values.get("error") is not None else None,
            event_type=f"run.{status.value}",
            event_data=_jsonb(event_data),
        )
        row = self.connection.execute(FINISH_SQL, params).fetchone()
        return int(row[0]) if row else None

    def status(self, run_id: uuid.UUID) -> tuple[RunStatus, datetime | None] | None:
        row = self.connection.execute(
            "SELECT status, started_at FROM valuation_runs WHERE id = %(run_id)s", {"run_id": run_id}
        ).fetchone()
        return (RunStatus(row[0]), row[1]) if row else None


FINISH_COLUMNS = ("compute_ms", "value_per_share", "equity_value", "enterprise_value", "price", "upside")

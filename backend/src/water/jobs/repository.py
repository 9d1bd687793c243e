"""Every query on jobs, including the atomic claim that makes redelivered tasks safe."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, RowMapping, Table, bindparam, insert, literal, or_, select, update
from sqlalchemy.orm import Session

from ..models import Company, Job
from ..models.job import JobStatus

# The worker's statements on a job row, built once on the table (Core): an ORM-enabled
# `update(Job)` goes through SQLAlchemy's bulk-ORM layer, which looks for the job among the
# session's objects to keep them in step, and cost about a sixth of a market-data refresh's CPU.
# None of the callers reads the job object after these statements.
_JOBS = cast(Table, Job.__table__)
_CLAIM = (
    update(_JOBS)
    .where(
        _JOBS.c.id == bindparam("job_id"),
        or_(
            _JOBS.c.status == JobStatus.queued,
            (_JOBS.c.status == JobStatus.running) & (_JOBS.c.started_at < bindparam("lease_started_before")),
        ),
    )
    .values(status=JobStatus.running, attempts=_JOBS.c.attempts + 1, started_at=bindparam("now"))
    .returning(_JOBS.c.attempts, _JOBS.c.organization_id, _JOBS.c.payload)
)
_FINISH = (
    update(_JOBS)
    .where(
        _JOBS.c.id == bindparam("job_id"),
        _JOBS.c.status == JobStatus.running,
        _JOBS.c.attempts == bindparam("attempt"),
    )
    .values(
        status=bindparam("new_status", type_=_JOBS.c.status.type),
        result=bindparam("new_result", type_=_JOBS.c.result.type),
        error=bindparam("new_error", type_=_JOBS.c.error.type),
        finished_at=bindparam("now"),
    )
)


_COMPANIES = cast(Table, Company.__table__)
# A queued job for one of the organization's live listed companies, in one statement: the company
# check and the insert together, instead of an ORM read of the company and a unit-of-work flush.
_QUEUE_FOR_LISTED_COMPANY = (
    insert(_JOBS)
    .from_select(
        ["id", "organization_id", "kind", "status", "payload", "request_id", "created_by_id"],
        select(
            bindparam("job_id", type_=_JOBS.c.id.type),
            _COMPANIES.c.organization_id,
            bindparam("kind", type_=_JOBS.c.kind.type),
            literal(JobStatus.queued, type_=_JOBS.c.status.type),
            bindparam("payload", type_=_JOBS.c.payload.type),
            bindparam("request_id", type_=_JOBS.c.request_id.type),
            bindparam("created_by_id", type_=_JOBS.c.created_by_id.type),
        ).where(
            _COMPANIES.c.id == bindparam("company_id"),
            _COMPANIES.c.organization_id == bindparam("organization_id"),
            _COMPANIES.c.deleted_at.is_(None),
            _COMPANIES.c.ticker.is_not(None),
            _COMPANIES.c.is_private.is_(False),
        ),
    )
    .returning(*_JOBS.c)
)


@dataclass(frozen=True)
class ClaimedJob:
    """What the work of a claimed job reads of it, returned by the claim itself (no second query)."""

    id: uuid.UUID
    organization_id: uuid.UUID
    payload: dict[str, Any]
    attempt: int


def claim(connection: Connection, job_id: uuid.UUID, lease: timedelta) -> ClaimedJob | None:
    """Move a queued job (or a running one whose lease ran out) to running; the job as claimed, or None.

    One statement: on the worker's autocommit connection (`side_autocommit`), it commits by itself.
    """
    now = datetime.now(UTC)
    row = connection.execute(_CLAIM, {"job_id": job_id, "lease_started_before": now - lease, "now": now}).first()
    if row is None:
        return None
    attempts, organization_id, payload = row
    return ClaimedJob(job_id, cast(uuid.UUID, organization_id), cast(dict[str, Any], payload), cast(int, attempts))


class JobRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, job: Job) -> None:
        self.session.add(job)

    def queue_for_listed_company(
        self,
        job_id: uuid.UUID,
        kind: str,
        payload: dict[str, Any],
        *,
        company_id: uuid.UUID,
        organization_id: uuid.UUID,
        request_id: str | None,
        created_by_id: uuid.UUID | None,
    ) -> RowMapping | None:
        """Insert a queued job when `company_id` is a live listed company of the organization; the
        job's row, or None (no such company in the organization, or a private one)."""
        params = {
            "job_id": job_id,
            "kind": kind,
            "payload": payload,
            "company_id": company_id,
            "organization_id": organization_id,
            "request_id": request_id,
            "created_by_id": created_by_id,
        }
        return self.session.execute(_QUEUE_FOR_LISTED_COMPANY, params).mappings().first()

    def get(self, organization_id: uuid.UUID, job_id: uuid.UUID) -> Job | None:
        return self.session.scalar(select(Job).where(Job.id == job_id, Job.organization_id == organization_id))

    def latest_of_kind(self, organization_id: uuid.UUID, kind: str) -> Job | None:
        query = (
            select(Job)
            .where(Job.organization_id == organization_id, Job.kind == kind)
            .order_by(Job.created_at.desc(), Job.id.desc())
            .limit(1)
        )
        return self.session.scalar(query)

    def finish(
        self, job_id: uuid.UUID, attempt: int, status: JobStatus, *, result: Any = None, error: Any = None
    ) -> bool:
        """Record the outcome only if this attempt still owns the job."""
        params = {
            "job_id": job_id,
            "attempt": attempt,
            "new_status": status,
            "new_result": result,
            "new_error": error,
            "now": datetime.now(UTC),
        }
        done = self.session.execute(_FINISH, params)
        return bool(done.rowcount)  # type: ignore[attr-defined]

    def release(self, job_id: uuid.UUID, attempt: int) -> None:
        self.session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == JobStatus.running, Job.attempts == attempt)
            .values(status=JobStatus.queued, started_at=None)
        )

    def fail(self, job_id: uuid.UUID, error: Any) -> None:
        self.session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status.in_([JobStatus.queued, JobStatus.running]))
            .values(status=JobStatus.failed, error=error, finished_at=datetime.now(UTC))
        )

    def status_of(self, job_id: uuid.UUID) -> tuple[JobStatus, datetime | None] | None:
        row = self.session.execute(select(Job.status, Job.started_at).where(Job.id == job_id)).first()
        return (row[0], row[1]) if row else None

    def stale_queued(self, older_than: datetime, limit: int) -> list[Job]:
        query = select(Job).where(Job.status == JobStatus.queued, Job.created_at < older_than).limit(limit)
        return list(self.session.scalars(query.with_for_update(skip_locked=True)))

    def fail_overdue(self, started_before: datetime) -> int:
        error = {"code": "timed_out", "detail": "The job ran past its time limit and was stopped."}
        result = self.session.execute(
            update(Job)
            .where(Job.status == JobStatus.running, Job.started_at < started_before)
            .values(status=JobStatus.failed, error=error, finished_at=datetime.now(UTC))
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

"""Every query on jobs, including the atomic claim that makes redelivered tasks safe."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from ..models import Job
from ..models.job import JobStatus


class JobRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, job: Job) -> None:
        self.session.add(job)

    def get(self, organization_id: uuid.UUID, job_id: uuid.UUID) -> Job | None:
        return self.session.scalar(select(Job).where(Job.id == job_id, Job.organization_id == organization_id))

    def claim(self, job_id: uuid.UUID, lease: timedelta) -> int | None:
        """Move a queued job (or a running one whose lease ran out) to running; its attempt number, or None."""
        now = datetime.now(UTC)
        attempt = self.session.scalar(
            update(Job)
            .where(
                Job.id == job_id,
                or_(Job.status == JobStatus.queued, (Job.status == JobStatus.running) & (Job.started_at < now - lease)),
            )
            .values(status=JobStatus.running, attempts=Job.attempts + 1, started_at=now)
            .returning(Job.attempts)
        )
        return int(attempt) if attempt is not None else None

    def finish(
        self, job_id: uuid.UUID, attempt: int, status: JobStatus, *, result: Any = None, error: Any = None
    ) -> bool:
        """Record the outcome only if this attempt still owns the job."""
        done = self.session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == JobStatus.running, Job.attempts == attempt)
            .values(status=status, result=result, error=error, finished_at=datetime.now(UTC))
        )
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

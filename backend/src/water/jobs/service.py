"""Background jobs: create (committed as queued, task sent after commit), claim, finish, reap.

The claim commits on its own (so `running` is visible); the job's effect and its
final status then commit in one transaction, and only the attempt that holds the
claim may finish it, so a redelivered message can neither lose the job nor apply
its effect twice.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog
from celery import Task
from sqlalchemy import RowMapping
from sqlalchemy.orm import Session

from ..audit import service as audit
from ..auth.principal import Principal
from ..db.session import side_autocommit, side_session
from ..errors import NotFound
from ..models import Job
from ..models.job import JobStatus
from ..models.user import Role
from ..worker.enqueue import enqueue_after_commit, send_now
from ..worker.queues import CLAIM_LEASE, OVERDUE, RESEND_AFTER
from .repository import ClaimedJob, JobRepository, claim

LEASE = CLAIM_LEASE

TASKS_BY_KIND: dict[str, Callable[[], Task]] = {}
log = structlog.get_logger("water.jobs")


class RetryLater(Exception):
    """Raised by job work that must wait (e.g. a provider's burst limit): the claim is released and the task retried."""

    def __init__(self, retry_in: float, reason: str) -> None:
        super().__init__(reason)
        self.retry_in = retry_in
        self.reason = reason


class JobBusy(Exception):
    """The job is held by another attempt whose lease has not run out; retry later."""

    def __init__(self, retry_in: float) -> None:
        self.retry_in = retry_in


def create_job(session: Session, principal: Principal, kind: str, payload: dict[str, Any], task: Task) -> Job:
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    job = Job(
        id=uuid.uuid4(),
        organization_id=principal.organization_id,
        kind=kind,
        status=JobStatus.queued,
        payload=payload,
        request_id=request_id,
        created_by_id=principal.user_id,
    )
    JobRepository(session).add(job)
    session.flush()
    enqueue_after_commit(session, task, str(job.id))
    return job


def create_job_for_listed_company(
    session: Session, principal: Principal, kind: str, company_id: uuid.UUID, task: Task
) -> RowMapping | None:
    """`create_job` with payload {"company_id": ...} when the company is one of the organization's live
    listed companies, checked and inserted in one statement (a user's refresh: the API's hot write);
    the job's row, or None when the company is not such a company."""
    row = JobRepository(session).queue_for_listed_company(
        uuid.uuid4(),
        kind,
        {"company_id": str(company_id)},
        company_id=company_id,
        organization_id=principal.organization_id,
        request_id=structlog.contextvars.get_contextvars().get("request_id"),
        created_by_id=principal.user_id,
    )
    if row is not None:
        enqueue_after_commit(session, task, str(row["id"]))
    return row


def record_finished_job(
    session: Session, organization_id: uuid.UUID, kind: str, *, payload: dict[str, Any], result: dict[str, Any]
) -> Job:
    """A job row for work already done in this transaction (e.g. a beat task's outcome, kept where users
    and operators can read it: Celery keeps no results). Never sent to a queue."""
    now = datetime.now(UTC)
    job = Job(
        id=uuid.uuid4(),
        organization_id=organization_id,
        kind=kind,
        status=JobStatus.succeeded,
        payload=payload,
        result=result,
        attempts=1,
        request_id=structlog.contextvars.get_contextvars().get("request_id"),
        started_at=now,
        finished_at=now,
    )
    JobRepository(session).add(job)
    session.flush()
    return job


def latest_job_of_kind(session: Session, principal: Principal, kind: str) -> Job | None:
    return JobRepository(session).latest_of_kind(principal.organization_id, kind)


def get_job(session: Session, principal: Principal, job_id: uuid.UUID) -> Job:
    job = JobRepository(session).get(principal.organization_id, job_id)
    if job is None:
        raise NotFound("No such job.")
    return job


def _claim(job_id: uuid.UUID) -> ClaimedJob | None:
    """Claim in a statement of its own, committed at once, so that `running` is visible while the work runs."""
    with side_autocommit() as connection:
        return claim(connection, job_id, LEASE)


def run_job(session: Session, job_id: str, work: Callable[[Session, ClaimedJob], dict[str, Any]]) -> str:
    """Claim the job, then run `work` and record its result together in the caller's transaction."""
    repo = JobRepository(session)
    job = _claim(uuid.UUID(job_id))
    if job is None:
        state = repo.status_of(uuid.UUID(job_id))
        if state is None:
            log.warning("job.missing", job_id=job_id)
            return "missing"
        status, started_at = state
        if status == JobStatus.running and started_at is not None:
            remaining = (started_at + LEASE - datetime.now(UTC)).total_seconds()
            raise JobBusy(max(1.0, remaining))
        return f"already {status.value}"
    try:
        result = work(session, job)
    except RetryLater as later:
        _release(job.id, job.attempt)
        raise JobBusy(later.retry_in) from later
    repo.finish(job.id, job.attempt, JobStatus.succeeded, result=result)
    return "succeeded"


def _release(job_id: uuid.UUID, attempt: int) -> None:
    """Give the claim back (status queued) so the retried task can take it at once."""
    with side_session() as own:
        JobRepository(own).release(job_id, attempt)
        own.commit()


def fail_job(job_id: str, error: dict[str, Any]) -> None:
    """Record a job's failure in a transaction of its own (the task's own transaction is rolling back)."""
    with side_session() as own:
        JobRepository(own).fail(uuid.UUID(job_id), error)
        own.commit()


def probe_work(queue: str) -> Callable[[Session, ClaimedJob], dict[str, Any]]:
    def work(session: Session, job: ClaimedJob) -> dict[str, Any]:
        time.sleep(float(job.payload.get("sleep_seconds", 0)))
        system = Principal(organization_id=job.organization_id, role=Role.admin)
        audit.record(session, system, action="job.probe", object_type="job", object_id=job.id, after={"queue": queue})
        request_id = structlog.contextvars.get_contextvars().get("request_id")
        return {"queue": queue, "worker": socket.gethostname(), "request_id": request_id}

    return work


def resend_stale(session: Session, now: datetime | None = None) -> int:
    """Send again every job left queued past RESEND_AFTER (its message may have been lost)."""
    now = now or datetime.now(UTC)
    jobs = JobRepository(session).stale_queued(now - RESEND_AFTER, limit=500)
    for job in jobs:
        task_for = TASKS_BY_KIND.get(job.kind)
        if task_for is not None:
            send_now(task_for(), str(job.id))
    return len(jobs)


def fail_overdue(session: Session, now: datetime | None = None) -> int:
    now = now or datetime.now(UTC)
    return JobRepository(session).fail_overdue(now - OVERDUE)

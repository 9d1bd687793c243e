"""Market-data tasks on low_priority: one company's refresh (user or nightly), and the nightly plan."""

from __future__ import annotations

import time
import uuid
from typing import Any

import structlog
from sqlalchemy.orm import Session

from ..jobs import service as jobs
from ..jobs.repository import ClaimedJob
from ..models import Company
from ..worker.queues import SOFT_TIME_LIMIT, Queue
from ..worker.task import water_task
from . import nightly, service
from .errors import MarketDataError, RateLimited

log = structlog.get_logger("water.market_data")
# Stop fetching this long before the soft limit; the retried task continues from the cache.
WORK_BUDGET_SECONDS = SOFT_TIME_LIMIT - 3


def _refresh_work(session: Session, job: ClaimedJob) -> dict[str, Any]:
    company = session.get(Company, uuid.UUID(job.payload["company_id"]))
    if company is None or company.deleted_at is not None:
        return {"skipped": "the company no longer exists"}
    try:
        return service.refresh_company(session, company, deadline=time.monotonic() + WORK_BUDGET_SECONDS)
    except RateLimited as limited:
        if limited.scope == "daily":
            raise
        raise jobs.RetryLater(limited.retry_after, limited.detail) from limited


@water_task("market_data.refresh_company", queue=Queue.low_priority, max_retries=50)
def refresh_company_task(session: Session, job_id: str) -> str:
    """Refresh one company's market data; waits out burst limits by retrying, fails clearly otherwise."""
    try:
        return jobs.run_job(session, job_id, _refresh_work)
    except jobs.JobBusy as busy:
        raise refresh_company_task.retry(countdown=min(busy.retry_in, 10)) from None
    except MarketDataError as exc:
        jobs.fail_job(job_id, {"code": exc.code, "title": exc.title, "detail": exc.detail})
        log.warning("market_data.refresh_failed", job_id=job_id, code=exc.code)
        return "failed"


jobs.TASKS_BY_KIND["market_data.refresh"] = lambda: refresh_company_task


@water_task("market_data.refresh_all", queue=Queue.low_priority)
def refresh_all_task(session: Session) -> dict[str, Any]:
    """Nightly: queue a refresh for every covered listed company within the quota, stalest first; record
    the run (queued and skipped companies, with the reasons) as a `market_data.nightly` job per organization."""
    return nightly.run_nightly(session, refresh_company_task)

"""Market-data tasks on low_priority: one company's refresh (user or nightly), and the nightly plan."""

from __future__ import annotations

import random
import time
import uuid
from typing import Any

import structlog
from sqlalchemy.orm import Session

from ..config import get_settings
from ..jobs import service as jobs
from ..jobs.repository import ClaimedJob
from ..models import Company
from ..worker.queues import SOFT_TIME_LIMIT, Queue
from ..worker.task import water_task
from . import nightly, service
from .errors import MarketDataError, ProviderUnavailable, RateLimited

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
    except service.RefreshOutdated as outdated:
        raise jobs.RetryLater(0.0, str(outdated)) from outdated  # the retry fetches what fits the company now
    except ProviderUnavailable as outage:
        # Outages at Alpha Vantage last minutes: a nightly refresh should not fail for one. Retried
        # (with the backoff below, never sooner than the outage's Retry-After) while the job has made
        # fewer attempts than the setting allows (throttled attempts count too); then it fails clearly.
        if job.attempt >= get_settings().market_data_outage_attempts:
            raise
        raise jobs.RetryLater(outage.retry_after, outage.detail) from outage


# Retries of a throttled refresh back off: exponential from BACKOFF_BASE seconds, doubled per retry, with
# "equal jitter" (a random wait in the upper half of the step, so workers throttled together spread
# out), at most BACKOFF_CAP seconds, and never sooner than the provider's Retry-After.
BACKOFF_BASE = 2.0
BACKOFF_CAP = 300.0
# A job held by another attempt (its lease not run out) is looked at again at least this often.
BUSY_POLL_SECONDS = 10.0


def retry_countdown(retries: int, floor: float, *, jitter: float | None = None) -> float:
    """Seconds before retry number `retries` + 1 (0 for the first retry): within [step / 2, step] for
    step = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** retries), never less than `floor` (the provider's
    Retry-After). `jitter` in [0, 1] picks the point in that range (random when None)."""
    step = min(BACKOFF_CAP, BACKOFF_BASE * 2.0 ** min(retries, 32))
    share = random.random() if jitter is None else min(1.0, max(0.0, jitter))  # noqa: S311 (jitter, not a secret)
    return max(floor, step / 2 + share * step / 2)


@water_task("market_data.refresh_company", queue=Queue.low_priority, max_retries=50)
def refresh_company_task(session: Session, job_id: str) -> str:
    """Refresh one company's market data; waits out burst limits by retrying, fails clearly otherwise."""
    try:
        return jobs.run_job(session, job_id, _refresh_work)
    except jobs.JobBusy as busy:
        throttled = isinstance(busy.__cause__, jobs.RetryLater)  # the provider's limit, not another attempt's lease
        floor = busy.retry_in if throttled else min(busy.retry_in, BUSY_POLL_SECONDS)
        retries = refresh_company_task.request.retries
        countdown = retry_countdown(retries, floor)
        log.info("market_data.refresh_retry", job_id=job_id, retry=retries + 1, countdown=round(countdown, 3),
                 floor=floor, throttled=throttled)  # fmt: skip
        raise refresh_company_task.retry(countdown=countdown) from None
    except MarketDataError as exc:
        # This task returns normally, so its wrapper commits the session: drop what the refresh wrote
        # before it failed (e.g. periods replaced before a later dataset would not parse). The
        # snapshots it fetched were stored in their own transaction and stay, for the next attempt.
        session.rollback()
        jobs.fail_job(job_id, {"code": exc.code, "title": exc.title, "detail": exc.detail})
        log.warning("market_data.refresh_failed", job_id=job_id, code=exc.code)
        return "failed"


jobs.TASKS_BY_KIND["market_data.refresh"] = lambda: refresh_company_task


@water_task("market_data.refresh_all", queue=Queue.low_priority)
def refresh_all_task(session: Session) -> dict[str, Any]:
    """Nightly: queue a refresh for every covered listed company within the quota, stalest first; record
    the run (queued and skipped companies, with the reasons) as a `market_data.nightly` job per organization."""
    return nightly.run_nightly(session, refresh_company_task)

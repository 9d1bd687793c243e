"""The nightly market-data refresh: plan it (stalest first, within the day's quota) and record what it did.

Celery keeps no task results (`task_ignore_result`), so the outcome is stored in PostgreSQL: for
each organization with covered listed companies, one finished job of kind `market_data.nightly`
whose result lists the companies queued (each with its refresh job) and the companies skipped,
each with a stable reason code and the reason in words. Users read their organization's latest
run on `GET /api/market-data/quota` (`last_nightly_run`) and any run on `GET /api/jobs/{id}`;
operators find every organization's row of one run by its `run_id` (in the payload and the log).
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from celery import Task
from sqlalchemy.orm import Session

from ..auth.principal import Principal
from ..jobs import service as jobs
from ..models import Company, Job
from ..models.user import Role
from .gateway import default_gateway
from .quota import QuotaState
from .repository import MarketDataRepository
from .service import CALLS_PER_REFRESH

NIGHTLY_KIND = "market_data.nightly"
REFRESH_KIND = "market_data.refresh"
MAX_COMPANIES = 10_000  # planned per night, stalest first; the rest wait for the next night
log = structlog.get_logger("water.market_data")


class SkipReason(enum.StrEnum):
    daily_quota = "daily_quota"  # the calls left today (our plan's budget) do not cover another company
    provider_quota_exhausted = "provider_quota_exhausted"  # the provider said today's quota is used up


@dataclass(frozen=True)
class Skipped:
    company: Company
    code: SkipReason
    reason: str


@dataclass(frozen=True)
class NightlyPlan:
    queued: list[Company]
    skipped: list[Skipped]


def plan(candidates: Sequence[Company], state: QuotaState, calls_per_company: int = CALLS_PER_REFRESH) -> NightlyPlan:
    """Which of `candidates` (stalest first) to refresh tonight within the quota `state` shows; the rest with why."""
    resets = state.resets_at.strftime("%Y-%m-%d %H:%M UTC")
    if state.exhausted_by_provider is not None:
        reason = f"the provider said today's quota is used up; no calls until it resets at {resets}"
        return NightlyPlan([], [Skipped(c, SkipReason.provider_quota_exhausted, reason) for c in candidates])
    if state.remaining_today is None:  # unlimited plan
        return NightlyPlan(list(candidates), [])
    affordable = state.remaining_today // calls_per_company
    reason = (
        f"daily quota: {state.remaining_today} calls left today, {calls_per_company} per company, so "
        f"{affordable} stalest companies were refreshed first; resets at {resets}"
    )
    return NightlyPlan(
        list(candidates[:affordable]), [Skipped(c, SkipReason.daily_quota, reason) for c in candidates[affordable:]]
    )


def _entry(company: Company) -> dict[str, Any]:
    refreshed = company.market_data_refreshed_at
    return {
        "company_id": str(company.id),
        "ticker": company.ticker or "",
        "last_refreshed_at": refreshed.isoformat() if refreshed else None,
    }


def run_nightly(session: Session, refresh_task: Task) -> dict[str, Any]:
    """Plan tonight's refresh, queue a refresh job per planned company, and record the run per organization.

    Everything is written in the caller's transaction (the refresh tasks are sent after it commits).
    """
    state = default_gateway().limiter.state()
    candidates = MarketDataRepository(session).listed_companies_stalest_first(limit=MAX_COMPANIES)
    tonight = plan(candidates, state)
    run_id, planned_at = str(uuid.uuid4()), datetime.now(UTC)
    by_org: dict[uuid.UUID, dict[str, list[dict[str, Any]]]] = {}
    for company in tonight.queued:
        system = Principal(organization_id=company.organization_id, role=Role.admin)
        payload = {"company_id": str(company.id), "nightly": True, "nightly_run": run_id}
        job = jobs.create_job(session, system, REFRESH_KIND, payload, refresh_task)
        outcome = by_org.setdefault(company.organization_id, {"queued": [], "skipped": []})
        outcome["queued"].append({**_entry(company), "job_id": str(job.id)})
    for skipped in tonight.skipped:
        outcome = by_org.setdefault(skipped.company.organization_id, {"queued": [], "skipped": []})
        outcome["skipped"].append(
            {**_entry(skipped.company), "reason_code": skipped.code.value, "reason": skipped.reason}
        )
    quota = {
        "provider": default_gateway().provider,
        "daily_budget": state.plan.daily_budget if state.plan.daily_budget >= 0 else None,
        "used_today": state.used_today,
        "remaining_today": state.remaining_today,
        "calls_per_company": CALLS_PER_REFRESH,
        "exhausted_by_provider": state.exhausted_by_provider,
        "resets_at": state.resets_at.isoformat(),
    }
    for organization_id, outcome in by_org.items():
        jobs.record_finished_job(
            session,
            organization_id,
            NIGHTLY_KIND,
            payload={"run_id": run_id, "planned_at": planned_at.isoformat()},
            result={"queued": outcome["queued"], "skipped": outcome["skipped"], "quota": quota},
        )
    summary = {
        "run_id": run_id,
        "queued": len(tonight.queued),
        "skipped": len(tonight.skipped),
        "organizations": len(by_org),
        "skipped_by_reason": {
            code.value: sum(1 for s in tonight.skipped if s.code == code)
            for code in SkipReason
            if any(s.code == code for s in tonight.skipped)
        },
    }
    log.info("market_data.nightly_plan", **summary)
    return summary


def latest_run(session: Session, principal: Principal) -> Job | None:
    """The organization's most recent nightly run (its job row), or None."""
    return jobs.latest_job_of_kind(session, principal, NIGHTLY_KIND)

"""The nightly refresh: planned stalest first within the day's quota, and what it queued and skipped (with
the reason) recorded durably in PostgreSQL as a `market_data.nightly` job per organization, shown on
`GET /api/market-data/quota` (`last_nightly_run`) and `GET /api/jobs/{id}`.

Real PostgreSQL (the test's transaction) and the real shared limiter in Redis, with a plan of its own.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from water.market_data import endpoints, gateway, nightly
from water.market_data.quota import Plan, QuotaState, RateLimiter
from water.market_data.service import CALLS_PER_REFRESH
from water.market_data.tasks import refresh_company_task
from water.models import Company, Job
from water.models.job import JobStatus

from ...factories import Factory, Org

MIDNIGHT = datetime(2026, 1, 2, tzinfo=UTC)


def _state(remaining: int | None, *, exhausted: str | None = None) -> QuotaState:
    budget = -1 if remaining is None else 25
    used = 0 if remaining is None else 25 - remaining
    return QuotaState(Plan(1.0, 1, budget), used, remaining, MIDNIGHT, exhausted)


def _companies(n: int) -> list[Company]:
    org = uuid.uuid4()
    return [Company(id=uuid.uuid4(), organization_id=org, name=f"C{i}", ticker=f"C{i}") for i in range(n)]


# --- the plan, as a pure function of the candidates (stalest first) and the quota ---------------------


def test_an_unlimited_plan_queues_every_company_in_order() -> None:
    candidates = _companies(5)
    tonight = nightly.plan(candidates, _state(None))
    assert tonight.queued == candidates
    assert tonight.skipped == []


@pytest.mark.parametrize(("remaining", "affordable"), [(25, 2), (18, 2), (17, 1), (9, 1), (8, 0), (0, 0)])
def test_the_quota_left_buys_whole_refreshes_for_the_stalest_first(remaining: int, affordable: int) -> None:
    candidates = _companies(4)
    tonight = nightly.plan(candidates, _state(remaining))
    assert tonight.queued == candidates[:affordable]  # the stalest ones, in order
    assert [s.company for s in tonight.skipped] == candidates[affordable:]
    for skipped in tonight.skipped:
        assert skipped.code == nightly.SkipReason.daily_quota
        assert f"{remaining} calls left today, {CALLS_PER_REFRESH} per company" in skipped.reason
        assert "resets at 2026-01-02 00:00 UTC" in skipped.reason


def test_a_day_the_provider_called_exhausted_queues_nothing_and_says_why() -> None:
    candidates = _companies(3)
    tonight = nightly.plan(candidates, _state(None, exhausted="25 requests per day"))
    assert tonight.queued == []
    assert [s.code for s in tonight.skipped] == [nightly.SkipReason.provider_quota_exhausted] * 3
    assert "the provider said today's quota is used up" in tonight.skipped[0].reason


# --- planned and recorded against the database -----------------------------------------------------


@pytest.fixture
def limited(monkeypatch: pytest.MonkeyPatch) -> RateLimiter:
    """The default gateway's limiter replaced by one of our own (a plan of 2 refreshes + 3 calls a day)."""
    limiter = RateLimiter(f"test-{uuid.uuid4().hex}", Plan(100_000, 100_000, 2 * CALLS_PER_REFRESH + 3))
    gw = gateway.Gateway(
        lambda request: (_ for _ in ()).throw(AssertionError("no provider calls")), "test", limiter=limiter
    )
    monkeypatch.setattr(nightly, "default_gateway", lambda: gw)
    monkeypatch.setattr(endpoints, "default_gateway", lambda: gw)
    return limiter


def _listed(factory: Factory, db: Session, org: Org, refreshed: dict[str, datetime | None]) -> dict[str, str]:
    """Listed companies of `org` with the given last refresh times; every other company made the freshest."""
    ids = {}
    for ticker, when in refreshed.items():
        company = factory.company(org.admin, ticker=ticker)
        db.execute(update(Company).where(Company.id == uuid.UUID(company["id"])).values(market_data_refreshed_at=when))
        ids[ticker] = company["id"]
    # Companies of other tests (committed ones too) are marked fresh inside this test's transaction (rolled back).
    mine = [uuid.UUID(i) for i in ids.values()]
    db.execute(update(Company).where(Company.id.not_in(mine)).values(market_data_refreshed_at=datetime.now(UTC)))
    db.flush()
    return ids


def test_the_nightly_run_is_recorded_with_what_it_queued_and_skipped(
    client: TestClient, factory: Factory, db: Session, limited: RateLimiter
) -> None:
    org = factory.organization()
    private = factory.company(org.admin, ticker=None, is_private=True)
    now = datetime.now(UTC)
    ids = _listed(factory, db, org, {
        "RECENT": now - timedelta(hours=1), "NEVER": None, "OLDEST": now - timedelta(days=30),
        "OLDER": now - timedelta(days=3),
    })  # fmt: skip
    assert limited.try_acquire(1)[0]  # one call used today: 20 left, two refreshes of 9

    summary = nightly.run_nightly(db, refresh_company_task)

    assert summary["skipped_by_reason"]["daily_quota"] >= 2
    run = db.scalars(
        select(Job).where(Job.organization_id == uuid.UUID(org.id), Job.kind == nightly.NIGHTLY_KIND)
    ).one()
    assert run.status == JobStatus.succeeded
    assert run.finished_at is not None
    assert run.payload["run_id"] == summary["run_id"]
    result: dict[str, Any] = run.result or {}
    # Stalest first: never refreshed, then the oldest refresh; within the quota left (20 calls: two companies).
    assert [q["ticker"] for q in result["queued"]] == ["NEVER", "OLDEST"]
    assert [s["ticker"] for s in result["skipped"]] == ["OLDER", "RECENT"]
    assert all(s["reason_code"] == "daily_quota" for s in result["skipped"])
    assert "20 calls left today, 9 per company" in result["skipped"][0]["reason"]
    assert result["skipped"][0]["company_id"] == ids["OLDER"]
    assert result["skipped"][0]["last_refreshed_at"] is not None
    assert private["id"] not in {e["company_id"] for e in result["queued"] + result["skipped"]}
    assert result["quota"] == {
        "provider": "test", "daily_budget": 21, "used_today": 1, "remaining_today": 20,
        "calls_per_company": 9, "exhausted_by_provider": None, "resets_at": result["quota"]["resets_at"],
    }  # fmt: skip
    # Each queued company has its refresh job, committed as queued, pointing back at the run.
    refreshes = {
        str(j.payload["company_id"]): j
        for j in db.scalars(
            select(Job).where(Job.organization_id == uuid.UUID(org.id), Job.kind == "market_data.refresh")
        )
    }
    assert set(refreshes) == {ids["NEVER"], ids["OLDEST"]}
    for queued in result["queued"]:
        job = refreshes[queued["company_id"]]
        assert queued["job_id"] == str(job.id)
        assert job.status == JobStatus.queued
        assert job.payload["nightly_run"] == summary["run_id"]

    # The organization reads it on the quota endpoint and as a job; another organization sees only its own.
    quota = client.get("/api/market-data/quota", headers=org.as_role("viewer").headers)
    assert quota.status_code == 200, quota.text
    last = quota.json()["last_nightly_run"]
    assert last["id"] == str(run.id)
    assert last["kind"] == "market_data.nightly"
    assert [s["reason_code"] for s in last["result"]["skipped"]] == ["daily_quota", "daily_quota"]
    assert client.get(f"/api/jobs/{run.id}", headers=org.as_role("viewer").headers).json()["result"] == result
    stranger = factory.organization(with_roles=False)
    assert client.get("/api/market-data/quota", headers=stranger.admin.headers).json()["last_nightly_run"] is None
    assert client.get(f"/api/jobs/{run.id}", headers=stranger.admin.headers).status_code == 404


def test_a_later_run_is_the_one_shown(client: TestClient, factory: Factory, db: Session, limited: RateLimiter) -> None:
    org = factory.organization(with_roles=False)
    _listed(factory, db, org, {"ONE": None})
    first = nightly.run_nightly(db, refresh_company_task)
    db.execute(
        update(Job)
        .where(Job.payload["run_id"].astext == first["run_id"])
        .values(created_at=datetime.now(UTC) - timedelta(days=1))
    )
    limited.exhaust_today("Thank you for using Alpha Vantage! Our standard API rate limit is 25 requests per day.")
    second = nightly.run_nightly(db, refresh_company_task)
    assert second["queued"] == 0
    assert second["skipped_by_reason"] == {"provider_quota_exhausted": second["skipped"]}
    last = client.get("/api/market-data/quota", headers=org.admin.headers).json()
    assert last["remaining_today"] == 0
    assert "25 requests per day" in last["exhausted_by_provider"]
    assert last["last_nightly_run"]["payload"]["run_id"] == second["run_id"]
    (skipped,) = last["last_nightly_run"]["result"]["skipped"]
    assert skipped["ticker"] == "ONE"
    assert skipped["reason_code"] == "provider_quota_exhausted"

"""`POST /api/companies/{id}/refresh` end to end: the API queues a job, a real Celery worker refreshes the
company (the demo data, through the same provider code as Alpha Vantage), and the job can be polled."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from sqlalchemy import select

from water.db.session import new_session
from water.market_data.repository import MarketDataRepository
from water.models import Job

from ...factories import Factory
from .conftest import WorkerProcess
from .test_worker import _wait_for_job


def test_a_refresh_is_queued_run_on_a_worker_and_polled(
    committed_client: TestClient, committed_factory: Factory, worker: WorkerProcess
) -> None:
    org = committed_factory.organization()
    created = committed_client.post("/api/companies/from-symbol", json={"symbol": "DBRK"}, headers=org.admin.headers)
    assert created.status_code == 201, created.text
    company_id = created.json()["id"]
    request_id = f"refresh-{uuid.uuid4().hex[:8]}"

    queued = committed_client.post(
        f"/api/companies/{company_id}/refresh", headers={**org.as_role("analyst").headers, "X-Request-ID": request_id}
    )

    assert queued.status_code == 202, queued.text
    job = queued.json()
    assert queued.headers["location"] == f"/api/jobs/{job['id']}"
    assert (job["kind"], job["status"], job["payload"]) == ("market_data.refresh", "queued", {"company_id": company_id})
    assert (job["attempts"], job["request_id"], job["result"], job["started_at"]) == (0, request_id, None, None)
    with new_session() as session:  # committed before the answer, with who asked for it
        row = session.scalars(select(Job).where(Job.id == uuid.UUID(job["id"]))).one()
        assert row.organization_id == uuid.UUID(org.id)
        assert row.created_by_id == uuid.UUID(org.as_role("analyst").user_id)

    done = _wait_for_job(committed_client, org.as_role("analyst").headers, job["id"], timeout=30)

    assert done["status"] == "succeeded", done
    assert done["attempts"] == 1
    assert done["result"]["symbol"] == "DBRK"
    with new_session() as session:
        pointers = MarketDataRepository(session).dataset_pointers(uuid.UUID(company_id))
    assert set(done["result"]["datasets"]) <= set(pointers)


def test_a_refresh_is_refused_before_anything_is_queued(
    committed_client: TestClient, committed_factory: Factory
) -> None:
    """A viewer may not (403), a private company has nothing to fetch (422), another organization's
    company and a deleted one do not exist (404): no job is created for any of them."""
    org = committed_factory.organization()
    private = committed_factory.company(org.admin, ticker=None, is_private=True)
    listed = committed_client.post("/api/companies/from-symbol", json={"symbol": "DCSH"}, headers=org.admin.headers)
    deleted = committed_client.post("/api/companies/from-symbol", json={"symbol": "DAQI"}, headers=org.admin.headers)
    assert committed_client.delete(f"/api/companies/{deleted.json()['id']}", headers=org.admin.headers).is_success
    stranger = committed_factory.organization(with_roles=False)

    cases = [
        (org.as_role("viewer").headers, listed.json()["id"], 403),
        (org.as_role("analyst").headers, private["id"], 422),
        (stranger.admin.headers, listed.json()["id"], 404),
        (org.as_role("analyst").headers, deleted.json()["id"], 404),
        (org.as_role("analyst").headers, str(uuid.uuid4()), 404),
    ]
    for headers, company_id, expected in cases:
        response = committed_client.post(f"/api/companies/{company_id}/refresh", headers=headers)
        assert response.status_code == expected, (company_id, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    with new_session() as session:
        kinds = session.scalars(
            select(Job.kind).where(Job.organization_id.in_([uuid.UUID(org.id), uuid.UUID(stranger.id)]))
        )
        assert list(kinds) == []

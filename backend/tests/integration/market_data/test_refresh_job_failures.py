"""A refresh job whose provider calls fail: the failure is recorded on the job with the problem code, and the
company's previous market data is left intact.

`POST /api/companies/{id}/refresh` queues the job; a real Celery worker, started with an Alpha Vantage key
(`WATER_ALPHAVANTAGE_API_KEY`) and its base URL pointed at the fake server on a real socket, runs it through
the real transport; the fake server answers with the recorded error bodies (or fails the connection).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from water.db.session import new_session
from water.market_data.repository import MarketDataRepository
from water.models import FinancialPeriod
from water.redis_client import get_redis

from ...factories import Factory, Org
from ...fakes.alphavantage_server import FakeAlphaVantage
from ..worker.conftest import WorkerProcess
from ..worker.test_worker import _wait_for_job
from .keyed_worker import running_keyed_worker
from .test_provider_errors_api import API_KEY, FAILURES, RATE, Failure, switch_on

WORKER_TIMEOUT_SECONDS = 2.0  # the provider timeout in the worker; the slow mode then answers after 2.5 s


@pytest.fixture(scope="module")
def keyed_worker(
    fake_alphavantage_server: FakeAlphaVantage, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    log_path = tmp_path_factory.mktemp("keyed-worker") / "worker.log"
    timeout = str(WORKER_TIMEOUT_SECONDS)
    # One attempt: an outage fails the job at once here (its retries are tested in test_refresh_outage.py).
    with running_keyed_worker(
        fake_alphavantage_server,
        API_KEY,
        log_path,
        WATER_ALPHAVANTAGE_TIMEOUT_SECONDS=timeout,
        WATER_MARKET_DATA_OUTAGE_ATTEMPTS="1",
    ) as started:
        yield started
        assert API_KEY not in started.log(), "the API key reached the worker's log"


def _clear_raw_cache() -> None:
    redis = get_redis()
    keys = list(redis.scan_iter("water:md:raw:*"))
    if keys:
        redis.delete(*keys)


def _refresh(client: TestClient, org: Org, company_id: str) -> dict[str, Any]:
    queued = client.post(f"/api/companies/{company_id}/refresh", headers=org.as_role("analyst").headers)
    assert queued.status_code == 202, queued.text
    return _wait_for_job(client, org.admin.headers, queued.json()["id"], timeout=30)


def _state(client: TestClient, org: Org, company_id: str) -> tuple[Any, ...]:
    """What a refresh may change: the financials as served, the stored periods, the dataset pointers."""
    financials = client.get(f"/api/companies/{company_id}/financials", headers=org.admin.headers)
    assert financials.status_code == 200
    with new_session() as session:
        periods = session.execute(
            select(FinancialPeriod.id, FinancialPeriod.fiscal_date_ending, FinancialPeriod.figures).where(
                FinancialPeriod.company_id == uuid.UUID(company_id)
            )
        ).all()
        pointers = MarketDataRepository(session).dataset_pointers(uuid.UUID(company_id))
    return financials.json(), sorted(map(tuple, periods), key=str), pointers


def _refreshed_company(client: TestClient, factory: Factory) -> tuple[Org, str]:
    """A listed company (the demo DAQI, served by the fake server's demo data) refreshed once, successfully."""
    org = factory.organization()
    company = factory.company(org.admin, name="Aquifer (demo data)", ticker="DAQI")
    done = _refresh(client, org, company["id"])
    assert done["status"] == "succeeded", done
    return org, str(company["id"])


JOB_FAILURES = [
    f
    for f in FAILURES
    if f.code != RATE or f.scope == "daily"  # a burst limit is retried, not failed (below)
]


@pytest.mark.parametrize("failure", JOB_FAILURES, ids=lambda f: f.name)
def test_a_failed_refresh_is_recorded_on_the_job_and_leaves_the_previous_data(
    committed_client: TestClient,
    committed_factory: Factory,
    fake_alphavantage: FakeAlphaVantage,
    keyed_worker: WorkerProcess,
    failure: Failure,
) -> None:
    org, company_id = _refreshed_company(committed_client, committed_factory)
    before = _state(committed_client, org, company_id)
    assert before[1], "the first refresh stored no periods"
    _clear_raw_cache()  # else the second refresh is all cache hits and never reaches the provider
    fake_alphavantage.reset()
    switch_on(fake_alphavantage, failure)
    fake_alphavantage.delay = WORKER_TIMEOUT_SECONDS + 0.5

    job = _refresh(committed_client, org, company_id)

    assert job["status"] == "failed", job
    assert fake_alphavantage.total_requests >= 1
    assert job["result"] is None
    error = job["error"]
    assert error["code"] == failure.code, error
    assert error["title"]
    assert "Alpha Vantage" in error["detail"]
    assert API_KEY not in str(job)
    assert _state(committed_client, org, company_id) == before


def test_a_burst_limit_is_waited_out_and_the_refresh_completes(
    committed_client: TestClient,
    committed_factory: Factory,
    fake_alphavantage: FakeAlphaVantage,
    keyed_worker: WorkerProcess,
) -> None:
    """Alpha Vantage's per-second notice on one of the nine calls: the job is retried (the other eight come
    from the cache the first attempt filled) and succeeds; the user's refresh is not failed."""
    org = committed_factory.organization()
    company = committed_factory.company(org.admin, name="Aquifer (demo data)", ticker="DAQI")
    _clear_raw_cache()
    fake_alphavantage.reset()
    fake_alphavantage.serve_error("ERROR_burst_limit_information.json", times=1, only="GLOBAL_QUOTE")

    job = _refresh(committed_client, org, company["id"])

    assert job["status"] == "succeeded", job
    assert job["attempts"] == 2
    assert fake_alphavantage.count("GLOBAL_QUOTE", "DAQI") == 2
    assert fake_alphavantage.count("OVERVIEW", "DAQI") == 1
    assert job["result"]["provider_calls"] == 1


def test_a_refresh_that_fails_while_parsing_writes_nothing(
    committed_client: TestClient,
    committed_factory: Factory,
    fake_alphavantage: FakeAlphaVantage,
    keyed_worker: WorkerProcess,
) -> None:
    """A dataset fetched fine but unreadable (a DIVIDENDS body without its `data` list) fails the job
    after the statements were mapped: the job is failed and the statements must not be stored."""
    org = committed_factory.organization()
    company = committed_factory.company(org.admin, name="Aquifer (demo data)", ticker="DAQI")
    _clear_raw_cache()
    fake_alphavantage.reset()
    fake_alphavantage.serve_body(b'{"symbol": "DAQI", "dividends": "none"}', only="DIVIDENDS")

    job = _refresh(committed_client, org, company["id"])

    assert job["status"] == "failed", job
    assert job["error"]["code"] == "market_data_unavailable"
    financials, periods, pointers = _state(committed_client, org, company["id"])
    assert pointers == {}
    assert periods == [], "a failed refresh stored the statements it had mapped (a partial write)"
    assert financials["periods"] == []

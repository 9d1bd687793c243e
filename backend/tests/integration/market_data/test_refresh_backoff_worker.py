"""A refresh throttled again and again by Alpha Vantage backs off: a real Celery worker retries the job with
waits that grow (`tasks.retry_countdown`: exponential with jitter, never shorter than the provider's
Retry-After), then completes it. The worker runs with a key against the fake server on a real socket,
which answers the quote call with the recorded per-second notice three times.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from water.redis_client import get_redis

from ...factories import Factory
from ...fakes.alphavantage_server import FakeAlphaVantage
from ..worker.conftest import WorkerProcess
from ..worker.test_worker import _wait_for_job
from .keyed_worker import running_keyed_worker

API_KEY = "WTRKEY" + uuid.uuid4().hex[:10].upper()


@pytest.fixture(scope="module")
def keyed_worker(
    fake_alphavantage_server: FakeAlphaVantage, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    log_path = tmp_path_factory.mktemp("backoff-worker") / "worker.log"
    with running_keyed_worker(fake_alphavantage_server, API_KEY, log_path) as started:
        yield started


def _events(worker: WorkerProcess, event: str, **match: Any) -> list[dict[str, Any]]:
    """The worker's JSON log records of `event` whose fields include `match`."""
    found = []
    for line in worker.log().splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if record.get("event") == event and all(record.get(k) == v for k, v in match.items()):
                found.append(record)
    return found


def test_repeated_throttling_is_retried_with_growing_waits_then_the_refresh_completes(
    committed_client: TestClient,
    committed_factory: Factory,
    fake_alphavantage: FakeAlphaVantage,
    keyed_worker: WorkerProcess,
) -> None:
    org = committed_factory.organization()
    company = committed_factory.company(org.admin, name="Aquifer (demo data)", ticker="DAQI")
    redis = get_redis()
    keys = list(redis.scan_iter("water:md:raw:*"))
    if keys:
        redis.delete(*keys)
    fake_alphavantage.reset()
    # The per-second notice (Retry-After 2 s) for the quote, three times in a row.
    fake_alphavantage.serve_error("ERROR_burst_limit_information.json", times=3, only="GLOBAL_QUOTE")

    queued = committed_client.post(f"/api/companies/{company['id']}/refresh", headers=org.as_role("analyst").headers)
    assert queued.status_code == 202, queued.text
    job = _wait_for_job(committed_client, org.admin.headers, queued.json()["id"], timeout=60)

    assert job["status"] == "succeeded", job
    assert job["attempts"] == 4
    assert fake_alphavantage.count("GLOBAL_QUOTE", "DAQI") == 4
    assert fake_alphavantage.count("OVERVIEW", "DAQI") == 1  # the other datasets came from the cache on retries
    retries = _events(keyed_worker, "market_data.refresh_retry", job_id=job["id"])
    assert [r["retry"] for r in retries] == [1, 2, 3]
    assert all(r["throttled"] is True and r["floor"] == 2 for r in retries)
    waits = [r["countdown"] for r in retries]
    # Steps of 2, 4 and 8 s (a random wait in the upper half of each), never below the provider's 2 s.
    assert waits[0] == 2.0
    assert 2.0 <= waits[1] <= 4.0
    assert 4.0 <= waits[2] <= 8.0
    assert waits[2] > waits[0]
    # Celery really waited that long before each new attempt.
    task_id = retries[0]["task_id"]
    starts = [datetime.fromisoformat(r["timestamp"]) for r in _events(keyed_worker, "task.started", task_id=task_id)]
    retry_at = [datetime.fromisoformat(r["timestamp"]) for r in retries]
    assert len(starts) == 4, starts
    for wait, asked, started in zip(waits, retry_at, starts[1:], strict=True):
        assert (started - asked).total_seconds() >= wait - 0.05

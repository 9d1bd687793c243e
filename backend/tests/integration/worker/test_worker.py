"""Real Celery workers: routing to each queue, request id travelling, exactly-once under SIGKILL."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from water.worker.celery_app import celery_app
from water.worker.queues import HARD_TIME_LIMIT, UNACKED_RESTORE_INTERVAL, VISIBILITY_TIMEOUT, Queue

from ...factories import Factory
from .conftest import WorkerProcess


def _wait_for_job(client: TestClient, headers: dict[str, str], job_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}", headers=headers).json()
        if job["status"] in {"succeeded", "failed"}:
            return dict(job)
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish in {timeout}s: {job}")


def test_celery_is_configured_safely() -> None:
    conf = celery_app.conf
    assert conf.task_serializer == "json"
    assert conf.accept_content == ["json"]
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_ignore_result is True
    assert conf.broker_transport_options["visibility_timeout"] == VISIBILITY_TIMEOUT
    assert HARD_TIME_LIMIT < VISIBILITY_TIMEOUT
    assert VISIBILITY_TIMEOUT + UNACKED_RESTORE_INTERVAL <= 30
    for name, task in celery_app.tasks.items():
        if name.startswith("celery."):
            continue
        assert "." in name
        assert task.queue in {q.value for q in Queue}, name
        assert (task.time_limit or HARD_TIME_LIMIT) <= HARD_TIME_LIMIT
    for entry in conf.beat_schedule.values():
        assert entry["options"]["expires"] > 0


@pytest.mark.parametrize("queue", [q.value for q in Queue])
def test_probe_job_runs_on_each_queue_with_the_request_id(
    committed_client: TestClient, committed_factory: Factory, worker: WorkerProcess, queue: str
) -> None:
    org = committed_factory.organization(with_roles=False)
    request_id = f"trace-{queue}-{time.monotonic_ns()}"
    created = committed_client.post(
        "/api/jobs/probe", json={"queue": queue}, headers={**org.admin.headers, "X-Request-ID": request_id}
    )
    assert created.status_code == 202
    assert created.headers["location"] == f"/api/jobs/{created.json()['id']}"
    job = _wait_for_job(committed_client, org.admin.headers, created.json()["id"], timeout=20)
    assert job["status"] == "succeeded"
    assert job["result"]["queue"] == queue
    assert job["result"]["request_id"] == request_id
    lines = [json.loads(line) for line in worker.log().splitlines() if line.startswith("{")]
    tagged = [line for line in lines if line.get("request_id") == request_id]
    assert tagged, "no worker log line carries the request id"
    assert all(line.get("task_id") for line in tagged)

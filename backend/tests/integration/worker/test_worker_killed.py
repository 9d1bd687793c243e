"""A worker killed with SIGKILL mid-task: the task is redelivered and takes effect exactly once."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from water.db.session import new_session
from water.models import AuditEvent, Job
from water.models.job import JobStatus

from ...factories import Factory
from .conftest import purge_queues, start_worker
from .test_worker import _wait_for_job


def test_sigkilled_worker_task_is_redelivered_and_takes_effect_once(
    committed_client: TestClient, committed_factory: Factory, tmp_path: Path
) -> None:
    org = committed_factory.organization(with_roles=False)
    purge_queues()
    worker = start_worker(tmp_path / "doomed.log", queues="default")
    try:
        created = committed_client.post(
            "/api/jobs/probe", json={"queue": "default", "sleep_seconds": 4}, headers=org.admin.headers
        ).json()
        deadline = time.monotonic() + 15
        while (
            committed_client.get(f"/api/jobs/{created['id']}", headers=org.admin.headers).json()["status"] != "running"
        ):
            assert time.monotonic() < deadline, "the job never started"
            time.sleep(0.05)
        killed_at = time.monotonic()
        worker.kill_hard()
    finally:
        worker.stop()
    replacement = start_worker(tmp_path / "replacement.log", queues="default")
    try:
        job = _wait_for_job(committed_client, org.admin.headers, created["id"], timeout=45)
        redelivered_after = time.monotonic() - killed_at
    finally:
        replacement.stop()
    assert job["status"] == "succeeded"
    assert job["attempts"] == 2
    assert redelivered_after < 30 + 4 + 5  # redelivery within 30 s, then the 4 s of work, plus start-up slack
    with new_session() as session:
        effects = session.scalar(
            select(func.count()).where(
                AuditEvent.object_id == uuid.UUID(created["id"]), AuditEvent.action == "job.probe"
            )
        )
        row = session.get(Job, uuid.UUID(created["id"]))
    assert effects == 1
    assert row is not None
    assert row.status == JobStatus.succeeded

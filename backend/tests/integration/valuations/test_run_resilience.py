"""Nothing lost: a worker SIGKILLed mid-run, or Redis flushed with runs queued, and every run completes exactly once."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from water.db.session import new_session
from water.models import RunEvent, ValuationRun
from water.redis_client import get_redis

from ..worker.conftest import purge_queues, start_worker
from .conftest import Covered, wait_for_run

SLOW_BODY = {
    "methods": ["fcff_ginzu", "monte_carlo"],
    "assumptions": {
        "monte_carlo": {
            "paths": 150_000,
            "seed": 1,
            "drivers": [{"path": "inputs.growth_year_1", "distribution": "normal", "mean": 0.05, "stdev": 0.02}],
        }
    },
}


def _succeeded_events(run_id: str) -> int:
    with new_session() as session:
        return int(
            session.scalar(
                select(func.count()).where(RunEvent.run_id == uuid.UUID(run_id), RunEvent.type == "run.succeeded")
            )
            or 0
        )


def test_sigkilled_worker_mid_run_completes_exactly_once(
    committed_client: TestClient, covered: Covered, tmp_path: Path
) -> None:
    purge_queues()
    worker = start_worker(tmp_path / "doomed.log", queues="default")
    headers = covered.org.admin.headers
    try:
        run = committed_client.post(
            f"/api/companies/{covered.company['id']}/valuation-runs", json=SLOW_BODY, headers=headers
        ).json()
        deadline = time.monotonic() + 20
        status = "queued"
        while status == "queued":
            assert time.monotonic() < deadline, "the run never started"
            time.sleep(0.02)
            status = committed_client.get(f"/api/valuation-runs/{run['id']}", headers=headers).json()["status"]
        assert status == "running"
        worker.kill_hard()
    finally:
        worker.stop()
    replacement = start_worker(tmp_path / "replacement.log", queues="default")
    try:
        done = wait_for_run(committed_client, headers, run["id"], timeout=60)
    finally:
        replacement.stop()
    assert done["status"] == "succeeded", done["error"]
    assert _succeeded_events(run["id"]) == 1
    with new_session() as session:
        row = session.get(ValuationRun, uuid.UUID(run["id"]))
        assert row is not None
        assert row.attempts == 2


def test_flushall_with_runs_queued_loses_nothing(
    committed_client: TestClient, covered: Covered, tmp_path: Path
) -> None:
    purge_queues()
    headers = covered.org.admin.headers
    run_ids = [
        committed_client.post(
            f"/api/companies/{covered.company['id']}/valuation-runs", json={"methods": ["fcff_ginzu"]}, headers=headers
        ).json()["id"]
        for _ in range(5)
    ]
    get_redis().flushdb()  # the broker loses every queued message (this run's Redis database only)
    # A worker and beat (whose reaper re-sends runs left queued) recover them.
    worker = start_worker(tmp_path / "worker.log", queues="default,low_priority")
    beat_log = (tmp_path / "beat.log").open("wb")
    beat = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "water.worker.celery_app:celery_app", "beat", "--schedule", str(tmp_path / "beat-schedule")],
        stdout=beat_log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        results = [wait_for_run(committed_client, headers, run_id, timeout=90) for run_id in run_ids]
    finally:
        beat.terminate()
        beat.wait(10)
        worker.stop()
    assert [r["status"] for r in results] == ["succeeded"] * 5
    assert all(_succeeded_events(run_id) == 1 for run_id in run_ids)

"""The worker's claim and finish statements against real PostgreSQL: atomic claims, guarded finishes, event order."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from water.db.session import new_session, side_session
from water.models import RunEvent, ValuationRun
from water.models.valuation_run import RunStatus
from water.valuations import events, service, worker_db
from water.valuations.repository import RunStatements

from ..worker.conftest import purge_queues
from .conftest import Covered

LEASE = timedelta(seconds=16)


@pytest.fixture
def queued_run(committed_client: TestClient, covered: Covered) -> Iterator[uuid.UUID]:
    """A queued run whose task nobody consumes (no worker runs in this module)."""
    purge_queues()
    response = committed_client.post(
        f"/api/companies/{covered.company['id']}/valuation-runs",
        json={"methods": ["fcff_ginzu"]},
        headers=covered.org.admin.headers,
    )
    assert response.status_code == 202, response.text
    yield uuid.UUID(response.json()["id"])
    purge_queues()


def _statements() -> RunStatements:
    return RunStatements(worker_db.connection())


def _events(run_id: uuid.UUID) -> list[str]:
    with new_session() as session:
        return list(session.scalars(select(RunEvent.type).where(RunEvent.run_id == run_id).order_by(RunEvent.id)))


def _row(run_id: uuid.UUID) -> ValuationRun:
    with new_session() as session:
        row = session.get(ValuationRun, run_id)
        assert row is not None
        return row


def test_execute_stores_the_result_and_the_events_once(queued_run: uuid.UUID) -> None:
    assert service.execute(str(queued_run)) == "succeeded"
    assert service.execute(str(queued_run)) == "not claimable"  # a redelivered message changes nothing
    row = _row(queued_run)
    assert row.status == RunStatus.succeeded
    assert row.attempts == 1
    assert row.result is not None
    assert row.value_per_share == row.result["fcff_ginzu"]["outputs"]["value_per_share"]
    assert row.error is None
    assert row.finished_at is not None
    assert row.started_at is not None
    assert row.finished_at >= row.started_at
    assert _events(queued_run) == ["run.queued", "run.running", "run.succeeded"]


def test_a_claim_is_taken_once(queued_run: uuid.UUID) -> None:
    first = _statements().claim(queued_run, LEASE)
    assert first is not None
    assert first[0].attempt == 1
    assert _statements().claim(queued_run, LEASE) is None  # running inside its lease
    with pytest.raises(service.RunBusy):
        service.execute(str(queued_run))
    assert _events(queued_run) == ["run.queued", "run.running"]


def test_a_cancel_wins_over_a_late_result(
    committed_client: TestClient, covered: Covered, queued_run: uuid.UUID
) -> None:
    claimed = _statements().claim(queued_run, LEASE)
    assert claimed is not None
    cancelled = committed_client.post(f"/api/valuation-runs/{queued_run}/cancel", headers=covered.org.admin.headers)
    assert cancelled.status_code == 200, cancelled.text
    values = {"result": {"late": 1.0}, "value_per_share": 1.0}
    finished = _statements().finish(
        queued_run, claimed[0].attempt, RunStatus.succeeded, values, {"status": "succeeded"}
    )
    assert finished is None
    row = _row(queued_run)
    assert row.status == RunStatus.cancelled
    assert row.result is None
    assert row.value_per_share is None
    assert _events(queued_run) == ["run.queued", "run.running", "run.cancelled"]


def test_a_reclaim_after_the_lease_wins_over_the_old_attempt(queued_run: uuid.UUID) -> None:
    old = _statements().claim(queued_run, LEASE)
    assert old is not None
    with new_session() as session:  # the first attempt's worker died: its claim is older than the lease
        session.execute(
            update(ValuationRun)
            .where(ValuationRun.id == queued_run)
            .values(started_at=ValuationRun.started_at - LEASE - timedelta(seconds=1))
        )
        session.commit()
    new = _statements().claim(queued_run, LEASE)
    assert new is not None
    assert new[0].attempt == 2
    assert _statements().finish(queued_run, 1, RunStatus.succeeded, {"result": {"old": 1.0}}, {}) is None
    assert _statements().finish(queued_run, 2, RunStatus.failed, {"error": {"code": "x"}}, {"status": "failed"})
    row = _row(queued_run)
    assert (row.status, row.attempts, row.error, row.result) == (RunStatus.failed, 2, {"code": "x"}, None)
    assert _events(queued_run) == ["run.queued", "run.running", "run.running", "run.failed"]


@pytest.mark.parametrize("step", ["claim", "finish"])
def test_the_workers_event_waits_for_an_earlier_uncommitted_event(
    covered: Covered, queued_run: uuid.UUID, step: str
) -> None:
    """Claim and finish take the organization's events lock before their event id, within their single statement."""
    organization_id = _row(queued_run).organization_id
    if step == "finish":
        claimed = _statements().claim(queued_run, LEASE)
        assert claimed is not None
    other_run = uuid.uuid4()
    first = side_session()
    events.append(first, organization_id, other_run, "run.queued", {"n": 1})  # holds the events lock
    done = threading.Event()

    def write() -> None:
        if step == "claim":
            assert _statements().claim(queued_run, LEASE) is not None
        else:
            assert _statements().finish(queued_run, 1, RunStatus.succeeded, {"result": {"x": 1.0}}, {}) is not None
        done.set()

    writer = threading.Thread(target=write)
    writer.start()
    time.sleep(0.5)
    assert not done.is_set(), f"the {step}'s event committed while an earlier one was still open"
    first.commit()
    first.close()
    writer.join(10)
    assert done.is_set()
    expected = "run.running" if step == "claim" else "run.succeeded"
    with new_session() as session:
        later = session.scalar(select(RunEvent.id).where(RunEvent.run_id == queued_run, RunEvent.type == expected))
        earlier = session.scalar(select(RunEvent.id).where(RunEvent.run_id == other_run))
    assert later is not None
    assert earlier is not None
    assert earlier < later

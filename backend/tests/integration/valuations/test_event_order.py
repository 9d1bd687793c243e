"""Each organization's events commit in id order, so streams replaying `id > last` never skip one."""

from __future__ import annotations

import threading
import time
import uuid

from fastapi.testclient import TestClient

from water.db.session import side_session
from water.models import RunEvent
from water.valuations import events

from ...factories import Factory


def test_a_later_event_waits_for_an_earlier_uncommitted_one(
    committed_client: TestClient, committed_factory: Factory
) -> None:
    organization_id = uuid.UUID(committed_factory.organization(with_roles=False).id)
    run_id = uuid.uuid4()
    first = side_session()
    events.append(first, organization_id, run_id, "run.queued", {"n": 1})  # holds the organization's event lock
    done = threading.Event()

    def second_writer() -> None:
        with side_session() as second:
            events.append(second, organization_id, run_id, "run.running", {"n": 2})
            second.commit()
        done.set()

    writer = threading.Thread(target=second_writer)
    writer.start()
    time.sleep(0.5)
    assert not done.is_set(), "a second event committed while an earlier one was still open"
    first.commit()
    first.close()
    writer.join(10)
    assert done.is_set()
    with side_session() as session:
        rows = session.execute(RunEvent.__table__.select().where(RunEvent.run_id == run_id).order_by(RunEvent.id)).all()
    assert [row.type for row in rows] == ["run.queued", "run.running"]

"""Tasks are sent only after the transaction commits (no worker runs in this module)."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from water.db.session import new_session
from water.worker.queues import Queue

from ...factories import Factory
from .conftest import purge_queues


def test_tasks_are_not_sent_when_the_transaction_rolls_back(
    committed_client: TestClient, committed_factory: Factory
) -> None:
    from water.auth.principal import Principal
    from water.jobs import service
    from water.models.user import Role
    from water.redis_client import get_redis
    from water.worker.ops_tasks import probe_low_priority

    org = committed_factory.organization(with_roles=False)
    purge_queues()
    principal = Principal(organization_id=uuid.UUID(org.id), role=Role.admin)
    with new_session() as session:
        service.create_job(session, principal, "probe:low_priority", {}, probe_low_priority)
        session.rollback()
    assert get_redis().llen(Queue.low_priority.value) == 0
    with new_session() as session:
        service.create_job(session, principal, "probe:low_priority", {}, probe_low_priority)
        assert get_redis().llen(Queue.low_priority.value) == 0  # not before the commit
        session.commit()
    assert get_redis().llen(Queue.low_priority.value) == 1
    purge_queues()

"""The side pool's two ways to write apart from the caller's transaction, on real PostgreSQL.

`side_autocommit` (a job's claim, snapshot stores) commits each statement by itself, with no
BEGIN or COMMIT; `side_session` (a job's failure, revocations) is a transaction. They share one
pool, so a connection returned by the first must be transactional again for the second.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import text

from water.db import session as db_session
from water.db.session import new_session, side_autocommit, side_session
from water.market_data import snapshots
from water.market_data.providers.base import ProviderRequest, RawResponse


def _snapshot_visible_elsewhere(snapshot_id: str) -> bool:
    with new_session() as other:
        found = other.scalar(text("SELECT count(*) FROM market_data_snapshots WHERE id = :id"), {"id": snapshot_id})
        return bool(found)


def test_a_statement_on_the_autocommit_connection_is_committed_before_the_connection_is_returned() -> None:
    request = ProviderRequest.of("alphavantage", "SPLITS", symbol=f"SIDE{uuid.uuid4().hex[:6].upper()}")
    response = RawResponse(request, b'{"data": []}', "application/json", datetime.now(UTC))
    with side_autocommit() as connection:
        assert connection.connection.driver_connection.autocommit is True
        [snapshot_id] = snapshots.store_many([response])  # its own side connection
        inserted = connection.execute(
            text("SELECT id FROM market_data_snapshots WHERE id = :id"), {"id": snapshot_id}
        ).scalar()
        assert str(inserted) == snapshot_id
        # Another connection sees it while this one is still checked out: nothing is pending.
        assert _snapshot_visible_elsewhere(snapshot_id)
        assert not connection.connection.driver_connection.info.transaction_status  # IDLE: no open transaction


def test_a_side_session_after_an_autocommit_connection_is_a_transaction_again() -> None:
    db_session.dispose_engine()  # a side pool with one connection: the session gets the one just returned
    with side_autocommit() as connection:
        autocommit_backend = connection.execute(text("SELECT pg_backend_pid()")).scalar()
    with side_session() as own:
        assert own.execute(text("SELECT pg_backend_pid()")).scalar() == autocommit_backend
        driver = own.connection().connection.driver_connection
        assert driver.autocommit is False
        assert own.execute(text("SHOW transaction_isolation")).scalar() == "read committed"
        # A statement in the session is inside a transaction until it commits.
        assert own.execute(text("SELECT now() = statement_timestamp()")).scalar() is not None
        assert driver.info.transaction_status != 0  # not IDLE: BEGIN was sent
        own.rollback()

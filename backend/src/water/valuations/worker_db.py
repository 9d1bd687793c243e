"""The worker's own PostgreSQL connection for the run path: one per process, autocommit, no pool.

A valuation run needs two statements (the claim and the finish, valuations.repository), each
a transaction of its own. Running them on a plain psycopg connection held for the life of the
worker process skips what a pooled ORM session adds per run: checkout, the pre-ping round
trip, `BEGIN`, `COMMIT`, and SQLAlchemy's compilation and result processing. psycopg prepares
the two statements on the server after a few executions.

The connection belongs to the process that opened it (Celery's prefork children each open
their own). A dead connection (server restart, network) is replaced before the next use; a
statement that fails because the connection broke is run once more on a new connection.
Both statements are safe to repeat: see `RunStatements`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

import psycopg

from ..config import get_settings
from ..db.session import database_url

T = TypeVar("T")

_connection: psycopg.Connection[tuple[object, ...]] | None = None
_owner_pid = 0


def _conninfo() -> str:
    url = database_url(get_settings())
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def connection() -> psycopg.Connection[tuple[object, ...]]:
    """This process's connection, opened (or re-opened) when needed."""
    global _connection, _owner_pid
    if _connection is None or _owner_pid != os.getpid() or _connection.closed or _connection.broken:
        _connection = psycopg.connect(_conninfo(), autocommit=True, application_name="water-worker")
        _owner_pid = os.getpid()
    return _connection


def close() -> None:
    global _connection
    if _connection is not None and _owner_pid == os.getpid():
        _connection.close()
    _connection = None


def run(statement: Callable[[psycopg.Connection[tuple[object, ...]]], T]) -> T:
    """`statement(connection)`, once more on a fresh connection if the connection broke under it."""
    conn = connection()
    try:
        return statement(conn)
    except psycopg.OperationalError:
        if not conn.broken and not conn.closed:
            raise
        close()
        return statement(connection())

"""Hot reads in the event loop: one statement on an async psycopg connection, no thread-pool hop.

Why: a read through the sync Session costs a thread-pool hop and three round trips (BEGIN, the
SELECT, COMMIT); on one uvicorn worker that caps `GET /api/companies/{id}` near 700 requests/s
on the benchmark machine (docs/benchmarks.md, issue 2). A single SELECT needs no transaction of
its own: on an autocommit connection it is one round trip, awaited in the event loop.

Only single-statement reads belong here. Anything that writes, or reads more than once and needs
one snapshot, keeps the request's Session and its transaction.

Statements are SQLAlchemy Core selects compiled once for psycopg, so the query is written once
and both executors below run the same SQL:

* `PoolReads` (the default): a psycopg `AsyncConnectionPool` of autocommit connections, one per
  event loop, opened on first use and closed with the app (`close_reads`). Server-side prepared
  statements (psycopg prepares a query after its fifth run) save the planning.
* `SessionReads` (`WATER_DB_ASYNC_READS=false`, and the tests that roll back their transaction):
  the query on a Session in the thread pool, so it sees the caller's transaction.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Mapping
from typing import Any, Protocol

import anyio.to_thread
import orjson
import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import set_json_loads
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import Select
from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect

from ..config import get_settings
from .session import database_url, new_session

Row = dict[str, Any]
AnySelect = Select[*tuple[Any, ...]]  # a select of any columns


@functools.lru_cache(maxsize=256)
def compiled_sql(statement: AnySelect) -> str:
    """The statement as psycopg SQL with %(name)s placeholders (compiled once per statement).

    Statements are cached by identity, so hot reads keep theirs as module-level constants (a select
    built per call would be compiled per call).

    Only the caller's parameters are sent, so every bind must be a named `bindparam` without a value:
    a value written into the statement (`column == 5`) would have no parameter to fill it.
    """
    compiled = statement.compile(dialect=psycopg_dialect.dialect())  # type: ignore[no-untyped-call]
    with_values = sorted(name for name, bind in compiled.binds.items() if bind.value is not None or bind.callable)
    if with_values:
        raise ValueError(f"hot reads take every value as a named parameter; bound in the statement: {with_values}")
    return str(compiled)


def application_name() -> str:
    """How the pool's connections show in pg_stat_activity: which process holds them."""
    return f"water-reads:{os.getpid()}"


class Reads(Protocol):
    async def fetch_all(self, statement: AnySelect, params: Mapping[str, Any]) -> list[Row]: ...

    async def close(self) -> None: ...


async def _configure(connection: psycopg.AsyncConnection[Any]) -> None:
    # json/jsonb columns parsed by orjson: about 3x faster than json.loads on statement figures (the
    # financials read parses ~100 kB of them). PostgreSQL only ever sends valid JSON, which both accept.
    set_json_loads(orjson.loads, connection)


class PoolReads:
    """Autocommit connections from an async pool bound to the running event loop."""

    def __init__(self, conninfo: str, max_size: int) -> None:
        self.conninfo = conninfo
        self.max_size = max_size
        self._pool: AsyncConnectionPool | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def _current_pool(self) -> AsyncConnectionPool:
        loop = asyncio.get_running_loop()
        if self._pool is None or self._loop is not loop:
            # A pool belongs to one event loop; a new loop (a restarted app, a test client) gets its own.
            pool = AsyncConnectionPool(
                self.conninfo,
                min_size=1,
                max_size=self.max_size,
                kwargs={"autocommit": True, "row_factory": dict_row, "application_name": application_name()},
                configure=_configure,
                open=False,
                name="water-reads",
            )
            self._pool, self._loop = pool, loop
            await pool.open(wait=False)
        return self._pool

    async def fetch_all(self, statement: AnySelect, params: Mapping[str, Any]) -> list[Row]:
        pool = await self._current_pool()
        try:
            # getconn/putconn rather than `pool.connection()`: the same, without a generator-based
            # context manager and its usage statistics on every read.
            connection = await pool.getconn()
            try:
                cursor = await connection.execute(compiled_sql(statement), params)
                return await cursor.fetchall()  # type: ignore[return-value]  # dict_row rows are dicts
            finally:
                await pool.putconn(connection)
        except psycopg.OperationalError:
            # The pool drops this broken connection. A PostgreSQL restart has killed the idle ones too:
            # check them now, so one request fails (a 503 with Retry-After) rather than one per connection.
            await pool.check()
            raise

    async def close(self) -> None:
        pool, self._pool, self._loop = self._pool, None, None
        if pool is not None and not pool.closed:
            await pool.close()


def _fetch_in_session(statement: AnySelect, params: Mapping[str, Any]) -> list[Row]:
    with new_session() as session:
        return [dict(row) for row in session.execute(statement, params).mappings()]


class SessionReads:
    """The same statement on a Session, in the thread pool: it sees the caller's transaction."""

    async def fetch_all(self, statement: AnySelect, params: Mapping[str, Any]) -> list[Row]:
        return await anyio.to_thread.run_sync(_fetch_in_session, statement, params)

    async def close(self) -> None:
        return None


_reads: Reads | None = None


def reads() -> Reads:
    global _reads
    if _reads is None:
        settings = get_settings()
        if settings.db_async_reads:
            conninfo = database_url(settings).replace("postgresql+psycopg://", "postgresql://", 1)
            _reads = PoolReads(conninfo, max_size=settings.db_pool_size)
        else:
            _reads = SessionReads()
    return _reads


async def fetch_all(statement: AnySelect, params: Mapping[str, Any]) -> list[Row]:
    """The rows of a single-statement read, each a dict of its columns."""
    return await reads().fetch_all(statement, params)


async def fetch_one(statement: AnySelect, params: Mapping[str, Any]) -> Row | None:
    """The first row of a single-statement read (one expected: by key); None when there is none."""
    rows = await reads().fetch_all(statement, params)
    return rows[0] if rows else None


async def close_reads() -> None:
    """Close the reads' connections (the app's shutdown); a later event loop would open new ones."""
    if _reads is not None:
        await _reads.close()

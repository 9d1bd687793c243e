"""Engine and sessions. Transactions belong to the request dependency or the task wrapper.

Services and repositories never commit. `request_session` (API) and the task
decorator (workers) commit once at the end of the unit of work, or roll back.
Work queued with `after_commit` (e.g. Celery sends) runs only after the commit
succeeds and is dropped on rollback.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import date, datetime
from functools import partial
from typing import Any, TypeVar

import anyio.to_thread
import orjson
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from ..config import Settings, get_settings

_engine: Engine | None = None
_factory: sessionmaker[Session] | None = None
_side_engine: Engine | None = None
_side_factory: sessionmaker[Session] | None = None
PENDING_KEY = "water_after_commit"
T = TypeVar("T")


def database_url(settings: Settings) -> str:
    if settings.database_url is None:
        raise RuntimeError("WATER_DATABASE_URL is not set: start the embedded stack with `water up`, or set it.")
    url = settings.database_url.get_secret_value()
    # Accept plain postgres URLs and pick the psycopg 3 driver for them.
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(settings: Settings, pool_size: int | None = None) -> Engine:
    size = pool_size or settings.db_pool_size
    # Pre-ping costs a round trip on every checkout. Without it, a connection that died (PostgreSQL
    # restarted) fails the statement that finds out; SQLAlchemy then invalidates the whole pool, so
    # only the requests in flight at that moment fail (docs/operations.md, "Database restarts").
    return create_engine(
        database_url(settings),
        pool_size=size,
        max_overflow=size,
        pool_pre_ping=settings.db_pool_pre_ping,
        pool_recycle=1800,
        json_serializer=json_dumps,
    )


def json_dumps(value: Any) -> str:
    """JSON and JSONB parameters, by orjson: several times faster than json.dumps on the statement
    figures and run results Water stores. Keys that are not strings become strings, as json.dumps
    makes them; NaN and infinity become null (json.dumps writes `NaN`, which PostgreSQL refuses; no
    stored value holds one: parsers map them to None and the engine refuses to output them).
    What orjson cannot write (an integer beyond 64 bits, valid JSON an analyst may send in a run's
    assumptions) goes through json.dumps, as before, writing dates as orjson does (ISO 8601: a
    refresh's periods go to PostgreSQL as one JSON document, their period ends in it)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value, default=_iso_date)


def _iso_date(value: Any) -> str:
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def get_engine() -> Engine:
    global _engine, _factory
    if _engine is None:
        _engine = make_engine(get_settings())
        _factory = sessionmaker(bind=_engine, expire_on_commit=False)
    return _engine


def dispose_engine() -> None:
    global _engine, _factory, _side_engine, _side_factory
    for engine in (_engine, _side_engine):
        if engine is not None:
            engine.dispose()
    _engine = _side_engine = None
    _factory = _side_factory = None


def new_session() -> Session:
    get_engine()
    assert _factory is not None
    return _factory()


def side_session() -> Session:
    """A session for a short transaction of its own, from a separate small pool.

    For work that must commit independently of the caller's transaction (a job's failure, a
    revocation) while the caller still holds its connection: drawing that second connection
    from the main pool could starve it (every connection held by a request waiting for a
    second one), so side transactions have their own pool, shared with `side_autocommit`.
    """
    global _side_factory
    if _side_factory is None:
        _side_factory = sessionmaker(bind=_side(), expire_on_commit=False)
    return _side_factory()


@contextmanager
def side_autocommit() -> Iterator[Connection]:
    """A connection from the side pool on which every statement commits by itself.

    For side writes that are one statement (a job's claim), or statements each of which may
    stand alone (snapshots: every insert is whole, and content-addressed). No BEGIN and no
    COMMIT: two round trips and the Session's transaction bookkeeping fewer than
    `side_session`, for what a worker does on every job. The pool puts the connection's
    usual isolation level back when it is returned.
    """
    with (_side_connect or _autocommit_connect)() as connection:
        yield connection


def _autocommit_connect() -> Connection:
    return _side().connect().execution_options(isolation_level="AUTOCOMMIT")


# Tests that roll their transaction back replace this, as they replace the session factories, so
# that side statements join the test's transaction.
_side_connect: Callable[[], AbstractContextManager[Connection]] | None = None


def _side() -> Engine:
    global _side_engine
    if _side_engine is None:
        _side_engine = make_engine(get_settings(), pool_size=5)
    return _side_engine


def after_commit(session: Session, callback: Callable[[], Any]) -> None:
    """Run `callback` once the session's transaction commits; forget it on rollback."""
    session.info.setdefault(PENDING_KEY, []).append(callback)


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    pending = session.info.pop(PENDING_KEY, [])
    for callback in pending:
        callback()


@event.listens_for(Session, "after_soft_rollback")
def _drop_after_rollback(session: Session, _previous: Any) -> None:
    session.info.pop(PENDING_KEY, None)


def _commit_and_close(session: Session) -> None:
    try:
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _rollback_and_close(session: Session) -> None:
    try:
        session.rollback()
    finally:
        session.close()


async def request_session() -> AsyncIterator[Session]:
    """FastAPI dependency: one session and one transaction per request, committed at the end.

    Async so that it costs no thread-pool hop of its own: a Session connects lazily, so creating
    one does no I/O. At the end the transaction is committed (rolled back on error) in the thread
    pool, but only if one was begun and is still open: an endpoint that ran its work through
    `run_in_transaction` has already committed in its own hop. Use it with scope="function" so the
    commit happens before the response is sent.
    """
    session = new_session()
    try:
        yield session
    except BaseException:
        if session.in_transaction():
            with anyio.CancelScope(shield=True):  # give the connection back even if the request is cancelled
                await anyio.to_thread.run_sync(_rollback_and_close, session)
        else:
            session.close()
        raise
    if session.in_transaction():
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(_commit_and_close, session)
    else:
        session.close()  # nothing begun, or already committed: no connection, so no I/O


def _work_then_commit(session: Session, work: Callable[[], T]) -> T:
    try:
        result = work()
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return result


async def run_in_transaction(session: Session, work: Callable[..., T], *args: Any) -> T:
    """Run `work(*args)` and commit `session` in one thread-pool hop; roll back if either fails.

    For async endpoints on hot paths: the work, the commit and any `after_commit` callbacks run in
    the same worker thread, so the request makes one hop instead of one for a sync endpoint, one
    for validating its return value and one for the commit at the end. Callers return what `work`
    returned; it must not need the database after the commit (rows are not expired on commit).
    """
    return await anyio.to_thread.run_sync(_work_then_commit, session, partial(work, *args))


async def run_in_new_session(work: Callable[..., T], *args: Any) -> T:
    """`run_in_transaction` on a session of its own, passed to `work` as its first argument.

    For handlers that need the database only on some paths (a read served from a cache otherwise):
    they skip the per-request session dependency. The session is closed after the hop, which has
    already committed or rolled back, so closing does no I/O.
    """
    session = new_session()
    try:
        return await run_in_transaction(session, work, session, *args)
    finally:
        session.close()

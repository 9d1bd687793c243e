"""Engine and sessions. Transactions belong to the request dependency or the task wrapper.

Services and repositories never commit. `get_session` (API) and the task
decorator (workers) commit once at the end of the unit of work, or roll back.
Work queued with `after_commit` (e.g. Celery sends) runs only after the commit
succeeds and is dropped on rollback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from ..config import Settings, get_settings

_engine: Engine | None = None
_factory: sessionmaker[Session] | None = None
PENDING_KEY = "water_after_commit"


def database_url(settings: Settings) -> str:
    if settings.database_url is None:
        raise RuntimeError("WATER_DATABASE_URL is not set: start the embedded stack with `water up`, or set it.")
    url = settings.database_url.get_secret_value()
    # Accept plain postgres URLs and pick the psycopg 3 driver for them.
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(settings: Settings) -> Engine:
    return create_engine(
        database_url(settings),
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
    )


def get_engine() -> Engine:
    global _engine, _factory
    if _engine is None:
        _engine = make_engine(get_settings())
        _factory = sessionmaker(bind=_engine, expire_on_commit=False)
    return _engine


def dispose_engine() -> None:
    global _engine, _factory
    if _engine is not None:
        _engine.dispose()
    _engine = None
    _factory = None


def new_session() -> Session:
    get_engine()
    assert _factory is not None
    return _factory()


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


def get_session() -> Iterator[Session]:
    """FastAPI dependency: one session and one transaction per request, committed at the end."""
    session = new_session()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()

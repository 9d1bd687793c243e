"""Test set-up: real PostgreSQL (migrated by Alembic) and real Redis; each test in a rolled-back transaction.

The environment is fixed before `water` is imported, so every module sees the
test settings.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import settings as hypothesis_settings

from . import stack

os.environ["WATER_ENVIRONMENT"] = "testing"
os.environ["WATER_SECRET_KEY"] = "test-secret-key-that-is-long-enough-0123456789"
os.environ["WATER_DATABASE_URL"] = stack.prepare_database()
os.environ["WATER_REDIS_URL"] = stack.prepare_redis()
os.environ.setdefault("WATER_LOG_LEVEL", "INFO")

from fastapi.testclient import TestClient
from sqlalchemy import Connection
from sqlalchemy.orm import Session, sessionmaker

from water import cli
from water.app import create_app
from water.db import reads as db_reads
from water.db import session as db_session
from water.redis_client import get_redis

from .factories import Factory

# Fixed hypothesis examples in CI (CI=true), so the gate never flakes; new ones locally.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")


def pytest_sessionstart(session: pytest.Session) -> None:
    cli.migrate()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    db_session.dispose_engine()
    stack.release()


@pytest.fixture(autouse=True)
def _clean_rate_limits() -> None:
    redis = get_redis()
    keys = list(redis.scan_iter("water:login:*"))
    if keys:
        redis.delete(*keys)


@pytest.fixture
def connection() -> Iterator[Connection]:
    """One connection holding an outer transaction that is rolled back after the test."""
    engine = db_session.get_engine()
    with engine.connect() as conn:
        outer = conn.begin()
        yield conn
        outer.rollback()


@pytest.fixture
def db(connection: Connection, monkeypatch: pytest.MonkeyPatch) -> Iterator[Session]:
    """Every session the app opens joins the test's transaction (commits become savepoints).

    Hot reads (water.db.reads) run on such a session too, so they see the test's rows; tests with
    committed data (committed_client) exercise their async pool.
    """
    factory = sessionmaker(bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint")
    monkeypatch.setattr(db_session, "_factory", factory)
    monkeypatch.setattr(db_session, "_side_factory", factory)
    monkeypatch.setattr(db_session, "_side_connect", lambda: _savepoint_on(connection))
    monkeypatch.setattr(db_reads, "_reads", db_reads.SessionReads())
    session = factory()
    yield session
    session.close()


@contextmanager
def _savepoint_on(connection: Connection) -> Iterator[Connection]:
    """The test's connection for a side statement (`side_autocommit`), inside a savepoint of its own."""
    with connection.begin_nested():
        yield connection


@pytest.fixture(scope="session")
def app():  # type: ignore[no-untyped-def]
    return create_app()


@pytest.fixture
def client(app, db: Session) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def factory(client: TestClient, db: Session) -> Factory:
    return Factory(client, db)


@pytest.fixture
def committed_client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """A client whose writes really commit (for tests with real workers); isolation by fresh organizations."""
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def committed_factory(committed_client: TestClient) -> Factory:
    return Factory(committed_client, None)

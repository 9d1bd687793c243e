"""Find (or start) the PostgreSQL and Redis the tests run against.

Order: WATER_DATABASE_URL / WATER_REDIS_URL when set; else servers already
listening on 127.0.0.1:5432 / 6379 (CI machines); else the embedded ones.
Each run gets its own database (water_test_<pid>) and Redis database number.
"""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path

import psycopg

# One database and one Redis database per test run, so that two runs on one machine
# (a developer's and CI's, or parallel sessions) never drop or consume each other's data.
TEST_DATABASE = f"water_test_{os.getpid()}"
TEST_REDIS_DBS = range(10, 16)
LOCK_KEY = "water:test-run-lock"
_embedded: list[object] = []
_cleanup: list[object] = []
_server: list[str] = []


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.3):
            return True
    except OSError:
        return False


def _with_database(url: str, database: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=database).render_as_string(hide_password=False)


def _server_url() -> str:
    if os.environ.get("WATER_DATABASE_URL"):
        return os.environ["WATER_DATABASE_URL"]
    if _listening(5432):
        return "postgresql://postgres@127.0.0.1:5432/postgres"
    from water.embedded import EmbeddedPostgres

    server = EmbeddedPostgres(Path(__file__).resolve().parents[2] / ".water-test")
    _embedded.append(server)
    return server.start("postgres")


def prepare_database() -> str:
    """A fresh, empty test database on the chosen server; its URL."""
    server_url = _server_url().replace("postgresql+psycopg://", "postgresql://")
    _server.append(server_url)
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (TEST_DATABASE,),
        )
        conn.execute(f'DROP DATABASE IF EXISTS "{TEST_DATABASE}"')
        conn.execute(f'CREATE DATABASE "{TEST_DATABASE}"')
    return _with_database(server_url, TEST_DATABASE)


def _server_redis() -> str:
    if os.environ.get("WATER_REDIS_URL"):
        return os.environ["WATER_REDIS_URL"].rsplit("/", 1)[0]
    if _listening(6379):
        return "redis://127.0.0.1:6379"
    from water.embedded import EmbeddedRedis

    server = EmbeddedRedis(Path(__file__).resolve().parents[2] / ".water-test")
    _embedded.append(server)
    return server.start().rsplit("/", 1)[0]


def prepare_redis() -> str:
    """A Redis database no other test run holds (a lock key marks it), emptied for this run."""
    import redis

    base = _server_redis()
    for number in TEST_REDIS_DBS:
        client = redis.Redis.from_url(f"{base}/{number}")
        if client.set(LOCK_KEY, os.getpid(), nx=True, ex=3 * 3600):
            for key in client.scan_iter():
                if key != LOCK_KEY.encode():
                    client.delete(key)
            _cleanup.append(client)
            return f"{base}/{number}"
    raise RuntimeError(
        f"every test Redis database ({TEST_REDIS_DBS.start}-{TEST_REDIS_DBS.stop - 1}) is held by another test run"
    )


def drop_database() -> None:
    if not _server:
        return
    with psycopg.connect(_server[0], autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{TEST_DATABASE}" WITH (FORCE)')


def release() -> None:
    """Give back the Redis database, drop the test database, stop embedded servers."""
    for client in _cleanup:
        client.flushdb()  # type: ignore[attr-defined]
    with contextlib.suppress(psycopg.Error):  # best effort: a later run of this pid recreates it anyway
        drop_database()
    for server in _embedded:
        server.stop()  # type: ignore[attr-defined]

"""Find (or start) the PostgreSQL and Redis the tests run against.

Order: WATER_DATABASE_URL / WATER_REDIS_URL when set; else servers already
listening on 127.0.0.1:5432 / 6379 (CI machines); else the embedded ones.
The tests get their own database (water_test) and Redis database number.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import psycopg

TEST_DATABASE = "water_test"
TEST_REDIS_DB = 9
_embedded: list[object] = []


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
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (TEST_DATABASE,),
        )
        conn.execute(f'DROP DATABASE IF EXISTS "{TEST_DATABASE}"')
        conn.execute(f'CREATE DATABASE "{TEST_DATABASE}"')
    return _with_database(server_url, TEST_DATABASE)


def prepare_redis() -> str:
    if os.environ.get("WATER_REDIS_URL"):
        return os.environ["WATER_REDIS_URL"]
    if _listening(6379):
        return f"redis://127.0.0.1:6379/{TEST_REDIS_DB}"
    from water.embedded import EmbeddedRedis

    server = EmbeddedRedis(Path(__file__).resolve().parents[2] / ".water-test")
    _embedded.append(server)
    return server.start().rsplit("/", 1)[0] + f"/{TEST_REDIS_DB}"


def stop_embedded() -> None:
    for server in _embedded:
        server.stop()  # type: ignore[attr-defined]

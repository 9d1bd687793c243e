"""The request path's transaction and threads: commit before the response, rollback on error,
no thread-pool hop for a hot read, and what a lost database connection costs without pre-ping."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import anyio.to_thread
import jwt
import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, bindparam, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from starlette.types import Message, Receive, Scope, Send

from water.app import create_app
from water.auth.dependencies import DbSession, principal_from_access_token
from water.companies import repository as companies_repository
from water.companies.schemas import CompanyRead
from water.config import get_settings
from water.db import reads as db_reads
from water.db.reads import PoolReads, SessionReads, application_name, compiled_sql
from water.db.session import after_commit, database_url, make_engine, run_in_transaction
from water.errors import NotFound, Unauthenticated
from water.models import Company
from water.models.user import Role

from ...factories import Factory


class RecordResponseStart:
    """An ASGI wrapper that notes in `events` when the response starts going out."""

    def __init__(self, app: FastAPI, events: list[str]) -> None:
        self.app = app
        self.events = events

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def recording(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.events.append("response_start")
            await send(message)

        await self.app(scope, receive, recording)


def _write(session: Session, events: list[str], fail: bool = False) -> dict[str, bool]:
    session.execute(text("INSERT INTO probe VALUES (1)"))
    after_commit(session, lambda: events.append("after_commit"))
    if fail:
        raise NotFound("No such thing.")
    return {"ok": True}


@pytest.fixture
def probe_app(db: Session) -> tuple[TestClient, list[str]]:
    """Water's app with four probe routes writing into a temporary table of the test's connection."""
    db.execute(text("CREATE TEMP TABLE probe (v int)"))
    events: list[str] = []
    app = create_app()

    def sync_write(session: DbSession) -> dict[str, bool]:  # committed by the dependency's exit
        return _write(session, events)

    def sync_fail(session: DbSession) -> dict[str, bool]:
        return _write(session, events, fail=True)

    async def async_write(session: DbSession) -> dict[str, bool]:  # committed inside its one hop
        return await run_in_transaction(session, _write, session, events)

    async def async_fail(session: DbSession) -> dict[str, bool]:
        return await run_in_transaction(session, _write, session, events, True)

    for path, endpoint in (
        ("/api/probe/sync", sync_write),
        ("/api/probe/sync-fail", sync_fail),
        ("/api/probe/async", async_write),
        ("/api/probe/async-fail", async_fail),
    ):
        app.add_api_route(path, endpoint, methods=["POST"])
    return TestClient(RecordResponseStart(app, events), raise_server_exceptions=False), events


def _rows(db: Session) -> int:
    return int(db.execute(text("SELECT count(*) FROM probe")).scalar_one())


@pytest.mark.parametrize("path", ["/api/probe/sync", "/api/probe/async"])
def test_a_write_commits_and_its_hooks_run_before_the_response_starts(
    probe_app: tuple[TestClient, list[str]], db: Session, path: str
) -> None:
    client, events = probe_app
    with client:
        response = client.post(path)
    assert response.status_code == 200
    assert events == ["after_commit", "response_start"]
    assert _rows(db) == 1


@pytest.mark.parametrize("path", ["/api/probe/sync-fail", "/api/probe/async-fail"])
def test_an_error_rolls_back_and_drops_the_hooks(
    probe_app: tuple[TestClient, list[str]], db: Session, path: str
) -> None:
    client, events = probe_app
    with client:
        response = client.post(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert events == ["response_start"]
    assert _rows(db) == 0


@pytest.fixture
def thread_hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every call into the thread pool (Starlette's run_in_threadpool and ours go through anyio)."""
    hops: list[str] = []
    real = anyio.to_thread.run_sync

    async def counting(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        hops.append(getattr(func, "__name__", repr(func)))
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting)
    return hops


def test_reading_a_company_makes_no_thread_pool_hop(
    committed_client: TestClient, committed_factory: Factory, thread_hops: list[str]
) -> None:
    """The hot read is one statement awaited in the event loop, on the async pool (committed rows)."""
    org = committed_factory.organization(with_roles=False)
    other = committed_factory.organization(with_roles=False)
    company = committed_factory.company(org.admin)
    thread_hops.clear()
    response = committed_client.get(f"/api/companies/{company['id']}", headers=org.admin.headers)
    assert response.status_code == 200
    assert response.json() == company
    assert thread_hops == []
    assert committed_client.get(f"/api/companies/{company['id']}", headers=other.admin.headers).status_code == 404
    assert committed_client.delete(f"/api/companies/{company['id']}", headers=org.admin.headers).status_code == 204
    thread_hops.clear()
    assert committed_client.get(f"/api/companies/{company['id']}", headers=org.admin.headers).status_code == 404
    assert thread_hops == []


def test_both_read_paths_run_the_same_statement_and_agree(committed_factory: Factory) -> None:
    org = committed_factory.organization(with_roles=False)
    company = committed_factory.company(org.admin, identifiers={"cik": "0000320193"})
    committed_factory.company(org.admin)
    params = {"organization_id": uuid.UUID(org.id), "company_id": uuid.UUID(company["id"])}
    missing = {**params, "company_id": uuid.uuid4()}
    every = (
        select(*companies_repository._READ.selected_columns)
        .where(Company.organization_id == bindparam("organization_id"))
        .order_by(Company.name)
    )

    async def read_both() -> list[Any]:
        pool = PoolReads(database_url(get_settings()).replace("+psycopg", ""), max_size=2)
        try:
            return [
                await reader.fetch_all(statement, p)
                for reader in (pool, SessionReads())
                for statement, p in ((companies_repository._READ, params), (companies_repository._READ, missing),
                                     (every, params))
            ]  # fmt: skip
        finally:
            await pool.close()

    one, none, both, *from_session = anyio.run(read_both)
    assert [one, none, both] == from_session
    assert len(one) == 1
    assert one[0]["identifiers"] == {"cik": "0000320193"}
    assert none == []
    assert len(both) == 2
    assert CompanyRead.model_validate(one[0]).model_dump(mode="json") == company


def test_hot_reads_name_their_binds() -> None:
    with pytest.raises(ValueError, match="every value as a named parameter"):
        compiled_sql(select(Company.id).where(Company.ticker == "AAPL"))
    assert "%(ticker)s" in compiled_sql(select(Company.id).where(Company.ticker == bindparam("ticker")))


def _kill_pooled_connections(engine: Engine, count: int) -> None:
    """Open `count` pooled connections, return them to the pool, and terminate their server processes
    (what a PostgreSQL restart does to a pool)."""
    connections = [engine.connect() for _ in range(count)]
    pids = [c.execute(text("SELECT pg_backend_pid()")).scalar_one() for c in connections]
    for connection in connections:
        connection.close()
    with psycopg.connect(database_url(get_settings()).replace("+psycopg", ""), autocommit=True) as admin:
        for pid in pids:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


def test_without_pre_ping_a_lost_connection_fails_one_statement_then_the_pool_recovers() -> None:
    settings = get_settings()
    assert settings.db_pool_pre_ping is False  # the default: no round trip per checkout
    engine = make_engine(settings, pool_size=3)
    try:
        _kill_pooled_connections(engine, 3)
        with pytest.raises(DBAPIError) as lost, engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        assert lost.value.connection_invalidated
        # The failure invalidated the whole pool: the other two dead connections are never handed out.
        for _ in range(6):
            with engine.connect() as connection:
                assert connection.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        engine.dispose()


def test_a_lost_connection_is_a_503_problem_and_the_retry_succeeds() -> None:
    engine = make_engine(get_settings(), pool_size=1)
    app = create_app()

    def ping() -> dict[str, int]:
        with Session(engine) as session:
            return {"one": int(session.execute(text("SELECT 1")).scalar_one())}

    app.add_api_route("/api/probe/ping", ping)
    try:
        _kill_pooled_connections(engine, 1)
        with TestClient(app, raise_server_exceptions=False) as client:
            lost = client.get("/api/probe/ping", headers={"X-Request-ID": "lost-1"})
            assert lost.status_code == 503
            assert lost.headers["retry-after"] == "1"
            assert lost.json()["code"] == "database_unavailable"
            assert lost.json()["request_id"] == "lost-1"
            assert client.get("/api/probe/ping").json() == {"one": 1}
    finally:
        engine.dispose()


def test_a_lost_read_connection_is_a_503_problem_and_the_retry_succeeds(
    committed_client: TestClient, committed_factory: Factory
) -> None:
    """A PostgreSQL restart as the async read pool sees it: one request fails, the pool recovers."""
    org = committed_factory.organization(with_roles=False)
    company = committed_factory.company(org.admin)
    url = f"/api/companies/{company['id']}"
    assert committed_client.get(url, headers=org.admin.headers).status_code == 200  # the pool is open
    with psycopg.connect(database_url(get_settings()).replace("+psycopg", ""), autocommit=True) as admin:
        killed = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (application_name(),),
        ).fetchall()
    assert killed
    lost = committed_client.get(url, headers={**org.admin.headers, "X-Request-ID": "lost-read-1"})
    assert lost.status_code == 503
    assert lost.headers["retry-after"] == "1"
    assert lost.json()["code"] == "database_unavailable"
    assert lost.json()["request_id"] == "lost-read-1"
    for _ in range(3):
        assert committed_client.get(url, headers=org.admin.headers).json() == company


def test_a_response_without_cors_still_varies_on_origin(client: TestClient) -> None:
    response = client.get("/api/healthz")
    assert response.headers["vary"] == "Origin"
    assert "access-control-allow-origin" not in response.headers


def test_a_verified_access_token_is_refused_once_it_expires() -> None:
    secret = get_settings().secret_key.get_secret_value()
    expires = int(time.time()) + 2
    claims = {"sub": str(uuid.uuid4()), "org": str(uuid.uuid4()), "role": "viewer", "typ": "access"}
    token = jwt.encode({**claims, "iat": int(time.time()), "exp": expires}, secret, algorithm="HS256")
    first = principal_from_access_token(token)
    assert first.role == Role.viewer
    assert principal_from_access_token(token) is first  # verified once, then remembered
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    with pytest.raises(Unauthenticated):
        principal_from_access_token(forged)  # another string: verified on its own
    time.sleep(max(0.0, expires - time.time()) + 0.05)
    with pytest.raises(Unauthenticated):
        principal_from_access_token(token)


@pytest.mark.parametrize(("setting", "kind"), [("true", PoolReads), ("false", SessionReads)])
def test_async_reads_follow_the_setting(monkeypatch: pytest.MonkeyPatch, setting: str, kind: type) -> None:
    monkeypatch.setenv("WATER_DB_ASYNC_READS", setting)
    monkeypatch.setattr(db_reads, "_reads", None)
    get_settings.cache_clear()
    try:
        assert isinstance(db_reads.reads(), kind)
    finally:
        get_settings.cache_clear()

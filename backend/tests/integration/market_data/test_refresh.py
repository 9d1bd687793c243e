"""A company's refresh against the fake Alpha Vantage server, committed in real PostgreSQL and Redis.

One batch of nine requests per company: the misses go through the shared limiter, their
snapshots are stored in one transaction (also when a later call is throttled), and datasets
whose snapshots did not change are not parsed or mapped again.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from water.companies.repository import CompanyRepository
from water.db.session import new_session
from water.jobs import service as jobs
from water.jobs.repository import ClaimedJob
from water.market_data import gateway, service, tasks
from water.market_data.errors import ProviderUnavailable, RateLimited, SymbolNotFound
from water.market_data.providers.alphavantage import AlphaVantageTransport
from water.market_data.quota import Plan, RateLimiter
from water.market_data.repository import MarketDataRepository
from water.models import Company, FinancialPeriod, MarketDataSnapshot
from water.redis_client import get_redis

from ...factories import Factory, Org
from ...fakes.alphavantage_server import FakeAlphaVantage

UNLIMITED = Plan(requests_per_second=100_000, burst=100_000, daily_budget=-1)


@pytest.fixture
def fake_gateway(fake_alphavantage: FakeAlphaVantage, monkeypatch: pytest.MonkeyPatch) -> Iterator[gateway.Gateway]:
    """The real gateway and transport against the fake server, with a limiter of its own (unlimited)."""
    transport = AlphaVantageTransport("test-key", fake_alphavantage.url, 5.0)
    gw = gateway.Gateway(transport.fetch, "alphavantage", limiter=RateLimiter(f"test-{uuid.uuid4().hex}", UNLIMITED))
    monkeypatch.setattr(gateway, "default_gateway", lambda: gw)
    monkeypatch.setattr(service, "default_gateway", lambda: gw)
    yield gw
    transport.close()


def _clear_raw_cache() -> None:
    redis = get_redis()
    keys = list(redis.scan_iter("water:md:raw:*"))
    if keys:
        redis.delete(*keys)


def _company(client: TestClient, org: Org, symbol: str = "DAQI") -> uuid.UUID:
    response = client.post("/api/companies/from-symbol", json={"symbol": symbol}, headers=org.admin.headers)
    assert response.status_code == 201, response.text
    return uuid.UUID(response.json()["id"])


def _uncached_company(client: TestClient, factory: Factory, symbol: str = "DAQI") -> uuid.UUID:
    """A company of a new organization, with the raw cache emptied: its next refresh calls the provider."""
    company_id = _company(client, factory.organization(with_roles=False), symbol)
    _clear_raw_cache()
    return company_id


def _refresh(company_id: uuid.UUID, budget: float = 60) -> dict[str, Any]:
    with new_session() as session:
        company = session.get(Company, company_id)
        assert company is not None
        result = service.refresh_company(session, company, deadline=time.monotonic() + budget)
        session.commit()
    return result


def _periods(company_id: uuid.UUID) -> list[tuple[Any, ...]]:
    with new_session() as session:
        rows = session.execute(
            select(
                FinancialPeriod.id,
                FinancialPeriod.source_kind,
                FinancialPeriod.period_type,
                FinancialPeriod.fiscal_date_ending,
                FinancialPeriod.figures,
            )
            .where(FinancialPeriod.company_id == company_id)
            .order_by(FinancialPeriod.period_type, FinancialPeriod.fiscal_date_ending)
        )
        return [tuple(row) for row in rows]


def _snapshot_count(symbol: str) -> int:
    with new_session() as session:
        count = session.scalar(
            select(func.count()).select_from(MarketDataSnapshot).where(MarketDataSnapshot.symbol == symbol)
        )
        return int(count or 0)


def test_refresh_stores_each_response_once_and_skips_unchanged_datasets(
    committed_client: TestClient, committed_factory: Factory, fake_alphavantage: FakeAlphaVantage, fake_gateway: Any
) -> None:
    company_id = _uncached_company(committed_client, committed_factory)
    calls_before, snapshots_before = fake_alphavantage.total_requests, _snapshot_count("DAQI")

    first = _refresh(company_id)
    assert fake_alphavantage.total_requests - calls_before == 9
    assert first["provider_calls"] == 9
    with new_session() as session:
        pointers = MarketDataRepository(session).dataset_pointers(company_id)
        assert set(pointers) == set(service.REFRESH_DATASETS)
        pinned = {i for ids in pointers.values() for i in ids}
        assert len(pinned) == 9  # every response used is a snapshot, each dataset points at its own
        stored = session.scalars(select(MarketDataSnapshot.id).where(MarketDataSnapshot.id.in_(pinned))).all()
        assert len(stored) == 9
    periods = _periods(company_id)
    assert periods
    assert {p[1] for p in periods} == {"provider"}
    for _id, _kind, _type, _end, figures in periods:  # provenance: every figure names a pinned snapshot
        for figure in figures.values():
            assert figure["source"]
            assert figure["snapshot_id"] is None or uuid.UUID(figure["snapshot_id"]) in pinned
    statement_snapshots = {uuid.UUID(f["snapshot_id"]) for p in periods for f in p[4].values() if f["snapshot_id"]}
    assert statement_snapshots == set(pointers["statements"])

    # Again with an empty cache: nine provider calls, identical bodies, so no new snapshots and no re-mapping.
    _clear_raw_cache()
    snapshots_after_first = _snapshot_count("DAQI")
    second = _refresh(company_id)
    assert second["provider_calls"] == 9
    assert _snapshot_count("DAQI") == snapshots_after_first
    assert snapshots_after_first >= snapshots_before
    assert sorted(second["unchanged"]) == sorted(["daily_prices", "statements", "earnings", "dividends", "splits"])
    assert _periods(company_id) == periods  # the same rows (ids included): not deleted and re-inserted

    # A cache hit makes no provider call at all.
    calls = fake_alphavantage.total_requests
    assert _refresh(company_id)["provider_calls"] == 0
    assert fake_alphavantage.total_requests == calls

    # An analyst's import replaces the provider's periods, and a refresh keeps it (it would otherwise
    # be lost to the next nightly run); once it is deleted, the next refresh maps the same snapshots again.
    imported = [{"period_type": "annual", "fiscal_date_ending": periods[0][3], "currency": "USD", "figures": {}}]
    with new_session() as session:
        company = session.get(Company, company_id)
        assert company is not None
        MarketDataRepository(session).replace_periods(company, "import", imported)
        session.commit()
    imported_rows = _periods(company_id)
    assert [p[1] for p in imported_rows] == ["import"]
    third = _refresh(company_id)
    assert third["imported_statements_kept"] is True
    assert "statements" not in third["unchanged"]
    assert _periods(company_id) == imported_rows
    with new_session() as session:
        company = session.get(Company, company_id)
        assert company is not None
        assert MarketDataRepository(session).delete_imported_periods(company) == 1
        session.commit()
    fourth = _refresh(company_id)
    assert fourth["imported_statements_kept"] is False
    assert "statements" not in fourth["unchanged"]
    assert [p[1:] for p in _periods(company_id)] == [p[1:] for p in periods]


def _refresh_twice_at_once(company_id: uuid.UUID) -> list[object]:
    """Two threads, each its own session and connection, released together by a barrier; their outcomes."""
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def refresh() -> None:
        try:
            with new_session() as session:
                company = session.get(Company, company_id)
                assert company is not None
                barrier.wait(timeout=10)
                result = service.refresh_company(session, company, deadline=time.monotonic() + 60)
                session.commit()
            outcomes.append(result)
        except Exception as exc:  # reported by the caller with the other thread's outcome
            outcomes.append(exc)

    threads = [threading.Thread(target=refresh) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_two_refreshes_of_one_company_at_once_both_succeed(
    committed_client: TestClient, committed_factory: Factory, fake_gateway: Any
) -> None:
    """Both map the statements (a first refresh) at the same moment; the company row lock makes them take turns.

    Without the lock, the second DELETE sees none of the first's rows and its INSERT violates the unique key.
    """
    org = committed_factory.organization(with_roles=False)
    for symbol in ("DAQI", "DBRK", "DCSH"):
        company_id = _company(committed_client, org, symbol)
        outcomes = _refresh_twice_at_once(company_id)
        assert len(outcomes) == 2
        assert all(isinstance(o, dict) for o in outcomes), outcomes
        periods = _periods(company_id)
        keys = [(p[2], p[3]) for p in periods]
        assert periods
        assert len(keys) == len(set(keys))
        assert {p[1] for p in periods} == {"provider"}


def _refresh_while_another_transaction_holds_the_company(
    company_id: uuid.UUID, change: Callable[[Session, Company], None], refresh_work: Callable[[], object]
) -> list[object]:
    """Run `change` on the company (which locks its row) and, before committing it, start
    `refresh_work` in a thread; commit once the refresh has had time to reach the lock. Its outcome."""
    outcomes: list[object] = []

    def refresh() -> None:
        try:
            outcomes.append(refresh_work())
        except Exception as exc:  # the caller checks it
            outcomes.append(exc)

    with new_session() as changing:
        company = changing.get(Company, company_id)
        assert company is not None
        change(changing, company)
        changing.flush()
        thread = threading.Thread(target=refresh)
        thread.start()
        thread.join(timeout=1.0)
        assert thread.is_alive()  # waiting for the row lock
        changing.commit()
    thread.join(timeout=30)
    return outcomes


def _refresh_job(company_id: uuid.UUID) -> Callable[[], object]:
    """The refresh job's work for the company, as the task runs it (rolled back when it asks to be retried)."""

    def work() -> object:
        job = ClaimedJob(uuid.uuid4(), uuid.uuid4(), {"company_id": str(company_id)}, 1)
        with new_session() as session:
            try:
                return tasks._refresh_work(session, job)
            finally:
                session.rollback()

    return work


def test_an_import_committed_while_a_refresh_runs_is_kept(
    committed_client: TestClient, committed_factory: Factory, fake_gateway: Any
) -> None:
    """The refresh locks the company row before it reads the periods' source, so an import that holds
    the lock is waited for, then seen, and kept."""
    company_id = _company(committed_client, committed_factory.organization(with_roles=False))
    _refresh(company_id)
    _clear_raw_cache()  # the refresh below fetches, so it maps the statements if it may
    imported = [{"period_type": "annual", "fiscal_date_ending": "2024-12-31", "currency": "EUR", "figures": {}}]

    def import_statements(session: Session, company: Company) -> None:
        MarketDataRepository(session).replace_periods(company, "import", imported)

    outcomes = _refresh_while_another_transaction_holds_the_company(
        company_id, import_statements, lambda: _refresh(company_id)
    )
    (outcome,) = outcomes
    assert isinstance(outcome, dict), outcome
    assert outcome["imported_statements_kept"] is True
    assert [(p[1], str(p[3])) for p in _periods(company_id)] == [("import", "2024-12-31")]


def test_a_refresh_that_fetched_the_old_ticker_stores_nothing(
    committed_client: TestClient, committed_factory: Factory, fake_gateway: Any
) -> None:
    """A ticker change drops the old ticker's statements and pointers; a refresh job that fetched the
    old ticker meanwhile waits for the change's lock, sees the new ticker, stores nothing and asks to
    be retried at once (the retry fetches the new ticker's data)."""
    company_id = _company(committed_client, committed_factory.organization(with_roles=False))
    _refresh(company_id)

    def change_ticker(session: Session, company: Company) -> None:
        company.ticker = "DBRK"
        CompanyRepository(session).forget_provider_data(company)

    outcomes = _refresh_while_another_transaction_holds_the_company(company_id, change_ticker, _refresh_job(company_id))
    (outcome,) = outcomes
    assert isinstance(outcome, jobs.RetryLater), outcome
    assert outcome.retry_in == 0.0
    assert "ticker changed from DAQI" in outcome.reason
    assert _periods(company_id) == []
    with new_session() as session:
        assert MarketDataRepository(session).dataset_pointers(company_id) == {}
    assert _refresh(company_id)["symbol"] == "DBRK"
    assert {p[1] for p in _periods(company_id)} == {"provider"}
    with new_session() as session:
        statements = MarketDataRepository(session).dataset_pointers(company_id)["statements"]
        sources = session.scalars(select(MarketDataSnapshot.symbol).where(MarketDataSnapshot.id.in_(statements)))
        assert set(sources) == {"DBRK"}


def _store_import(company_id: uuid.UUID) -> None:
    """One annual period of an analyst's import (2024), committed as the company's statements."""
    imported = [{"period_type": "annual", "fiscal_date_ending": "2024-12-31", "currency": "USD", "figures": {}}]
    with new_session() as session:
        company = session.get(Company, company_id)
        assert company is not None
        MarketDataRepository(session).replace_periods(company, "import", imported)
        session.commit()


def test_a_company_with_imported_statements_is_refreshed_without_the_providers_statements(
    committed_client: TestClient, committed_factory: Factory, fake_alphavantage: FakeAlphaVantage, fake_gateway: Any
) -> None:
    """A fund (or a ticker without fundamentals) fails a refresh on its statements; once the analyst
    imported statements for it, its refreshes no longer ask for the provider's and succeed."""
    company_id = _uncached_company(committed_client, committed_factory, "DSPY")
    with pytest.raises(SymbolNotFound, match="INCOME_STATEMENT for DSPY"):
        _refresh(company_id)
    _store_import(company_id)
    _clear_raw_cache()
    fundamental_calls = sum(fake_alphavantage.count(f, "DSPY") for f in service.FUNDAMENTAL_FUNCTIONS)
    result = _refresh(company_id)
    assert result["imported_statements_kept"] is True
    assert result["provider_calls"] == 5
    assert result["datasets"] == ["overview", "quote", "daily_prices", "dividends", "splits"]
    assert sum(fake_alphavantage.count(f, "DSPY") for f in service.FUNDAMENTAL_FUNCTIONS) == fundamental_calls
    assert [(p[1], str(p[3])) for p in _periods(company_id)] == [("import", "2024-12-31")]
    with new_session() as session:
        assert set(MarketDataRepository(session).dataset_pointers(company_id)) == set(result["datasets"])


def test_a_refresh_that_skipped_the_statements_of_an_import_deleted_meanwhile_is_retried(
    committed_client: TestClient, committed_factory: Factory, fake_gateway: Any
) -> None:
    company_id = _company(committed_client, committed_factory.organization(with_roles=False))
    _store_import(company_id)

    def delete_import(session: Session, company: Company) -> None:
        assert MarketDataRepository(session).delete_imported_periods(company) == 1

    outcomes = _refresh_while_another_transaction_holds_the_company(company_id, delete_import, _refresh_job(company_id))
    (outcome,) = outcomes
    assert isinstance(outcome, jobs.RetryLater), outcome
    assert "imported statements were deleted" in outcome.reason
    assert _periods(company_id) == []
    assert "statements" in _refresh(company_id)["datasets"]  # the retry: the provider's statements
    assert {p[1] for p in _periods(company_id)} == {"provider"}


def test_a_throttled_refresh_keeps_every_response_it_fetched(
    committed_client: TestClient,
    committed_factory: Factory,
    fake_alphavantage: FakeAlphaVantage,
    fake_gateway: gateway.Gateway,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    company_id = _uncached_company(committed_client, committed_factory, "DBRK")
    # A bucket of four tokens that refills once a day: the fifth miss is throttled at once.
    monkeypatch.setattr(fake_gateway, "max_wait", 0.0)
    monkeypatch.setattr(
        fake_gateway, "limiter", RateLimiter(f"test-{uuid.uuid4().hex}", Plan(1 / 86400, 4, daily_budget=-1))
    )
    calls = fake_alphavantage.total_requests
    with pytest.raises(RateLimited) as throttled:
        _refresh(company_id)
    assert throttled.value.scope == "burst"
    assert fake_alphavantage.total_requests - calls == 4
    with new_session() as session:  # the refresh rolled back (only the creation's overview is recorded)...
        assert set(MarketDataRepository(session).dataset_pointers(company_id)) == {"overview"}
    requests = service.default_provider().company_requests("DBRK")
    cached = [r for r in gateway.cache.get_many(requests) if r is not None]
    assert len(cached) == 4  # ...but its four responses are cached...
    assert all(r.snapshot_id for r in cached)
    with new_session() as session:  # ...pointing at stored snapshots
        ids = [uuid.UUID(r.snapshot_id) for r in cached if r.snapshot_id]
        assert len(session.scalars(select(MarketDataSnapshot.id).where(MarketDataSnapshot.id.in_(ids))).all()) == 4

    # The retry makes only the five calls that are left.
    monkeypatch.setattr(fake_gateway, "limiter", RateLimiter(f"test-{uuid.uuid4().hex}", UNLIMITED))
    calls = fake_alphavantage.total_requests
    result = _refresh(company_id)
    assert fake_alphavantage.total_requests - calls == 5
    assert result["provider_calls"] == 5


def test_a_refresh_never_waits_for_a_slot_beyond_its_deadline(
    committed_client: TestClient,
    committed_factory: Factory,
    fake_alphavantage: FakeAlphaVantage,
    fake_gateway: gateway.Gateway,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A worker's refresh stops at its deadline (before Celery's soft time limit), so it is retried
    rather than killed: it does not sleep towards a call slot that comes after the deadline, even
    when the gateway would wait that long for an API request, and it leaves that slot to others."""
    company_id = _uncached_company(committed_client, committed_factory, "DAQI")
    limiter = RateLimiter(f"test-{uuid.uuid4().hex}", Plan(requests_per_second=0.5, burst=4, daily_budget=-1))
    monkeypatch.setattr(fake_gateway, "limiter", limiter)  # four calls now, the fifth 2 s later
    assert fake_gateway.max_wait >= 2
    calls = fake_alphavantage.total_requests
    started = time.monotonic()
    with pytest.raises(RateLimited) as throttled:
        _refresh(company_id, budget=0.5)
    assert time.monotonic() - started < 1.5
    assert throttled.value.scope == "burst"
    assert fake_alphavantage.total_requests - calls == 4
    assert limiter.state().used_today == 4


def test_a_refresh_takes_its_misses_tokens_at_once_and_never_more_than_the_bucket_holds(
    committed_client: TestClient,
    committed_factory: Factory,
    fake_alphavantage: FakeAlphaVantage,
    fake_gateway: gateway.Gateway,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    company_id = _uncached_company(committed_client, committed_factory, "DCSH")
    limiter = RateLimiter(f"test-{uuid.uuid4().hex}", Plan(1 / 86400, 9, daily_budget=-1))
    monkeypatch.setattr(fake_gateway, "max_wait", 0.0)
    monkeypatch.setattr(fake_gateway, "limiter", limiter)
    calls = fake_alphavantage.total_requests
    assert _refresh(company_id)["provider_calls"] == 9
    assert limiter.state().used_today == 9
    _clear_raw_cache()  # nine misses again, and no token left: not one call is made
    with pytest.raises(RateLimited):
        _refresh(company_id)
    assert fake_alphavantage.total_requests - calls == 9
    assert limiter.state().used_today == 9


def test_a_batch_whose_tokens_are_all_there_is_fetched_together(
    committed_client: TestClient,
    committed_factory: Factory,
    fake_alphavantage: FakeAlphaVantage,
    fake_gateway: gateway.Gateway,
) -> None:
    """Nine calls of 0.3 s each take about three rounds of FETCH_THREADS, not nine in a row."""
    company_id = _uncached_company(committed_client, committed_factory, "DAQI")
    fake_alphavantage.fail("slow", times=9, delay=0.3)
    started = time.monotonic()
    result = _refresh(company_id)
    elapsed = time.monotonic() - started
    assert result["provider_calls"] == 9
    assert elapsed < 9 * 0.3 * 0.6, f"{elapsed:.2f} s: the calls did not overlap"


def test_a_failed_call_in_a_concurrent_batch_keeps_the_others(
    committed_client: TestClient,
    committed_factory: Factory,
    fake_alphavantage: FakeAlphaVantage,
    fake_gateway: gateway.Gateway,
) -> None:
    company_id = _uncached_company(committed_client, committed_factory, "DCSH")
    fake_alphavantage.fail("http_500", times=1)
    calls = fake_alphavantage.total_requests
    with pytest.raises(ProviderUnavailable):
        _refresh(company_id)
    assert fake_alphavantage.total_requests - calls == 9  # every call was made, together
    requests = service.default_provider().company_requests("DCSH")
    cached = [r for r in gateway.cache.get_many(requests) if r is not None]
    assert len(cached) == 8  # the eight answers are stored and cached
    assert all(r.snapshot_id for r in cached)
    calls = fake_alphavantage.total_requests
    assert _refresh(company_id)["provider_calls"] == 1  # the retry makes only the failed call
    assert fake_alphavantage.total_requests - calls == 1


def test_the_refresh_checks_a_daily_series_as_strictly_as_parsing_it() -> None:
    """The refresh validates the daily series without building its bars; it refuses what parsing refuses."""
    from datetime import UTC, datetime

    from water.market_data.errors import ProviderUnavailable
    from water.market_data.providers.alphavantage import AlphaVantageProvider, parse_daily_series
    from water.market_data.providers.base import ProviderRequest, RawResponse

    def answer(body: bytes) -> AlphaVantageProvider:
        return AlphaVantageProvider(lambda request: RawResponse(request, body, "application/json", datetime.now(UTC)))

    no_series = b'{"Meta Data": {"2. Symbol": "DAQI"}}'
    with pytest.raises(ProviderUnavailable):
        answer(no_series).check_daily_prices("DAQI", full=True)
    request = ProviderRequest.of("alphavantage", "TIME_SERIES_DAILY", symbol="DAQI", outputsize="full")
    with pytest.raises(ProviderUnavailable):
        parse_daily_series(RawResponse(request, no_series, "application/json", datetime.now(UTC)))
    one_row = b'{"Time Series (Daily)": {"2025-01-02": {"4. close": "10.5"}, "bad": {"4. close": "1"}}}'
    raw = answer(one_row).check_daily_prices("DAQI", full=True)
    assert raw.request == request
    assert [bar.close for bar in parse_daily_series(raw)] == [10.5]


def test_a_snapshot_stored_by_another_transaction_in_between_is_found_not_duplicated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The batch looks hashes up, then inserts the rest; one stored meanwhile conflicts and is looked up again."""
    from datetime import UTC, datetime

    from water.market_data import snapshots
    from water.market_data.providers.base import ProviderRequest, RawResponse

    request = ProviderRequest.of("alphavantage", "SPLITS", symbol=f"RACE{uuid.uuid4().hex[:6].upper()}")
    first = RawResponse(request, b'{"data": []}', "application/json", datetime.now(UTC))
    new = RawResponse(request, b'{"data": [1]}', "application/json", datetime.now(UTC))
    [stored] = snapshots.store_many([first])
    real_ids_of = snapshots._ids_of
    lookups: list[list[str]] = []

    def first_lookup_misses(session: Any, digests: list[str]) -> dict[str, uuid.UUID]:
        lookups.append(digests)
        return {} if len(lookups) == 1 else real_ids_of(session, digests)  # as if stored after our SELECT

    monkeypatch.setattr(snapshots, "_ids_of", first_lookup_misses)
    ids = snapshots.store_many([first, new, first])
    assert ids[0] == stored
    assert ids[2] == stored
    assert ids[1] != stored
    assert lookups[1] == [snapshots.content_hash(first)]
    with new_session() as session:
        assert _snapshot_count(request.symbol or "") == 2
        assert session.get(MarketDataSnapshot, uuid.UUID(ids[1])) is not None


def test_two_processes_missing_the_same_keys_make_each_call_once(
    fake_alphavantage: FakeAlphaVantage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Single flight: concurrent batches over the same nine keys make nine provider calls, not eighteen."""
    transport = AlphaVantageTransport("test-key", fake_alphavantage.url, 5.0)

    def slow(request: Any) -> Any:  # the real transport, a little slower, so the two batches overlap
        time.sleep(0.03)
        return transport.fetch(request)

    gw = gateway.Gateway(slow, "alphavantage", limiter=RateLimiter(f"test-{uuid.uuid4().hex}", UNLIMITED))
    monkeypatch.setattr(gateway, "default_gateway", lambda: gw)
    _clear_raw_cache()
    requests = service.default_provider().company_requests("DAQI")
    barrier = threading.Barrier(2)
    outcomes: list[Any] = []

    def batch() -> None:
        barrier.wait(timeout=10)
        try:
            outcomes.append([r.snapshot_id for r in gw.fetch_many(requests)])
        except Exception as exc:  # reported below
            outcomes.append(exc)

    calls = fake_alphavantage.total_requests
    threads = [threading.Thread(target=batch) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    transport.close()
    assert len(outcomes) == 2
    assert outcomes[0] == outcomes[1], outcomes
    assert all(outcomes[0])
    assert fake_alphavantage.total_requests - calls == 9


def test_a_key_claimed_by_a_process_that_never_delivers_is_fetched_after_the_wait(
    fake_alphavantage: FakeAlphaVantage, fake_gateway: gateway.Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    from water.market_data import cache

    monkeypatch.setattr(gateway, "FLIGHT_WAIT_SECONDS", 0.2)
    _clear_raw_cache()
    [request] = [r for r in service.default_provider().company_requests("DBRK") if r.function == "SPLITS"]
    assert cache.claim_many([request], "a-worker-that-died", 60_000) == [True]
    calls, started = fake_alphavantage.total_requests, time.monotonic()
    response = fake_gateway.fetch(request)
    assert response.snapshot_id
    assert 0.2 <= time.monotonic() - started < 5
    assert fake_alphavantage.total_requests - calls == 1
    cache.release_many([request], "a-worker-that-died")
    assert cache.claim_many([request], "next", 1000) == [True]  # released by its owner's token only
    cache.release_many([request], "someone-else")
    assert cache.claim_many([request], "again", 1000) == [False]
    cache.release_many([request], "next")

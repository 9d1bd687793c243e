"""Every Alpha Vantage error reaches the API user as an RFC 9457 problem, with a stable code, a readable
detail that does not leak the API key, and nothing partial written.

Water runs with an API key configured (`WATER_ALPHAVANTAGE_API_KEY`) and the base URL pointed at the fake
Alpha Vantage server on a real socket, so the real transport, classification, gateway and limiter run;
the fake server answers with the recorded error bodies of `../shared/fixtures/alphavantage/manifest.json`
(or a failure mode: HTML page, HTTP 5xx, a connection reset, a timeout).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from water.config import get_settings
from water.db.session import new_session
from water.market_data import gateway, service
from water.models import Company, CompanyDataset, FinancialPeriod, MarketDataSnapshot
from water.redis_client import get_redis

from ...factories import Factory, Org
from ...fakes.alphavantage_server import FakeAlphaVantage

# Letters and digits, like a real key; long enough for `redact` (and unlikely to appear by chance).
API_KEY = "WTRKEY" + uuid.uuid4().hex[:10].upper()


def configure(fake: FakeAlphaVantage, monkeypatch: pytest.MonkeyPatch, *, timeout: float = 5.0) -> None:
    """Water with a real Alpha Vantage key, talking to the fake server, with an unlimited plan of our own."""
    for name, value in {
        "WATER_ALPHAVANTAGE_API_KEY": API_KEY,
        "WATER_ALPHAVANTAGE_BASE_URL": fake.url,
        "WATER_ALPHAVANTAGE_TIMEOUT_SECONDS": str(timeout),
        "WATER_MARKET_DATA_DEMO": "false",
        "WATER_MARKET_DATA_REQUESTS_PER_SECOND": "100000",
        "WATER_MARKET_DATA_BURST": "100000",
        "WATER_MARKET_DATA_DAILY_BUDGET": "-1",
        "WATER_MARKET_DATA_BENCHMARK": "DSPY",  # served by the fake's demo data
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    gateway.default_gateway.cache_clear()
    assert gateway.default_gateway().provider == "alphavantage"


@pytest.fixture
def alphavantage(
    recorded_alphavantage: FakeAlphaVantage, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeAlphaVantage]:
    configure(recorded_alphavantage, monkeypatch)
    yield recorded_alphavantage
    gateway.default_gateway.cache_clear()  # the market-data conftest clears the settings after the env is restored


# --- what each recorded body or failure must become --------------------------------------------


@dataclass(frozen=True)
class Failure:
    name: str
    file: str | None = None  # a recorded body from the manifest
    mode: str | None = None  # or a failure mode of the fake server
    status: int = 503
    code: str = "market_data_unavailable"
    scope: str | None = None  # for rate limits


RATE = "market_data_rate_limited"
FAILURES = [
    Failure("premium_endpoint", "ERROR_premium_endpoint_information.json", None, 402, "market_data_premium_endpoint"),
    Failure("invalid_api_key", "ERROR_invalid_apikey.json", None, 502, "market_data_invalid_api_key"),
    Failure("demo_key_only", "ERROR_demo_key_information.json", None, 502, "market_data_demo_key"),
    # On a symbol request, "Invalid API call" is how Alpha Vantage says it does not know the symbol;
    # on a request without one (symbol search, the treasury yield) it is an invalid call (see INVALID_CALL).
    Failure("invalid_call_on_symbol", "ERROR_invalid_api_call_TIME_SERIES_DAILY.json", None, 404, "symbol_not_found"),
    Failure("empty_object", "EMPTY_OBJECT.json", None, 404, "symbol_not_found"),
    Failure("rate_limited_burst", "ERROR_burst_limit_information.json", None, 429, RATE, "burst"),
    Failure("rate_limited_burst_2022_note", "ERROR_rate_limit_note_2022.json", None, 429, RATE, "burst"),
    Failure("rate_limited_daily", "ERROR_daily_limit_information.json", None, 429, RATE, "daily"),
    Failure("rate_limited_daily_early_2024", "ERROR_daily_limit_information_early2024.json", None, 429, RATE, "daily"),
    Failure("html_body", mode="html"),
    Failure("http_500", mode="http_500"),
    Failure("http_503", mode="http_503"),
    Failure("connection_reset", mode="reset"),
    Failure("timeout", mode="slow"),
]
INVALID_CALL = Failure(
    "invalid_call", "ERROR_invalid_api_call_TIME_SERIES_DAILY.json", None, 502, "market_data_invalid_call"
)
TIMEOUT_SECONDS = 0.3  # the slow mode answers after 1 s


def switch_on(fake: FakeAlphaVantage, failure: Failure, *, only: str | None = None) -> None:
    if failure.file is not None:
        fake.serve_error(failure.file, only=only)
    else:
        assert failure.mode is not None
        fake.fail(failure.mode, delay=1.0, only=only)


def assert_problem(response: httpx.Response, failure: Failure) -> dict[str, Any]:
    assert response.status_code == failure.status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["code"] == failure.code, body
    assert body["status"] == failure.status
    assert body["title"]
    assert body["type"]
    assert body["request_id"] == response.headers["x-request-id"]
    detail = body["detail"]
    # Readable: a sentence or two naming the provider, not an exception's repr.
    assert isinstance(detail, str)
    assert 30 <= len(detail) <= 600, detail
    assert "Alpha Vantage" in detail, detail
    for internal in ("Traceback", "KeyError", "Exception", "httpx", "http://", "127.0.0.1", "apikey="):
        assert internal not in detail, detail
    # The key appears nowhere in the answer (the daily-limit body echoes it back to the caller).
    assert API_KEY not in response.text
    assert all(API_KEY not in value for value in response.headers.values())
    if failure.scope is not None:
        assert body["scope"] == failure.scope
        assert int(response.headers["retry-after"]) >= 1
        assert body["retry_after"] == int(response.headers["retry-after"])
    if failure.code == "market_data_unavailable":  # an outage: the client is told when to try again
        assert int(response.headers["retry-after"]) == body["retry_after"] == 60
    return body


# --- the endpoints that reach the provider ------------------------------------------------------


def _count(db: Session, model: Any, *where: Any) -> int:
    return int(db.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _listed_company(factory: Factory, org: Org, ticker: str = "IBM") -> str:
    """A listed company created without any provider call (so the call under test is the first)."""
    return str(factory.company(org.admin, name=f"{ticker} Corp", ticker=ticker)["id"])


@dataclass(frozen=True)
class Endpoint:
    name: str
    call: Callable[[TestClient, Org, str | None], httpx.Response]
    company_scoped: bool = True


ENDPOINTS = [
    Endpoint(
        "symbol_search",
        lambda c, org, _: c.get("/api/symbols/search", params={"q": "Intl Business"}, headers=org.admin.headers),
        company_scoped=False,
    ),
    Endpoint(
        "company_from_symbol",
        lambda c, org, _: c.post("/api/companies/from-symbol", json={"symbol": "IBM"}, headers=org.admin.headers),
        company_scoped=False,
    ),
    Endpoint("quote", lambda c, org, cid: c.get(f"/api/companies/{cid}/quote", headers=org.admin.headers)),
    Endpoint(
        "prices",
        lambda c, org, cid: c.get(
            f"/api/companies/{cid}/prices", params={"interval": "weekly"}, headers=org.admin.headers
        ),
    ),
    Endpoint(
        "market_inputs", lambda c, org, cid: c.get(f"/api/companies/{cid}/market-inputs", headers=org.admin.headers)
    ),
]


def _expected(endpoint: Endpoint, failure: Failure) -> Failure:
    if endpoint.name == "symbol_search" and failure.name in ("invalid_call_on_symbol", "empty_object"):
        return INVALID_CALL  # no symbol in the request to be unknown: the call itself was refused
    return failure


@pytest.mark.parametrize("failure", FAILURES, ids=lambda f: f.name)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_provider_errors_are_problems_and_write_nothing(
    client: TestClient,
    factory: Factory,
    db: Session,
    alphavantage: FakeAlphaVantage,
    monkeypatch: pytest.MonkeyPatch,
    endpoint: Endpoint,
    failure: Failure,
) -> None:
    org = factory.organization(with_roles=False)
    company_id = _listed_company(factory, org) if endpoint.company_scoped else None
    if failure.mode == "slow":
        configure(alphavantage, monkeypatch, timeout=TIMEOUT_SECONDS)
    snapshots_before = _count(db, MarketDataSnapshot)
    switch_on(alphavantage, failure)

    response = endpoint.call(client, org, company_id)

    body = assert_problem(response, _expected(endpoint, failure))
    if failure.mode == "slow":
        assert "did not answer" in body["detail"]
    assert alphavantage.total_requests >= 1  # the real client really went to the (fake) provider
    assert all(request.get("apikey") == API_KEY for request in alphavantage.requests)
    # Nothing partial: no snapshot, no dataset pointer, no company created.
    assert _count(db, MarketDataSnapshot) == snapshots_before
    organization = uuid.UUID(org.id)
    assert _count(db, CompanyDataset, CompanyDataset.organization_id == organization) == 0
    assert _count(db, Company, Company.organization_id == organization) == (1 if company_id else 0)
    if endpoint.name == "company_from_symbol":
        listed = client.get("/api/companies", headers=org.admin.headers).json()
        assert listed["items"] == []
        events = client.get("/api/audit-events", headers=org.admin.headers).json()["items"]
        assert not [e for e in events if e["action"].startswith("company.")]


def test_an_invalid_call_without_a_symbol_is_market_data_invalid_call_on_market_inputs(
    client: TestClient, factory: Factory, db: Session, alphavantage: FakeAlphaVantage
) -> None:
    """Market inputs fetch the quote, the prices, the benchmark's prices, then the 10-year treasury yield:
    the last one refused is still a clear problem, and the reads before it leave only what they fetched."""
    org = factory.organization(with_roles=False)
    company_id = _listed_company(factory, org, "DAQI")  # the fake's demo data answers DAQI and DSPY
    switch_on(alphavantage, INVALID_CALL, only="TREASURY_YIELD")

    response = client.get(f"/api/companies/{company_id}/market-inputs", headers=org.admin.headers)

    assert_problem(response, INVALID_CALL)
    assert "TREASURY_YIELD" in response.json()["detail"]
    assert alphavantage.count("TREASURY_YIELD") == 1
    assert alphavantage.count("GLOBAL_QUOTE", "DAQI") == 1
    alphavantage.reset()
    recovered = client.get(f"/api/companies/{company_id}/market-inputs", headers=org.admin.headers)
    assert recovered.status_code == 200, recovered.text
    assert alphavantage.count("GLOBAL_QUOTE", "DAQI") == 0  # the earlier reads were cached, only the yield is new
    assert alphavantage.count("TREASURY_YIELD") == 1


NON_TRANSIENT = [f for f in FAILURES if f.code not in ("market_data_unavailable", RATE)]


@pytest.mark.parametrize("failure", NON_TRANSIENT, ids=lambda f: f.name)
def test_a_failed_quote_leaves_the_previous_quote_in_place(
    client: TestClient, factory: Factory, db: Session, alphavantage: FakeAlphaVantage, failure: Failure
) -> None:
    """A quote that was read before and then expired, refused this time: the problem is returned and the
    company's quote pointer (and its snapshot) still name the previous quote."""
    org = factory.organization(with_roles=False)
    company_id = _listed_company(factory, org, "DAQI")
    url = f"/api/companies/{company_id}/quote"
    first = client.get(url, headers=org.admin.headers)
    assert first.status_code == 200, first.text
    pointer = db.get(CompanyDataset, (uuid.UUID(company_id), "quote"))
    assert pointer is not None
    before = (list(pointer.snapshot_ids), pointer.fetched_at)
    _expire_quote(db, company_id)
    switch_on(alphavantage, failure)

    response = client.get(url, headers=org.admin.headers)

    assert_problem(response, failure)
    db.expire_all()
    pointer = db.get(CompanyDataset, (uuid.UUID(company_id), "quote"))
    assert pointer is not None
    assert (list(pointer.snapshot_ids), pointer.fetched_at.timestamp()) == (
        before[0],
        before[1].timestamp() - 600,
    )  # only our own ageing of it
    assert db.get(MarketDataSnapshot, before[0][0]) is not None


@pytest.mark.parametrize(
    "failure", [f for f in FAILURES if f.code in ("market_data_unavailable", RATE)], ids=lambda f: f.name
)
def test_a_transient_failure_gives_the_previous_quote_marked_stale(
    client: TestClient,
    factory: Factory,
    db: Session,
    alphavantage: FakeAlphaVantage,
    monkeypatch: pytest.MonkeyPatch,
    failure: Failure,
) -> None:
    """Throttled or unavailable: the last stored quote, marked stale, rather than an error."""
    org = factory.organization(with_roles=False)
    company_id = _listed_company(factory, org, "DAQI")
    url = f"/api/companies/{company_id}/quote"
    first = client.get(url, headers=org.admin.headers).json()
    _expire_quote(db, company_id)
    if failure.mode == "slow":
        configure(alphavantage, monkeypatch, timeout=TIMEOUT_SECONDS)
    switch_on(alphavantage, failure)

    stale = client.get(url, headers=org.admin.headers)

    assert stale.status_code == 200, stale.text
    assert stale.json()["stale"] is True
    assert stale.json()["snapshot_ids"] == first["snapshot_ids"]
    assert stale.json()["price"] == first["price"]
    assert API_KEY not in stale.text


def _expire_quote(db: Session, company_id: str) -> None:
    """The quote pointer ten minutes older and the raw cache emptied: the next read calls the provider."""
    db.execute(
        update(CompanyDataset)
        .where(CompanyDataset.company_id == uuid.UUID(company_id), CompanyDataset.dataset == "quote")
        .values(fetched_at=CompanyDataset.fetched_at - timedelta(minutes=10))
    )
    redis = get_redis()
    keys = list(redis.scan_iter("water:md:raw:*"))
    if keys:
        redis.delete(*keys)


def test_statements_stay_when_a_later_read_fails(
    client: TestClient, factory: Factory, db: Session, alphavantage: FakeAlphaVantage
) -> None:
    """A company with financials: a failing provider read does not touch its periods."""
    org = factory.organization(with_roles=False)
    company_id = _listed_company(factory, org, "DAQI")
    with new_session() as session:
        company = session.get(Company, uuid.UUID(company_id))
        assert company is not None
        service.refresh_company(session, company, deadline=time.monotonic() + 60)
        session.commit()
    periods = _count(db, FinancialPeriod, FinancialPeriod.company_id == uuid.UUID(company_id))
    assert periods > 0
    financials = client.get(f"/api/companies/{company_id}/financials", headers=org.admin.headers)
    _expire_quote(db, company_id)
    switch_on(alphavantage, FAILURES[0])
    assert client.get(f"/api/companies/{company_id}/prices", headers=org.admin.headers).status_code == 402
    assert _count(db, FinancialPeriod, FinancialPeriod.company_id == uuid.UUID(company_id)) == periods
    again = client.get(f"/api/companies/{company_id}/financials", headers=org.admin.headers)
    assert again.status_code == 200
    assert again.json() == financials.json()


def test_our_own_daily_budget_used_up_is_a_429_without_a_provider_call(
    client: TestClient, factory: Factory, alphavantage: FakeAlphaVantage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATER_MARKET_DATA_DAILY_BUDGET", "0")
    get_settings.cache_clear()
    gateway.default_gateway.cache_clear()
    org = factory.organization(with_roles=False)
    company_id = _listed_company(factory, org)

    response = client.get(f"/api/companies/{company_id}/quote", headers=org.admin.headers)

    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert (body["code"], body["scope"]) == (RATE, "daily")
    assert int(response.headers["retry-after"]) >= 1
    assert "quota" in body["detail"]
    assert alphavantage.total_requests == 0
    quota = client.get("/api/market-data/quota", headers=org.admin.headers).json()
    assert (quota["provider"], quota["remaining_today"]) == ("alphavantage", 0)


def test_the_key_echoed_by_the_daily_notice_reaches_no_answer(
    client: TestClient, factory: Factory, alphavantage: FakeAlphaVantage
) -> None:
    """Alpha Vantage's daily-limit text names the caller's key: neither the problem, the quota nor the
    metrics repeat it."""
    org = factory.organization(with_roles=False)
    company_id = _listed_company(factory, org)
    switch_on(alphavantage, FAILURES[7])
    assert FAILURES[7].name == "rate_limited_daily"
    response = client.get(f"/api/companies/{company_id}/quote", headers=org.admin.headers)
    assert_problem(response, FAILURES[7])
    assert alphavantage.requests[-1]["apikey"] == API_KEY  # the fake did echo it back
    quota = client.get("/api/market-data/quota", headers=org.admin.headers)
    assert quota.status_code == 200
    assert API_KEY not in quota.text
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert API_KEY not in metrics.text

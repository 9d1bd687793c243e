"""When Alpha Vantage answers that the day's quota is used up, Water's shared limiter is told: the quota
endpoint shows none left, no process calls the provider again that UTC day, and the nightly plan
queues nothing (it records why). The fake Alpha Vantage server, on a real socket, replays the
recorded daily-limit body; Water runs with an API key and the free plan's 25 calls a day.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from water.config import get_settings
from water.market_data import gateway, nightly, quota
from water.market_data.errors import RateLimited
from water.market_data.providers.alphavantage import AlphaVantageTransport
from water.market_data.providers.base import ProviderRequest
from water.market_data.quota import Plan, RateLimiter
from water.redis_client import get_redis

from ...factories import Factory
from ...fakes.alphavantage_server import FakeAlphaVantage

API_KEY = "WTRKEY" + uuid.uuid4().hex[:10].upper()
DAILY_LIMIT = "ERROR_daily_limit_information.json"


@pytest.fixture
def alphavantage(
    recorded_alphavantage: FakeAlphaVantage, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeAlphaVantage]:
    """Water with a key, talking to the fake server, on the free plan's daily budget (its own Redis keys are
    cleared by the market-data conftest around each test)."""
    for name, value in {
        "WATER_ALPHAVANTAGE_API_KEY": API_KEY,
        "WATER_ALPHAVANTAGE_BASE_URL": recorded_alphavantage.url,
        "WATER_MARKET_DATA_DEMO": "false",
        "WATER_MARKET_DATA_REQUESTS_PER_SECOND": "100000",
        "WATER_MARKET_DATA_BURST": "100000",
        "WATER_MARKET_DATA_DAILY_BUDGET": "25",
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    gateway.default_gateway.cache_clear()
    assert gateway.default_gateway().provider == "alphavantage"
    yield recorded_alphavantage
    gateway.default_gateway.cache_clear()


def test_the_providers_daily_limit_reaches_the_quota_endpoint_and_stops_further_calls(
    client: TestClient, factory: Factory, alphavantage: FakeAlphaVantage
) -> None:
    org = factory.organization(with_roles=False)
    company = factory.company(org.admin, ticker="IBM")
    before = client.get("/api/market-data/quota", headers=org.admin.headers).json()
    assert (before["provider"], before["remaining_today"], before["exhausted_by_provider"]) == (
        "alphavantage",
        25,
        None,
    )

    alphavantage.serve_error(DAILY_LIMIT)
    refused = client.get(f"/api/companies/{company['id']}/quote", headers=org.admin.headers)
    assert refused.status_code == 429, refused.text
    assert refused.json()["code"] == "market_data_rate_limited"
    assert alphavantage.total_requests == 1

    after = client.get("/api/market-data/quota", headers=org.admin.headers).json()
    assert after["used_today"] == 1  # the calls Water made, as counted
    assert after["remaining_today"] == 0  # but none left: the provider said so
    assert "daily request quota for this API key is used up" in after["exhausted_by_provider"]
    assert API_KEY not in after["exhausted_by_provider"]  # the body echoes the key; it is redacted
    assert after["resets_at"] == before["resets_at"]  # the limiter's own day: midnight UTC

    # No process calls the provider again today, even for another dataset, and even once it would answer.
    alphavantage.reset()
    again = client.get(f"/api/companies/{company['id']}/prices", headers=org.admin.headers)
    assert again.status_code == 429
    assert "said today's request quota is used up" in again.json()["detail"]
    assert int(again.headers["retry-after"]) > 0
    assert alphavantage.total_requests == 0


def test_the_mark_lasts_until_the_limiters_day_rolls_over(
    alphavantage: FakeAlphaVantage, monkeypatch: pytest.MonkeyPatch
) -> None:
    transport = AlphaVantageTransport(API_KEY, alphavantage.url, 5.0)
    limiter = RateLimiter(f"test-{uuid.uuid4().hex}", Plan(100_000, 100_000, -1))  # even an unlimited plan
    gw = gateway.Gateway(transport.fetch, "alphavantage", limiter=limiter)
    alphavantage.serve_error(DAILY_LIMIT)
    with pytest.raises(RateLimited) as limited:
        gw.fetch(ProviderRequest.of("alphavantage", "GLOBAL_QUOTE", symbol="IBM"))
    assert limited.value.scope == "daily"
    state = limiter.state()
    assert state.remaining_today == 0
    assert state.exhausted_by_provider is not None
    assert not limiter.try_acquire(1)[0]
    # The mark is keyed by the limiter's UTC day and kept no longer than two days.
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    key = f"water:md:exhausted:{limiter.provider}:{today}"
    assert 0 < get_redis().ttl(key) <= 2 * 86400
    # The nightly plan queues nothing and says why.
    tonight = nightly.plan([], state)
    assert tonight.queued == []
    # On the next UTC day the limiter calls again.
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d")
    monkeypatch.setattr(quota, "_day", lambda now=None: tomorrow)
    assert limiter.state().exhausted_by_provider is None
    assert limiter.state().remaining_today is None
    alphavantage.reset()
    assert gw.fetch(ProviderRequest.of("alphavantage", "GLOBAL_QUOTE", symbol="IBM")).body
    transport.close()


def test_a_burst_refusal_from_the_provider_does_not_mark_the_day(alphavantage: FakeAlphaVantage) -> None:
    transport = AlphaVantageTransport(API_KEY, alphavantage.url, 5.0)
    limiter = RateLimiter(f"test-{uuid.uuid4().hex}", Plan(100_000, 100_000, 25))
    gw = gateway.Gateway(transport.fetch, "alphavantage", limiter=limiter)
    alphavantage.serve_error("ERROR_burst_limit_information.json", times=1)
    with pytest.raises(RateLimited) as limited:
        gw.fetch(ProviderRequest.of("alphavantage", "GLOBAL_QUOTE", symbol="IBM"))
    assert limited.value.scope == "burst"
    assert limiter.state().exhausted_by_provider is None
    assert limiter.state().remaining_today == 24
    transport.close()

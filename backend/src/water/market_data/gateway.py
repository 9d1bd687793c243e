"""The gateway between Water and a market-data vendor: cache → shared rate limiter → transport → snapshot.

    fetch = Gateway(transport, "alphavantage").fetch   # a providers.base.Fetch
    provider = AlphaVantageProvider(fetch)

Every response that comes back through it is stored as a snapshot (deduplicated)
before it is cached, so whatever a valuation uses can be pinned by id.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from prometheus_client import Counter

from ..config import get_settings
from . import cache, snapshots
from .errors import RateLimited
from .providers.base import ProviderRequest, RawResponse
from .quota import Plan, RateLimiter

provider_calls = Counter(
    "water_market_data_provider_calls",
    "Calls to market-data providers, by provider, function and outcome.",
    ["provider", "function", "outcome"],
)
provider_throttles = Counter(
    "water_market_data_throttles",
    "Market-data calls refused by a rate limit, by provider and scope.",
    ["provider", "scope"],
)
cache_lookups = Counter("water_market_data_cache_lookups", "Raw market-data cache lookups.", ["function", "result"])


class Gateway:
    def __init__(
        self,
        transport_fetch: Callable[[ProviderRequest], RawResponse],
        provider: str,
        *,
        limiter: RateLimiter | None = None,
        max_wait: float = 5.0,
    ) -> None:
        self.transport_fetch = transport_fetch
        self.provider = provider
        self.limiter = limiter or RateLimiter(provider)
        self.max_wait = max_wait

    def fetch(self, request: ProviderRequest) -> RawResponse:
        cached = cache.get(request)
        if cached is not None and cached.snapshot_id is not None:
            cache_lookups.labels(request.function, "hit").inc()
            return cached
        cache_lookups.labels(request.function, "miss").inc()
        try:
            self.limiter.acquire(max_wait=self.max_wait)
        except RateLimited as exc:
            provider_throttles.labels(self.provider, exc.scope).inc()
            raise
        try:
            response = self.transport_fetch(request)
        except RateLimited as exc:  # the vendor's own limit, reported in its body
            provider_throttles.labels(self.provider, exc.scope).inc()
            provider_calls.labels(self.provider, request.function, "throttled").inc()
            raise
        except Exception:
            provider_calls.labels(self.provider, request.function, "error").inc()
            raise
        provider_calls.labels(self.provider, request.function, "ok").inc()
        stored = dataclasses.replace(response, snapshot_id=snapshots.store(response))
        cache.put(stored)
        return stored


@lru_cache
def default_gateway() -> Gateway:
    """Alpha Vantage with the configured plan, or the generated demo data (not metered) without an API key."""
    settings = get_settings()
    if settings.use_demo_market_data:
        from .demo import DemoTransport

        unlimited = RateLimiter("demo", Plan(requests_per_second=10_000, burst=10_000, daily_budget=-1))
        return Gateway(DemoTransport().fetch, "demo", limiter=unlimited)
    from .providers.alphavantage import AlphaVantageTransport

    key = settings.alphavantage_api_key.get_secret_value() if settings.alphavantage_api_key else ""
    transport = AlphaVantageTransport(key, settings.alphavantage_base_url, settings.alphavantage_timeout_seconds)
    return Gateway(transport.fetch, "alphavantage")


def default_provider() -> Any:
    from .providers.alphavantage import AlphaVantageProvider

    return AlphaVantageProvider(default_gateway().fetch)

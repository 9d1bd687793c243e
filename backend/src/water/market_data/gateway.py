"""The gateway between Water and a market-data vendor: cache → shared rate limiter → transport → snapshot.

    fetch = Gateway(transport, "alphavantage").fetch   # a providers.base.Fetch
    provider = AlphaVantageProvider(fetch)

Every response that comes back through it is stored as a snapshot (deduplicated)
before it is cached, so whatever a valuation uses can be pinned by id.
"""

from __future__ import annotations

import dataclasses
import os
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any

from prometheus_client import Counter

from ..config import get_settings
from . import cache, snapshots
from .errors import PremiumEndpoint, RateLimited
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
# Single flight: a claim outlives a fetch that hangs by at most FLIGHT_CLAIM_MS; a process whose key is
# claimed by another waits up to FLIGHT_WAIT_SECONDS for the cache entry, then fetches it itself.
FLIGHT_CLAIM_MS = 10_000
FLIGHT_WAIT_SECONDS = 5.0
FLIGHT_POLL_SECONDS = 0.01


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
        return self.fetch_many([request])[0]

    def fetch_many(self, requests: Sequence[ProviderRequest], *, deadline: float | None = None) -> list[RawResponse]:
        """Each request's response, cache first; the misses through the limiter and the transport.

        The cache is read in one round trip. Each miss is claimed in Redis first (single flight):
        a key another process is already fetching is waited for (its cache entry, up to
        `FLIGHT_WAIT_SECONDS`) instead of fetched twice. When the limiter allows every
        miss at once, the misses are fetched together (`_call_together`), else one by one. The new
        responses are stored as snapshots in one transaction and cached in one round trip, also
        when a later call fails (throttled, past `deadline` on the monotonic clock, provider down),
        so a retry re-uses every call made.
        """
        results: list[RawResponse | None] = list(cache.get_many(requests))
        misses = [i for i, cached in enumerate(results) if cached is None or cached.snapshot_id is None]
        for i, request in enumerate(requests):
            cache_lookups.labels(request.function, "miss" if i in misses else "hit").inc()
        # A miss the vendor refused as premium-only within the day is not asked again (one round trip
        # for all of them); it fails the batch after the others are fetched, as a fresh refusal would.
        refusals = cache.refused_many([requests[i] for i in misses])
        refused = [why for why in refusals if why is not None]
        misses = [i for i, why in zip(misses, refusals, strict=True) if why is None]
        token = uuid.uuid4().hex
        claimed = cache.claim_many([requests[i] for i in misses], token, FLIGHT_CLAIM_MS)
        mine = [i for i, ok in zip(misses, claimed, strict=True) if ok]
        theirs = [i for i, ok in zip(misses, claimed, strict=True) if not ok]
        try:
            self._fetch_into(results, requests, mine, deadline)
        finally:
            cache.release_many([requests[i] for i in mine], token)
        if theirs:
            left = self._wait_for(results, requests, theirs, deadline)
            self._fetch_into(results, requests, left, deadline)  # the other process failed or is slow
        if refused:
            raise PremiumEndpoint(refused[0])
        return [r for r in results if r is not None]

    def _fetch_into(
        self,
        results: list[RawResponse | None],
        requests: Sequence[ProviderRequest],
        misses: list[int],
        deadline: float | None,
    ) -> None:
        """Fetch `misses`, store them as snapshots (one transaction) and cache them (one round trip)."""
        # Every miss in one script call when the rate and the day's budget allow them all now, and then
        # the calls are made together; otherwise one by one, each waiting for its slot.
        prepaid = len(misses) if len(misses) > 1 and self.limiter.try_acquire(len(misses))[0] else 0
        fresh: list[tuple[int, RawResponse]] = []
        try:
            if prepaid:
                self._call_together(requests, misses, deadline, fresh)
            else:  # one by one, each waiting for its slot
                for i in misses:
                    if deadline is not None and time.monotonic() > deadline:
                        raise RateLimited("Paused to stay within the task time limit.", scope="burst", retry_after=1)
                    fresh.append((i, self._call(requests[i], deadline=deadline)))
        finally:
            if fresh:
                ids = snapshots.store_many([response for _, response in fresh])
                stored = [dataclasses.replace(r, snapshot_id=s) for (_, r), s in zip(fresh, ids, strict=True)]
                cache.put_many(stored)
                for (i, _), response in zip(fresh, stored, strict=True):
                    results[i] = response

    def _call_together(
        self,
        requests: Sequence[ProviderRequest],
        misses: list[int],
        deadline: float | None,
        fresh: list[tuple[int, RawResponse]],
    ) -> None:
        """The misses' calls, their slots already taken, made at the same time (FETCH_THREADS at most).

        A company's nine datasets then cost about the slowest call instead of the sum of all nine.
        Every successful response lands in `fresh` (in request order) before the first failure is
        raised, so it is stored and cached like the responses of a sequential batch.
        """
        if deadline is not None and time.monotonic() > deadline:
            raise RateLimited("Paused to stay within the task time limit.", scope="burst", retry_after=1)
        pool = _fetch_pool()
        futures = [(i, pool.submit(self._call, requests[i], prepaid=True)) for i in misses]
        failure: BaseException | None = None
        for i, future in futures:
            try:
                fresh.append((i, future.result()))
            except Exception as exc:  # re-raised below, after the others are collected
                failure = failure or exc
        if failure is not None:
            raise failure

    def _wait_for(
        self,
        results: list[RawResponse | None],
        requests: Sequence[ProviderRequest],
        pending: list[int],
        deadline: float | None,
    ) -> list[int]:
        """Poll the cache for keys another process is fetching; those still missing after the wait."""
        until = time.monotonic() + FLIGHT_WAIT_SECONDS
        if deadline is not None:
            until = min(until, deadline)
        while pending and time.monotonic() < until:
            time.sleep(FLIGHT_POLL_SECONDS)
            found = cache.get_many([requests[i] for i in pending])
            for i, response in zip(pending, found, strict=True):
                if response is not None and response.snapshot_id is not None:
                    results[i] = response
            pending = [i for i in pending if results[i] is None]
        return pending

    def _call(self, request: ProviderRequest, *, prepaid: bool = False, deadline: float | None = None) -> RawResponse:
        """One provider call: a slot from the shared limiter unless `prepaid`, then the transport.

        The wait for the slot is at most `max_wait`, and never past `deadline` (a worker's task
        must stop before Celery's soft time limit, to be retried rather than killed).
        """
        try:
            if not prepaid:
                longest = self.max_wait if deadline is None else min(self.max_wait, deadline - time.monotonic())
                self.limiter.acquire(max_wait=max(0.0, longest))
        except RateLimited as exc:
            provider_throttles.labels(self.provider, exc.scope).inc()
            raise
        try:
            response = self.transport_fetch(request)
        except PremiumEndpoint as exc:
            cache.remember_refused(request, exc.detail)
            provider_calls.labels(self.provider, request.function, "error").inc()
            raise
        except RateLimited as exc:  # the vendor's own limit, reported in its body
            provider_throttles.labels(self.provider, exc.scope).inc()
            provider_calls.labels(self.provider, request.function, "throttled").inc()
            if exc.scope == "daily":  # the vendor's day is spent: tell the shared limiter (quota, nightly plan)
                self.limiter.exhaust_today(exc.detail)
            raise
        except Exception:
            provider_calls.labels(self.provider, request.function, "error").inc()
            raise
        provider_calls.labels(self.provider, request.function, "ok").inc()
        return response


FETCH_THREADS = 4
_pool: tuple[int, ThreadPoolExecutor] | None = None


def _fetch_pool() -> ThreadPoolExecutor:
    """This process's pool for concurrent provider calls (made afresh after a fork: threads do not survive one)."""
    global _pool
    if _pool is None or _pool[0] != os.getpid():
        _pool = (os.getpid(), ThreadPoolExecutor(max_workers=FETCH_THREADS, thread_name_prefix="water-fetch"))
    return _pool[1]


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
    """Alpha Vantage through the shared gateway, asking for the adjusted daily series on a premium plan."""
    from .providers.alphavantage import AlphaVantageProvider

    return AlphaVantageProvider(default_gateway().fetch, premium=get_settings().market_data_premium)

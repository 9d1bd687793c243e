"""The provider rate limiter is shared: eight processes hammering it together never exceed the plan."""

from __future__ import annotations

import multiprocessing
import time
import uuid

import pytest

from water.market_data.errors import RateLimited
from water.market_data.quota import Plan, RateLimiter

PROCESSES = 8


def _hammer(provider: str, plan: Plan, seconds: float, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    limiter = RateLimiter(provider, plan)
    grants: list[float] = []
    deadline = time.time() + seconds
    while time.time() < deadline:
        granted, _wait, _scope = limiter.try_acquire()
        if granted:
            grants.append(time.time())
    results.put(grants)


def _run(plan: Plan, seconds: float) -> list[float]:
    provider = f"test-{uuid.uuid4().hex[:8]}"
    context = multiprocessing.get_context("fork")
    results: multiprocessing.Queue = context.Queue()  # type: ignore[type-arg]
    workers = [context.Process(target=_hammer, args=(provider, plan, seconds, results)) for _ in range(PROCESSES)]
    for worker in workers:
        worker.start()
    grants = sorted(t for _ in workers for t in results.get(timeout=seconds + 30))
    for worker in workers:
        worker.join(10)
    return grants


def test_eight_processes_never_exceed_the_burst_rate() -> None:
    plan = Plan(requests_per_second=20, burst=5, daily_budget=-1)
    seconds = 3.0
    grants = _run(plan, seconds)
    span = grants[-1] - grants[0]
    allowed = plan.burst + plan.requests_per_second * span + 1
    assert len(grants) <= allowed, (len(grants), allowed)
    assert len(grants) >= plan.requests_per_second * seconds * 0.8  # and the limiter does not starve callers
    # No one-second window holds more than the rate plus the burst.
    worst = max(sum(1 for t in grants if start <= t < start + 1.0) for start in grants)
    assert worst <= plan.requests_per_second + plan.burst
    print(f"\n8 processes, {seconds:.0f} s: {len(grants)} grants ({len(grants) / span:.1f}/s) for a plan of "
          f"{plan.requests_per_second}/s burst {plan.burst}; busiest 1 s window {worst}")  # fmt: skip


def test_daily_budget_is_exact_across_processes() -> None:
    plan = Plan(requests_per_second=10_000, burst=10_000, daily_budget=30)
    grants = _run(plan, 1.0)
    assert len(grants) == 30


def test_acquire_waits_for_burst_then_reports_daily_exhaustion() -> None:
    limiter = RateLimiter(f"test-{uuid.uuid4().hex[:8]}", Plan(requests_per_second=10, burst=1, daily_budget=3))
    started = time.monotonic()
    limiter.acquire()
    limiter.acquire()  # waits ~0.1 s for a token
    limiter.acquire()
    assert time.monotonic() - started >= 0.15
    with pytest.raises(RateLimited) as excinfo:
        limiter.acquire()
    assert excinfo.value.scope == "daily"
    assert excinfo.value.retry_after > 0
    state = limiter.state()
    assert state.used_today == 3
    assert state.remaining_today == 0


def test_burst_wait_beyond_max_wait_raises() -> None:
    limiter = RateLimiter(f"test-{uuid.uuid4().hex[:8]}", Plan(requests_per_second=0.5, burst=1, daily_budget=-1))
    limiter.acquire()
    with pytest.raises(RateLimited) as excinfo:
        limiter.acquire(max_wait=0.1)
    assert excinfo.value.scope == "burst"
    assert excinfo.value.code == "market_data_rate_limited"

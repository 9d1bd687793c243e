"""The provider rate limiter is shared: eight processes hammering it together never exceed the plan."""

from __future__ import annotations

import multiprocessing
import time
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from water.market_data.errors import RateLimited
from water.market_data.quota import Plan, RateLimiter

PROCESSES = 8


@dataclass(frozen=True)
class StartLine:
    """Where the processes meet before they start: a barrier, and the moment it sets for all of them."""

    barrier: Any
    moment: Any

    @classmethod
    def create(cls, context: Any) -> StartLine:
        moment = context.Value("d", 0.0)

        def set_moment() -> None:  # run by one process once all have arrived
            moment.value = time.time() + 0.1

        return cls(context.Barrier(PROCESSES, action=set_moment), moment)


def _start_together(limiter: RateLimiter, start: StartLine) -> float:
    """Connect to Redis, wait for every process to get here, then sleep to the common start moment.

    The moment is set once all have arrived, so a process forked late on a busy machine gets no less
    time than the others (a start at the next whole second failed that way in CI: a process whose
    fork crossed the second started a second later and got a smaller share)."""
    limiter.state()
    start.barrier.wait(timeout=60)
    time.sleep(max(0.0, start.moment.value - time.time()))
    return float(start.moment.value)


def _hammer(provider: str, plan: Plan, seconds: float, start: StartLine, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    limiter = RateLimiter(provider, plan)
    grants: list[float] = []
    deadline = _start_together(limiter, start) + seconds
    while time.time() < deadline:
        granted, _wait, _scope = limiter.try_acquire()
        if granted:
            grants.append(time.time())
    results.put(grants)


def _wait_in_turn(provider: str, plan: Plan, seconds: float, start: StartLine, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """As the gateway does: `acquire()` (sleeping until the slot it is given), then the call."""
    limiter = RateLimiter(provider, plan)
    grants: list[float] = []
    deadline = _start_together(limiter, start) + seconds
    while True:
        try:
            limiter.acquire(max_wait=deadline - time.time())
        except RateLimited:
            break
        grants.append(time.time())
    results.put(grants)


def _per_process(plan: Plan, seconds: float, target=_hammer) -> list[list[float]]:  # type: ignore[no-untyped-def]
    provider = f"test-{uuid.uuid4().hex[:8]}"
    context = multiprocessing.get_context("fork")
    results: multiprocessing.Queue = context.Queue()  # type: ignore[type-arg]
    start = StartLine.create(context)
    workers = [context.Process(target=target, args=(provider, plan, seconds, start, results)) for _ in range(PROCESSES)]
    for worker in workers:
        worker.start()
    per_process = [results.get(timeout=seconds + 30) for _ in workers]
    for worker in workers:
        worker.join(10)
    return per_process


def _run(plan: Plan, seconds: float) -> list[float]:
    return sorted(t for grants in _per_process(plan, seconds) for t in grants)


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


def test_waiting_processes_are_served_in_turn_within_the_plan() -> None:
    """Eight processes that wait for their slots take turns (here 15 or 16 calls each in 3 s) and
    together keep to the plan. The token bucket this replaced, polled by sleeping callers, served
    whoever woke first: 7 to 23 calls per process in the same test, and 115 calls in all."""
    plan = Plan(requests_per_second=40, burst=1, daily_budget=-1)
    seconds = 3.0
    per_process = _per_process(plan, seconds, target=_wait_in_turn)
    grants = sorted(t for process in per_process for t in process)
    span = grants[-1] - grants[0]
    assert len(grants) <= plan.burst + plan.requests_per_second * span + 1
    assert len(grants) >= plan.requests_per_second * seconds * 0.9
    worst = max(sum(1 for t in grants if start <= t < start + 1.0) for start in grants)
    assert worst <= plan.requests_per_second + plan.burst
    shares = sorted(len(process) for process in per_process)
    assert shares[-1] - shares[0] <= 3, shares  # in turn: 1; processes held up by a busy machine: 2 or 3


def test_a_slot_beyond_the_wait_is_not_taken() -> None:
    """A refused caller leaves the schedule as it was: the next caller waits no longer for it."""
    limiter = RateLimiter(f"test-{uuid.uuid4().hex[:8]}", Plan(requests_per_second=2, burst=1, daily_budget=10))
    first = time.monotonic()
    limiter.acquire()
    with pytest.raises(RateLimited) as excinfo:
        limiter.acquire(max_wait=0.01)  # the next slot is 0.5 s after the first call
    assert excinfo.value.retry_after == 1
    granted, wait, _scope = limiter.try_acquire()
    assert not granted
    assert 0 < wait <= 0.5
    limiter.acquire()
    # The slot right after the first call's, not one after the refused calls' (1.0 or 1.5 s).
    assert 0.5 - 0.01 <= time.monotonic() - first < 0.5 + 0.4
    assert limiter.state().used_today == 2


def test_more_calls_at_once_than_the_burst_are_never_granted() -> None:
    """A batch larger than the burst would be more calls at once than the plan allows, however long
    it waited for its slot: it is refused (the gateway then makes its calls one by one)."""
    limiter = RateLimiter(f"test-{uuid.uuid4().hex[:8]}", Plan(requests_per_second=100, burst=3, daily_budget=-1))
    assert limiter.try_acquire(4)[0] is False
    with pytest.raises(RateLimited):
        limiter.acquire(4, max_wait=60)
    assert limiter.state().used_today == 0
    assert limiter.try_acquire(3)[0] is True


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

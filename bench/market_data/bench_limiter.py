"""The shared rate limiter under eight processes (issue 4: "never exceed the configured rate; measure it").

Eight processes share one `water.market_data.quota.RateLimiter` (one Lua script in Redis) and
ask for calls as fast as they can, in two ways:

* waiting callers: each process loops on `acquire()`, which sleeps until the slot it is given,
  as the gateway does before a provider call (all eight start at the same moment). Reported: the calls granted, the rate they came at
  against the plan, the busiest one-second window against the most the plan allows in one second
  (rate + burst), and each process's share (a limiter that starves some callers is no good);
* spinning callers: each process loops on `try_acquire()` without waiting, with an unlimited plan,
  to measure the script itself: calls per second through Redis and the latency of one call;
* the daily budget: eight spinning processes against a budget of 30 calls get exactly 30.

    .venv/bin/python bench/market_data/bench_limiter.py [--seconds 10]

Redis: WATER_BENCH_LIMITER_REDIS (default redis://127.0.0.1:6379/9), flushed at the start and end.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import statistics
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REDIS = os.environ.get("WATER_BENCH_LIMITER_REDIS", "redis://127.0.0.1:6379/9")
os.environ["WATER_REDIS_URL"] = REDIS  # read by water's settings when the limiter first reaches Redis
os.environ.setdefault("WATER_ENVIRONMENT", "development")

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
from procstat import cpu_model, load_avg  # noqa: E402  (bench/procstat.py)

PROCESSES = 8


@dataclass(frozen=True)
class Scenario:
    name: str
    requests_per_second: float
    burst: int
    daily_budget: int = -1


WAITING = (
    Scenario("free tier (Water's default plan)", 1.0, 1),
    Scenario("premium, 75 calls/minute", 1.25, 5),
    Scenario("20 calls/s, burst 5", 20.0, 5),
    Scenario("500 calls/s, burst 50", 500.0, 50),
)


def _start_together(start: Any) -> float:
    """Wait for all the processes, then sleep to the moment the last to arrive set: no head start,
    however long the forks took."""
    barrier, moment = start
    barrier.wait(timeout=60)
    time.sleep(max(0.0, moment.value - time.time()))
    return float(moment.value)


def _waiting_caller(provider: str, scenario: Scenario, seconds: float, start: Any, results: Any) -> None:
    from water.market_data.errors import RateLimited
    from water.market_data.quota import Plan, RateLimiter

    limiter = RateLimiter(provider, Plan(scenario.requests_per_second, scenario.burst, scenario.daily_budget))
    grants: list[float] = []
    limiter.state()  # connected to Redis before the start
    deadline = _start_together(start) + seconds
    while time.time() < deadline:
        try:
            limiter.acquire(max_wait=max(0.0, deadline - time.time()))
        except RateLimited:
            break  # the next slot comes after the deadline
        grants.append(time.time())
    results.put(grants)


def _spinning_caller(provider: str, budget: int, seconds: float, start: Any, results: Any) -> None:
    from water.market_data.quota import Plan, RateLimiter

    limiter = RateLimiter(provider, Plan(1e9, 1_000_000_000, budget))
    grants: list[float] = []
    latencies: list[float] = []
    limiter.state()
    deadline = _start_together(start) + seconds
    while time.time() < deadline:
        started = time.perf_counter()
        granted, _wait, _scope = limiter.try_acquire()
        latencies.append(time.perf_counter() - started)
        if granted:
            grants.append(time.time())
    results.put((grants, latencies))


def _in_processes(target: Any, args: tuple[Any, ...], seconds: float) -> list[Any]:
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    moment = context.Value("d", 0.0)

    def set_moment() -> None:  # run by the last process to reach the barrier
        moment.value = time.time() + 0.1

    start = (context.Barrier(PROCESSES, action=set_moment), moment)
    processes = [context.Process(target=target, args=(*args, start, results)) for _ in range(PROCESSES)]
    for process in processes:
        process.start()
    outcome = [results.get(timeout=seconds + 60) for _ in processes]
    for process in processes:
        process.join(10)
    return outcome


def busiest_window(grants: list[float], width: float = 1.0) -> int:
    """The most grants in any window [t, t + width) that starts at a grant (two pointers over sorted times)."""
    most, start = 0, 0
    for end, moment in enumerate(grants):
        while grants[start] <= moment - width:
            start += 1
        most = max(most, end - start + 1)
    return most


def waiting(scenario: Scenario, seconds: float) -> dict[str, Any]:
    per_process = _in_processes(_waiting_caller, (f"bench-{uuid.uuid4().hex[:8]}", scenario, seconds), seconds)
    grants = sorted(t for process in per_process for t in process)
    span = grants[-1] - grants[0] if len(grants) > 1 else 0.0
    # After the first `burst` calls (the full bucket), calls can only come at the refill rate.
    rate_after_burst = (len(grants) - scenario.burst) / span if span else 0.0
    shares = sorted(len(process) for process in per_process)
    allowed = scenario.burst + scenario.requests_per_second * span + 1
    allowed_in_a_second = scenario.requests_per_second + scenario.burst
    busiest = busiest_window(grants)
    return {
        "grants": len(grants),
        "allowed": int(allowed),
        "rate": rate_after_burst,
        "busiest": busiest,
        "allowed_in_a_second": allowed_in_a_second,
        "shares": f"{shares[0]}–{shares[-1]}",
        "ok": len(grants) <= allowed and busiest <= allowed_in_a_second,
    }


def spinning(seconds: float, budget: int = -1) -> dict[str, Any]:
    per_process = _in_processes(_spinning_caller, (f"bench-{uuid.uuid4().hex[:8]}", budget, seconds), seconds)
    grants = sorted(t for process_grants, _ in per_process for t in process_grants)
    latencies = sorted(x for _, process_latencies in per_process for x in process_latencies)
    return {
        "grants": len(grants),
        "calls": len(latencies),
        "calls_per_second": len(latencies) / seconds,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
    }


def single_caller_latency(calls: int = 2000) -> tuple[float, float]:
    """p50 and p99 of one `try_acquire` (one script call) from one process with Redis otherwise idle."""
    from water.market_data.quota import Plan, RateLimiter

    limiter = RateLimiter(f"bench-{uuid.uuid4().hex[:8]}", Plan(1e9, 1_000_000_000, -1))
    for _ in range(100):
        limiter.try_acquire()
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        limiter.try_acquire()
        samples.append(time.perf_counter() - started)
    samples.sort()
    return statistics.median(samples) * 1000, samples[int(calls * 0.99)] * 1000


def flush() -> None:
    import redis

    redis.Redis.from_url(REDIS).flushdb()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="how long each scenario hammers the limiter")
    args = parser.parse_args()
    flush()
    try:
        started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        print(
            f"Machine: {cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}; {started}; "
            f"load {load_avg()} at the start. Redis {REDIS}. {PROCESSES} processes, {args.seconds:g} s per scenario.\n"
        )
        print("Waiting callers (each process loops on `acquire()`, sleeping until its call may be made):\n")
        print(
            "| Plan | Calls granted | Most the plan allows in that span | Rate after the burst, calls/s | "
            "Busiest 1 s window | Most allowed in 1 s (rate + burst) | Calls per process (min–max) | Within the plan |"
        )
        print("|---|---:|---:|---:|---:|---:|---|---|")
        for scenario in WAITING:
            r = waiting(scenario, args.seconds)
            print(
                f"| {scenario.name}: {scenario.requests_per_second:g}/s, burst {scenario.burst} | {r['grants']:,} | "
                f"{r['allowed']:,} | {r['rate']:.2f} | {r['busiest']:,} | {r['allowed_in_a_second']:g} | "
                f"{r['shares']} | {'yes' if r['ok'] else '**no**'} |"
            )
        p50, p99 = single_caller_latency()
        s = spinning(min(args.seconds, 5.0))
        print(
            f"\nThe script itself: one process, one call at a time: p50 {p50:.3f} ms, p99 {p99:.3f} ms per "
            f"`try_acquire`. Eight spinning processes, unlimited plan: {s['calls_per_second']:,.0f} calls/s through "
            f"Redis in all, p50 {s['p50_ms']:.3f} ms, p99 {s['p99_ms']:.3f} ms per call (eight processes on "
            f"{os.cpu_count()} cores: the p99 is mostly waiting for a core)."
        )
        budget = spinning(2.0, budget=30)
        print(
            f"Daily budget of 30, eight spinning processes for 2 s: {budget['grants']} calls granted out of "
            f"{budget['calls']:,} asked ({'exact' if budget['grants'] == 30 else '**not exact**'}). Load {load_avg()} at the end."
        )
    finally:
        flush()


if __name__ == "__main__":
    main()

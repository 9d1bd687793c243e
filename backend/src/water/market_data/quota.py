"""One provider rate limiter shared by every API and worker process (Redis, Lua, the server's clock).

Two limits, checked and taken atomically in one script:
- the burst rate (`requests_per_second`, at most `burst` calls at once after a quiet spell), kept
  as a schedule of reservations (GCRA, the "generic cell rate algorithm": the same limit as a
  token bucket of capacity `burst`, stored as the time the schedule is next free);
- a daily budget (`daily_budget` calls per UTC day), and the provider's own word: when the vendor
  answers that the day's quota is used up (its daily-limit body), `exhaust_today` marks the day
  spent, so every process stops calling until the UTC day rolls over (also on an "unlimited" plan).
A caller that must wait is given the next free slot in the schedule and sleeps until it: callers
are served in the order they asked, each with one script call, where a bucket polled by sleeping
callers serves whoever wakes first (eight processes on the free tier's one call a second: some got
none in ten seconds, bench/market_data/bench_limiter.py). A slot further away than the caller
will wait is not taken. The script uses Redis's own TIME, so every process sees one clock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ..config import Settings, get_settings
from ..redis_client import get_redis
from .errors import RateLimited

# KEYS: schedule (the time, in seconds on Redis's clock, at which every slot given so far has been
# served), day counter, the day's "provider says exhausted" mark. ARGV: rate per second, burst, daily budget, cost, day ttl in seconds, the
# longest wait the caller accepts in seconds. Returns {granted (0/1), wait in microseconds (before
# the calls may be made if granted; until a slot would be free if not; -1 for the daily budget),
# scope (0 burst, 1 daily budget, 2 the provider said the day's quota is used up), calls used today}.
_RESERVE = """
pcall(redis.replicate_commands)
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local budget = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local max_wait = tonumber(ARGV[6])
local used = tonumber(redis.call('GET', KEYS[2]) or '0')
if redis.call('EXISTS', KEYS[3]) == 1 then
  return {0, -1, 2, used}
end
if budget >= 0 and used + cost > budget then
  return {0, -1, 1, used}
end
local free_at = tonumber(redis.call('GET', KEYS[1]) or '0')
if free_at < now then
  free_at = now
end
local next_free_at = free_at + cost / rate
-- Up to `burst` calls' worth of the schedule may lie ahead of now (a full bucket).
local wait = next_free_at - burst / rate - now
if wait < 0 then
  wait = 0
end
if wait > max_wait then
  return {0, math.ceil(wait * 1000000), 0, used}
end
redis.call('SET', KEYS[1], string.format('%.6f', next_free_at), 'PX', math.ceil((next_free_at - now) * 1000) + 1000)
used = redis.call('INCRBY', KEYS[2], cost)
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[5]))
return {1, math.ceil(wait * 1000000), 0, used}
"""


@dataclass(frozen=True)
class Plan:
    requests_per_second: float
    burst: int
    daily_budget: int  # negative: unlimited

    @classmethod
    def from_settings(cls, settings: Settings) -> Plan:
        return cls(
            settings.market_data_requests_per_second, settings.market_data_burst, settings.market_data_daily_budget
        )


@dataclass(frozen=True)
class QuotaState:
    plan: Plan
    used_today: int
    remaining_today: int | None
    resets_at: datetime
    exhausted_by_provider: str | None = None  # the provider's words when it said the day's quota is used up


def _day(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y-%m-%d")


def _next_midnight() -> datetime:
    now = datetime.now(UTC)
    return datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)


class RateLimiter:
    def __init__(self, provider: str, plan: Plan | None = None) -> None:
        self.provider = provider
        self.plan = plan or Plan.from_settings(get_settings())
        self._script = get_redis().register_script(_RESERVE)

    def _keys(self) -> list[str]:
        day = _day()
        return [
            f"water:md:schedule:{self.provider}",
            f"water:md:day:{self.provider}:{day}",
            f"water:md:exhausted:{self.provider}:{day}",
        ]

    def _reserve(self, cost: int, max_wait: float) -> tuple[bool, float, str]:
        """(granted, seconds to wait, "" | "burst" | "daily"): granted calls may be made after the wait."""
        plan = self.plan
        if cost > plan.burst:  # more calls at once than the plan ever allows (the schedule would grant them late)
            return False, cost / plan.requests_per_second, "burst"
        granted, wait_us, scope, _used = self._script(
            keys=self._keys(),
            args=[plan.requests_per_second, plan.burst, plan.daily_budget, cost, 2 * 86400, max_wait],
        )
        if granted:
            return True, int(wait_us) / 1_000_000, ""
        if int(scope) in (1, 2):
            return (
                False,
                (_next_midnight() - datetime.now(UTC)).total_seconds(),
                "daily" if int(scope) == 1 else "provider",
            )
        return False, int(wait_us) / 1_000_000, "burst"

    def try_acquire(self, cost: int = 1) -> tuple[bool, float, str]:
        """Take `cost` calls if they may be made now; else (False, seconds to wait, "burst" | "daily" | "provider")."""
        return self._reserve(cost, 0.0)

    def acquire(self, cost: int = 1, *, max_wait: float = 5.0) -> None:
        """Take the next free slot and sleep until it (up to `max_wait` seconds); raise RateLimited
        when the slot is further away than that (no slot is taken) or the daily budget is used up."""
        granted, wait, scope = self._reserve(cost, max_wait)
        if granted:
            if wait > 0:
                time.sleep(wait)
            return
        if scope == "provider":
            raise RateLimited(
                f"{self.provider} said today's request quota is used up; no more calls are made until it resets "
                "at midnight UTC.",
                scope="daily",
                retry_after=int(wait) + 1,
            )
        if scope == "daily":
            raise RateLimited(
                f"The {self.provider} daily quota ({self.plan.daily_budget} calls) is used up; it resets at midnight UTC.",
                scope="daily",
                retry_after=int(wait) + 1,
            )
        raise RateLimited(
            f"The {self.provider} request rate limit is reached; retry in a few seconds.",
            scope="burst",
            retry_after=int(wait) + 1,
        )

    def exhaust_today(self, reason: str) -> None:
        """The provider answered that today's quota is used up: no process calls it again this UTC day.

        The mark is keyed by the day as the budget is (it lapses at midnight UTC, when Alpha Vantage
        resets its daily limit); `reason` is the provider's (redacted) message, shown by `state`.
        """
        get_redis().set(self._keys()[2], reason[:500], ex=2 * 86400)

    def state(self) -> QuotaState:
        used_raw, exhausted = get_redis().mget(self._keys()[1:])
        used = int(used_raw or 0)
        remaining = None if self.plan.daily_budget < 0 else max(0, self.plan.daily_budget - used)
        if exhausted is not None:
            remaining = 0
        reason = exhausted.decode() if isinstance(exhausted, bytes) else exhausted
        return QuotaState(self.plan, used, remaining, _next_midnight(), reason)

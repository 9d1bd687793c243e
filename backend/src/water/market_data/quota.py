"""One provider rate limiter shared by every API and worker process (Redis, Lua, the server's clock).

Two limits, checked and taken atomically in one script:
- a token bucket for the burst rate (`requests_per_second`, capacity `burst`);
- a daily budget (`daily_budget` calls per UTC day).
The script uses Redis's own TIME, so every process sees one clock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ..config import Settings, get_settings
from ..redis_client import get_redis
from .errors import RateLimited

# KEYS: bucket, day counter. ARGV: rate per second, burst, daily budget, cost, day ttl.
# Returns {granted (0/1), wait milliseconds, scope (0 burst, 1 daily), used today, tokens*1000}.
_ACQUIRE = """
pcall(redis.replicate_commands)
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local budget = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local used = tonumber(redis.call('GET', KEYS[2]) or '0')
if budget >= 0 and used + cost > budget then
  return {0, -1, 1, used, 0}
end
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
if now > ts then
  tokens = math.min(burst, tokens + (now - ts) * rate)
end
if tokens < cost then
  local wait = (cost - tokens) / rate
  redis.call('HSET', KEYS[1], 'tokens', tokens, 'ts', now)
  redis.call('EXPIRE', KEYS[1], 3600)
  return {0, math.ceil(wait * 1000), 0, used, math.floor(tokens * 1000)}
end
tokens = tokens - cost
redis.call('HSET', KEYS[1], 'tokens', tokens, 'ts', now)
redis.call('EXPIRE', KEYS[1], 3600)
used = redis.call('INCRBY', KEYS[2], cost)
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[5]))
return {1, 0, 0, used, math.floor(tokens * 1000)}
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


def _day(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y-%m-%d")


def _next_midnight() -> datetime:
    now = datetime.now(UTC)
    return datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)


class RateLimiter:
    def __init__(self, provider: str, plan: Plan | None = None) -> None:
        self.provider = provider
        self.plan = plan or Plan.from_settings(get_settings())
        self._script = get_redis().register_script(_ACQUIRE)

    def _keys(self) -> list[str]:
        return [f"water:md:bucket:{self.provider}", f"water:md:day:{self.provider}:{_day()}"]

    def try_acquire(self, cost: int = 1) -> tuple[bool, float, str]:
        """Take `cost` calls if allowed now; else (False, seconds to wait, "burst" | "daily")."""
        plan = self.plan
        granted, wait_ms, scope, _used, _tokens = self._script(
            keys=self._keys(), args=[plan.requests_per_second, plan.burst, plan.daily_budget, cost, 2 * 86400]
        )
        if granted:
            return True, 0.0, ""
        if int(scope) == 1:
            return False, (_next_midnight() - datetime.now(UTC)).total_seconds(), "daily"
        return False, int(wait_ms) / 1000, "burst"

    def acquire(self, cost: int = 1, *, max_wait: float = 5.0) -> None:
        """Wait (up to `max_wait` seconds) for the burst limit; raise RateLimited past it or past the daily budget."""
        deadline = time.monotonic() + max_wait
        while True:
            granted, wait, scope = self.try_acquire(cost)
            if granted:
                return
            if scope == "daily":
                raise RateLimited(
                    f"The {self.provider} daily quota ({self.plan.daily_budget} calls) is used up; it resets at midnight UTC.",
                    scope="daily",
                    retry_after=int(wait) + 1,
                )
            if time.monotonic() + wait > deadline:
                raise RateLimited(
                    f"The {self.provider} request rate limit is reached; retry in a few seconds.",
                    scope="burst",
                    retry_after=int(wait) + 1,
                )
            time.sleep(wait)

    def state(self) -> QuotaState:
        used = int(get_redis().get(self._keys()[1]) or 0)
        remaining = None if self.plan.daily_budget < 0 else max(0, self.plan.daily_budget - used)
        return QuotaState(self.plan, used, remaining, _next_midnight())

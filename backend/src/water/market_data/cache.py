"""Raw provider responses cached in Redis, keyed by (provider, function, params), with a TTL per dataset.

Only raw bodies are cached (with the snapshot id they were stored under); derived
values are always recomputed from them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from ..redis_client import get_redis_bytes
from .providers.base import ProviderRequest, RawResponse

MINUTE, HOUR, DAY = 60, 3600, 86400
TTL_SECONDS: dict[str, int] = {
    "GLOBAL_QUOTE": 5 * MINUTE,
    "TIME_SERIES_DAILY": 6 * HOUR,
    "TIME_SERIES_DAILY_ADJUSTED": 6 * HOUR,
    "SYMBOL_SEARCH": DAY,
    "OVERVIEW": DAY,
    "INCOME_STATEMENT": DAY,
    "BALANCE_SHEET": DAY,
    "CASH_FLOW": DAY,
    "EARNINGS": DAY,
    "DIVIDENDS": DAY,
    "SPLITS": DAY,
    "TREASURY_YIELD": 6 * HOUR,
}
DEFAULT_TTL = HOUR


def ttl_for(function: str) -> int:
    return TTL_SECONDS.get(function, DEFAULT_TTL)


def get(request: ProviderRequest) -> RawResponse | None:
    return get_many([request])[0]


def get_many(requests: Sequence[ProviderRequest]) -> list[RawResponse | None]:
    """Each request's cached response (or None), read in one round trip."""
    pipe = get_redis_bytes().pipeline(transaction=False)
    for request in requests:
        pipe.hmget(request.cache_key(), ["meta", "body"])
    return [_response(request, meta, body) for request, (meta, body) in zip(requests, pipe.execute(), strict=True)]


def _response(request: ProviderRequest, meta: bytes | str | None, body: bytes | str | None) -> RawResponse | None:
    if meta is None or body is None:
        return None
    info = json.loads(meta)
    return RawResponse(
        request=request,
        body=body if isinstance(body, bytes) else body.encode(),
        content_type=info["content_type"],
        fetched_at=datetime.fromisoformat(info["fetched_at"]),
        from_cache=True,
        snapshot_id=info.get("snapshot_id"),
    )


def put(response: RawResponse) -> None:
    put_many([response])


def put_many(responses: Sequence[RawResponse]) -> None:
    """Cache responses (already stored as snapshots), each with its function's TTL, in one round trip."""
    if not responses:
        return
    pipe = get_redis_bytes().pipeline()
    for response in responses:
        key = response.request.cache_key()
        meta = json.dumps(
            {
                "content_type": response.content_type,
                "fetched_at": response.fetched_at.isoformat(),
                "snapshot_id": response.snapshot_id,
            }
        )
        pipe.hset(key, mapping={"meta": meta, "body": response.body})
        pipe.expire(key, ttl_for(response.request.function))
    pipe.execute()


# Single flight: a process about to fetch a missing key claims it; others wait for its cache entry.
_RELEASE = """
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key) end
end
return 0
"""


def _flight_key(request: ProviderRequest) -> str:
    return "water:md:flight:" + request.cache_key().removeprefix("water:md:raw:")


def claim_many(requests: Sequence[ProviderRequest], token: str, ttl_ms: int) -> list[bool]:
    """Claim each key for fetching (SET NX with a TTL, one round trip); False where another process holds it."""
    if not requests:
        return []
    pipe = get_redis_bytes().pipeline(transaction=False)
    for request in requests:
        pipe.set(_flight_key(request), token, nx=True, px=ttl_ms)
    return [bool(done) for done in pipe.execute()]


def release_many(requests: Sequence[ProviderRequest], token: str) -> None:
    """Give back the claims this token still holds (an expired one taken over by another process stays)."""
    if requests:
        _release_script()(keys=[_flight_key(r) for r in requests], args=[token])


@lru_cache
def _release_script() -> Any:
    return get_redis_bytes().register_script(_RELEASE)


def invalidate(request: ProviderRequest) -> None:
    get_redis_bytes().delete(request.cache_key())


# A request the vendor refused as premium-only is not asked again for a day: on the free plan's 25
# calls a day, asking for the full daily history before every fallback would waste one in ten. What
# is premium is the function and its parameters (the plan's entitlement), whatever the symbol, so
# one refusal stands for every symbol.
REFUSED_TTL = DAY
_SUBJECT_PARAMS = frozenset({"symbol", "keywords"})


def _refused_key(request: ProviderRequest) -> str:
    params = "&".join(f"{k}={v}" for k, v in request.params if k not in _SUBJECT_PARAMS)
    return f"water:md:refused:{request.provider}:{request.function}:{params}"


def remember_refused(request: ProviderRequest, detail: str) -> None:
    get_redis_bytes().set(_refused_key(request), detail.encode(), ex=REFUSED_TTL)


def refused(request: ProviderRequest) -> str | None:
    """The vendor's premium-only refusal of this request within the last day (its message), else None."""
    return refused_many([request])[0]


def refused_many(requests: Sequence[ProviderRequest]) -> list[str | None]:
    """`refused` for each request, in one round trip (none for no requests)."""
    if not requests:
        return []
    details = get_redis_bytes().mget([_refused_key(r) for r in requests])
    return [None if d is None else d.decode() if isinstance(d, bytes) else str(d) for d in details]

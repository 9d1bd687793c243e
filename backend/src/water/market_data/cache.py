"""Raw provider responses cached in Redis, keyed by (provider, function, params), with a TTL per dataset.

Only raw bodies are cached (with the snapshot id they were stored under); derived
values are always recomputed from them.
"""

from __future__ import annotations

import json
from datetime import datetime

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
    meta, body = get_redis_bytes().hmget(request.cache_key(), ["meta", "body"])
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
    key = response.request.cache_key()
    meta = json.dumps(
        {
            "content_type": response.content_type,
            "fetched_at": response.fetched_at.isoformat(),
            "snapshot_id": response.snapshot_id,
        }
    )
    pipe = get_redis_bytes().pipeline()
    pipe.hset(key, mapping={"meta": meta, "body": response.body})
    pipe.expire(key, ttl_for(response.request.function))
    pipe.execute()


def invalidate(request: ProviderRequest) -> None:
    get_redis_bytes().delete(request.cache_key())

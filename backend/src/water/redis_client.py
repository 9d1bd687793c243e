"""The shared Redis connection (cache, rate limits, pub/sub). Celery has its own."""

from __future__ import annotations

import asyncio
import weakref
from functools import lru_cache

import redis
import redis.asyncio

from .config import get_settings


def redis_url() -> str:
    settings = get_settings()
    if settings.redis_url is None:
        raise RuntimeError("WATER_REDIS_URL is not set: start the embedded stack with `water up`, or set it.")
    return settings.redis_url.get_secret_value()


@lru_cache
def get_redis() -> redis.Redis:
    return redis.Redis.from_url(redis_url(), decode_responses=True, socket_timeout=5, health_check_interval=30)


@lru_cache
def get_redis_bytes() -> redis.Redis:
    """For binary values (raw provider bodies in the cache)."""
    return redis.Redis.from_url(redis_url(), decode_responses=False, socket_timeout=5, health_check_interval=30)


# A redis.asyncio client's connections belong to the event loop that opened them, so each loop gets
# its own client; the entry goes when its loop is collected (tests start many loops).
_async_bytes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, redis.asyncio.Redis] = weakref.WeakKeyDictionary()


def get_async_redis_bytes() -> redis.asyncio.Redis:
    """For reads awaited in the event loop (binary values, as `get_redis_bytes`)."""
    loop = asyncio.get_running_loop()
    client = _async_bytes.get(loop)
    if client is None:
        client = redis.asyncio.Redis.from_url(redis_url(), decode_responses=False, socket_timeout=5)
        _async_bytes[loop] = client
    return client


async def close_async_redis() -> None:
    """Close the running loop's client (the app's shutdown)."""
    client = _async_bytes.pop(asyncio.get_running_loop(), None)
    if client is not None:
        await client.aclose()

"""The shared Redis connection (cache, rate limits, pub/sub). Celery has its own."""

from __future__ import annotations

from functools import lru_cache

import redis

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

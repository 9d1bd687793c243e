from __future__ import annotations

from collections.abc import Iterator

import pytest

from water.config import get_settings
from water.market_data import gateway
from water.redis_client import get_redis

from ...fakes.fixtures import fake_alphavantage, fake_alphavantage_server, recorded_alphavantage  # noqa: F401


@pytest.fixture(autouse=True)
def _fresh_market_data_cache() -> Iterator[None]:
    """Raw responses point at snapshot ids; rolled-back tests take their snapshots with them."""
    redis = get_redis()
    keys = list(redis.scan_iter("water:md:*"))
    if keys:
        redis.delete(*keys)
    gateway.default_gateway.cache_clear()
    yield
    gateway.default_gateway.cache_clear()
    get_settings.cache_clear()

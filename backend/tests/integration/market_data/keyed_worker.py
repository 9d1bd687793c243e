"""A real Celery worker on low_priority with an Alpha Vantage key, talking to the fake server on an unlimited plan.

Shared by the tests that drive refresh jobs through a worker (their failures, their retries).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ...fakes.alphavantage_server import FakeAlphaVantage
from ...fakes.fixtures import require_recordings
from ..worker.conftest import WorkerProcess, purge_queues, start_worker


@contextmanager
def running_keyed_worker(
    fake: FakeAlphaVantage, api_key: str, log_path: Path, **settings: str
) -> Iterator[WorkerProcess]:
    """The worker, its environment `WATER_*` settings (plus `settings`, e.g. a provider timeout); stopped after.

    The key goes to the worker through os.environ, which this process does not keep afterwards.
    """
    require_recordings()
    env = {
        "WATER_ALPHAVANTAGE_API_KEY": api_key,
        "WATER_ALPHAVANTAGE_BASE_URL": fake.url,
        "WATER_MARKET_DATA_DEMO": "false",
        "WATER_MARKET_DATA_REQUESTS_PER_SECOND": "100000",
        "WATER_MARKET_DATA_BURST": "100000",
        "WATER_MARKET_DATA_DAILY_BUDGET": "-1",
        **settings,
    }
    purge_queues()
    with pytest.MonkeyPatch.context() as patched:
        for name, value in env.items():
            patched.setenv(name, value)
        worker = start_worker(log_path, queues="low_priority")
    assert api_key not in os.environ.get("WATER_ALPHAVANTAGE_API_KEY", "")
    try:
        yield worker
    finally:
        worker.stop()

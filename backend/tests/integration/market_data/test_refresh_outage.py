"""A refresh job that meets a provider outage is retried (after the outage's Retry-After at least) while it
has made fewer attempts than `WATER_MARKET_DATA_OUTAGE_ATTEMPTS`, then fails with the outage's problem.

The job's work runs in-process on the real gateway and transport against the fake server (a real socket),
which answers every request with HTTP 503.
"""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from water.config import get_settings
from water.db.session import new_session
from water.jobs import service as jobs
from water.jobs.repository import ClaimedJob
from water.market_data import gateway, tasks
from water.market_data.errors import ProviderUnavailable

from ...factories import Factory
from ...fakes.alphavantage_server import FakeAlphaVantage
from .test_refresh import _uncached_company, fake_gateway  # noqa: F401


def _work(company_id: uuid.UUID, attempt: int) -> None:
    job = ClaimedJob(uuid.uuid4(), uuid.uuid4(), {"company_id": str(company_id)}, attempt)
    with new_session() as session:
        try:
            tasks._refresh_work(session, job)
        finally:
            session.rollback()


def test_an_outage_is_retried_until_the_attempts_run_out(
    committed_client: TestClient,
    committed_factory: Factory,
    fake_alphavantage: FakeAlphaVantage,
    fake_gateway: gateway.Gateway,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    company_id = _uncached_company(committed_client, committed_factory, "DAQI")
    monkeypatch.setenv("WATER_MARKET_DATA_OUTAGE_ATTEMPTS", "3")
    get_settings.cache_clear()
    fake_alphavantage.fail("http_503")

    for attempt in (1, 2):
        with pytest.raises(jobs.RetryLater) as later:
            _work(company_id, attempt)
        assert later.value.retry_in == ProviderUnavailable.RETRY_AFTER_SECONDS
        assert "HTTP 503" in later.value.reason

    with pytest.raises(ProviderUnavailable) as failed:
        _work(company_id, 3)
    assert failed.value.code == "market_data_unavailable"

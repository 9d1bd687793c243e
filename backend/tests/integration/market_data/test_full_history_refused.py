"""When the plan refuses TIME_SERIES_DAILY's full history (Alpha Vantage has, at times, for free keys).

A refresh then keeps going on the latest 100 days instead of failing whole; the refusal is
remembered for a day, so later refreshes do not spend a call of the free plan's 25 on it; the
prices and the market inputs say that the history is short.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from water.db.session import new_session
from water.market_data import gateway
from water.market_data.repository import MarketDataRepository
from water.models import MarketDataSnapshot

from ...factories import Factory
from ...fakes.alphavantage_server import FakeAlphaVantage, _query_key
from .test_refresh import _clear_raw_cache, _refresh, _uncached_company, fake_gateway  # noqa: F401

PREMIUM_BODY = "ERROR_premium_endpoint_information.json"


def _refuse_full_history(fake: FakeAlphaVantage, monkeypatch: pytest.MonkeyPatch, *symbols: str) -> None:
    for symbol in symbols:
        query = {"function": "TIME_SERIES_DAILY", "symbol": symbol, "outputsize": "full"}
        monkeypatch.setitem(fake.recordings, _query_key(query), fake.files[PREMIUM_BODY])


def _daily_requests(fake: FakeAlphaVantage, symbol: str) -> list[str | None]:
    """The outputsize of each TIME_SERIES_DAILY request the fake server saw for `symbol`, in order."""
    return [
        q.get("outputsize")
        for q in fake.requests
        if q.get("function") == "TIME_SERIES_DAILY" and q.get("symbol") == symbol
    ]


def test_a_refresh_falls_back_to_the_latest_100_days_and_remembers_the_refusal(
    committed_client: TestClient,
    committed_factory: Factory,
    fake_alphavantage: FakeAlphaVantage,
    fake_gateway: gateway.Gateway,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _refuse_full_history(fake_alphavantage, monkeypatch, "DAQI")
    company_id = _uncached_company(committed_client, committed_factory, "DAQI")
    calls = fake_alphavantage.total_requests

    result = _refresh(company_id)

    # The batch's nine calls, the full history refused among them, then the compact series: ten.
    assert fake_alphavantage.total_requests - calls == 10
    assert _daily_requests(fake_alphavantage, "DAQI") == ["full", None]
    with new_session() as session:
        pointers = MarketDataRepository(session).dataset_pointers(company_id)
        assert set(pointers) >= {"daily_prices", "statements", "quote"}
        (daily,) = pointers["daily_prices"]
        snapshot = session.scalars(select(MarketDataSnapshot).where(MarketDataSnapshot.id == daily)).one()
        assert "outputsize" not in snapshot.params  # the latest 100 days
    assert result["provider_calls"] == 10

    # Again on an empty cache: the refusal is remembered, so no call is spent on the full history.
    _clear_raw_cache()
    calls = fake_alphavantage.total_requests
    _refresh(company_id)
    assert fake_alphavantage.total_requests - calls == 9
    assert _daily_requests(fake_alphavantage, "DAQI") == ["full", None, None]


def test_prices_and_market_inputs_say_the_history_is_short(
    client: TestClient,
    factory: Factory,
    fake_alphavantage: FakeAlphaVantage,
    fake_gateway: gateway.Gateway,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _refuse_full_history(fake_alphavantage, monkeypatch, "DAQI", "DSPY")
    org = factory.organization(with_roles=False)
    created = client.post("/api/companies/from-symbol", json={"symbol": "DAQI"}, headers=org.admin.headers)
    assert created.status_code == 201, created.text
    base = f"/api/companies/{created.json()['id']}"

    prices = client.get(f"{base}/prices", headers=org.admin.headers)
    assert prices.status_code == 200, prices.text
    body: dict[str, Any] = prices.json()
    assert body["history"] == "latest_100_days"
    assert len(body["bars"]) == 100

    inputs = client.get(f"{base}/market-inputs", headers=org.admin.headers)
    assert inputs.status_code == 200, inputs.text
    beta = inputs.json()["beta"]
    assert beta["history"] == "latest_100_days"
    assert 15 <= beta["observations"] <= 21  # weekly returns within 100 trading days
    (warning,) = inputs.json()["warnings"]
    assert f"{beta['observations']} weekly returns" in warning
    assert "WATER_MARKET_DATA_PREMIUM" in warning
    # The refusal of DAQI's full history stands for every symbol: the benchmark's is not asked for.
    assert _daily_requests(fake_alphavantage, "DSPY") == [None]


def test_with_the_full_history_nothing_is_said(
    client: TestClient,
    factory: Factory,
    fake_alphavantage: FakeAlphaVantage,
    fake_gateway: gateway.Gateway,  # noqa: F811
) -> None:
    org = factory.organization(with_roles=False)
    created = client.post("/api/companies/from-symbol", json={"symbol": "DAQI"}, headers=org.admin.headers)
    base = f"/api/companies/{created.json()['id']}"
    assert client.get(f"{base}/prices", headers=org.admin.headers).json()["history"] == "full"
    inputs = client.get(f"{base}/market-inputs", headers=org.admin.headers).json()
    assert inputs["beta"]["history"] == "full"
    assert inputs["warnings"] == []

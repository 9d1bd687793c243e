"""`GET /api/companies/{id}/prices` gives each bar's close in today's shares, so a chart has no cliff at a split.

The real gateway and transport run against the fake Alpha Vantage server; its SPLITS answer for DAQI is
replaced by one with a 4-for-1 split inside the demo's price history.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from water.market_data import gateway
from water.models import MarketDataSnapshot

from ...factories import Factory
from ...fakes.alphavantage_server import FakeAlphaVantage, Recorded, _query_key
from .test_refresh import fake_gateway  # noqa: F401

SPLIT_DAY = date(2025, 6, 16)


def _split_daqi(fake: FakeAlphaVantage, monkeypatch: pytest.MonkeyPatch, factor: float) -> None:
    body = {"symbol": "DAQI", "data": [{"effective_date": SPLIT_DAY.isoformat(), "split_factor": f"{factor:.4f}"}]}
    recorded = Recorded("test: a 4-for-1 split", json.dumps(body, indent=4).encode(), "application/json", 200)
    monkeypatch.setitem(fake.recordings, _query_key({"function": "SPLITS", "symbol": "DAQI"}), recorded)


def _prices(client: TestClient, factory: Factory, **params: str) -> dict[str, Any]:
    org = factory.organization(with_roles=False)
    created = client.post("/api/companies/from-symbol", json={"symbol": "DAQI"}, headers=org.admin.headers)
    assert created.status_code == 201, created.text
    response = client.get(f"/api/companies/{created.json()['id']}/prices", params=params, headers=org.admin.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_closes_before_a_split_are_divided_by_its_factor(
    client: TestClient,
    factory: Factory,
    db: Session,
    fake_alphavantage: FakeAlphaVantage,
    fake_gateway: gateway.Gateway,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _split_daqi(fake_alphavantage, monkeypatch, 4.0)
    body = _prices(client, factory)
    bars = body["bars"]
    before = [b for b in bars if date.fromisoformat(b["day"]) < SPLIT_DAY]
    after = [b for b in bars if date.fromisoformat(b["day"]) >= SPLIT_DAY]
    assert before
    assert after
    assert all(b["split_adjusted_close"] == pytest.approx(b["close"] / 4.0, rel=1e-15) for b in before)
    assert all(b["split_adjusted_close"] == b["close"] for b in after)
    assert body["splits"] == [{"effective_date": SPLIT_DAY.isoformat(), "factor": 4.0}]
    assert body["warnings"] == []
    # The SPLITS answer used is pinned with the prices.
    functions = set(
        db.scalars(select(MarketDataSnapshot.function).where(MarketDataSnapshot.id.in_(body["snapshot_ids"])))
    )
    assert functions == {"TIME_SERIES_DAILY", "SPLITS"}

    weekly = _prices(client, factory, interval="weekly")["bars"]
    by_day = {b["day"]: b["split_adjusted_close"] for b in bars}
    assert all(w["split_adjusted_close"] == by_day[w["day"]] for w in weekly)  # the week's last bar


def test_without_splits_the_adjusted_close_is_the_close(
    client: TestClient,
    factory: Factory,
    fake_alphavantage: FakeAlphaVantage,
    fake_gateway: gateway.Gateway,  # noqa: F811
) -> None:
    body = _prices(client, factory)
    assert all(b["split_adjusted_close"] == b["close"] for b in body["bars"])
    assert body["splits"] == []


def test_prices_are_served_without_split_adjustment_when_the_splits_cannot_be_read(
    client: TestClient,
    factory: Factory,
    fake_alphavantage: FakeAlphaVantage,
    fake_gateway: gateway.Gateway,  # noqa: F811
) -> None:
    fake_alphavantage.fail("http_503", only="SPLITS")
    body = _prices(client, factory)
    assert body["bars"]
    assert all(b["split_adjusted_close"] is None for b in body["bars"])
    (warning,) = body["warnings"]
    assert warning.startswith("Split-adjusted closes are missing: Alpha Vantage is failing (HTTP 503)")

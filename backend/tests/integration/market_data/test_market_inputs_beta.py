"""The beta in market inputs: what it is computed from, on the free plan and on a premium one."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from water.config import get_settings
from water.market_data import gateway
from water.models import MarketDataSnapshot

from ...factories import Factory


def _beta(client: TestClient, factory: Factory) -> dict:  # type: ignore[type-arg]
    org = factory.organization(with_roles=False)
    created = client.post("/api/companies/from-symbol", json={"symbol": "DAQI"}, headers=org.admin.headers)
    assert created.status_code == 201, created.text
    inputs = client.get(f"/api/companies/{created.json()['id']}/market-inputs", headers=org.admin.headers)
    assert inputs.status_code == 200, inputs.text
    return dict(inputs.json()["beta"])


def _sources(db: Session, beta: dict) -> list[tuple[str, str | None]]:  # type: ignore[type-arg]
    ids = [uuid.UUID(i) for i in beta["snapshot_ids"]]
    rows = db.execute(
        select(MarketDataSnapshot.function, MarketDataSnapshot.symbol).where(MarketDataSnapshot.id.in_(ids))
    )
    return sorted((function, symbol) for function, symbol in rows)


def test_free_plan_beta_is_on_the_as_traded_series_adjusted_by_splits(
    client: TestClient, factory: Factory, db: Session
) -> None:
    beta = _beta(client, factory)
    assert beta["returns"] == "price returns, split-adjusted"
    # Pinned: both daily series as traded, and both symbols' splits that adjusted them.
    assert _sources(db, beta) == [
        ("SPLITS", "DAQI"),
        ("SPLITS", "DSPY"),
        ("TIME_SERIES_DAILY", "DAQI"),
        ("TIME_SERIES_DAILY", "DSPY"),
    ]


def test_premium_plan_beta_uses_the_adjusted_series_own_split_coefficients(
    client: TestClient, factory: Factory, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    free = _beta(client, factory)
    monkeypatch.setenv("WATER_MARKET_DATA_PREMIUM", "true")
    get_settings.cache_clear()
    gateway.default_gateway.cache_clear()
    premium = _beta(client, factory)
    # The adjusted series marks splits on their days: no SPLITS calls.
    assert _sources(db, premium) == [("TIME_SERIES_DAILY_ADJUSTED", "DAQI"), ("TIME_SERIES_DAILY_ADJUSTED", "DSPY")]
    # Both plans compute the same thing (price returns, split-adjusted) from the same closes.
    assert premium["value"] == pytest.approx(free["value"], rel=1e-12)
    assert premium["observations"] == free["observations"]


def test_the_beta_can_be_asked_for_another_benchmark_frequency_and_window(
    client: TestClient, factory: Factory, db: Session
) -> None:
    org = factory.organization(with_roles=False)
    created = client.post("/api/companies/from-symbol", json={"symbol": "DBRK"}, headers=org.admin.headers)
    url = f"/api/companies/{created.json()['id']}/market-inputs"

    default = client.get(url, headers=org.admin.headers).json()["beta"]
    assert (default["benchmark"], default["frequency"], default["years"]) == ("DSPY", "weekly", 2)

    monthly = client.get(url, params={"frequency": "monthly", "years": 3}, headers=org.admin.headers)
    assert monthly.status_code == 200, monthly.text
    beta = monthly.json()["beta"]
    assert (beta["frequency"], beta["years"]) == ("monthly", 3)
    assert 33 <= beta["observations"] <= 36  # the demo's three years of months
    assert beta["value"] != default["value"]

    against_peer = client.get(url, params={"benchmark": "daqi"}, headers=org.admin.headers).json()["beta"]
    assert against_peer["benchmark"] == "DAQI"
    assert ("TIME_SERIES_DAILY", "DAQI") in _sources(db, against_peer)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"years": 0}, "years"),
        ({"years": 11}, "years"),
        ({"frequency": "hourly"}, "frequency"),
        ({"benchmark": "S P"}, "benchmark"),
    ],
)
def test_bad_beta_options_are_a_422_problem(
    client: TestClient,
    factory: Factory,
    params: dict,
    field: str,  # type: ignore[type-arg]
) -> None:
    org = factory.organization(with_roles=False)
    created = client.post("/api/companies/from-symbol", json={"symbol": "DAQI"}, headers=org.admin.headers)
    response = client.get(
        f"/api/companies/{created.json()['id']}/market-inputs", params=params, headers=org.admin.headers
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in response.text

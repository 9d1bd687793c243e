"""Valuation tests run against committed data and a real Celery worker."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from water.db.session import new_session
from water.market_data import gateway
from water.market_data import service as market_data
from water.models import Company
from water.redis_client import get_redis

from ...factories import Factory, Org
from ..worker.conftest import WorkerProcess, purge_queues, start_worker


@dataclass
class Covered:
    org: Org
    company: dict[str, Any]
    peers: list[dict[str, Any]]


def refresh(company_id: str) -> None:
    with new_session() as session:
        company = session.get(Company, uuid.UUID(company_id))
        assert company is not None
        market_data.refresh_company(session, company, deadline=time.monotonic() + 60)
        session.commit()


@pytest.fixture(scope="module")
def covered(app) -> Iterator[Covered]:  # type: ignore[no-untyped-def]
    """An organization covering the demo companies, with their market data refreshed."""
    keys = list(get_redis().scan_iter("water:md:*"))
    if keys:
        get_redis().delete(*keys)
    gateway.default_gateway.cache_clear()
    with TestClient(app) as client:
        factory = Factory(client, None)
        org = factory.organization()
        companies = []
        for symbol in ("DAQI", "DBRK", "DCSH"):
            response = client.post("/api/companies/from-symbol", json={"symbol": symbol}, headers=org.admin.headers)
            assert response.status_code == 201, response.text
            refresh(response.json()["id"])
            companies.append(response.json())
        yield Covered(org, companies[0], companies[1:])


@pytest.fixture(scope="module")
def valuation_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerProcess]:
    purge_queues()
    worker = start_worker(tmp_path_factory.mktemp("valuation-worker") / "worker.log", queues="default,high_priority")
    yield worker
    worker.stop()


def wait_for_run(client: TestClient, headers: dict[str, str], run_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = client.get(f"/api/valuation-runs/{run_id}", headers=headers).json()
        if run["status"] in {"succeeded", "failed", "cancelled"}:
            return dict(run)
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not finish: {run['status']}")


@pytest.fixture
def logs_dir(tmp_path: Path) -> Path:
    return tmp_path

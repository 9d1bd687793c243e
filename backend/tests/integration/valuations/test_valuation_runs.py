"""Submit → run on a real worker → right, explainable, reproducible numbers."""

from __future__ import annotations

import json
import threading
import uuid

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

import water_engine
from water.db.session import new_session
from water.models import RunEvent, ValuationRun
from water.redis_client import get_redis
from water.worker.queues import Queue

from ..worker.conftest import WorkerProcess
from .conftest import Covered, wait_for_run

ALL_METHODS_BODY = {
    "methods": [
        "fcff_ginzu", "fcff_explicit", "fcfe", "ddm", "comparables", "reverse_dcf",
        "sensitivity", "scenarios", "monte_carlo", "football_field",
    ],
    "assumptions": {
        "fcff_explicit": {"fcff": [100.0, 110.0, 120.0, 130.0, 140.0], "discount_rate": 0.09, "terminal": {"method": "gordon", "growth": 0.02}},
        "fcfe": {"cost_of_equity": 0.1, "stable_growth": 0.03, "fcfe": 500.0, "shares": 100.0, "high_growth": 0.08, "high_growth_years": 5},
        "ddm": {"cost_of_equity": 0.09, "stable_growth": 0.03, "dividend": 2.0},
        "scenarios": {"scenarios": [
            {"name": "bear", "probability": 0.25, "overrides": {"inputs.growth_year_1": 0.0}},
            {"name": "base", "probability": 0.5, "overrides": {}},
            {"name": "bull", "probability": 0.25, "overrides": {"inputs.growth_year_1": 0.12}},
        ]},
        "monte_carlo": {"paths": 2000, "seed": 42, "drivers": [
            {"path": "inputs.growth_year_1", "distribution": "normal", "mean": 0.06, "stdev": 0.02},
            {"path": "inputs.target_margin", "distribution": "triangular", "low": 0.12, "mode": 0.18, "high": 0.24},
        ]},
        "football_field": {"weights": {"fcff_ginzu": 2.0}},
    },
}  # fmt: skip


def _submit(
    client: TestClient, covered: Covered, body: dict, key: str | None = None, company: dict | None = None
) -> httpx.Response:  # type: ignore[type-arg]
    headers = dict(covered.org.as_role("analyst").headers)
    if key:
        headers["Idempotency-Key"] = key
    target = (company or covered.company)["id"]
    return client.post(f"/api/companies/{target}/valuation-runs", json=body, headers=headers)


def _explicit_inputs() -> dict:  # type: ignore[type-arg]
    schema = water_engine.request_schema("fcff_explicit")
    return schema


def test_ginzu_run_succeeds_with_the_engine_numbers_and_explained_defaults(
    committed_client: TestClient, covered: Covered, valuation_worker: WorkerProcess
) -> None:
    response = _submit(committed_client, covered, {"methods": ["fcff_ginzu", "sensitivity"]})
    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"/api/valuation-runs/{response.json()['id']}"
    queued = response.json()
    assert queued["status"] == "queued"
    defaulted = {d["path"]: d for d in queued["defaults_applied"]}
    for key in ("revenues", "ebit", "riskfree_rate", "initial_cost_of_capital", "price", "shares_outstanding"):
        assert f"fcff_ginzu.inputs.{key}" in defaulted
    assert "TREASURY_YIELD" in defaulted["fcff_ginzu.inputs.riskfree_rate"]["source"]
    assert "regression beta" in defaulted["fcff_ginzu.inputs.initial_cost_of_capital"]["source"]
    assert queued["snapshot_ids"]

    run = wait_for_run(committed_client, covered.org.admin.headers, queued["id"])
    assert run["status"] == "succeeded", run["error"]
    expected = water_engine.run(run["requests"]["fcff_ginzu"])["outputs"]
    assert run["value_per_share"] == expected["value_per_share"]  # bit-identical to the engine
    assert run["result"]["fcff_ginzu"]["schedule"]
    grid = run["result"]["sensitivity"]["outputs"]["grid"]
    assert len(grid) == 21
    assert all(len(row) == 21 for row in grid)
    assert grid[10][10] == expected["value_per_share"]  # the centre cell is the base case
    assert run["engine_version"] == water_engine.__version__
    assert run["compute_ms"] > 0


def test_every_method_runs(committed_client: TestClient, covered: Covered, valuation_worker: WorkerProcess) -> None:
    body = json.loads(json.dumps(ALL_METHODS_BODY))
    body["assumptions"]["comparables"] = {"peers": [p["id"] for p in covered.peers]}
    response = _submit(committed_client, covered, body)
    assert response.status_code == 202, response.text
    run = wait_for_run(committed_client, covered.org.admin.headers, response.json()["id"])
    assert run["status"] == "succeeded", run["error"]
    assert set(run["result"]) == set(body["methods"])
    for method in ("fcff_explicit", "fcfe", "ddm"):
        assert run["result"][method]["outputs"] == water_engine.run(run["requests"][method])["outputs"]
    ranges = run["result"]["football_field"]["outputs"]
    assert ranges
    assert run["result"]["monte_carlo"]["outputs"]["paths"] == 2000
    assert 0 <= run["result"]["monte_carlo"]["outputs"]["probability_above_price"] <= 1
    assert run["result"]["reverse_dcf"]["outputs"]


def test_an_assumption_beyond_64_bits_is_stored(committed_client: TestClient, covered: Covered) -> None:
    """JSON numbers may have any number of digits. The JSONB writer (orjson) cannot write an integer
    beyond 64 bits and falls back to json.dumps, so such an assumption is kept as given, not a 500."""
    body = {"methods": ["fcff_ginzu"], "assumptions": {"fcff_ginzu": {"shares_outstanding": 10**30}}}
    response = _submit(committed_client, covered, body)
    assert response.status_code == 202, response.text
    assert response.json()["assumptions"]["assumptions"]["fcff_ginzu"]["shares_outstanding"] == 10**30


def test_bad_assumptions_are_422_with_paths_and_nothing_queued(committed_client: TestClient, covered: Covered) -> None:
    before_runs = _count_runs(covered)
    before_queue = get_redis().llen(Queue.default.value)
    response = _submit(
        committed_client,
        covered,
        {
            "methods": ["fcff_ginzu", "fcfe"],
            "assumptions": {"fcff_ginzu": {"growth_year_1": "fast", "bogus": 1}, "fcfe": {"cost_of_equity": 0.1}},
        },
    )
    assert response.status_code == 422
    problem = response.json()
    locs = {tuple(e["loc"]) for e in problem["errors"]}
    assert ("body", "assumptions", "fcff_ginzu", "inputs", "growth_year_1") in locs
    assert ("body", "assumptions", "fcff_ginzu", "inputs", "bogus") in locs
    assert ("body", "assumptions", "fcfe", "inputs", "stable_growth") in locs
    assert _count_runs(covered) == before_runs
    assert get_redis().llen(Queue.default.value) == before_queue
    unknown = _submit(committed_client, covered, {"methods": ["astrology"]})
    assert unknown.status_code == 422


def test_assumptions_valid_one_by_one_but_not_together_are_422_and_nothing_queued(
    committed_client: TestClient, covered: Covered
) -> None:
    # Each lease commitment is a valid number, but their sum overflows: once an OverflowError and a 500.
    leases = {"current_expense": 1.0, "commitments": [1e308] * 5, "pre_tax_cost_of_debt": 0.05, "beyond_year_5": 1.0}
    before_runs = _count_runs(covered)
    response = _submit(
        committed_client, covered, {"methods": ["fcff_ginzu"], "assumptions": {"fcff_ginzu": {"leases": leases}}}
    )
    assert response.status_code == 422, response.text
    locs = [tuple(e["loc"]) for e in response.json()["errors"]]
    assert locs == [("body", "assumptions", "fcff_ginzu", "inputs", "leases", "commitments")]
    assert _count_runs(covered) == before_runs


def test_a_request_the_engine_cannot_resolve_is_422_naming_the_method(
    committed_client: TestClient, covered: Covered, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `water_engine.validate` may raise NotComputableError (valid inputs whose resolution fails);
    # no request reaches that today, so the engine's answer is stood in for here.
    def not_computable(request: dict) -> None:  # type: ignore[type-arg]
        raise water_engine.NotComputableError("the model cannot be computed for these inputs: a test")

    monkeypatch.setattr(water_engine, "validate", not_computable)
    before_runs = _count_runs(covered)
    response = _submit(committed_client, covered, {"methods": ["fcff_ginzu"]})
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert [tuple(e["loc"]) for e in errors] == [("body", "assumptions", "fcff_ginzu")]
    assert "cannot be computed" in errors[0]["msg"]
    assert _count_runs(covered) == before_runs


def _count_runs(covered: Covered) -> int:
    with new_session() as session:
        return int(
            session.scalar(select(func.count()).where(ValuationRun.organization_id == uuid.UUID(covered.org.id))) or 0
        )


def test_idempotency_key(committed_client: TestClient, covered: Covered) -> None:
    key = f"key-{uuid.uuid4().hex}"
    first = _submit(committed_client, covered, {"methods": ["fcff_ginzu"]}, key)
    again = _submit(committed_client, covered, {"methods": ["fcff_ginzu"]}, key)
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    other = _submit(committed_client, covered, {"methods": ["fcff_ginzu", "sensitivity"]}, key)
    assert other.status_code == 409
    assert other.json()["code"] == "idempotency_key_reused"


def test_rerun_is_bit_identical_and_verify_and_compare(
    committed_client: TestClient, covered: Covered, valuation_worker: WorkerProcess
) -> None:
    headers = covered.org.admin.headers
    first = wait_for_run(
        committed_client,
        headers,
        _submit(
            committed_client,
            covered,
            {
                "methods": ["fcff_ginzu", "monte_carlo"],
                "assumptions": {
                    "monte_carlo": {
                        "paths": 500,
                        "seed": 3,
                        "drivers": [
                            {"path": "inputs.growth_year_1", "distribution": "uniform", "low": 0.0, "high": 0.1}
                        ],
                    }
                },
            },
        ).json()["id"],
    )
    rerun = committed_client.post(
        f"/api/valuation-runs/{first['id']}/rerun", headers=covered.org.as_role("analyst").headers
    )
    assert rerun.status_code == 202
    second = wait_for_run(committed_client, headers, rerun.json()["id"])
    assert second["input_hash"] == first["input_hash"]
    assert json.dumps(second["result"], sort_keys=True) == json.dumps(first["result"], sort_keys=True)
    verified = committed_client.get(f"/api/valuation-runs/{first['id']}/verify", headers=headers).json()
    assert verified["identical"] is True
    assert verified["differences"] == []
    changed = wait_for_run(
        committed_client,
        headers,
        _submit(
            committed_client,
            covered,
            {"methods": ["fcff_ginzu"], "assumptions": {"fcff_ginzu": {"growth_year_1": 0.2}}},
        ).json()["id"],
    )
    comparison = committed_client.get(
        "/api/valuation-runs/compare", params={"a": first["id"], "b": changed["id"]}, headers=headers
    ).json()
    assert any(d["path"] == "fcff_ginzu.inputs.growth_year_1" for d in comparison["assumptions"])
    assert any(d["path"].startswith("fcff_ginzu.value_per_share") for d in comparison["outputs"])


def test_cancel_a_queued_run(committed_client: TestClient, covered: Covered) -> None:
    # No worker consumes `default` in this test module's lifetime? The run may start; cancel must work either way.
    run = _submit(committed_client, covered, {"methods": ["fcff_ginzu"]}).json()
    cancelled = committed_client.post(
        f"/api/valuation-runs/{run['id']}/cancel", headers=covered.org.as_role("analyst").headers
    )
    if cancelled.status_code == 409:  # the worker was faster
        assert cancelled.json()["code"] == "run_finished"
        return
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    again = committed_client.post(
        f"/api/valuation-runs/{run['id']}/cancel", headers=covered.org.as_role("analyst").headers
    )
    assert again.status_code == 409


def test_state_changes_are_events_and_audited(
    committed_client: TestClient, covered: Covered, valuation_worker: WorkerProcess
) -> None:
    run = wait_for_run(
        committed_client,
        covered.org.admin.headers,
        _submit(committed_client, covered, {"methods": ["fcff_ginzu"]}).json()["id"],
    )
    with new_session() as session:
        types = list(
            session.scalars(select(RunEvent.type).where(RunEvent.run_id == uuid.UUID(run["id"])).order_by(RunEvent.id))
        )
    assert types == ["run.queued", "run.running", "run.succeeded"]
    audit = committed_client.get(
        "/api/audit-events", params={"object_id": run["id"]}, headers=covered.org.admin.headers
    ).json()["items"]
    assert [e["action"] for e in audit] == ["valuation_run.queued"]


def test_list_filters_and_pagination(committed_client: TestClient, covered: Covered) -> None:
    headers = covered.org.admin.headers
    listed = committed_client.get(
        "/api/valuation-runs",
        params={"company_id": covered.company["id"], "method": "fcff_ginzu", "limit": 2},
        headers=headers,
    ).json()
    assert len(listed["items"]) == 2
    assert listed["next_cursor"]
    page2 = committed_client.get(
        "/api/valuation-runs",
        params={
            "company_id": covered.company["id"],
            "method": "fcff_ginzu",
            "limit": 2,
            "cursor": listed["next_cursor"],
        },
        headers=headers,
    ).json()
    assert {r["id"] for r in page2["items"]}.isdisjoint({r["id"] for r in listed["items"]})
    succeeded = committed_client.get("/api/valuation-runs", params={"status": "succeeded"}, headers=headers).json()[
        "items"
    ]
    assert all(r["status"] == "succeeded" for r in succeeded)


def test_hundred_simultaneous_submissions_with_one_key_make_one_run(
    covered: Covered, committed_client: TestClient
) -> None:
    from ..test_schemathesis import (
        server as _server_fixture,  # noqa: F401  (documentation: a real server is used below)
    )

    key = f"burst-{uuid.uuid4().hex}"
    body = {"methods": ["fcff_ginzu"]}
    ids: list[str] = []
    errors: list[int] = []

    def submit() -> None:
        response = _submit(committed_client, covered, body, key)
        (ids.append(response.json()["id"]) if response.status_code == 202 else errors.append(response.status_code))

    threads = [threading.Thread(target=submit) for _ in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert len(set(ids)) == 1
    with new_session() as session:
        assert session.scalar(select(func.count()).where(ValuationRun.idempotency_key == key)) == 1


@pytest.mark.parametrize("role", ["viewer", "reviewer"])
def test_readers_cannot_submit_cancel_or_rerun(committed_client: TestClient, covered: Covered, role: str) -> None:
    headers = covered.org.as_role(role).headers
    assert (
        committed_client.post(
            f"/api/companies/{covered.company['id']}/valuation-runs", json={"methods": ["fcff_ginzu"]}, headers=headers
        ).status_code
        == 403
    )
    run_id = committed_client.get("/api/valuation-runs", headers=headers).json()["items"][0]["id"]
    assert committed_client.get(f"/api/valuation-runs/{run_id}", headers=headers).status_code == 200
    assert committed_client.post(f"/api/valuation-runs/{run_id}/cancel", headers=headers).status_code == 403
    assert committed_client.post(f"/api/valuation-runs/{run_id}/rerun", headers=headers).status_code == 403


def test_other_organizations_runs_are_404(committed_client: TestClient, committed_factory, covered: Covered) -> None:  # type: ignore[no-untyped-def]
    run_id = committed_client.get("/api/valuation-runs", headers=covered.org.admin.headers).json()["items"][0]["id"]
    intruder = committed_factory.organization(with_roles=False)
    for method, path in [("GET", ""), ("POST", "/cancel"), ("POST", "/rerun"), ("GET", "/verify")]:
        assert (
            committed_client.request(
                method, f"/api/valuation-runs/{run_id}{path}", headers=intruder.admin.headers
            ).status_code
            == 404
        )
    compare = committed_client.get(
        "/api/valuation-runs/compare", params={"a": run_id, "b": run_id}, headers=intruder.admin.headers
    )
    assert compare.status_code == 404
    assert committed_client.get("/api/valuation-runs", headers=intruder.admin.headers).json()["items"] == []

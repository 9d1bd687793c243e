"""Operational endpoints and the middleware stack: request id, metrics, CORS, body limit, problem details."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess

import pytest
from fastapi.testclient import TestClient

from water.app import create_app
from water.config import Settings

from ...factories import Factory
from ..system_tools import require_tool


def test_healthz(client: TestClient) -> None:
    response = client.get("/api/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_each_dependency(client: TestClient) -> None:
    response = client.get("/api/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["checks"] == {"database": "ok", "redis": "ok", "broker": "ok"}
    assert body["beat"]["status"] in {"ok", "stale"}


def test_readyz_names_what_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    from water.redis_client import get_redis

    settings = Settings(redis_url="redis://127.0.0.1:1/0")  # nothing listens on port 1
    monkeypatch.setattr(
        "water.ops.endpoints.get_redis",
        lambda: __import__("redis").Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5),
    )
    monkeypatch.setattr(
        "water.ops.endpoints._check_broker",
        lambda: get_redis().connection_pool.get_connection("PING")
        and (_ for _ in ()).throw(ConnectionError("broker down")),
    )
    with TestClient(create_app(settings)) as client:
        response = client.get("/api/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].startswith("down")
    assert body["checks"]["broker"].startswith("down")
    assert "redis" in body["detail"]
    assert "broker" in body["detail"]


def test_request_id_is_accepted_when_well_formed_and_replaced_otherwise(client: TestClient) -> None:
    good = client.get("/api/healthz", headers={"X-Request-ID": "abc.DEF-123_x"})
    assert good.headers["x-request-id"] == "abc.DEF-123_x"
    for bad in ("has space", "x" * 129, "semi;colon", ""):
        response = client.get("/api/healthz", headers={"X-Request-ID": bad})
        assert response.headers["x-request-id"] != bad
        assert len(response.headers["x-request-id"]) == 32


def test_problem_details_carry_the_request_id(client: TestClient) -> None:
    response = client.get("/api/companies", headers={"X-Request-ID": "trace-me-1"})
    assert response.status_code == 401
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert problem["request_id"] == "trace-me-1"
    assert set(problem) >= {"type", "title", "status", "detail", "code", "request_id"}


def test_unknown_route_and_method_are_problems(client: TestClient) -> None:
    missing = client.get("/api/nope")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    wrong_method = client.put("/api/healthz")
    assert wrong_method.status_code == 405
    assert wrong_method.headers["content-type"] == "application/problem+json"


def test_unhandled_exception_is_a_500_without_internals_and_logged_with_request_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = create_app()

    def explode() -> None:
        raise RuntimeError("database password is hunter2 and the stack says so")

    app.add_api_route("/api/test-explode", explode)
    with TestClient(app, raise_server_exceptions=False) as client, caplog.at_level(logging.ERROR):
        response = client.get("/api/test-explode", headers={"X-Request-ID": "boom-1"})
    assert response.status_code == 500
    body = response.json()
    assert body["code"] == "internal_error"
    assert body["request_id"] == "boom-1"
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text
    logged = [r for r in caplog.records if "unhandled_exception" in r.getMessage()]
    assert logged
    event = logged[0].msg
    assert isinstance(event, dict)
    assert event["request_id"] == "boom-1"
    assert isinstance(event["exc_info"], RuntimeError)
    assert response.headers["x-request-id"] == "boom-1"


def test_body_size_limit_is_a_413_problem(client: TestClient, factory: Factory) -> None:
    org = factory.organization(with_roles=False)
    big = json.dumps({"name": "x" * 2_000_000, "ticker": "BIG"})
    response = client.post(
        "/api/companies", content=big, headers={**org.admin.headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"

    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(40):
            yield b"x" * 65536

    streamed = client.post(
        "/api/companies", content=chunks(), headers={**org.admin.headers, "Content-Type": "application/json"}
    )
    assert streamed.status_code == 413


def test_cors_allowlist() -> None:
    settings = Settings(cors_origins=["https://app.water.example"])
    with TestClient(create_app(settings)) as client:
        allowed = client.options(
            "/api/companies",
            headers={"Origin": "https://app.water.example", "Access-Control-Request-Method": "GET"},
        )
        assert allowed.headers["access-control-allow-origin"] == "https://app.water.example"
        assert allowed.headers["access-control-allow-credentials"] == "true"
        unknown = client.get("/api/healthz", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in unknown.headers
        assert "access-control-allow-credentials" not in unknown.headers


def test_metrics_by_route_template_and_promtool_clean(client: TestClient, factory: Factory) -> None:
    org = factory.organization(with_roles=False)
    company = factory.company(org.admin)
    client.get(f"/api/companies/{company['id']}", headers=org.admin.headers)
    client.get("/api/does-not-exist")
    text = client.get("/metrics").text
    assert 'water_http_requests_total{method="GET",route="/api/companies/{company_id}",status="200"}' in text
    assert 'route="unmatched"' in text
    assert company["id"] not in text  # ids never become labels
    assert "water_http_request_duration_seconds_bucket" in text
    assert "water_http_requests_in_flight" in text
    promtool = require_tool("promtool", "Debian package prometheus")
    result = subprocess.run([promtool, "check", "metrics"], input=text.encode(), capture_output=True, check=False)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


def test_openapi_document_and_docs(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    assert spec["info"]["title"] == "Water API"
    assert "/api/companies/{company_id}" in spec["paths"]
    assert client.get("/api/docs").status_code == 200
    assert shutil.which("true")  # sanity: subprocess tools exist on this machine

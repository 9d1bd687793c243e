"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from sqlalchemy import text

from ..config import get_settings
from ..db.session import get_engine
from ..redis_client import get_redis
from ..worker.ops_tasks import HEARTBEAT_KEY

public_router = APIRouter(tags=["ops"])
metrics_router = APIRouter()


@public_router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process is up (checks nothing else)."""
    return {"status": "ok"}


def _check_database() -> None:
    with get_engine().connect() as connection:
        connection.execute(text("SELECT 1"))


def _check_redis() -> None:
    get_redis().ping()


def _check_broker() -> None:
    from ..worker.celery_app import celery_app

    with celery_app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1, timeout=2)


def _beat_age() -> float | None:
    value = get_redis().get(HEARTBEAT_KEY)
    return None if value is None else max(0.0, time.time() - float(str(value)))


@public_router.get("/readyz", responses={503: {"description": "A dependency is down"}})
def readyz() -> JSONResponse:
    """Readiness: PostgreSQL, Redis and the broker reachable; reports the beat heartbeat's age."""
    checks: dict[str, Any] = {}
    for name, check in (("database", _check_database), ("redis", _check_redis), ("broker", _check_broker)):
        try:
            check()
            checks[name] = "ok"
        except Exception as exc:
            checks[name] = f"down: {type(exc).__name__}"
    down = [name for name, state in checks.items() if state != "ok"]
    beat: dict[str, Any] = {"status": "unknown"}
    if "redis" not in down:
        age = _beat_age()
        stale_after = 3 * get_settings().beat_heartbeat_seconds
        beat = {"status": "ok" if age is not None and age <= stale_after else "stale", "age_seconds": age}
    body = {"status": "ok" if not down else "unavailable", "checks": checks, "beat": beat}
    if down:
        body["detail"] = "down: " + ", ".join(down)
    return JSONResponse(body, status_code=503 if down else 200)


@metrics_router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    """Prometheus text format (not routed publicly by the ingress)."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

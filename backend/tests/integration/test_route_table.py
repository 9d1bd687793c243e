"""Every route requires authentication unless it is explicitly public: walk the route table."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from water.app import PUBLIC_ROUTES


def _operations(app: FastAPI) -> set[tuple[str, str]]:
    operations = {
        (method.upper(), path)
        for path, item in app.openapi()["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }
    # The route table itself, including routes left out of the schema (docs, metrics).
    for context in iter_route_contexts(app.router.routes):
        for method in getattr(context.original_route, "methods", None) or ():
            if context.path and method != "HEAD":
                operations.add((method, context.path))
    return operations


def test_every_non_public_route_rejects_anonymous_callers(app: FastAPI, client: TestClient) -> None:
    operations = _operations(app)
    assert ("GET", "/api/companies/{company_id}") in operations
    checked = 0
    for method, template in sorted(operations):
        path = re.sub(r"\{[^}]+\}", "00000000-0000-0000-0000-000000000000", template)
        response = client.request(method, path)
        if (method, template) in PUBLIC_ROUTES:
            assert response.status_code < 500, (method, template)  # public: may still refuse, e.g. no refresh cookie
            continue
        checked += 1
        assert response.status_code == 401, (method, template, response.status_code)
        assert response.json()["code"] == "unauthenticated"
    assert checked >= 15


def test_public_routes_exist(app: FastAPI) -> None:
    operations = _operations(app)
    missing = {route for route in PUBLIC_ROUTES if route not in operations}
    assert not missing, f"PUBLIC_ROUTES lists routes that do not exist: {missing}"

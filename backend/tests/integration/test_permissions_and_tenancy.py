"""Every role × endpoint permission, and another organization's objects are always a 404."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ..factories import PASSWORD, Factory, Org

ROLES = ("admin", "analyst", "reviewer", "viewer")
READ = set(ROLES)
WRITE = {"admin", "analyst"}
MANAGE = {"admin"}


@dataclass
class Case:
    method: str
    path: str  # may contain {company}, {user}, {api_key}, {job}
    allowed: set[str]
    body: Callable[[], dict[str, Any]] | None = None
    ok: int = 200
    form: bool = False


CASES = [
    Case("GET", "/api/companies", READ),
    Case("POST", "/api/companies", WRITE, lambda: {"name": "N", "ticker": "N" + uuid.uuid4().hex[:6].upper()}, 201),
    Case("GET", "/api/companies/{company}", READ),
    Case("PATCH", "/api/companies/{company}", WRITE, lambda: {"sector": "Energy"}),
    Case("DELETE", "/api/companies/{company}", WRITE, ok=204),
    Case("GET", "/api/users", MANAGE),
    Case(
        "POST",
        "/api/users",
        MANAGE,
        lambda: {"email": f"n{uuid.uuid4().hex[:8]}@example.com", "password": PASSWORD, "role": "viewer"},
        201,
    ),
    Case("GET", "/api/users/{user}", MANAGE),
    Case("PATCH", "/api/users/{user}", MANAGE, lambda: {"full_name": "Renamed"}),
    Case("GET", "/api/api-keys", MANAGE),
    Case("POST", "/api/api-keys", MANAGE, lambda: {"name": "k"}, 201),
    Case("GET", "/api/api-keys/{api_key}", MANAGE),
    Case("DELETE", "/api/api-keys/{api_key}", MANAGE),
    Case("GET", "/api/audit-events", MANAGE),
    Case("GET", "/api/jobs/{job}", READ),
    Case("POST", "/api/jobs/probe", MANAGE, lambda: {"queue": "default"}, 202),
    Case("GET", "/api/auth/me", READ),
]


def _objects(client: TestClient, factory: Factory, org: Org) -> dict[str, str]:
    company = factory.company(org.admin)
    api_key = factory.api_key(org)
    job = client.post("/api/jobs/probe", json={"queue": "default"}, headers=org.admin.headers).json()
    return {"company": company["id"], "user": org.as_role("viewer").user_id, "api_key": api_key["id"], "job": job["id"]}


def _call(client: TestClient, case: Case, headers: dict[str, str], objects: dict[str, str]) -> Any:
    path = case.path.format(**objects)
    kwargs: dict[str, Any] = {"headers": headers}
    if case.body is not None:
        kwargs["json"] = case.body()
    return client.request(case.method, path, **kwargs)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.method} {c.path}")
def test_every_role_on_every_endpoint(client: TestClient, factory: Factory, case: Case) -> None:
    org = factory.organization()
    for role in ROLES:
        objects = _objects(client, factory, org)  # fresh objects: a DELETE must not affect the next role
        response = _call(client, case, org.as_role(role).headers, objects)
        if role in case.allowed:
            assert response.status_code == case.ok, (role, response.text)
        else:
            assert response.status_code == 403, (role, response.text)
            assert response.json()["code"] == "forbidden"


OBJECT_CASES = [c for c in CASES if "{" in c.path]


@pytest.mark.parametrize("case", OBJECT_CASES, ids=lambda c: f"{c.method} {c.path}")
def test_other_organizations_objects_are_404(client: TestClient, factory: Factory, case: Case) -> None:
    org_a = factory.organization()
    org_b = factory.organization(with_roles=False)
    objects_a = _objects(client, factory, org_a)
    response = _call(client, case, org_b.admin.headers, objects_a)
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "not_found"
    # And the object is untouched for its owner.
    owner_view = {"company": f"/api/companies/{objects_a['company']}", "user": f"/api/users/{objects_a['user']}"}
    for path in owner_view.values():
        assert client.get(path, headers=org_a.admin.headers).status_code == 200


def test_lists_never_show_other_organizations(client: TestClient, factory: Factory) -> None:
    org_a = factory.organization(with_roles=False)
    org_b = factory.organization(with_roles=False)
    factory.company(org_a.admin, name="Secret Target")
    listed = client.get("/api/companies", params={"q": "Secret"}, headers=org_b.admin.headers).json()
    assert listed["items"] == []
    events = client.get("/api/audit-events", headers=org_b.admin.headers).json()["items"]
    assert all(e["after"] is None or e["after"].get("name") != "Secret Target" for e in events)
    users = client.get("/api/users", headers=org_b.admin.headers).json()
    assert [u["email"] for u in users] == [org_b.admin.email]

"""Bad input never yields a 500: each gets a clear 4xx problem and writes nothing."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from water.models import Company

from ..factories import Factory

BAD_BODIES = [
    pytest.param(b"{not json", "application/json", id="malformed-json"),
    pytest.param(b"", "application/json", id="empty-body"),
    pytest.param(b"[]", "application/json", id="array-not-object"),
    pytest.param(b'{"name": 12, "ticker": ["X"]}', "application/json", id="wrong-types"),
    pytest.param(b'{"name": "A", "ticker": "AB", "evil": true}', "application/json", id="unknown-field"),
    pytest.param(b'{"name": "A", "ticker": "AB; DROP TABLE companies;--"}', "application/json", id="sql-in-ticker"),
    pytest.param(b'{"name": "", "ticker": "AB"}', "application/json", id="empty-name"),
    pytest.param(b'{"name": "A", "ticker": "AB", "currency": "dollars"}', "application/json", id="bad-currency"),
    pytest.param(b'{"name": "A\\u0000B", "ticker": "AB"}', "application/json", id="nul-byte"),
    pytest.param(b"name=A&ticker=AB", "application/x-www-form-urlencoded", id="form-not-json"),
    pytest.param(b"\xff\xfe\xfa", "application/json", id="not-utf8"),
]


@pytest.mark.parametrize(("body", "content_type"), BAD_BODIES)
def test_bad_company_bodies(client: TestClient, factory: Factory, db: Session, body: bytes, content_type: str) -> None:
    org = factory.organization(with_roles=False)
    before = db.scalar(select(func.count()).select_from(Company))
    response = client.post("/api/companies", content=body, headers={**org.admin.headers, "Content-Type": content_type})
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == response.status_code
    if response.status_code == 422:
        assert problem["errors"]
        assert all({"loc", "msg", "type"} <= set(e) for e in problem["errors"])
    assert db.scalar(select(func.count()).select_from(Company)) == before


@pytest.mark.parametrize(
    "path",
    [
        "/api/companies/not-a-uuid",
        "/api/companies/00000000-0000-0000-0000-00000000000g",
        "/api/companies/' OR 1=1 --",
        "/api/companies?limit=0",
        "/api/companies?limit=100000",
        "/api/companies?sort=password",
        "/api/companies?cursor=%%%",
        "/api/companies?cursor=eyJub3QiOiJhIGN1cnNvciJ9",
        "/api/companies?q=" + "x" * 500,
        "/api/audit-events?object_id=nope",
        "/api/companies?q=a%00b",
    ],
)
def test_bad_paths_and_queries(client: TestClient, factory: Factory, path: str) -> None:
    org = factory.organization(with_roles=False)
    response = client.get(path, headers=org.admin.headers)
    assert response.status_code in (404, 422), response.text
    assert response.headers["content-type"] == "application/problem+json"


def test_sql_looking_search_is_just_text(client: TestClient, factory: Factory) -> None:
    org = factory.organization(with_roles=False)
    factory.company(org.admin, name="Robert'); DROP TABLE companies;--", ticker="BOBBY")
    response = client.get("/api/companies", params={"q": "'); DROP TABLE"}, headers=org.admin.headers)
    assert response.status_code == 200
    assert [c["ticker"] for c in response.json()["items"]] == ["BOBBY"]


def test_bad_login_forms(client: TestClient) -> None:
    assert client.post("/api/auth/token", data={"username": "x"}).status_code == 422
    assert client.post("/api/auth/token", json={"username": "x", "password": "y"}).status_code == 422
    oversized = client.post("/api/auth/token", data={"username": "x" * 10_000, "password": "y" * 10_000})
    assert oversized.status_code in (401, 422)
    nul = client.post("/api/auth/token", data={"username": "a\x00b@example.com", "password": "y"})
    assert nul.status_code in (401, 422)


def test_bad_signup_email(client: TestClient) -> None:
    response = client.post(
        "/api/auth/signup", json={"organization_name": "X", "email": "not-an-email", "password": "Correct-Horse-42"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "email"]


def test_revoked_api_key_is_401(client: TestClient, factory: Factory) -> None:
    org = factory.organization(with_roles=False)
    key = factory.api_key(org)
    client.delete(f"/api/api-keys/{key['id']}", headers=org.admin.headers)
    response = client.get("/api/companies", headers={"X-API-Key": key["key"]})
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"

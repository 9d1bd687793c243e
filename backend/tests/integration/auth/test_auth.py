from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from water.config import get_settings
from water.models import ApiKey, User

from ...factories import PASSWORD, Factory


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def test_signup_creates_org_and_admin_with_argon2id_hash(client: TestClient, factory: Factory, db: Session) -> None:
    email = factory.unique_email("founder")
    response = client.post(
        "/api/auth/signup", json={"organization_name": "Acme Valuation", "email": email, "password": PASSWORD}
    )
    assert response.status_code == 201
    body = response.json()
    assert body["user"]["role"] == "admin"
    assert "password" not in json.dumps(body)
    user = db.scalar(select(User).where(User.email == email))
    assert user is not None
    assert user.password_hash.startswith("$argon2id$")


@pytest.mark.parametrize(
    ("password", "reason"),
    [("short1A!", "at least 12"), ("alllowercaseletters", "mix"), ("Founder-longname-1", "email")],
)
def test_password_policy(client: TestClient, password: str, reason: str) -> None:
    response = client.post(
        "/api/auth/signup",
        json={"organization_name": "X", "email": "founder-longname@example.com", "password": password},
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "invalid_input"
    assert any(reason in e["msg"] for e in problem["errors"])


def test_duplicate_email_is_409(client: TestClient, factory: Factory) -> None:
    org = factory.organization(with_roles=False)
    response = client.post(
        "/api/auth/signup", json={"organization_name": "Y", "email": org.admin.email.upper(), "password": PASSWORD}
    )
    assert response.status_code == 409


def test_token_sets_refresh_cookie_httponly_strict(client: TestClient, factory: Factory) -> None:
    org = factory.organization(with_roles=False)
    response = client.post("/api/auth/token", data={"username": org.admin.email, "password": PASSWORD})
    assert response.status_code == 200
    assert response.json()["token_type"] == "bearer"
    assert 0 < response.json()["expires_in"] <= 3600
    cookie = response.headers["set-cookie"].lower()
    assert "water_refresh=" in cookie
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "path=/api/auth" in cookie
    assert "secure" in cookie  # testing is not development: Secure is on


def test_wrong_password_is_401_without_revealing_which(client: TestClient, factory: Factory) -> None:
    org = factory.organization(with_roles=False)
    wrong = client.post("/api/auth/token", data={"username": org.admin.email, "password": "Wrong-password-1"})
    unknown = client.post("/api/auth/token", data={"username": "nobody@example.com", "password": "Wrong-password-1"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]
    assert wrong.headers["www-authenticate"] == "Bearer"


def test_refresh_rotates_and_reuse_revokes_the_family(committed_client: TestClient, committed_factory: Factory) -> None:
    # Committed: the revocation commits in its own transaction while the failing request rolls back.
    client, factory = committed_client, committed_factory
    org = factory.organization(with_roles=False)
    login = client.post("/api/auth/token", data={"username": org.admin.email, "password": PASSWORD})
    first = login.cookies["water_refresh"]
    client.cookies.clear()

    rotated = client.post("/api/auth/refresh", cookies={"water_refresh": first})
    assert rotated.status_code == 200
    second = rotated.cookies["water_refresh"]
    assert second != first
    assert (
        client.get("/api/auth/me", headers={"Authorization": f"Bearer {rotated.json()['access_token']}"}).status_code
        == 200
    )
    client.cookies.clear()

    reuse = client.post("/api/auth/refresh", cookies={"water_refresh": first})
    assert reuse.status_code == 401
    assert reuse.json()["code"] == "refresh_token_reused"
    client.cookies.clear()
    # The legitimate holder of the newest token is signed out too: the family is revoked.
    assert client.post("/api/auth/refresh", cookies={"water_refresh": second}).status_code == 401


def test_logout_revokes_refresh_token(client: TestClient, factory: Factory) -> None:
    org = factory.organization(with_roles=False)
    login = client.post("/api/auth/token", data={"username": org.admin.email, "password": PASSWORD})
    token = login.cookies["water_refresh"]
    client.cookies.clear()
    out = client.post("/api/auth/logout", cookies={"water_refresh": token})
    assert out.status_code == 204
    client.cookies.clear()
    assert client.post("/api/auth/refresh", cookies={"water_refresh": token}).status_code == 401


def test_refresh_without_cookie_is_401(client: TestClient) -> None:
    response = client.post("/api/auth/refresh")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


def test_login_rate_limited_per_account_with_retry_after(client: TestClient, factory: Factory) -> None:
    org = factory.organization(with_roles=False)
    limit = get_settings().login_max_failures_per_account
    for _ in range(limit):
        assert (
            client.post(
                "/api/auth/token", data={"username": org.admin.email, "password": "Wrong-password-1"}
            ).status_code
            == 401
        )
    blocked = client.post("/api/auth/token", data={"username": org.admin.email, "password": PASSWORD})
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0
    assert blocked.json()["code"] == "rate_limited"


def test_login_rate_limited_per_address(client: TestClient) -> None:
    limit = get_settings().login_max_attempts_per_address
    statuses = [
        client.post(
            "/api/auth/token", data={"username": f"u{i}@example.com", "password": "Wrong-password-1"}
        ).status_code
        for i in range(limit + 1)
    ]
    assert statuses[:limit] == [401] * limit
    assert statuses[-1] == 429


def test_deactivated_user_cannot_sign_in_or_refresh(client: TestClient, factory: Factory) -> None:
    org = factory.organization()
    analyst = org.as_role("analyst")
    login = client.post("/api/auth/token", data={"username": analyst.email, "password": PASSWORD})
    refresh = login.cookies["water_refresh"]
    client.cookies.clear()
    assert (
        client.patch(f"/api/users/{analyst.user_id}", json={"is_active": False}, headers=org.admin.headers).status_code
        == 200
    )
    assert client.post("/api/auth/token", data={"username": analyst.email, "password": PASSWORD}).status_code == 401
    assert client.post("/api/auth/refresh", cookies={"water_refresh": refresh}).status_code == 401


def test_last_admin_cannot_be_demoted(client: TestClient, factory: Factory) -> None:
    org = factory.organization(with_roles=False)
    response = client.patch(f"/api/users/{org.admin.user_id}", json={"role": "viewer"}, headers=org.admin.headers)
    assert response.status_code == 409
    assert response.json()["code"] == "last_admin"


def _forged(secret: str, **overrides: object) -> str:
    claims: dict[str, object] = {
        "sub": "00000000-0000-0000-0000-000000000001",
        "org": "00000000-0000-0000-0000-000000000002",
        "role": "admin",
        "typ": "access",
        "iat": int(time.time()),
        "exp": int(time.time()) + 600,
    }
    claims.update(overrides)
    return jwt.encode(claims, secret, algorithm="HS256")


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(lambda s: _forged("some-other-secret-of-sufficient-length!"), id="forged-signature"),
        pytest.param(lambda s: _forged(s, exp=int(time.time()) - 10), id="expired"),
        pytest.param(
            lambda s: _b64({"alg": "none", "typ": "JWT"})
            + "."
            + _b64({"sub": "x", "org": "y", "role": "admin", "typ": "access", "exp": int(time.time()) + 600, "iat": 0})
            + ".",
            id="alg-none",
        ),
        pytest.param(lambda s: _forged(s, typ="refresh"), id="wrong-type"),
        pytest.param(lambda s: _forged(s, role="superuser"), id="unknown-role"),
        pytest.param(lambda s: "not-a-jwt", id="garbage"),
    ],
)
def test_bad_tokens_are_401(client: TestClient, token) -> None:  # type: ignore[no-untyped-def]
    secret = get_settings().secret_key.get_secret_value()
    response = client.get("/api/companies", headers={"Authorization": f"Bearer {token(secret)}"})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


def test_api_key_shown_once_hashed_scoped_and_revocable(client: TestClient, factory: Factory, db: Session) -> None:
    org = factory.organization(with_roles=False)
    created = factory.api_key(org, role="viewer")
    key = created["key"]
    assert key.startswith("wk_")
    stored = db.get(ApiKey, __import__("uuid").UUID(created["id"]))
    assert stored is not None
    assert key not in (stored.key_hash, stored.prefix)
    assert len(stored.key_hash) == 64

    listed = client.get("/api/api-keys", headers=org.admin.headers).json()
    assert "key" not in listed[0]

    as_script = {"X-API-Key": key}
    assert client.get("/api/companies", headers=as_script).status_code == 200
    assert client.get("/api/companies", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    # A viewer key cannot write.
    assert client.post("/api/companies", json={"name": "N", "ticker": "NN"}, headers=as_script).status_code == 403
    used = client.get(f"/api/api-keys/{created['id']}", headers=org.admin.headers).json()
    assert used["last_used_at"] is not None

    assert client.delete(f"/api/api-keys/{created['id']}", headers=org.admin.headers).status_code == 200
    revoked = client.get("/api/companies", headers=as_script)
    assert revoked.status_code == 401


def test_me_reports_the_principal(client: TestClient, factory: Factory) -> None:
    org = factory.organization()
    me = client.get("/api/auth/me", headers=org.as_role("reviewer").headers).json()
    assert me["role"] == "reviewer"
    assert me["user"]["email"] == org.as_role("reviewer").email


def test_access_token_lifetime_is_short() -> None:
    assert timedelta(minutes=get_settings().access_token_minutes) <= timedelta(minutes=60)
    assert datetime.now(UTC)  # settings load in testing

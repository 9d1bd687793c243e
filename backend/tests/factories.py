"""Factories: organizations with users of each role, companies, tokens and API keys, through the API."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

PASSWORD = "Correct-Horse-42"
_counter = itertools.count()


@dataclass
class Actor:
    email: str
    role: str
    token: str
    user_id: str
    organization_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Org:
    id: str
    admin: Actor
    members: dict[str, Actor] = field(default_factory=dict)

    def as_role(self, role: str) -> Actor:
        return self.admin if role == "admin" else self.members[role]


class Factory:
    def __init__(self, client: TestClient, db: Session | None) -> None:
        self.client = client
        self.db = db

    def unique_email(self, stem: str = "user") -> str:
        return f"{stem}-{next(_counter)}-{uuid.uuid4().hex[:8]}@example.com"

    def login(self, email: str, password: str = PASSWORD) -> str:
        response = self.client.post("/api/auth/token", data={"username": email, "password": password})
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def organization(self, *, with_roles: bool = True) -> Org:
        email = self.unique_email("admin")
        response = self.client.post(
            "/api/auth/signup",
            json={"organization_name": f"Org {uuid.uuid4().hex[:6]}", "email": email, "password": PASSWORD},
        )
        assert response.status_code == 201, response.text
        body = response.json()
        admin = Actor(email, "admin", self.login(email), body["user"]["id"], body["organization"]["id"])
        org = Org(body["organization"]["id"], admin)
        if with_roles:
            for role in ("analyst", "reviewer", "viewer"):
                org.members[role] = self.user(org, role)
        return org

    def user(self, org: Org, role: str) -> Actor:
        email = self.unique_email(role)
        response = self.client.post(
            "/api/users", json={"email": email, "password": PASSWORD, "role": role}, headers=org.admin.headers
        )
        assert response.status_code == 201, response.text
        return Actor(email, role, self.login(email), response.json()["id"], org.id)

    def company(self, actor: Actor, **fields: Any) -> dict[str, Any]:
        body = {"name": f"Company {uuid.uuid4().hex[:6]}", "ticker": f"T{uuid.uuid4().hex[:5].upper()}"}
        body.update(fields)
        response = self.client.post("/api/companies", json=body, headers=actor.headers)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def api_key(self, org: Org, role: str = "analyst") -> dict[str, Any]:
        response = self.client.post("/api/api-keys", json={"name": "script", "role": role}, headers=org.admin.headers)
        assert response.status_code == 201, response.text
        return dict(response.json())

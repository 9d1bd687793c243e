"""Every role × endpoint permission, and another organization's objects are always a 404."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from water.models import FinancialPeriod, Job, StatementImport

from ..factories import PASSWORD, Factory, Org

ROLES = ("admin", "analyst", "reviewer", "viewer")
READ = set(ROLES)
WRITE = {"admin", "analyst"}
MANAGE = {"admin"}


@dataclass
class Case:
    method: str
    path: str  # may contain {company}, {listed}, {private}, {user}, {api_key}, {job}
    allowed: set[str]
    body: Callable[[], dict[str, Any]] | None = None
    ok: int = 200
    form: bool = False
    files: Callable[[], dict[str, Any]] | None = None  # a multipart upload


# Market data runs on the generated demo data here (no API key): {listed} is the demo company DAQI,
# created once per organization; from-symbol creates the other demo companies in turn (a second
# create of the same symbol in one organization is a 409).
_demo_symbols = itertools.cycle(("DBRK", "DCSH"))
_STATEMENTS = (
    "line,label,2023-12-31,2024-12-31\nperiod_type,,annual,annual\ncurrency,,EUR,EUR\nrevenue,,1000,1100\n"
    "ebit,,100,120\ndepreciation_amortization,,30,32\npretax_income,,90,110\nincome_tax,,20,25\ncapex,,40,45\n"
    "change_in_working_capital,,5,6\ncash,,50,60\ntotal_debt,,200,190\nbook_equity,,300,330\n"
    "total_assets,,700,740\ntotal_liabilities,,400,410\nshares_outstanding,,1000000,1000000\n"
)


def _statements_file() -> dict[str, Any]:
    return {"file": ("statements.csv", _STATEMENTS.encode(), "text/csv")}


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
    # Market data (water.market_data.endpoints): every route.
    Case("GET", "/api/symbols/search?q=aquifer", READ),
    Case("POST", "/api/companies/from-symbol", WRITE, lambda: {"symbol": next(_demo_symbols)}, 201),
    Case("GET", "/api/companies/{listed}/quote", READ),
    Case("GET", "/api/companies/{listed}/prices?interval=weekly", READ),
    Case("GET", "/api/companies/{listed}/financials", READ),
    Case("GET", "/api/companies/{listed}/market-inputs", READ),
    Case("POST", "/api/companies/{listed}/refresh", WRITE, ok=202),
    Case("GET", "/api/market-data/quota", READ),
    Case("GET", "/api/market-data/import-template.csv", READ),
    Case("GET", "/api/market-data/import-template.xlsx", READ),
    Case("POST", "/api/companies/{private}/statements/import", WRITE, ok=201, files=_statements_file),
    Case("DELETE", "/api/companies/{private}/statements/import", WRITE),
]


def _objects(client: TestClient, factory: Factory, org: Org, case: Case) -> dict[str, str]:
    company = factory.company(org.admin)
    api_key = factory.api_key(org)
    job = client.post("/api/jobs/probe", json={"queue": "default"}, headers=org.admin.headers).json()
    objects = {
        "company": company["id"],
        "user": org.as_role("viewer").user_id,
        "api_key": api_key["id"],
        "job": job["id"],
    }
    if "{listed}" in case.path or "{private}" in case.path:
        objects.update(_market_data_companies(client, factory, org))
    return objects


_market_data_objects: dict[str, dict[str, str]] = {}


def _market_data_companies(client: TestClient, factory: Factory, org: Org) -> dict[str, str]:
    """A listed demo company (from its symbol) and a private one, made once per organization."""
    if org.id not in _market_data_objects:
        listed = client.post("/api/companies/from-symbol", json={"symbol": "DAQI"}, headers=org.admin.headers)
        assert listed.status_code == 201, listed.text
        private = factory.company(org.admin, name="Family Bakery", ticker=None, is_private=True)
        _market_data_objects[org.id] = {"listed": listed.json()["id"], "private": private["id"]}
    return _market_data_objects[org.id]


def _call(client: TestClient, case: Case, headers: dict[str, str], objects: dict[str, str]) -> Any:
    path = case.path.format(**objects)
    kwargs: dict[str, Any] = {"headers": headers}
    if case.body is not None:
        kwargs["json"] = case.body()
    if case.files is not None:
        kwargs["files"] = case.files()
    return client.request(case.method, path, **kwargs)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.method} {c.path}")
def test_every_role_on_every_endpoint(client: TestClient, factory: Factory, case: Case) -> None:
    org = factory.organization()
    for role in ROLES:
        objects = _objects(client, factory, org, case)  # fresh objects: a DELETE must not affect the next role
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
    objects_a = _objects(client, factory, org_a, case)
    response = _call(client, case, org_b.admin.headers, objects_a)
    assert response.status_code == 404, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "not_found"
    # And the object is untouched for its owner.
    owner_view = {"company": f"/api/companies/{objects_a['company']}", "user": f"/api/users/{objects_a['user']}"}
    for kind in ("listed", "private"):
        if kind in objects_a:
            owner_view[kind] = f"/api/companies/{objects_a[kind]}"
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


def test_another_organizations_market_data_writes_are_404_and_write_nothing(
    client: TestClient, factory: Factory, db: Session
) -> None:
    """A refresh or a statements import aimed at another organization's company: 404, no job queued, no
    import recorded, no periods stored, for either organization."""
    owner = factory.organization(with_roles=False)
    intruder = factory.organization()
    companies = _market_data_companies(client, factory, owner)
    orgs = [uuid.UUID(owner.id), uuid.UUID(intruder.id)]
    for role in ("admin", "analyst"):
        headers = intruder.as_role(role).headers
        refresh = client.post(f"/api/companies/{companies['listed']}/refresh", headers=headers)
        imported = client.post(
            f"/api/companies/{companies['private']}/statements/import", files=_statements_file(), headers=headers
        )
        for response in (refresh, imported):
            assert response.status_code == 404, response.text
            assert response.json()["code"] == "not_found"
    assert db.scalar(select(func.count()).select_from(Job).where(Job.organization_id.in_(orgs))) == 0
    assert (
        db.scalar(select(func.count()).select_from(StatementImport).where(StatementImport.organization_id.in_(orgs)))
        == 0
    )
    assert (
        db.scalar(
            select(func.count())
            .select_from(FinancialPeriod)
            .where(FinancialPeriod.company_id == uuid.UUID(companies["private"]))
        )
        == 0
    )


def test_another_organizations_delete_of_imported_statements_is_404_and_deletes_nothing(
    client: TestClient, factory: Factory, db: Session
) -> None:
    owner = factory.organization(with_roles=False)
    intruder = factory.organization()
    private = factory.company(owner.admin, name="Family Bakery", ticker=None, is_private=True)
    path = f"/api/companies/{private['id']}/statements/import"
    assert client.post(path, files=_statements_file(), headers=owner.admin.headers).status_code == 201
    for role in ("admin", "analyst"):
        response = client.delete(path, headers=intruder.as_role(role).headers)
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "not_found"
    stored = (
        select(func.count()).select_from(FinancialPeriod).where(FinancialPeriod.company_id == uuid.UUID(private["id"]))
    )
    assert db.scalar(stored) == 2

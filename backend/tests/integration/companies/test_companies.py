from __future__ import annotations

from fastapi.testclient import TestClient

from ...factories import Factory


def test_create_get_update_delete_company_records_audit(client: TestClient, factory: Factory) -> None:
    org = factory.organization(with_roles=False)
    created = factory.company(org.admin, name="International Business Machines", ticker="ibm", sector="Technology")
    assert created["ticker"] == "IBM"
    company_id = created["id"]

    got = client.get(f"/api/companies/{company_id}", headers=org.admin.headers)
    assert got.status_code == 200
    assert got.json()["name"] == "International Business Machines"

    patched = client.patch(
        f"/api/companies/{company_id}", json={"sector": "Information Technology"}, headers=org.admin.headers
    )
    assert patched.status_code == 200
    assert patched.json()["sector"] == "Information Technology"

    deleted = client.delete(f"/api/companies/{company_id}", headers=org.admin.headers)
    assert deleted.status_code == 204
    assert client.get(f"/api/companies/{company_id}", headers=org.admin.headers).status_code == 404

    events = client.get(f"/api/audit-events?object_id={company_id}", headers=org.admin.headers).json()["items"]
    assert [e["action"] for e in events] == ["company.delete", "company.update", "company.create"]
    update = events[1]
    assert update["before"]["sector"] == "Technology"
    assert update["after"]["sector"] == "Information Technology"
    assert update["actor_user_id"] == org.admin.user_id
    assert update["request_id"]


def test_ticker_unique_per_organization_but_not_across(client: TestClient, factory: Factory) -> None:
    org_a = factory.organization(with_roles=False)
    org_b = factory.organization(with_roles=False)
    factory.company(org_a.admin, ticker="DUP")
    again = client.post("/api/companies", json={"name": "Other", "ticker": "dup"}, headers=org_a.admin.headers)
    assert again.status_code == 409
    problem = again.json()
    assert again.headers["content-type"] == "application/problem+json"
    assert problem["code"] == "ticker_taken"
    assert problem["status"] == 409
    factory.company(org_b.admin, ticker="DUP")  # another firm may cover the same ticker


def test_ticker_reusable_after_soft_delete(client: TestClient, factory: Factory) -> None:
    org = factory.organization(with_roles=False)
    first = factory.company(org.admin, ticker="REUSE")
    assert client.delete(f"/api/companies/{first['id']}", headers=org.admin.headers).status_code == 204
    factory.company(org.admin, ticker="REUSE")


def test_update_to_taken_ticker_conflicts(client: TestClient, factory: Factory) -> None:
    org = factory.organization(with_roles=False)
    factory.company(org.admin, ticker="AAA")
    other = factory.company(org.admin, ticker="BBB")
    response = client.patch(f"/api/companies/{other['id']}", json={"ticker": "AAA"}, headers=org.admin.headers)
    assert response.status_code == 409


def test_private_company_without_ticker(client: TestClient, factory: Factory) -> None:
    org = factory.organization(with_roles=False)
    company = factory.company(org.admin, name="Family Bakery", ticker=None, is_private=True, currency="eur")
    assert company["ticker"] is None
    assert company["currency"] == "EUR"
    listed = client.post("/api/companies", json={"name": "No ticker"}, headers=org.admin.headers)
    assert listed.status_code == 422


def test_list_search_sort_and_cursor_pagination(client: TestClient, factory: Factory) -> None:
    org = factory.organization(with_roles=False)
    names = [f"Alpha {i:02d}" for i in range(7)] + ["Beta Corp"]
    for i, name in enumerate(names):
        factory.company(org.admin, name=name, ticker=f"P{i}")
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 3, "sort": "name", "q": "alpha"}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/api/companies", params=params, headers=org.admin.headers).json()
        seen += [c["name"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(names[:7])

    by_ticker_desc = client.get("/api/companies", params={"sort": "-ticker", "limit": 50}, headers=org.admin.headers)
    tickers = [c["ticker"] for c in by_ticker_desc.json()["items"]]
    assert tickers == sorted(tickers, reverse=True)

    search_ticker = client.get("/api/companies", params={"q": "p7"}, headers=org.admin.headers).json()["items"]
    assert [c["name"] for c in search_ticker] == ["Beta Corp"]


def test_cursor_from_another_sort_is_a_422(client: TestClient, factory: Factory) -> None:
    org = factory.organization(with_roles=False)
    for i in range(3):
        factory.company(org.admin, ticker=f"C{i}")
    page = client.get("/api/companies", params={"limit": 1, "sort": "created_at"}, headers=org.admin.headers).json()
    response = client.get(
        "/api/companies", params={"limit": 1, "sort": "name", "cursor": page["next_cursor"]}, headers=org.admin.headers
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", "cursor"]


def test_like_wildcards_in_search_are_literal(client: TestClient, factory: Factory) -> None:
    org = factory.organization(with_roles=False)
    factory.company(org.admin, name="Plain Name", ticker="PLN")
    response = client.get("/api/companies", params={"q": "%"}, headers=org.admin.headers)
    assert response.status_code == 200
    assert response.json()["items"] == []


def test_null_in_an_update_never_breaks_the_company(client: TestClient, factory: Factory) -> None:
    """Found by schemathesis: `identifiers: null` was stored as JSON null and broke every read."""
    org = factory.organization(with_roles=False)
    company = factory.company(org.admin, identifiers={"cik": "0000051143"})
    response = client.patch(
        f"/api/companies/{company['id']}",
        json={"identifiers": None, "name": None, "currency": None},
        headers=org.admin.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["identifiers"] == {}
    assert response.json()["name"] == company["name"]
    assert client.get(f"/api/companies/{company['id']}", headers=org.admin.headers).status_code == 200

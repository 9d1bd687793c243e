"""Odd query strings, bodies, ids and uploads on every market-data route: a problem detail, never a 500.

Seeded: 300 GETs with random combinations of odd values for each route's parameters (empty, huge,
negative and non-numeric numbers, impossible dates, markup, path tricks), company-from-symbol with
odd bodies, every company route with ids that are not UUIDs or name no company, and statement
uploads that are not statements. Each answer below 500 that is an error must be
application/problem+json.
"""

from __future__ import annotations

import random
from typing import Any

import httpx
from fastapi.testclient import TestClient

from ...factories import Factory

ODD = [
    "", " ", "x", "-1", "0", "99999999999999999999", "1e999", "NaN", "2024-13-45", "2024-02-30", "0000-01-01",
    "9999-12-31", "%00", "é", "'", '"', "<script>", "a" * 300, "daily", "weekly", "monthly", "annual", "quarterly",
    "ttm", "DSPY", "DAQI", "nope.xx", "1", "10", "11", "true", "[]", "{}", "../", "DAQI DSPY",
]  # fmt: skip
SYMBOL_BODIES: list[Any] = [
    None, {}, [], {"symbol": None}, {"symbol": ""}, {"symbol": "a" * 500}, {"symbol": 5}, {"symbol": ["DAQI"]},
    {"symbol": "nope"}, {"symbol": "DAQI", "extra": 1}, "DAQI",
]  # fmt: skip
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
UPLOADS = [
    (b"", "a.csv", "text/csv"),
    (b"\xff\xfe\x00", "a.csv", "text/csv"),
    (b"PK\x03\x04garbage", "a.xlsx", XLSX),
    (b"%PDF-1.4", "a.pdf", "application/pdf"),
    (b"x" * 10, "", "text/csv"),
]


def test_odd_requests_to_market_data_routes_are_problems_not_500s(client: TestClient, factory: Factory) -> None:
    org = factory.organization(with_roles=False)
    headers = org.admin.headers
    company = client.post("/api/companies/from-symbol", json={"symbol": "DAQI"}, headers=headers).json()
    base = f"/api/companies/{company['id']}"
    routes = {
        "/api/symbols/search": ["q"],
        f"{base}/quote": [],
        f"{base}/prices": ["from", "to", "interval"],
        f"{base}/financials": ["period_type"],
        f"{base}/market-inputs": ["benchmark", "frequency", "years"],
        "/api/market-data/quota": [],
        "/api/market-data/import-template.csv": ["format"],
        "/api/market-data/import-template.pdf": [],
    }
    rng = random.Random(20261126)
    answers: list[tuple[str, Any, httpx.Response]] = []
    for _ in range(300):
        url = rng.choice(sorted(routes))
        params = {name: rng.choice(ODD) for name in routes[url] if rng.random() < 0.8}
        answers.append((url, params, client.get(url, params=params, headers=headers)))
    for body in SYMBOL_BODIES:
        answers.append(("from-symbol", body, client.post("/api/companies/from-symbol", json=body, headers=headers)))
    for company_id in ("nope", "00000000-0000-0000-0000-000000000000", "1", "%20"):
        for route in ("quote", "prices", "financials", "market-inputs"):
            answers.append((route, company_id, client.get(f"/api/companies/{company_id}/{route}", headers=headers)))
        answers.append(("refresh", company_id, client.post(f"/api/companies/{company_id}/refresh", headers=headers)))
    for content, name, content_type in UPLOADS:
        upload = {"file": (name, content, content_type)}
        answers.append(("import", name, client.post(f"{base}/statements/import", files=upload, headers=headers)))
    no_file = client.post(f"{base}/statements/import", data={"file": "not a file"}, headers=headers)
    answers.append(("import", "no file", no_file))

    server_errors = [(what, given, r.status_code, r.text[:200]) for what, given, r in answers if r.status_code >= 500]
    not_problems = [
        (what, given, r.status_code, r.headers.get("content-type"))
        for what, given, r in answers
        if 400 <= r.status_code < 500 and not r.headers.get("content-type", "").startswith("application/problem+json")
    ]
    assert server_errors == []
    assert not_problems == []
    assert sum(r.status_code < 400 for _, _, r in answers) > 50  # the odd values still let many through

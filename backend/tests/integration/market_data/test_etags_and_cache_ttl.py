"""ETag / If-None-Match on the market-data reads that lacked tests (symbol search, prices, market inputs),
and the lifetime of the raw-response cache entries in Redis (a TTL per dataset, `cache.TTL_SECONDS`).

On the project's generated demo data, served through the real provider code, gateway and Redis cache.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from fastapi.testclient import TestClient

from water.db.session import new_session
from water.market_data import cache, service
from water.market_data.gateway import default_provider
from water.models import Company
from water.redis_client import get_redis

from ...factories import Factory, Org


def _demo_company(client: TestClient, org: Org, symbol: str = "DAQI") -> dict[str, Any]:
    response = client.post("/api/companies/from-symbol", json={"symbol": symbol}, headers=org.admin.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _assert_etagged(
    client: TestClient, path: str, headers: dict[str, str], params: dict[str, str] | None = None
) -> str:
    """The read carries an ETag; the same tag in If-None-Match gives an empty 304 with that tag; another tag a 200."""
    first = client.get(path, params=params, headers=headers)
    assert first.status_code == 200, first.text
    etag = first.headers["etag"]
    assert etag.startswith('"')
    assert etag.endswith('"')
    again = client.get(path, params=params, headers={**headers, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    weak = client.get(path, params=params, headers={**headers, "If-None-Match": f'"other", W/{etag}'})
    assert weak.status_code == 304
    stale = client.get(path, params=params, headers={**headers, "If-None-Match": '"not-the-tag"'})
    assert stale.status_code == 200
    assert stale.headers["etag"] == etag
    assert stale.content == first.content
    return etag


def test_symbol_search_sends_an_etag_and_honours_if_none_match(client: TestClient, factory: Factory) -> None:
    org = factory.organization()
    headers = org.as_role("viewer").headers
    etag = _assert_etagged(client, "/api/symbols/search", headers, {"q": "aquifer"})
    other = client.get("/api/symbols/search", params={"q": "DSPY"}, headers={**headers, "If-None-Match": etag})
    assert other.status_code == 200  # another query, another body, another tag
    assert other.headers["etag"] != etag
    assert client.get("/api/symbols/search", params={"q": "aquifer"}).status_code == 401


def test_prices_with_range_and_interval_answer_304_for_their_own_tag_only(client: TestClient, factory: Factory) -> None:
    org = factory.organization(with_roles=False)
    company = _demo_company(client, org)
    path = f"/api/companies/{company['id']}/prices"
    weekly = {"from": "2025-01-01", "to": "2025-03-31", "interval": "weekly"}
    weekly_tag = _assert_etagged(client, path, org.admin.headers, weekly)
    monthly_tag = _assert_etagged(client, path, org.admin.headers, {**weekly, "interval": "monthly"})
    assert monthly_tag != weekly_tag
    # The weekly tag does not validate the monthly body (nor another range).
    other = client.get(
        path, params={**weekly, "interval": "monthly"}, headers={**org.admin.headers, "If-None-Match": weekly_tag}
    )
    assert other.status_code == 200
    narrower = client.get(
        path, params={**weekly, "to": "2025-02-28"}, headers={**org.admin.headers, "If-None-Match": weekly_tag}
    )
    assert narrower.status_code == 200


def test_market_inputs_answer_304_for_their_tag(client: TestClient, factory: Factory) -> None:
    org = factory.organization(with_roles=False)
    company = _demo_company(client, org)
    _demo_company(client, org, "DSPY")
    _assert_etagged(client, f"/api/companies/{company['id']}/market-inputs", org.admin.headers)


def test_raw_cache_entries_expire_after_their_datasets_ttl(client: TestClient, factory: Factory) -> None:
    org = factory.organization(with_roles=False)
    company = _demo_company(client, org)
    with new_session() as session:
        row = session.get(Company, uuid.UUID(company["id"]))
        assert row is not None
        service.refresh_company(session, row, deadline=time.monotonic() + 60)
        session.commit()
    redis = get_redis()
    requests = default_provider().company_requests("DAQI")
    functions = {r.function for r in requests}
    assert {"GLOBAL_QUOTE", "TIME_SERIES_DAILY", "INCOME_STATEMENT", "BALANCE_SHEET", "CASH_FLOW"} <= functions
    for request in requests:
        ttl = redis.ttl(request.cache_key())
        expected = cache.TTL_SECONDS[request.function]
        assert expected - 30 <= ttl <= expected, (request.function, ttl, expected)
    # As documented: quotes minutes, daily series hours, statements a day.
    assert cache.TTL_SECONDS["GLOBAL_QUOTE"] == 5 * 60
    assert cache.TTL_SECONDS["TIME_SERIES_DAILY"] == cache.TTL_SECONDS["TIME_SERIES_DAILY_ADJUSTED"] == 6 * 3600
    assert cache.TTL_SECONDS["INCOME_STATEMENT"] == cache.TTL_SECONDS["BALANCE_SHEET"] == 86400
    assert cache.TTL_SECONDS["CASH_FLOW"] == 86400
    # The symbol search's and the treasury yield's entries too (read through the API).
    client.get("/api/symbols/search", params={"q": "aquifer"}, headers=org.admin.headers)
    search_keys = list(redis.scan_iter("water:md:raw:*:SYMBOL_SEARCH:*"))
    assert search_keys
    assert all(86400 - 30 <= redis.ttl(k) <= 86400 for k in search_keys)
    # An entry past its TTL is gone: the next read is a miss (a provider call), not a stale body.
    quote_key = next(r for r in requests if r.function == "GLOBAL_QUOTE")
    redis.pexpire(quote_key.cache_key(), 1)
    time.sleep(0.01)
    assert cache.get(quote_key) is None

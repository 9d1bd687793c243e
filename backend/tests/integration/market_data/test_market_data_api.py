"""Market data through the API, on the project's generated demo data (served through the real provider code)."""

from __future__ import annotations

import io
import time
import uuid
from datetime import date, timedelta
from typing import Any

import anyio.to_thread
import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from water.market_data.gateway import default_provider
from water.market_data.imports import template_csv
from water.market_data.repository import MarketDataRepository
from water.market_data.schemas import FinancialPeriodRead
from water.models import CompanyDataset, FinancialPeriod, MarketDataSnapshot
from water.redis_client import get_redis_bytes

from ...factories import Factory, Org


def _demo_company(client: TestClient, org: Org, symbol: str = "DAQI") -> dict:  # type: ignore[type-arg]
    response = client.post("/api/companies/from-symbol", json={"symbol": symbol}, headers=org.admin.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_symbol_search_and_company_from_symbol(client: TestClient, factory: Factory) -> None:
    org = factory.organization(with_roles=False)
    matches = client.get("/api/symbols/search", params={"q": "aquifer"}, headers=org.admin.headers).json()
    assert matches[0]["symbol"] == "DAQI"
    company = _demo_company(client, org)
    assert company["ticker"] == "DAQI"
    assert "(demo data)" in company["name"]
    assert company["sector"]
    assert company["is_demo"] is True
    again = client.post("/api/companies/from-symbol", json={"symbol": "daqi"}, headers=org.admin.headers)
    assert again.status_code == 409


def test_unknown_symbol_is_a_404_problem(client: TestClient, factory: Factory) -> None:
    org = factory.organization(with_roles=False)
    response = client.post("/api/companies/from-symbol", json={"symbol": "NOPE"}, headers=org.admin.headers)
    assert response.status_code == 404
    assert response.json()["code"] == "symbol_not_found"


def test_quote_is_cached_snapshotted_and_etagged(client: TestClient, factory: Factory, db: Session) -> None:
    org = factory.organization(with_roles=False)
    company = _demo_company(client, org)
    first = client.get(f"/api/companies/{company['id']}/quote", headers=org.admin.headers)
    assert first.status_code == 200
    body = first.json()
    assert body["price"] > 0
    assert body["stale"] is False
    assert len(body["snapshot_ids"]) == 1
    snapshot = db.get(MarketDataSnapshot, __import__("uuid").UUID(body["snapshot_ids"][0]))
    assert snapshot is not None
    assert snapshot.function == "GLOBAL_QUOTE"
    assert snapshot.symbol == "DAQI"
    count = db.scalar(select(func.count()).select_from(MarketDataSnapshot))
    second = client.get(
        f"/api/companies/{company['id']}/quote", headers={**org.admin.headers, "If-None-Match": first.headers["etag"]}
    )
    assert second.status_code == 304
    assert db.scalar(select(func.count()).select_from(MarketDataSnapshot)) == count  # deduplicated, nothing new


def test_a_quote_read_again_within_its_ttl_is_one_select_in_the_event_loop(
    client: TestClient, factory: Factory, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = factory.organization(with_roles=False)
    other = factory.organization(with_roles=False)
    company = _demo_company(client, org)
    url = f"/api/companies/{company['id']}/quote"
    hops: list[str] = []
    real = anyio.to_thread.run_sync

    async def counting(func, *args, **kwargs):  # type: ignore[no-untyped-def]
        hops.append(getattr(func, "__name__", repr(func)))
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting)
    first = client.get(url, headers=org.admin.headers)
    assert first.status_code == 200
    assert "_work_then_commit" in hops  # fetched (or read from the cache) and its pointer recorded: the full path
    hops.clear()
    again = client.get(url, headers=org.admin.headers)
    assert again.json() == first.json()
    assert again.headers["etag"] == first.headers["etag"]
    # Only the company's SELECT, with its quote pointer (on the test's transaction, hence the thread):
    # no transaction, no Redis, no provider, no rendering.
    assert hops == ["_fetch_in_session"]
    assert client.get(url, headers=other.admin.headers).status_code == 404

    # A pointer older than the quote TTL: the full path fetches again (the provider gives the same
    # bytes, so the same snapshot) and moves the pointer's fetched_at on; the next read is fast again.
    db.execute(
        update(CompanyDataset)
        .where(CompanyDataset.company_id == uuid.UUID(company["id"]), CompanyDataset.dataset == "quote")
        .values(fetched_at=CompanyDataset.fetched_at - timedelta(minutes=10))
    )
    get_redis_bytes().delete(default_provider().quote_request("DAQI").cache_key())
    hops.clear()
    refetched = client.get(url, headers=org.admin.headers)
    assert "_work_then_commit" in hops
    assert refetched.json()["snapshot_ids"] == first.json()["snapshot_ids"]
    assert refetched.json()["fetched_at"] > first.json()["fetched_at"]
    hops.clear()
    assert client.get(url, headers=org.admin.headers).json() == refetched.json()
    assert hops == ["_fetch_in_session"]


def test_an_unavailable_provider_gives_the_last_stored_quote_marked_stale(
    client: TestClient, factory: Factory, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from water.market_data import service
    from water.market_data.errors import ProviderUnavailable

    org = factory.organization(with_roles=False)
    company = _demo_company(client, org)
    url = f"/api/companies/{company['id']}/quote"
    first = client.get(url, headers=org.admin.headers).json()
    # The quote expires (pointer older than the TTL, cache entry gone) while the provider is down.
    db.execute(
        update(CompanyDataset)
        .where(CompanyDataset.company_id == uuid.UUID(company["id"]), CompanyDataset.dataset == "quote")
        .values(fetched_at=CompanyDataset.fetched_at - timedelta(minutes=10))
    )
    get_redis_bytes().delete(default_provider().quote_request("DAQI").cache_key())

    class Down:
        def quote(self, symbol: str) -> Any:
            raise ProviderUnavailable("Alpha Vantage is not answering.")

    with monkeypatch.context() as patched:
        patched.setattr(service, "default_provider", Down)
        stale = client.get(url, headers=org.admin.headers).json()
        assert stale["stale"] is True
        assert stale["price"] == first["price"]
        assert stale["snapshot_ids"] == first["snapshot_ids"]
        assert client.get(url, headers=org.admin.headers).json()["stale"] is True  # a replay is never kept as fresh
    recovered = client.get(url, headers=org.admin.headers).json()
    assert recovered["stale"] is False
    assert recovered["fetched_at"] > first["fetched_at"]


def test_a_changed_ticker_gets_its_own_quote_at_once(client: TestClient, factory: Factory) -> None:
    """Right after a ticker change the quote pointer still names the old ticker's (fresh) snapshot:
    the fast path must not serve it, in this process or in one that never rendered it."""
    from water.market_data import endpoints

    org = factory.organization(with_roles=False)
    company = _demo_company(client, org)
    url = f"/api/companies/{company['id']}/quote"
    assert client.get(url, headers=org.admin.headers).json()["symbol"] == "DAQI"
    assert client.get(url, headers=org.admin.headers).json()["symbol"] == "DAQI"  # now from the kept body
    patched = client.patch(f"/api/companies/{company['id']}", json={"ticker": "DBRK"}, headers=org.admin.headers)
    assert patched.status_code == 200, patched.text
    assert client.get(url, headers=org.admin.headers).json()["symbol"] == "DBRK"
    back = client.patch(f"/api/companies/{company['id']}", json={"ticker": "DAQI"}, headers=org.admin.headers)
    assert back.status_code == 200, back.text
    endpoints._quote_bodies.cache_clear()  # as another API process: the pointer names DBRK's snapshot
    assert client.get(url, headers=org.admin.headers).json()["symbol"] == "DAQI"


def test_a_fresh_quote_pointer_is_served_from_its_snapshot_by_a_process_that_never_rendered_it(
    client: TestClient, factory: Factory
) -> None:
    """Another API process (here: this one with its rendered quotes forgotten) reads the snapshot the
    pointer names, once, and gives the same body and ETag."""
    from water.market_data import endpoints

    org = factory.organization(with_roles=False)
    company = _demo_company(client, org)
    url = f"/api/companies/{company['id']}/quote"
    first = client.get(url, headers=org.admin.headers)
    endpoints._quote_bodies.cache_clear()
    get_redis_bytes().delete(default_provider().quote_request("DAQI").cache_key())  # not read on this path
    second = client.get(url, headers=org.admin.headers)
    assert second.content == first.content
    assert second.headers["etag"] == first.headers["etag"]
    assert len(endpoints._quote_bodies()) == 1


def test_prices_interval_and_range(client: TestClient, factory: Factory) -> None:
    org = factory.organization(with_roles=False)
    company = _demo_company(client, org)
    daily = client.get(
        f"/api/companies/{company['id']}/prices",
        params={"from": "2025-01-01", "to": "2025-03-31"},
        headers=org.admin.headers,
    ).json()
    assert all("2025-01-01" <= b["day"] <= "2025-03-31" for b in daily["bars"])
    weekly = client.get(
        f"/api/companies/{company['id']}/prices",
        params={"interval": "weekly", "from": "2025-01-01", "to": "2025-03-31"},
        headers=org.admin.headers,
    ).json()
    assert 12 <= len(weekly["bars"]) <= 14 < len(daily["bars"])
    # A week's bar is its last trading day's, with the volume of all its trading days in the range
    # (as Alpha Vantage's TIME_SERIES_WEEKLY reports it), not the last day's alone.
    weeks: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for bar in daily["bars"]:
        weeks.setdefault(date.fromisoformat(bar["day"]).isocalendar()[:2], []).append(bar)
    assert [(b["day"], b["close"], b["volume"]) for b in weekly["bars"]] == [
        (days[-1]["day"], days[-1]["close"], sum(d["volume"] for d in days)) for days in weeks.values()
    ]
    monthly = client.get(
        f"/api/companies/{company['id']}/prices",
        params={"interval": "monthly", "from": "2025-01-01", "to": "2025-03-31"},
        headers=org.admin.headers,
    ).json()
    assert [b["volume"] for b in monthly["bars"]] == [
        sum(b["volume"] for b in daily["bars"] if b["day"].startswith(month))
        for month in ("2025-01", "2025-02", "2025-03")
    ]
    bad = client.get(
        f"/api/companies/{company['id']}/prices",
        params={"from": "2025-03-01", "to": "2025-01-01"},
        headers=org.admin.headers,
    )
    assert bad.status_code == 422


def _refresh(client: TestClient, org: Org, company_id: str) -> None:
    """Run the refresh in-process (the worker path: integration/worker/test_refresh_worker.py)."""
    from water.db.session import new_session
    from water.market_data import service
    from water.models import Company

    with new_session() as session:
        company = session.get(Company, __import__("uuid").UUID(company_id))
        assert company is not None
        service.refresh_company(session, company, deadline=time.monotonic() + 60)
        session.commit()


def test_financials_normalized_with_provenance(client: TestClient, factory: Factory, db: Session) -> None:
    org = factory.organization(with_roles=False)
    company = _demo_company(client, org)
    _refresh(client, org, company["id"])
    body = client.get(f"/api/companies/{company['id']}/financials", headers=org.admin.headers).json()
    # The endpoint's single-statement read gives what the ORM loads, in the same order.
    stored = MarketDataRepository(db).periods(uuid.UUID(company["id"]))
    assert body["periods"] == [FinancialPeriodRead.model_validate(p).model_dump(mode="json") for p in stored]
    kinds = {p["period_type"] for p in body["periods"]}
    assert kinds == {"annual", "quarterly", "ttm"}
    ttm = next(p for p in body["periods"] if p["period_type"] == "ttm")
    revenue = ttm["figures"]["revenue"]
    assert revenue["source"].startswith("TTM(INCOME_STATEMENT.totalRevenue@")
    assert revenue["snapshot_id"]
    quarters = sorted(
        (p for p in body["periods"] if p["period_type"] == "quarterly"), key=lambda p: p["fiscal_date_ending"]
    )[-4:]
    assert revenue["value"] == pytest.approx(sum(q["figures"]["revenue"]["value"] for q in quarters))
    assert body["statement_currency"] == "USD"
    only_annual = client.get(
        f"/api/companies/{company['id']}/financials", params={"period_type": "annual"}, headers=org.admin.headers
    ).json()
    assert {p["period_type"] for p in only_annual["periods"]} == {"annual"}


def test_market_inputs_beta_matches_numpy_least_squares(client: TestClient, factory: Factory) -> None:
    org = factory.organization(with_roles=False)
    company = _demo_company(client, org)
    benchmark = _demo_company(client, org, "DSPY")
    inputs = client.get(f"/api/companies/{company['id']}/market-inputs", headers=org.admin.headers).json()
    beta = inputs["beta"]
    assert beta["benchmark"] == "DSPY"
    assert beta["frequency"] == "weekly"
    assert 90 <= beta["observations"] <= 110  # two years of weeks
    params = {"interval": "weekly", "from": beta["from"], "to": beta["to"]}
    stock = client.get(f"/api/companies/{company['id']}/prices", params=params, headers=org.admin.headers).json()[
        "bars"
    ]
    market = client.get(f"/api/companies/{benchmark['id']}/prices", params=params, headers=org.admin.headers).json()[
        "bars"
    ]
    common = sorted({b["day"] for b in stock} & {b["day"] for b in market})
    s = np.array([next(b["close"] for b in stock if b["day"] == d) for d in common])  # no split in the window
    m = np.array([next(b["close"] for b in market if b["day"] == d) for d in common])
    slope, _intercept = np.polyfit(m[1:] / m[:-1] - 1, s[1:] / s[:-1] - 1, 1)
    assert beta["value"] == pytest.approx(slope, rel=1e-9)
    assert 0 < beta["r_squared"] <= 1
    assert inputs["risk_free_rate"]["value"] < 0.2  # a decimal, not a percent
    assert inputs["price"]["value"] > 0
    assert date.fromisoformat(inputs["price"]["as_of"])


def test_quota_endpoint(client: TestClient, factory: Factory) -> None:
    org = factory.organization()
    quota = client.get("/api/market-data/quota", headers=org.as_role("viewer").headers).json()
    assert quota["provider"] == "demo"
    assert quota["remaining_today"] is None  # demo data is not metered


def test_import_template_and_all_or_nothing_import(client: TestClient, factory: Factory, db: Session) -> None:
    org = factory.organization()
    analyst = org.as_role("analyst")
    company = factory.company(analyst, name="Family Bakery", ticker=None, is_private=True)
    for extension in ("csv", "xlsx"):
        template = client.get(f"/api/market-data/import-template.{extension}", headers=analyst.headers)
        assert template.status_code == 200
        assert "attachment" in template.headers["content-disposition"]
    rejected = client.post(
        f"/api/companies/{company['id']}/statements/import",
        files={"file": ("statements.csv", template_csv(), "text/csv")},  # the empty template: required lines are blank
        headers=analyst.headers,
    )
    assert rejected.status_code == 422
    problem = rejected.json()
    assert problem["errors"]
    assert all("loc" in e and "msg" in e for e in problem["errors"])
    assert (
        db.scalar(
            select(func.count())
            .select_from(FinancialPeriod)
            .where(FinancialPeriod.company_id == __import__("uuid").UUID(company["id"]))
        )
        == 0
    )


def test_import_a_filled_template(client: TestClient, factory: Factory, db: Session) -> None:
    org = factory.organization()
    analyst = org.as_role("analyst")
    company = factory.company(analyst, name="Family Bakery", ticker=None, is_private=True)
    rows = [
        "line,label,2023-12-31,2024-12-31",
        "period_type,,annual,annual",
        "currency,,EUR,EUR",
        "revenue,,1000,1100", "ebit,,100,120", "depreciation_amortization,,30,32", "pretax_income,,90,110",
        "income_tax,,20,25", "capex,,40,45", "change_in_working_capital,,5,6", "cash,,50,60",
        "total_debt,,200,190", "book_equity,,300,330", "total_assets,,700,740", "total_liabilities,,400,410",
        "shares_outstanding,,1000000,1000000",
    ]  # fmt: skip
    content = ("\n".join(rows) + "\n").encode()
    response = client.post(
        f"/api/companies/{company['id']}/statements/import",
        files={"file": ("bakery.csv", io.BytesIO(content), "text/csv")},
        headers=analyst.headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["periods"] == 2
    stored = db.execute(
        select(FinancialPeriod.statement_import_id, FinancialPeriod.source_kind, FinancialPeriod.organization_id).where(
            FinancialPeriod.company_id == uuid.UUID(company["id"])
        )
    ).all()
    assert [(str(i), kind, str(o)) for i, kind, o in stored] == [(response.json()["id"], "import", org.id)] * 2
    periods = client.get(f"/api/companies/{company['id']}/financials", headers=analyst.headers).json()["periods"]
    latest = next(p for p in periods if p["fiscal_date_ending"] == "2024-12-31")
    assert latest["currency"] == "EUR"
    assert latest["source_kind"] == "import"
    assert latest["figures"]["revenue"] == {"value": 1100.0, "source": "import:csv!row 4 col D", "snapshot_id": None}
    events = client.get("/api/audit-events", params={"object_id": company["id"]}, headers=org.admin.headers).json()[
        "items"
    ]
    assert events[0]["action"] == "company.statements_import"
    viewer = client.post(
        f"/api/companies/{company['id']}/statements/import",
        files={"file": ("b.csv", io.BytesIO(content), "text/csv")},
        headers=org.as_role("viewer").headers,
    )
    assert viewer.status_code == 403


def _import_statements(client: TestClient, actor: Any, company_id: str, revenue: int) -> None:
    rows = [
        "line,label,2024-12-31", "period_type,,annual", "currency,,EUR", f"revenue,,{revenue}", "ebit,,120",
        "depreciation_amortization,,32", "pretax_income,,110", "income_tax,,25", "capex,,45",
        "change_in_working_capital,,6", "cash,,60", "total_debt,,190", "book_equity,,330", "total_assets,,740",
        "total_liabilities,,410", "shares_outstanding,,1000000",
    ]  # fmt: skip
    response = client.post(
        f"/api/companies/{company_id}/statements/import",
        files={"file": ("s.csv", io.BytesIO(("\n".join(rows) + "\n").encode()), "text/csv")},
        headers=actor.headers,
    )
    assert response.status_code == 201, response.text


def test_a_listed_companys_imported_statements_survive_refreshes_until_deleted(
    client: TestClient, factory: Factory
) -> None:
    # An analyst's own figures for a listed company (say, one whose provider has no fundamentals)
    # would otherwise be replaced by the provider's at the next refresh, the nightly one included.
    org = factory.organization()
    analyst = org.as_role("analyst")
    company = _demo_company(client, org)
    url = f"/api/companies/{company['id']}/financials"
    _refresh(client, org, company["id"])
    provider = client.get(url, headers=analyst.headers).json()["periods"]
    assert {p["source_kind"] for p in provider} == {"provider"}

    _import_statements(client, analyst, company["id"], revenue=1100)
    _refresh(client, org, company["id"])
    kept = client.get(url, headers=analyst.headers).json()["periods"]
    assert [(p["source_kind"], p["fiscal_date_ending"], p["figures"]["revenue"]["value"]) for p in kept] == [
        ("import", "2024-12-31", 1100.0)
    ]

    delete = f"/api/companies/{company['id']}/statements/import"
    assert client.delete(delete, headers=org.as_role("viewer").headers).status_code == 403
    answer = client.delete(delete, headers=analyst.headers)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"company_id": company["id"], "removed_periods": 1}
    assert client.get(url, headers=analyst.headers).json()["periods"] == []
    events = client.get("/api/audit-events", params={"object_id": company["id"]}, headers=org.admin.headers).json()
    assert events["items"][0]["action"] == "company.statements_import_delete"
    assert events["items"][0]["after"] == {"removed_periods": 1}

    _refresh(client, org, company["id"])  # the provider's statements again, from the same snapshots
    assert client.get(url, headers=analyst.headers).json()["periods"] == provider
    # Nothing imported now: the provider's periods stay, and nothing is recorded.
    assert client.delete(delete, headers=analyst.headers).json()["removed_periods"] == 0
    assert client.get(url, headers=analyst.headers).json()["periods"] == provider


def test_a_ticker_change_drops_the_old_tickers_statements_but_keeps_an_import(
    client: TestClient, factory: Factory
) -> None:
    # Without this, a valuation after the change would meet the new ticker's price with the old
    # ticker's statements until the next refresh.
    org = factory.organization()
    analyst = org.as_role("analyst")
    company = _demo_company(client, org)
    financials = f"/api/companies/{company['id']}/financials"
    _refresh(client, org, company["id"])
    before = client.get(financials, headers=analyst.headers)
    assert {p["source_kind"] for p in before.json()["periods"]} == {"provider"}

    patched = client.patch(f"/api/companies/{company['id']}", json={"ticker": "DBRK"}, headers=analyst.headers)
    assert patched.status_code == 200, patched.text
    after = client.get(financials, headers=analyst.headers)
    assert after.json()["periods"] == []
    assert after.headers["etag"] != before.headers["etag"]
    assert client.get(f"/api/companies/{company['id']}/quote", headers=analyst.headers).json()["symbol"] == "DBRK"
    _refresh(client, org, company["id"])
    other = factory.organization(with_roles=False)
    dbrk = _demo_company(client, other, "DBRK")
    _refresh(client, other, dbrk["id"])
    assert (
        client.get(financials, headers=analyst.headers).json()["periods"]
        == client.get(f"/api/companies/{dbrk['id']}/financials", headers=other.admin.headers).json()["periods"]
    )

    # An analyst's import is not the provider's: a ticker change keeps it.
    _import_statements(client, analyst, company["id"], revenue=1100)
    assert client.patch(f"/api/companies/{company['id']}", json={"ticker": "DCSH"}, headers=analyst.headers).is_success
    kept = client.get(financials, headers=analyst.headers).json()["periods"]
    assert [(p["source_kind"], p["figures"]["revenue"]["value"]) for p in kept] == [("import", 1100.0)]


def test_financials_bodies_are_reused_until_the_periods_change(
    client: TestClient, factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A repeated financials read answers from the rendered body kept under the company's financials
    revision, without reading the periods; replacing the periods or changing the price currency gives
    a new body; another organization still gets a 404."""
    from water.market_data import endpoints
    from water.market_data import repository as market_repository

    period_reads: list[uuid.UUID] = []
    read_periods = market_repository.read_periods

    async def counted(company_id: uuid.UUID, period_type: str | None) -> Any:
        period_reads.append(company_id)
        return await read_periods(company_id, period_type)

    monkeypatch.setattr(market_repository, "read_periods", counted)
    org = factory.organization()
    analyst = org.as_role("analyst")
    company = factory.company(analyst, name="Cached Bakery", ticker=None, is_private=True)
    url = f"/api/companies/{company['id']}/financials"
    _import_statements(client, analyst, company["id"], revenue=1100)

    first = client.get(url, headers=analyst.headers)
    second = client.get(url, headers=analyst.headers)
    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    assert second.headers["etag"] == first.headers["etag"]
    assert len(period_reads) == 1  # the second read rendered nothing
    again = client.get(url, headers={**analyst.headers, "If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert len(period_reads) == 1
    annual = client.get(url, params={"period_type": "annual"}, headers=analyst.headers)
    assert annual.status_code == 200
    assert len(period_reads) == 2

    _import_statements(client, analyst, company["id"], revenue=1500)  # new periods, new revision
    changed = client.get(url, headers=analyst.headers).json()
    assert changed["periods"][0]["figures"]["revenue"]["value"] == 1500.0
    assert len(period_reads) == 3

    patched = client.patch(f"/api/companies/{company['id']}", json={"currency": "GBP"}, headers=analyst.headers)
    assert patched.status_code == 200, patched.text
    assert client.get(url, headers=analyst.headers).json()["price_currency"] == "GBP"

    intruder = factory.organization(with_roles=False)
    assert client.get(url, headers=intruder.admin.headers).status_code == 404
    assert len(endpoints._financials_bodies()) >= 3


def test_rendered_bodies_keep_the_most_recently_used_within_their_budget() -> None:
    from water.kit.etag import Rendered, RenderedBodies

    bodies = RenderedBodies(max_bytes=100)
    for key in "abcd":
        bodies.put(key, Rendered(b"x" * 25, f'"{key}"'))
    assert bodies.get("a") is not None  # now the most recently used
    bodies.put("e", Rendered(b"y" * 25, '"e"'))  # over budget: the least recently used ("b") leaves
    assert [k for k in "abcde" if bodies.get(k) is not None] == ["a", "c", "d", "e"]
    assert bodies.size == 100
    bodies.put("big", Rendered(b"z" * 26, '"big"'))  # more than a quarter of the budget: not kept
    assert bodies.get("big") is None
    assert len(bodies) == 4
    bodies.put("a", Rendered(b"w" * 10, '"a2"'))  # a key put again replaces its body
    assert bodies.get("a") == Rendered(b"w" * 10, '"a2"')
    assert bodies.size == 85


def test_market_data_of_a_private_company_is_a_clear_422(client: TestClient, factory: Factory) -> None:
    org = factory.organization(with_roles=False)
    company = factory.company(org.admin, ticker=None, is_private=True)
    response = client.get(f"/api/companies/{company['id']}/quote", headers=org.admin.headers)
    assert response.status_code == 422
    assert "ticker" in response.json()["detail"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/quote"), ("GET", "/prices"), ("GET", "/financials"), ("GET", "/market-inputs"),
        ("POST", "/refresh"), ("POST", "/valuation-runs"),
    ],
)  # fmt: skip
def test_another_organizations_company_is_404(client: TestClient, factory: Factory, method: str, path: str) -> None:
    owner = factory.organization(with_roles=False)
    company = _demo_company(client, owner)
    intruder = factory.organization(with_roles=False)
    kwargs = {"json": {"methods": ["fcff_ginzu"]}} if path == "/valuation-runs" else {}
    response = client.request(method, f"/api/companies/{company['id']}{path}", headers=intruder.admin.headers, **kwargs)
    assert response.status_code == 404

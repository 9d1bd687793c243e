"""The statements import's documented 2 MB limit is the one that applies over HTTP (not the app-wide 1 MiB).

A 1.5 MB file goes through; a file over 2 MB gets the import's own `file_too_large` rejection
(422 `import_invalid`, naming the limit), whether the endpoint reads it or the body-size middleware
refuses it by its Content-Length; nothing is written either way. Other routes keep the app-wide limit.
"""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from water.config import get_settings
from water.market_data.endpoints import IMPORT_BODY_LIMIT, MAX_IMPORT_BYTES
from water.models import FinancialPeriod, StatementImport

from ...factories import Factory

ROWS = [
    "line,label,2023-12-31,2024-12-31", "period_type,,annual,annual", "currency,,EUR,EUR",
    "revenue,,1000,1100", "ebit,,100,120", "depreciation_amortization,,30,32", "pretax_income,,90,110",
    "income_tax,,20,25", "capex,,40,45", "change_in_working_capital,,5,6", "cash,,50,60",
    "total_debt,,200,190", "book_equity,,300,330", "total_assets,,700,740", "total_liabilities,,400,410",
    "shares_outstanding,,1000000,1000000",
]  # fmt: skip
VALID = ("\n".join(ROWS) + "\n").encode()


def _padded(size: int) -> bytes:
    """A valid import padded with trailing blank rows (accepted by the parser) to exactly `size` bytes."""
    pad = b",,,\n" * ((size - len(VALID)) // 4)
    content = VALID + pad
    return content + b"\n" * (size - len(content))


def _stored(db: Session, company_id: str) -> tuple[int, int]:
    cid = uuid.UUID(company_id)
    periods = db.scalar(select(func.count()).select_from(FinancialPeriod).where(FinancialPeriod.company_id == cid))
    imports = db.scalar(select(func.count()).select_from(StatementImport).where(StatementImport.company_id == cid))
    return int(periods or 0), int(imports or 0)


def _assert_file_too_large(response: object) -> dict:  # type: ignore[type-arg]
    assert response.status_code == 422, response.text  # type: ignore[attr-defined]
    assert response.headers["content-type"].startswith("application/problem+json")  # type: ignore[attr-defined]
    body = dict(response.json())  # type: ignore[attr-defined]
    assert body["code"] == "import_invalid"
    assert [e["type"] for e in body["errors"]] == ["file_too_large"]
    assert "the limit is 2.0 MB" in body["errors"][0]["msg"]
    assert "the limit is 2.0 MB" in body["detail"]
    assert body["request_id"]
    return body


def _private_company(factory: Factory, name: str) -> tuple[Any, dict]:  # type: ignore[type-arg]
    """An analyst of a new organization and a private company of theirs to import into."""
    analyst = factory.organization().as_role("analyst")
    return analyst, factory.company(analyst, name=name, ticker=None, is_private=True)


def _upload(client: TestClient, analyst: Any, company: dict, filename: str, content: bytes) -> Any:  # type: ignore[type-arg]
    return client.post(
        f"/api/companies/{company['id']}/statements/import",
        files={"file": (filename, io.BytesIO(content), "text/csv")},
        headers=analyst.headers,
    )


def test_a_1_5_mb_import_is_accepted_although_the_app_wide_body_limit_is_1_mib(
    client: TestClient, factory: Factory, db: Session
) -> None:
    assert get_settings().max_body_bytes < 1_500_000 < MAX_IMPORT_BYTES
    analyst, company = _private_company(factory, "Big Bakery")
    content = _padded(1_500_000)
    response = _upload(client, analyst, company, "big.csv", content)
    assert response.status_code == 201, response.text[:500]
    assert response.json()["periods"] == 2
    assert response.json()["size_bytes"] == 1_500_000
    assert _stored(db, company["id"]) == (2, 1)


def test_a_file_just_over_2_mb_gets_the_documented_file_too_large_from_the_endpoint(
    client: TestClient, factory: Factory, db: Session
) -> None:
    analyst, company = _private_company(factory, "Bigger Bakery")
    content = _padded(MAX_IMPORT_BYTES + 1)  # within the route's body allowance: the endpoint reads it
    response = _upload(client, analyst, company, "big.csv", content)
    body = _assert_file_too_large(response)
    assert "the file is 2.0 MB" in body["errors"][0]["msg"]
    assert _stored(db, company["id"]) == (0, 0)


def test_a_far_larger_upload_is_refused_by_its_content_length_with_the_same_problem(
    client: TestClient, factory: Factory, db: Session
) -> None:
    analyst, company = _private_company(factory, "Huge Bakery")
    content = _padded(3_000_000)
    assert len(content) > IMPORT_BODY_LIMIT.max_bytes
    response = _upload(client, analyst, company, "huge.csv", content)
    body = _assert_file_too_large(response)
    assert "3.0 MB" in body["errors"][0]["msg"]
    assert _stored(db, company["id"]) == (0, 0)


def test_a_streamed_upload_without_a_length_gets_the_same_problem_once_past_the_limit(
    client: TestClient, factory: Factory, db: Session
) -> None:
    analyst, company = _private_company(factory, "Streaming Bakery")
    boundary = "waterboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="huge.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()

    def chunks():  # type: ignore[no-untyped-def]  # chunked: no Content-Length, so the middleware counts
        yield head
        for _ in range(50):
            yield _padded(65_536)
        yield f"\r\n--{boundary}--\r\n".encode()

    response = client.post(
        f"/api/companies/{company['id']}/statements/import",
        content=chunks(),
        headers={**analyst.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    body = _assert_file_too_large(response)
    assert "larger than the limit" in body["errors"][0]["msg"]
    assert _stored(db, company["id"]) == (0, 0)


def test_other_routes_keep_the_app_wide_limit(client: TestClient, factory: Factory) -> None:
    org = factory.organization()
    big = json.dumps({"name": "x" * 1_500_000, "ticker": "BIG"})
    response = client.post(
        "/api/companies", content=big, headers={**org.admin.headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


def test_the_route_limit_matches_the_parsers_limit() -> None:
    from water.market_data.imports import MAX_BYTES

    assert MAX_IMPORT_BYTES == MAX_BYTES

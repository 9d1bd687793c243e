"""Every query of the market-data domain."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import DateTime, Table, bindparam, delete, select, text, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ..companies.repository import ONE_LIVE
from ..db import reads
from ..models import Company, CompanyDataset, FinancialPeriod, MarketDataSnapshot, StatementImport
from .schemas import FinancialPeriodRead

_FINANCIAL_PERIODS = cast(Table, FinancialPeriod.__table__)
_DELETE_PERIODS = delete(_FINANCIAL_PERIODS).where(_FINANCIAL_PERIODS.c.company_id == bindparam("company_id"))
# A company's periods go to PostgreSQL as one JSON array, expanded there (jsonb_to_recordset): one
# parameter instead of eleven per row, each of which SQLAlchemy and psycopg would process in Python
# (a refresh stores about 25 periods). Every row shares the company's columns and one timestamp.
_INSERT_PERIODS = text(
    """
    INSERT INTO financial_periods (id, organization_id, company_id, source_kind, statement_import_id,
                                   period_type, fiscal_date_ending, currency, figures, created_at, updated_at)
    SELECT gen_random_uuid(), CAST(:organization_id AS uuid), CAST(:company_id AS uuid), CAST(:source_kind AS text),
           CAST(:statement_import_id AS uuid), p.period_type, p.fiscal_date_ending, p.currency, p.figures,
           CAST(:now AS timestamptz), CAST(:now AS timestamptz)
    FROM jsonb_to_recordset(:periods) AS p(period_type text, fiscal_date_ending date, currency text, figures jsonb)
    """
).bindparams(bindparam("periods", type_=JSONB), bindparam("now", type_=DateTime(timezone=True)))
_COMPANIES = cast(Table, Company.__table__)
_BUMP_FINANCIALS_REVISION = (
    update(_COMPANIES)
    .where(_COMPANIES.c.id == bindparam("company_id"))
    .values(financials_revision=_COMPANIES.c.financials_revision + 1)
)
# What a refresh writes on the company row, in one statement (Core: the ORM's unit of work would
# flush each attribute change on its own, at the next query).
_RECORD_REFRESH = (
    update(_COMPANIES)
    .where(_COMPANIES.c.id == bindparam("company_id"))
    .values(price_currency=bindparam("new_price_currency"), market_data_refreshed_at=bindparam("refreshed_at"))
)
# The refresh's reads, on the tables (Core): selects of mapped attributes go through the ORM's query machinery.
_DATASETS = cast(Table, CompanyDataset.__table__)
_DATASET_POINTERS = select(_DATASETS.c.dataset, _DATASETS.c.snapshot_ids).where(
    _DATASETS.c.company_id == bindparam("company_id")
)
_PERIOD_SOURCES = (
    select(_FINANCIAL_PERIODS.c.source_kind)
    .where(_FINANCIAL_PERIODS.c.company_id == bindparam("company_id"))
    .distinct()
)
_LOCK_COMPANY = select(_COMPANIES.c.ticker).where(_COMPANIES.c.id == bindparam("company_id")).with_for_update()
_DELETE_IMPORTED_PERIODS = _DELETE_PERIODS.where(_FINANCIAL_PERIODS.c.source_kind == "import")
_NEW_DATASET = insert(_DATASETS)
# Executed with a list of rows (executemany): one compiled statement for any number of datasets.
_UPSERT_DATASETS = _NEW_DATASET.on_conflict_do_update(
    index_elements=["company_id", "dataset"],
    set_={"snapshot_ids": _NEW_DATASET.excluded.snapshot_ids, "fetched_at": _NEW_DATASET.excluded.fetched_at},
)

# A company's periods with the columns FinancialPeriodRead shows, newest first within each type; built once.
_PERIOD_COLUMNS = [FinancialPeriod.__table__.c[name] for name in FinancialPeriodRead.model_fields]
_PERIOD_ORDER = (FinancialPeriod.period_type, FinancialPeriod.fiscal_date_ending.desc())
_OF_COMPANY = select(*_PERIOD_COLUMNS).where(FinancialPeriod.company_id == bindparam("company_id"))
_PERIODS = _OF_COMPANY.order_by(*_PERIOD_ORDER)
_PERIODS_OF_TYPE = _OF_COMPANY.where(FinancialPeriod.period_type == bindparam("period_type")).order_by(*_PERIOD_ORDER)


# A company's quote subject: its ticker and currencies, and where its quote pointer points.
_QUOTE_SUBJECT = (
    select(
        Company.ticker,
        Company.is_private,
        Company.currency,
        Company.price_currency,
        CompanyDataset.snapshot_ids.label("quote_snapshot_ids"),
        CompanyDataset.fetched_at.label("quote_fetched_at"),
    )
    .select_from(Company)
    .outerjoin(
        CompanyDataset,
        (CompanyDataset.company_id == Company.id) & (CompanyDataset.dataset == bindparam("dataset")),
    )
    .where(*ONE_LIVE)
)
# What the financials read needs of a live company: its currencies and the version of its periods.
_FINANCIALS_SUBJECT = select(Company.currency, Company.price_currency, Company.financials_revision).where(*ONE_LIVE)
_SNAPSHOT_BODY = select(MarketDataSnapshot.symbol, MarketDataSnapshot.body, MarketDataSnapshot.content_type).where(
    MarketDataSnapshot.id == bindparam("snapshot_id")
)


async def read_quote_subject(organization_id: uuid.UUID, company_id: uuid.UUID) -> reads.Row | None:
    """The live company's ticker and currencies and its quote pointer (snapshot ids, fetched at; None
    when it has none), in one statement awaited in the event loop; None unless the company is the
    organization's."""
    params = {"organization_id": organization_id, "company_id": company_id, "dataset": "quote"}
    return await reads.fetch_one(_QUOTE_SUBJECT, params)


async def read_financials_subject(organization_id: uuid.UUID, company_id: uuid.UUID) -> reads.Row | None:
    """The live company's currencies and financials revision, in one statement awaited in the event
    loop; None unless the company is the organization's."""
    return await reads.fetch_one(_FINANCIALS_SUBJECT, {"organization_id": organization_id, "company_id": company_id})


async def read_snapshot_body(snapshot_id: uuid.UUID) -> reads.Row | None:
    """A snapshot's symbol, raw body and content type (immutable), awaited in the event loop."""
    return await reads.fetch_one(_SNAPSHOT_BODY, {"snapshot_id": snapshot_id})


async def read_periods(company_id: uuid.UUID, period_type: str | None) -> list[reads.Row]:
    """The company's normalized periods (all, or of one type), in one statement awaited in the event loop."""
    if period_type is None:
        return await reads.fetch_all(_PERIODS, {"company_id": company_id})
    return await reads.fetch_all(_PERIODS_OF_TYPE, {"company_id": company_id, "period_type": period_type})


class MarketDataRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def record_dataset(self, company: Company, dataset: str, snapshot_ids: Sequence[str], fetched_at: datetime) -> None:
        ids = [uuid.UUID(s) for s in snapshot_ids]
        current = self.session.execute(
            select(CompanyDataset.snapshot_ids, CompanyDataset.fetched_at).where(
                CompanyDataset.company_id == company.id, CompanyDataset.dataset == dataset
            )
        ).first()
        if current is not None and list(current[0]) == ids and current[1] == fetched_at:
            return  # unchanged (a cache hit): no write, so concurrent reads never queue on this row's lock
        # Same snapshots fetched again (the provider answered the same bytes) move `fetched_at` on: the
        # quote read trusts a pointer fetched within the quote TTL (market_data.endpoints).
        row = {
            "company_id": company.id,
            "dataset": dataset,
            "organization_id": company.organization_id,
            "snapshot_ids": ids,
            "fetched_at": fetched_at,
        }
        self.session.execute(_UPSERT_DATASETS, row)

    def dataset_pointers(self, company_id: uuid.UUID) -> dict[str, list[uuid.UUID]]:
        """Every recorded dataset of the company → the snapshot ids it points at (one query)."""
        rows = self.session.execute(_DATASET_POINTERS, {"company_id": company_id})
        return {str(dataset): list(cast(list[uuid.UUID], ids)) for dataset, ids in rows}

    def record_datasets(
        self,
        company: Company,
        records: Mapping[str, tuple[Sequence[str], datetime]],
        current: Mapping[str, Sequence[uuid.UUID]],
    ) -> None:
        """`record_dataset` for several datasets in one statement; those already pointing at `current` ids are left alone."""
        rows = []
        for dataset, (snapshot_ids, fetched_at) in records.items():
            ids = [uuid.UUID(s) for s in snapshot_ids]
            if list(current.get(dataset, ())) != ids:
                rows.append(
                    {
                        "company_id": company.id,
                        "dataset": dataset,
                        "organization_id": company.organization_id,
                        "snapshot_ids": ids,
                        "fetched_at": fetched_at,
                    }
                )
        if rows:
            self.session.execute(_UPSERT_DATASETS, rows)

    def record_refresh(self, company: Company, price_currency: str | None, refreshed_at: datetime) -> None:
        """Store the company's price currency and refresh time; the object shows them, not marked as changed."""
        params = {"company_id": company.id, "new_price_currency": price_currency, "refreshed_at": refreshed_at}
        self.session.execute(_RECORD_REFRESH, params)
        set_committed_value(company, "price_currency", price_currency)
        set_committed_value(company, "market_data_refreshed_at", refreshed_at)

    def period_sources(self, company_id: uuid.UUID) -> set[str]:
        """The source kinds of the company's stored periods ("provider", "import")."""
        return set(self.session.scalars(_PERIOD_SOURCES, {"company_id": company_id}))

    def dataset(self, company_id: uuid.UUID, dataset: str) -> CompanyDataset | None:
        return self.session.get(CompanyDataset, (company_id, dataset))

    def snapshots(self, ids: Sequence[uuid.UUID]) -> list[MarketDataSnapshot]:
        rows = {s.id: s for s in self.session.scalars(select(MarketDataSnapshot).where(MarketDataSnapshot.id.in_(ids)))}
        return [rows[i] for i in ids if i in rows]

    def replace_periods(
        self, company: Company, source_kind: str, periods: list[dict[str, Any]], import_id: uuid.UUID | None = None
    ) -> None:
        """Replace the company's periods (all sources: one company has one set of financials).

        The company row is updated first (its financials revision bumped), which locks it, so two
        refreshes (or a refresh and an import) of one company take turns: without the lock, the
        second DELETE runs on a snapshot that cannot see the first's new rows, deletes nothing once
        the first commits, and its INSERT fails on the unique key. The new revision becomes visible
        with the new periods, in the same commit.
        """
        self.session.execute(_BUMP_FINANCIALS_REVISION, {"company_id": company.id})
        self.session.execute(_DELETE_PERIODS, {"company_id": company.id})
        if not periods:
            return
        params = {
            "organization_id": company.organization_id,
            "company_id": company.id,
            "source_kind": source_kind,
            "statement_import_id": import_id,
            "now": datetime.now(UTC),
            "periods": periods,
        }
        self.session.execute(_INSERT_PERIODS, params)

    def lock_company(self, company_id: uuid.UUID) -> str | None:
        """Lock the company row until the transaction ends, and return its ticker as it is now.

        A refresh locks it before it reads what it will overwrite, so an import or a ticker change
        that commits meanwhile (each also locks the row) is waited for, then seen.
        """
        return self.session.scalar(_LOCK_COMPANY, {"company_id": company_id})

    def delete_imported_periods(self, company: Company) -> int:
        """Delete the company's periods if they are an import; how many there were (0: none deleted)."""
        self.lock_company(company.id)
        result = self.session.execute(_DELETE_IMPORTED_PERIODS, {"company_id": company.id})
        removed = int(result.rowcount)  # type: ignore[attr-defined]
        if removed:
            self.session.execute(_BUMP_FINANCIALS_REVISION, {"company_id": company.id})
        return removed

    def periods(self, company_id: uuid.UUID, period_type: str | None = None) -> list[FinancialPeriod]:
        query = select(FinancialPeriod).where(FinancialPeriod.company_id == company_id)
        if period_type:
            query = query.where(FinancialPeriod.period_type == period_type)
        return list(
            self.session.scalars(query.order_by(FinancialPeriod.period_type, FinancialPeriod.fiscal_date_ending.desc()))
        )

    def add_import(self, record: StatementImport) -> None:
        self.session.add(record)

    def listed_companies_stalest_first(self, limit: int) -> list[Company]:
        query = (
            select(Company)
            .where(Company.deleted_at.is_(None), Company.ticker.is_not(None), Company.is_private.is_(False))
            .order_by(Company.market_data_refreshed_at.asc().nulls_first(), Company.id)
            .limit(limit)
        )
        return list(self.session.scalars(query))

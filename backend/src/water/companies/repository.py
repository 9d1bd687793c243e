"""Every query of the companies domain; all filtered by organization and excluding soft-deleted rows."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Select, bindparam, delete, func, or_, select
from sqlalchemy.orm import Session

from ..db import reads
from ..kit.pagination import SortSpec, paginate, split_page
from ..models import Company, CompanyDataset, FinancialPeriod
from .schemas import CompanyRead

SORTS: dict[str, SortSpec] = {
    "name": SortSpec(Company.name, lambda c: c.name, str),
    "ticker": SortSpec(func.coalesce(Company.ticker, ""), lambda c: c.ticker or "", str),
    "created_at": SortSpec(Company.created_at, lambda c: c.created_at, datetime),
}


# One live company of one organization (also the market-data reads' filter), built once: building
# and hashing a select per call costs more than running it (docs/benchmarks.md, issue 2). The Core
# variant reads just the columns CompanyRead shows, without an ORM entity.
ONE_LIVE = (
    Company.organization_id == bindparam("organization_id"),
    Company.deleted_at.is_(None),
    Company.id == bindparam("company_id"),
)
_GET = select(Company).where(*ONE_LIVE)
_READ = select(*(Company.__table__.c[name] for name in CompanyRead.model_fields)).where(*ONE_LIVE)


async def read_live(organization_id: uuid.UUID, company_id: uuid.UUID) -> reads.Row | None:
    """The company's columns in one statement, awaited in the event loop (water.db.reads)."""
    return await reads.fetch_one(_READ, {"organization_id": organization_id, "company_id": company_id})


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class CompanyRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _live(self, organization_id: uuid.UUID) -> Select[Company]:
        return select(Company).where(Company.organization_id == organization_id, Company.deleted_at.is_(None))

    def add(self, company: Company) -> None:
        self.session.add(company)

    def get(self, organization_id: uuid.UUID, company_id: uuid.UUID) -> Company | None:
        return self.session.scalar(_GET, {"organization_id": organization_id, "company_id": company_id})

    def forget_provider_data(self, company: Company) -> None:
        """Drop what the provider gave under the company's old ticker: its statements (an import,
        which is the analyst's, stays), the dataset pointers and the price currency. The snapshots
        themselves stay, as every valuation that used them pinned them; the next refresh fetches the
        new ticker's data, and the nightly one takes the company first (never refreshed)."""
        self.session.execute(
            delete(FinancialPeriod).where(
                FinancialPeriod.company_id == company.id, FinancialPeriod.source_kind == "provider"
            )
        )
        self.session.execute(delete(CompanyDataset).where(CompanyDataset.company_id == company.id))
        company.financials_revision = Company.financials_revision + 1  # kept financials bodies are stale now
        company.price_currency = None
        company.market_data_refreshed_at = None

    def ticker_taken(self, organization_id: uuid.UUID, ticker: str, *, excluding: uuid.UUID | None = None) -> bool:
        query = self._live(organization_id).where(Company.ticker == ticker)
        if excluding is not None:
            query = query.where(Company.id != excluding)
        return self.session.scalar(query.with_only_columns(Company.id)) is not None

    def list(
        self, organization_id: uuid.UUID, *, q: str | None, sort: str, cursor: str | None, limit: int
    ) -> tuple[list[Company], str | None]:
        query = self._live(organization_id)
        if q:
            pattern = f"%{_escape_like(q)}%"
            query = query.where(or_(Company.name.ilike(pattern), Company.ticker.ilike(pattern)))
        spec = SORTS[sort.lstrip("-")]
        query = paginate(query, sort=sort, spec=spec, id_column=Company.id, cursor=cursor, limit=limit)
        rows = list(self.session.scalars(query))
        return split_page(rows, limit, sort, spec)

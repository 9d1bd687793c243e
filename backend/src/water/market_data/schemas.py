from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from ..jobs.schemas import JobRead
from ..kit.schemas import ReadSchema, Schema


class SymbolMatchRead(BaseModel):
    symbol: str
    name: str
    type: str | None
    region: str | None
    currency: str | None
    match_score: float | None


class CompanyFromSymbol(Schema):
    symbol: Annotated[str, Field(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9.\-]+$")]


class QuoteRead(BaseModel):
    symbol: str
    price: float
    as_of: date
    previous_close: float | None
    change_percent: float | None
    volume: float | None
    currency: str | None
    fetched_at: datetime
    stale: bool = Field(description="True when the provider could not be reached and this is the last stored quote.")
    snapshot_ids: list[str]


class PriceBarRead(BaseModel):
    day: date
    close: float  # as traded on the free plan; the adjusted series' close on a premium one
    adjusted_close: float | None  # splits and dividends (premium plans only)
    split_adjusted_close: float | None  # in today's shares (every plan); None when the splits could not be read
    volume: float | None  # shares traded; a weekly or monthly bar sums its trading days


class SplitRead(BaseModel):
    effective_date: date
    factor: float


class PricesRead(BaseModel):
    symbol: str
    interval: Literal["daily", "weekly", "monthly"]
    currency: str | None
    bars: list[PriceBarRead]
    snapshot_ids: list[str]
    fetched_at: datetime
    # "latest_100_days" when the plan refused the full history (Alpha Vantage has, at times, for free keys)
    history: Literal["full", "latest_100_days"] = "full"
    splits: list[SplitRead] = []  # the splits `split_adjusted_close` divides by
    warnings: list[str] = []


class FigureRead(BaseModel):
    value: float
    source: str
    snapshot_id: str | None


class FinancialPeriodRead(ReadSchema):
    period_type: str
    fiscal_date_ending: date
    currency: str
    source_kind: str
    statement_import_id: uuid.UUID | None
    figures: dict[str, FigureRead]


class FinancialsRead(BaseModel):
    company_id: uuid.UUID
    statement_currency: str | None
    price_currency: str | None
    periods: list[FinancialPeriodRead]


class QuotaRead(BaseModel):
    provider: str
    requests_per_second: float
    burst: int
    daily_budget: int | None
    used_today: int
    remaining_today: int | None
    resets_at: datetime
    # The provider's words when it answered that today's quota is used up (then remaining_today is 0).
    exhausted_by_provider: str | None = None
    # The organization's latest nightly refresh: its companies queued and skipped, with the reasons.
    last_nightly_run: JobRead | None = None


class ImportedStatementsDeleted(BaseModel):
    company_id: uuid.UUID
    removed_periods: int = Field(description="Periods deleted; 0 when the company's statements were not an import.")


class StatementImportRead(ReadSchema):
    id: uuid.UUID
    company_id: uuid.UUID
    filename: str
    size_bytes: int
    periods: int
    warnings: list[Any]
    created_at: datetime

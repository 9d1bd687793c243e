from __future__ import annotations

import enum
import re
import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator

from ..kit.schemas import ReadSchema, Schema

TICKER = re.compile(r"^[A-Z0-9][A-Z0-9.\-]{0,19}$")
CURRENCY = re.compile(r"^[A-Z]{3}$")

Name = Annotated[str, Field(min_length=1, max_length=200)]
Ticker = Annotated[str, Field(min_length=1, max_length=20, description="Exchange ticker, e.g. IBM or BRK.B")]
Currency = Annotated[str, Field(min_length=3, max_length=3, description="ISO 4217 code, e.g. USD")]
Short = Annotated[str, Field(max_length=120)]
Identifiers = Annotated[dict[str, Annotated[str, Field(max_length=64)]], Field(max_length=20)]


def _normalise_ticker(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().upper()
    if not TICKER.match(value):
        raise ValueError("must be 1-20 characters of A-Z, 0-9, '.' or '-'")
    return value


def _normalise_currency(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().upper()
    if not CURRENCY.match(value):
        raise ValueError("must be a three-letter ISO 4217 code")
    return value


class CompanyCreate(Schema):
    name: Name
    ticker: Ticker | None = None
    is_private: bool = False
    currency: Currency = "USD"
    exchange: Annotated[str | None, Field(max_length=40)] = None
    country: Annotated[str | None, Field(max_length=80)] = None
    sector: Short | None = None
    industry: Annotated[str | None, Field(max_length=200)] = None
    identifiers: Identifiers = Field(default_factory=dict, description='e.g. {"cik": "0000051143"}')

    _ticker = field_validator("ticker")(classmethod(lambda cls, v: _normalise_ticker(v)))
    _currency = field_validator("currency")(classmethod(lambda cls, v: _normalise_currency(v)))

    @model_validator(mode="after")
    def _listed_needs_ticker(self) -> CompanyCreate:
        if not self.is_private and not self.ticker:
            raise ValueError("a listed company needs a ticker (or set is_private)")
        return self


class CompanyUpdate(Schema):
    name: Name | None = None
    ticker: Ticker | None = None
    currency: Currency | None = None
    exchange: Annotated[str | None, Field(max_length=40)] = None
    country: Annotated[str | None, Field(max_length=80)] = None
    sector: Short | None = None
    industry: Annotated[str | None, Field(max_length=200)] = None
    identifiers: Identifiers | None = None

    _ticker = field_validator("ticker")(classmethod(lambda cls, v: _normalise_ticker(v)))
    _currency = field_validator("currency")(classmethod(lambda cls, v: _normalise_currency(v)))


class CompanyRead(ReadSchema):
    id: uuid.UUID
    name: str
    ticker: str | None
    is_private: bool
    currency: str
    exchange: str | None
    country: str | None
    sector: str | None
    industry: str | None
    identifiers: dict[str, Any]
    is_demo: bool
    created_at: datetime
    updated_at: datetime


class CompanySort(enum.StrEnum):
    name = "name"
    name_desc = "-name"
    ticker = "ticker"
    ticker_desc = "-ticker"
    created_at = "created_at"
    created_at_desc = "-created_at"

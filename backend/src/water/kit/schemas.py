"""Schema base classes shared by every domain."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")


class Schema(BaseModel):
    """Input schemas reject unknown fields, so typos are errors rather than silently ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ReadSchema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(BaseModel, Generic[T]):
    """A page of a cursor-paginated list; pass `next_cursor` as `cursor` to get the next page."""

    items: list[T]
    next_cursor: str | None = None

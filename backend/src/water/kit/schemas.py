"""Schema base classes shared by every domain."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, field_validator

T = TypeVar("T")


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_has_nul(v) for v in value)
    return False


class Schema(BaseModel):
    """Input schemas reject unknown fields, so typos are errors rather than silently ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul_characters(cls, value: Any) -> Any:
        # PostgreSQL text cannot hold NUL; refuse it at the door with a field-level error.
        if _has_nul(value):
            raise ValueError("must not contain NUL characters")
        return value


class ReadSchema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(BaseModel, Generic[T]):
    """A page of a cursor-paginated list; pass `next_cursor` as `cursor` to get the next page."""

    items: list[T]
    next_cursor: str | None = None

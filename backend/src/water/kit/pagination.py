"""Keyset (cursor) pagination over (sort value, id), stable under inserts.

A cursor names the sort it was made for, so a cursor from another sort is a 422
rather than a comparison of mismatched types.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, or_

from ..errors import InvalidInput

MAX_LIMIT = 200


@dataclass(frozen=True)
class Cursor:
    value: Any
    id: uuid.UUID


def encode_cursor(sort: str, value: Any, row_id: uuid.UUID) -> str:
    if isinstance(value, datetime):
        value = {"dt": value.isoformat()}
    raw = json.dumps([sort, value, str(row_id)], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _invalid_cursor(reason: str) -> InvalidInput:
    return InvalidInput(
        f"The cursor is not valid ({reason}); use the next_cursor of a previous page with the same sort.",
        errors=[{"loc": ["query", "cursor"], "msg": reason, "type": "cursor"}],
    )


def decode_cursor(cursor: str, sort: str, value_type: type) -> Cursor:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        cursor_sort, value, row_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if isinstance(value, dict) and set(value) == {"dt"}:
            value = datetime.fromisoformat(value["dt"])
        position = Cursor(value, uuid.UUID(row_id))
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise _invalid_cursor("malformed") from exc
    if cursor_sort != sort:
        raise _invalid_cursor(f"made for sort {cursor_sort!r}, not {sort!r}")
    if not isinstance(position.value, value_type) or (
        isinstance(position.value, datetime) and position.value.tzinfo is None
    ):
        raise _invalid_cursor("malformed")
    return position


@dataclass(frozen=True)
class SortSpec:
    """One allowed sort: the SQL expression, how to read its value off a row, and the value's type."""

    expression: Any  # a column or SQL expression
    key: Callable[[Any], Any]
    value_type: type


def paginate(
    query: Select[Any],
    *,
    sort: str,
    spec: SortSpec,
    id_column: Any,
    cursor: str | None,
    limit: int,
) -> Select[Any]:
    """Apply ordering, the cursor's position and limit+1 (to know whether a next page exists)."""
    descending = sort.startswith("-")
    column = spec.expression
    if cursor:
        position = decode_cursor(cursor, sort, spec.value_type)
        if descending:
            condition = or_(column < position.value, and_(column == position.value, id_column < position.id))
        else:
            condition = or_(column > position.value, and_(column == position.value, id_column > position.id))
        query = query.where(condition)
    order = (column.desc(), id_column.desc()) if descending else (column.asc(), id_column.asc())
    return query.order_by(*order).limit(limit + 1)


def split_page(rows: list[Any], limit: int, sort: str, spec: SortSpec) -> tuple[list[Any], str | None]:
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]
    return rows, encode_cursor(sort, spec.key(last), last.id)

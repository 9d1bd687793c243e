"""Reading one cell: numbers, dates, currencies and period types, each with a readable refusal.

Numbers: `1234`, `1234.5`, `-1234`, `+1234`, thousands separators in groups of three
(`1,234,567.89`), parentheses for negatives (`(1,234)`), scientific notation (`1.2e6`),
a Unicode minus. Everything else is refused with the reason: `n/a`, `-` and other
placeholders (leave the cell empty, or write 0), currency symbols, percentages, suffixes
such as `1.2M`, decimal commas, spaces inside the number, infinities.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

CellKind = Literal["empty", "text", "number", "date", "bool", "formula", "error"]


@dataclass(frozen=True)
class Cell:
    """A cell as read from the file. For XLSX `kind` is the stored type; CSV cells are text."""

    kind: CellKind
    value: str | float | datetime | bool | None
    formula: str | None = None

    @property
    def blank(self) -> bool:
        return self.kind == "empty" or (self.kind == "text" and not str(self.value).strip())

    def text(self) -> str:
        if self.value is None:
            return ""
        if isinstance(self.value, float) and self.value.is_integer() and abs(self.value) < 1e16:
            return str(int(self.value))
        return str(self.value).strip()


EMPTY = Cell("empty", None)


class CellError(ValueError):
    """The cell cannot be read; `type` is the stable error type and the message is the reason."""

    def __init__(self, reason: str, type: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.type = type


def shown(text: str, limit: int = 40) -> str:
    """Quote a cell's text for a message, shortened if it is long."""
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return repr(text) if "'" in text else f"'{text}'"


_NUMBER = re.compile(r"(?P<int>\d{1,3}(?:,\d{3})+|\d+)?(?P<frac>\.\d+)?(?:[eE][+-]?\d{1,4})?")
_PLACEHOLDERS = frozenset(
    {"n/a", "na", "n.a.", "#n/a", "-", "--", "–", "—", "none", "null", "nil", "nan", "?", "tbd", "x"}
)
_CURRENCY_SYMBOLS = "$€£¥₹₩₽₺₪₫฿"
_SUFFIX = re.compile(r"^[+-]?[\d.,]+\s*(k|m|mm|mn|b|bn|t|thousand|million|billion)$", re.IGNORECASE)


def parse_number(cell: Cell) -> float | None:
    """A cell's number; None for a blank cell. Raises CellError with the reason otherwise."""
    if cell.blank:
        return None
    if cell.kind == "formula":
        raise CellError(f"contains a formula ({shown(cell.formula or '=', 60)}); paste values instead", "formula")
    if cell.kind == "error":
        raise CellError(f"contains the spreadsheet error {cell.text()}; enter a number", "cell_error")
    if cell.kind == "bool":
        raise CellError(f"contains {cell.text().upper()} (a boolean), not a number", "not_a_number")
    if cell.kind == "date":
        raise CellError(f"contains a date ({cell.text()}), not a number", "not_a_number")
    if cell.kind == "number":
        assert isinstance(cell.value, int | float)
        value = float(cell.value)
        if not math.isfinite(value):
            raise CellError("is not a finite number", "not_a_number")
        return value
    return _parse_number_text(cell.text())


def _parse_number_text(text: str) -> float:
    raw = text
    if raw.startswith("="):
        raise CellError(f"contains a formula ({shown(raw, 60)}); paste values instead", "formula")
    body = raw.replace("\u2212", "-").replace("\u00a0", " ").strip()
    negative = False
    if body.startswith("(") and body.endswith(")"):
        negative, body = True, body[1:-1].strip()
    elif body[:1] in "+-":
        negative, body = body[0] == "-", body[1:]
    match = _NUMBER.fullmatch(body)
    if match and (match.group("int") or match.group("frac")):
        value = float(body.replace(",", ""))
        if not math.isfinite(value):
            raise CellError(f"{shown(raw)} is too large to be a number", "not_a_number")
        return -value if negative else value
    raise CellError(_why_not_a_number(raw), "not_a_number")


def _why_not_a_number(raw: str) -> str:
    lowered = raw.strip().lower()
    quoted = shown(raw)
    if lowered in _PLACEHOLDERS:
        return f"{quoted} is not a number: leave the cell empty if the figure is not reported, or write 0 if it is zero"
    if any(symbol in raw for symbol in _CURRENCY_SYMBOLS):
        return f"{quoted} is not a number: remove the currency symbol (the currency goes in the 'currency' row)"
    if lowered.endswith("%"):
        return f"{quoted} is not a number: percentages are not accepted, write the amount"
    if _SUFFIX.match(lowered):
        return f"{quoted} is not a number: write the full amount in units (e.g. 1.2e6 for 1.2 million)"
    if re.fullmatch(r"[+-]?\(?[\d.]*\d,\d{1,2}\)?|[+-]?\(?\d{1,3}(\.\d{3})+(,\d+)?\)?", raw.strip()):
        return (
            f"{quoted} is not a number: it looks like a European number format (',' for decimals or '.' between "
            "thousands); use '.' for decimals and ',' only between thousands"
        )
    if re.fullmatch(r"[+-]?\d[\d ,.']*\d", raw.strip()):
        return f"{quoted} is not a number: write digits with '.' for decimals and ',' only between groups of three"
    return f"{quoted} is not a number"


_ISO = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]00:00(?::00(?:\.0+)?)?)?")
_DAY_FIRST_OR_MONTH_FIRST = re.compile(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})")


def parse_date(cell: Cell) -> date:
    """A period end: an ISO date (2023-12-31), a date cell, or d/m/yyyy or m/d/yyyy when unambiguous."""
    if cell.kind == "date":
        assert isinstance(cell.value, datetime)
        if cell.value.time() != datetime.min.time():
            raise CellError(f"{cell.value.isoformat(sep=' ')} has a time of day; enter the date only", "not_a_date")
        return _in_range(cell.value.date())
    if cell.kind == "formula":
        raise CellError(f"contains a formula ({shown(cell.formula or '=', 60)}); type the date instead", "formula")
    text = cell.text()
    hint = "write the fiscal period end as YYYY-MM-DD, e.g. 2023-12-31"
    if cell.kind == "number":
        raise CellError(f"{text} is a number, not a date; {hint}", "not_a_date")
    iso = _ISO.fullmatch(text)
    if iso:
        year, month, day = (int(part) for part in iso.groups())
        return _in_range(_make_date(year, month, day, text, hint))
    other = _DAY_FIRST_OR_MONTH_FIRST.fullmatch(text)
    if other:
        first, second, year = (int(part) for part in other.groups())
        if first > 12 and second <= 12:
            return _in_range(_make_date(year, second, first, text, hint))
        if second > 12 and first <= 12:
            return _in_range(_make_date(year, first, second, text, hint))
        if first == second:
            return _in_range(_make_date(year, first, second, text, hint))
        raise CellError(f"{shown(text)} is ambiguous (day/month or month/day?); {hint}", "ambiguous_date")
    raise CellError(f"{shown(text)} is not a date; {hint}", "not_a_date")


def _make_date(year: int, month: int, day: int, text: str, hint: str) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise CellError(f"{shown(text)} is not a valid date; {hint}", "not_a_date") from None


def _in_range(value: date) -> date:
    if not 1900 <= value.year <= 2100:
        raise CellError(f"{value.isoformat()} is outside the years 1900 to 2100", "not_a_date")
    return value


_CURRENCY = re.compile(r"[A-Za-z]{3}")


def parse_currency(cell: Cell) -> str:
    """An ISO 4217-looking code (three letters), upper-cased."""
    text = cell.text()
    if cell.blank:
        raise CellError("the currency is missing; write the ISO 4217 code, e.g. USD", "missing_currency")
    if cell.kind != "text" or not _CURRENCY.fullmatch(text):
        raise CellError(f"{shown(text)} is not an ISO 4217 currency code (three letters, e.g. USD, EUR)", "currency")
    return text.upper()


def parse_period_type(cell: Cell) -> Literal["annual", "quarterly"]:
    text = cell.text().lower()
    if cell.blank:
        raise CellError(
            "the period type is missing; every period column must say annual or quarterly", "missing_period_type"
        )
    if text == "annual":
        return "annual"
    if text == "quarterly":
        return "quarterly"
    if text == "ttm":
        raise CellError(
            "'ttm' cannot be imported: Water computes trailing twelve months from quarterly periods; "
            "write annual or quarterly",
            "period_type",
        )
    raise CellError(f"{shown(cell.text())} is not a period type; write annual or quarterly", "period_type")

"""The template's layout read back from a grid, and every check on the figures.

Rows whose first cell starts with '#' are comments. The first other row is the header: 'line'
in column A, then one fiscal period end per period column (informational columns headed
'label', 'notes', 'units' or 'description' are skipped). The rows 'period_type' and
'currency' give each period column its type and currency. Every other row is a line:
its canonical name or label in column A, its figures in the period columns.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from ..canonical import CANONICAL_LINES, Figure, PeriodType, StatementPeriod
from .grid import Grid
from .model import (
    NON_NEGATIVE_LINES,
    REQUIRED_LINES,
    TEMPLATE_VERSION,
    USUALLY_POSITIVE_LINES,
    ImportIssue,
    column_letter,
    line_label,
)
from .values import CellError, parse_currency, parse_date, parse_number, parse_period_type, shown

INFO_HEADERS = frozenset({"label", "labels", "notes", "note", "units", "unit", "description", "comment", "comments"})
META_ROWS = {"period_type": "period_type", "type": "period_type", "currency": "currency"}
_VERSION = re.compile(r"water statement import template v(\w+)", re.IGNORECASE)


def normalize(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _line_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for line in CANONICAL_LINES:
        names[normalize(line)] = line
        names.setdefault(normalize(line_label(line)), line)
    return names


LINE_NAMES = _line_names()


@dataclass(frozen=True)
class PeriodColumn:
    column: int
    fiscal_date_ending: date
    period_type: PeriodType | None = None
    currency: str | None = None


@dataclass(frozen=True)
class Parsed:
    periods: list[StatementPeriod]
    errors: list[ImportIssue]
    warnings: list[ImportIssue]
    template_version: str | None


def interpret(grid: Grid) -> Parsed:
    """The periods the grid holds, or the errors that reject it (then `periods` is empty)."""
    errors = list(grid.errors)
    warnings = list(grid.warnings)
    version: str | None = None
    if errors:
        return Parsed([], errors, warnings, version)
    if not grid.cells:
        where = f"the sheet '{grid.sheet}'" if grid.sheet else "the file"
        return Parsed([], [grid.issue(f"{where} is empty; fill in the import template", "empty")], warnings, version)

    header_row: int | None = None
    body: list[int] = []
    for row in grid.rows():
        first = grid.get(row, 1).text()
        if first.startswith("#"):
            match = _VERSION.search(first)
            if match and version is None:
                version = match.group(1)
            continue
        if header_row is None:
            header_row = row
        else:
            body.append(row)
    if header_row is None:
        return Parsed([], [grid.issue("no data: the file has only comment rows", "empty")], warnings, version)
    if version is not None and version != TEMPLATE_VERSION:
        warnings.append(
            grid.issue(f"the file says template v{version}; this is v{TEMPLATE_VERSION}", "template_version")
        )
    if normalize(grid.get(header_row, 1).text()) != "line":
        found = grid.get(header_row, 1).text()
        errors.append(
            grid.issue(
                f"the header row must start with 'line' in column A (found {shown(found) if found else 'nothing'}); "
                "start from the import template",
                "header",
                header_row,
                1,
            )
        )
        return Parsed([], errors, warnings, version)

    columns = _period_columns(grid, header_row, body, errors)
    meta_rows, line_rows = _classify_rows(grid, body, columns, errors)
    columns = _apply_meta(grid, header_row, columns, meta_rows, errors)
    _check_duplicates(grid, header_row, columns, errors)
    periods = _figures(grid, columns, line_rows, errors, warnings)
    if errors:
        return Parsed([], errors, warnings, version)
    currencies = sorted({period.currency for period in periods})
    if len(currencies) > 1:
        warnings.append(
            grid.issue(
                f"the periods use more than one currency ({', '.join(currencies)}); Water never converts between them",
                "mixed_currencies",
            )
        )
    periods.sort(key=lambda period: (period.period_type.value, period.fiscal_date_ending))
    return Parsed(periods, [], warnings, version)


def _period_columns(grid: Grid, header_row: int, body: list[int], errors: list[ImportIssue]) -> list[PeriodColumn]:
    columns: list[PeriodColumn] = []
    body_rows = set(body)
    used = {column for row, column in grid.cells if row in body_rows}
    for column in range(2, max(grid.columns()) + 1):
        cell = grid.get(header_row, column)
        if cell.blank:
            if column in used:
                errors.append(
                    grid.issue(
                        f"column {column_letter(column)} has values but no period date in its header; "
                        "write the fiscal period end as YYYY-MM-DD",
                        "missing_period_date",
                        header_row,
                        column,
                    )
                )
            continue
        if normalize(cell.text()) in INFO_HEADERS:
            continue
        try:
            columns.append(PeriodColumn(column, parse_date(cell)))
        except CellError as exc:
            errors.append(grid.issue(exc.reason, exc.type, header_row, column))
    if not columns and not errors:
        errors.append(
            grid.issue(
                "no period columns: put fiscal period end dates (YYYY-MM-DD) in the header row from column C on",
                "no_periods",
                header_row,
            )
        )
    return columns


def _classify_rows(
    grid: Grid, body: list[int], columns: list[PeriodColumn], errors: list[ImportIssue]
) -> tuple[dict[str, int], dict[str, int]]:
    meta_rows: dict[str, int] = {}
    line_rows: dict[str, int] = {}
    period_columns = {period.column for period in columns}
    for row in body:
        name = grid.get(row, 1).text()
        key = normalize(name)
        if not key:
            if any(not grid.get(row, column).blank for column in period_columns):
                errors.append(
                    grid.issue("this row has values but no line name in column A", "missing_line_name", row, 1)
                )
            continue
        if key in META_ROWS:
            target, kind = meta_rows, META_ROWS[key]
        elif key in LINE_NAMES:
            target, kind = line_rows, LINE_NAMES[key]
        else:
            accepted = ", ".join(CANONICAL_LINES)
            errors.append(
                grid.issue(
                    f"unknown line {shown(name)}; the accepted lines are {accepted} (or their labels in the "
                    "template, e.g. 'Revenue'), plus the rows period_type and currency",
                    "unknown_line",
                    row,
                    1,
                )
            )
            continue
        if kind in target:
            errors.append(
                grid.issue(f"the line '{kind}' appears twice (rows {target[kind]} and {row})", "duplicate_line", row, 1)
            )
            continue
        target[kind] = row
    return meta_rows, line_rows


def _apply_meta(
    grid: Grid, header_row: int, columns: list[PeriodColumn], meta_rows: dict[str, int], errors: list[ImportIssue]
) -> list[PeriodColumn]:
    if not columns:
        return columns
    for meta, what in (("period_type", "annual or quarterly"), ("currency", "the ISO 4217 currency code, e.g. USD")):
        if meta not in meta_rows:
            errors.append(
                grid.issue(
                    f"the '{meta}' row is missing; add a row '{meta}' under the header with {what} for every period",
                    f"missing_{meta}_row",
                    header_row,
                )
            )
    result = []
    for period in columns:
        period_type: PeriodType | None = None
        currency: str | None = None
        if "period_type" in meta_rows:
            row = meta_rows["period_type"]
            try:
                period_type = PeriodType(parse_period_type(grid.get(row, period.column)))
            except CellError as exc:
                errors.append(grid.issue(exc.reason, exc.type, row, period.column))
        if "currency" in meta_rows:
            row = meta_rows["currency"]
            try:
                currency = parse_currency(grid.get(row, period.column))
            except CellError as exc:
                errors.append(grid.issue(exc.reason, exc.type, row, period.column))
        result.append(PeriodColumn(period.column, period.fiscal_date_ending, period_type, currency))
    return result


def _check_duplicates(grid: Grid, header_row: int, columns: list[PeriodColumn], errors: list[ImportIssue]) -> None:
    seen: dict[tuple[PeriodType, date], int] = {}
    for period in columns:
        if period.period_type is None:
            continue
        key = (period.period_type, period.fiscal_date_ending)
        if key in seen:
            errors.append(
                grid.issue(
                    f"duplicate period: {period.period_type.value} {period.fiscal_date_ending.isoformat()} is also in "
                    f"column {column_letter(seen[key])}; each period may appear once",
                    "duplicate_period",
                    header_row,
                    period.column,
                )
            )
        else:
            seen[key] = period.column


def _figures(
    grid: Grid,
    columns: list[PeriodColumn],
    line_rows: dict[str, int],
    errors: list[ImportIssue],
    warnings: list[ImportIssue],
) -> list[StatementPeriod]:
    for line in REQUIRED_LINES:
        if line not in line_rows and line in CANONICAL_LINES:
            errors.append(
                grid.issue(
                    f"the required line '{line}' ({line_label(line)}) is missing; add a row for it "
                    "(write 0 where the figure is zero)",
                    "missing_required_line",
                )
            )
    values: dict[int, dict[str, float]] = defaultdict(dict)
    for line, row in line_rows.items():
        for period in columns:
            cell = grid.get(row, period.column)
            try:
                value = parse_number(cell)
            except CellError as exc:
                errors.append(grid.issue(exc.reason, exc.type, row, period.column))
                continue
            if value is None:
                if line in REQUIRED_LINES:
                    errors.append(
                        grid.issue(
                            f"the required line '{line}' has no value for {_period_name(period)}; "
                            "write 0 if the figure is zero",
                            "missing_required_value",
                            row,
                            period.column,
                        )
                    )
                continue
            values[period.column][line] = value
            _check_sign(grid, line, value, row, period, errors, warnings)
    for period in columns:
        _check_balance(grid, period, values[period.column], line_rows, errors)
    periods = []
    for period in columns:
        if period.period_type is None or period.currency is None:
            continue
        figures = {
            line: Figure(value, grid.source(line_rows[line], period.column))
            for line, value in values[period.column].items()
        }
        periods.append(StatementPeriod(period.period_type, period.fiscal_date_ending, period.currency, figures))
    return periods


def _period_name(period: PeriodColumn) -> str:
    kind = f"{period.period_type.value} " if period.period_type else ""
    return f"{kind}{period.fiscal_date_ending.isoformat()}"


def _check_sign(
    grid: Grid,
    line: str,
    value: float,
    row: int,
    period: PeriodColumn,
    errors: list[ImportIssue],
    warnings: list[ImportIssue],
) -> None:
    if line == "shares_outstanding" and value <= 0:
        what = "negative" if value < 0 else "zero"
        errors.append(
            grid.issue(
                f"the share count is {what} ({_amount(value)}); shares outstanding must be a positive number of shares",
                "negative_shares" if value < 0 else "zero_shares",
                row,
                period.column,
            )
        )
    elif line in NON_NEGATIVE_LINES and value < 0:
        errors.append(
            grid.issue(
                f"'{line}' cannot be negative ({_amount(value)}); {CANONICAL_LINES[line].split(': ', 1)[-1]}",
                "negative_value",
                row,
                period.column,
            )
        )
    elif line in USUALLY_POSITIVE_LINES and value < 0:
        warnings.append(
            grid.issue(
                f"'{line}' is negative ({_amount(value)}) for {_period_name(period)}; it is normally positive "
                f"({CANONICAL_LINES[line].split(': ', 1)[-1]}), check the sign",
                "unusual_sign",
                row,
                period.column,
            )
        )


def balance_tolerance(total_assets: float) -> float:
    """How far the balance sheet may be off: 0.5% of total assets, at least 1 unit."""
    return max(0.005 * abs(total_assets), 1.0)


def _check_balance(
    grid: Grid, period: PeriodColumn, values: dict[str, float], line_rows: dict[str, int], errors: list[ImportIssue]
) -> None:
    needed = ("total_assets", "total_liabilities", "book_equity")
    if not all(line in values for line in needed):
        return
    assets = values["total_assets"]
    liabilities = values["total_liabilities"]
    equity = values["book_equity"]
    minority = values.get("minority_interests", 0.0)
    difference = assets - (liabilities + equity + minority)
    tolerance = balance_tolerance(assets)
    if abs(difference) > tolerance:
        errors.append(
            grid.issue(
                f"the balance sheet does not balance for {_period_name(period)}: total assets {_amount(assets)} ≠ "
                f"total liabilities {_amount(liabilities)} + shareholders' equity {_amount(equity)} + minority "
                f"interests {_amount(minority)} = {_amount(liabilities + equity + minority)} (off by "
                f"{_amount(difference)}; the tolerance is {_amount(tolerance)}: 0.5% of total assets, at least 1)",
                "unbalanced_balance_sheet",
                line_rows["total_assets"],
                period.column,
            )
        )


def _amount(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"

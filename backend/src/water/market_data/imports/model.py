"""What an import is made of: the lines it accepts, its limits, its issues and its result.

An issue (error or warning) names where it is: the sheet, the row and the column, shown as an
A1-style cell for XLSX ("cell C7 on sheet 'statements'") and as numbers for CSV
("row 7, column 3 (C)"), plus the reason. Errors reject the whole file (all or nothing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ...errors import InvalidInput
from ..canonical import CANONICAL_LINES, StatementPeriod

TEMPLATE_VERSION = "1"

# Limits. The byte limit is checked before anything is parsed; for XLSX the members of the
# archive are checked (declared uncompressed size, count) before the workbook is opened.
MAX_BYTES = 2_000_000
MAX_UNCOMPRESSED_BYTES = 20_000_000
MAX_ARCHIVE_MEMBERS = 500
MAX_ROWS = 500  # up to the last non-blank row (trailing blank rows are fine)
MAX_COLUMNS = 200  # up to the last non-blank column: A (line), B (label) and the periods
MAX_REPORTED_ERRORS = 100

# Every line must have a value in every period for these (write 0 where the figure is zero):
# enough for a free-cash-flow DCF (EBIT, tax rate, reinvestment), the equity bridge and a
# balance-sheet check.
REQUIRED_LINES: tuple[str, ...] = (
    "revenue",
    "ebit",
    "depreciation_amortization",
    "pretax_income",
    "income_tax",
    "capex",
    "change_in_working_capital",
    "cash",
    "total_debt",
    "book_equity",
    "total_assets",
    "total_liabilities",
    "shares_outstanding",
)

# Human labels, accepted in column A as well as the canonical names.
LINE_LABELS: dict[str, str] = {
    "revenue": "Revenue",
    "ebit": "Operating income (EBIT)",
    "depreciation_amortization": "Depreciation and amortization",
    "interest_expense": "Interest expense",
    "pretax_income": "Income before tax",
    "income_tax": "Income tax expense",
    "net_income": "Net income to common",
    "rnd_expense": "Research and development expense",
    "capex": "Capital expenditures",
    "change_in_working_capital": "Increase in working capital",
    "operating_cash_flow": "Cash flow from operations",
    "dividends_paid": "Dividends paid",
    "cash": "Cash and short-term investments",
    "total_debt": "Total debt",
    "lease_liabilities": "Lease liabilities",
    "minority_interests": "Minority interests",
    "preferred_equity": "Preferred equity",
    "book_equity": "Shareholders' equity",
    "total_assets": "Total assets",
    "total_liabilities": "Total liabilities",
    "current_assets": "Current assets",
    "current_liabilities": "Current liabilities",
    "retained_earnings": "Retained earnings",
    "shares_outstanding": "Shares outstanding",
}

# The template's sections, in order. A canonical line not listed here lands in "Other".
SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Income statement (flows for the period)",
        (
            "revenue",
            "ebit",
            "depreciation_amortization",
            "interest_expense",
            "pretax_income",
            "income_tax",
            "net_income",
            "rnd_expense",
        ),
    ),
    (
        "Cash flow (flows for the period)",
        ("capex", "change_in_working_capital", "operating_cash_flow", "dividends_paid"),
    ),
    (
        "Balance sheet (stocks at the period end)",
        (
            "cash",
            "total_debt",
            "lease_liabilities",
            "minority_interests",
            "preferred_equity",
            "book_equity",
            "total_assets",
            "total_liabilities",
            "current_assets",
            "current_liabilities",
            "retained_earnings",
        ),
    ),
    ("Shares (a count, never converted)", ("shares_outstanding",)),
)

# Stocks that cannot be negative (an error), and amounts that are normally positive (a warning).
NON_NEGATIVE_LINES = frozenset(
    {
        "cash",
        "total_debt",
        "lease_liabilities",
        "total_assets",
        "total_liabilities",
        "current_assets",
        "current_liabilities",
    }
)
USUALLY_POSITIVE_LINES = frozenset(
    {"revenue", "depreciation_amortization", "interest_expense", "capex", "dividends_paid", "rnd_expense"}
)


def line_label(line: str) -> str:
    return LINE_LABELS.get(line) or line.replace("_", " ").capitalize()


def template_sections() -> list[tuple[str, list[str]]]:
    """The sections of the template with every canonical line exactly once."""
    listed: set[str] = set()
    sections: list[tuple[str, list[str]]] = []
    for title, lines in SECTIONS:
        present = [line for line in lines if line in CANONICAL_LINES]
        listed.update(present)
        sections.append((title, present))
    other = [line for line in CANONICAL_LINES if line not in listed]
    if other:
        sections.append(("Other", other))
    return sections


def column_letter(column: int) -> str:
    letters = ""
    while column > 0:
        column, rest = divmod(column - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


FileFormat = Literal["csv", "xlsx"]


@dataclass(frozen=True)
class ImportIssue:
    """One error or warning: where (sheet, 1-based row and column) and why."""

    reason: str
    type: str
    format: FileFormat | None = None
    sheet: str | None = None
    row: int | None = None
    column: int | None = None

    @property
    def cell(self) -> str | None:
        if self.row is None or self.column is None:
            return None
        return f"{column_letter(self.column)}{self.row}"

    @property
    def where(self) -> str:
        if self.row is None and self.column is None:
            return "file"
        if self.format == "xlsx":
            sheet = f" on sheet '{self.sheet}'" if self.sheet else ""
            if self.cell:
                return f"cell {self.cell}{sheet}"
            if self.row is not None:
                return f"row {self.row}{sheet}"
            return f"column {column_letter(self.column or 0)}{sheet}"
        parts = []
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column is not None:
            parts.append(f"column {self.column} ({column_letter(self.column)})")
        return ", ".join(parts)

    @property
    def message(self) -> str:
        where = self.where
        return self.reason if where == "file" else f"{where[0].upper()}{where[1:]}: {self.reason}"

    def loc(self) -> list[str]:
        loc = ["file"]
        if self.format == "xlsx":
            if self.sheet:
                loc.append(self.sheet)
            if self.cell:
                loc.append(self.cell)
            elif self.row is not None:
                loc.append(f"row {self.row}")
            elif self.column is not None:
                loc.append(f"column {column_letter(self.column)}")
        else:
            if self.row is not None or self.column is not None:
                loc.append("csv")
            if self.row is not None:
                loc.append(f"row {self.row}")
            if self.column is not None:
                loc.append(f"column {self.column}")
        return loc

    def to_dict(self) -> dict[str, Any]:
        """The problem-details `errors` item: loc, msg and type, plus the structured location."""
        return {
            "loc": self.loc(),
            "msg": self.message,
            "type": self.type,
            "sheet": self.sheet,
            "row": self.row,
            "column": self.column,
            "cell": self.cell,
        }


class ImportValidationError(InvalidInput):
    """The file was rejected; nothing was imported. `issues` has every problem found."""

    code = "import_invalid"
    title = "Import rejected"

    def __init__(self, issues: list[ImportIssue]) -> None:
        self.issues = list(issues)
        shown = self.issues[:MAX_REPORTED_ERRORS]
        errors = [issue.to_dict() for issue in shown]
        if len(self.issues) > len(shown):
            more = len(self.issues) - len(shown)
            errors.append({"loc": ["file"], "msg": f"... and {more} more problems", "type": "truncated"})
        count = len(self.issues)
        noun = "problem" if count == 1 else "problems"
        first = self.issues[0].message if self.issues else "unknown problem"
        super().__init__(f"The file was rejected ({count} {noun}); nothing was imported. {first}", errors=errors)


@dataclass(frozen=True)
class ImportResult:
    """A valid import: the periods (sorted by type and date) and the warnings worth a look."""

    periods: list[StatementPeriod]
    format: FileFormat
    warnings: list[ImportIssue] = field(default_factory=list)
    template_version: str | None = None

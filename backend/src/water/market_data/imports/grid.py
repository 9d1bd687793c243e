"""The file as a sparse grid of cells, read from CSV or from one sheet of an XLSX workbook.

Only non-blank cells are kept. The row and column limits are applied while reading, so a
file with a million rows stops being read at the first non-blank row past the limit;
trailing blank rows and columns are fine.
"""

from __future__ import annotations

import csv
import io
import warnings
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from openpyxl import load_workbook
from openpyxl.worksheet._read_only import ReadOnlyWorksheet
from openpyxl.worksheet._reader import WorkSheetParser

from .model import MAX_COLUMNS, MAX_ROWS, FileFormat, ImportIssue, column_letter
from .sniff import SAVE_AS_CSV, SAVE_AS_XLSX, Rejected, reject
from .values import EMPTY, Cell

DATA_SHEET = "statements"
INSTRUCTIONS_SHEET = "instructions"


@dataclass
class Grid:
    format: FileFormat
    sheet: str | None
    cells: dict[tuple[int, int], Cell] = field(default_factory=dict)
    errors: list[ImportIssue] = field(default_factory=list)
    warnings: list[ImportIssue] = field(default_factory=list)

    def get(self, row: int, column: int) -> Cell:
        return self.cells.get((row, column), EMPTY)

    def rows(self) -> list[int]:
        return sorted({row for row, _ in self.cells})

    def columns(self) -> list[int]:
        return sorted({column for _, column in self.cells})

    def issue(self, reason: str, type: str, row: int | None = None, column: int | None = None) -> ImportIssue:
        return ImportIssue(reason, type, format=self.format, sheet=self.sheet, row=row, column=column)

    def source(self, row: int, column: int) -> str:
        """The provenance of a figure: import:statements!C7 or import:csv!row 7 col C."""
        if self.format == "xlsx":
            return f"import:{self.sheet}!{column_letter(column)}{row}"
        return f"import:csv!row {row} col {column_letter(column)}"

    def add(self, row: int, column: int, cell: Cell) -> bool:
        """Keep a non-blank cell; False (with the error) once a limit is passed."""
        if cell.blank:
            return True
        if row > MAX_ROWS:
            self.errors.append(
                self.issue(
                    f"too many rows: the limit is {MAX_ROWS} (a statement has about 30 lines)", "too_many_rows", row=row
                )
            )
            return False
        if column > MAX_COLUMNS:
            self.errors.append(
                self.issue(
                    f"too many columns: the limit is {MAX_COLUMNS} (the line, its label and {MAX_COLUMNS - 2} periods)",
                    "too_many_columns",
                    row=row,
                    column=column,
                )
            )
            return False
        self.cells[(row, column)] = cell
        return True


def read_csv(text: str) -> Grid:
    grid = Grid("csv", None)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    row = 0
    try:
        for row, record in enumerate(reader, start=1):
            if any(record) and not _add_csv_row(grid, row, record):
                break
    except csv.Error as exc:
        grid.errors.append(grid.issue(f"the CSV is malformed ({exc}); check the quotes", "malformed_csv", row=row + 1))
        return grid
    _check_delimiter(grid)
    return grid


def _add_csv_row(grid: Grid, row: int, record: list[str]) -> bool:
    for column, value in enumerate(record, start=1):
        if value and not value.isspace() and not grid.add(row, column, Cell("text", value)):
            return False
    return True


def _check_delimiter(grid: Grid) -> None:
    """Refuse ';'- and tab-separated files: their numbers use a locale we will not guess."""
    for row in grid.rows():
        first = grid.get(row, 1).text()
        if first.startswith("#"):
            continue
        if any(column > 1 for r, column in grid.cells if r == row):
            return
        for separator, name in ((";", "';' (semicolon)"), ("\t", "a tab")):
            if separator in first:
                raise reject(
                    f"the file uses {name} as the separator; Water reads comma-separated files only, because "
                    "';'-separated exports write numbers with a decimal comma that cannot be told apart from a "
                    f"thousands separator. {SAVE_AS_CSV} with '.' as the decimal mark, or upload the .xlsx",
                    "delimiter",
                    format="csv",
                    row=row,
                )
        return


def read_xlsx(content: bytes) -> Grid:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=False, keep_links=False)
        except Rejected:
            raise
        except Exception as exc:
            raise reject(
                f"the workbook could not be read ({type(exc).__name__}: {exc}); {SAVE_AS_XLSX} again",
                "damaged_workbook",
                format="xlsx",
            ) from None
        try:
            return _read_sheet(workbook)
        except Rejected:
            raise
        except Exception as exc:
            raise reject(
                f"the workbook could not be read ({type(exc).__name__}: {exc}); {SAVE_AS_XLSX} again",
                "damaged_workbook",
                format="xlsx",
            ) from None
        finally:
            workbook.close()


def _read_sheet(workbook: Any) -> Grid:
    names: list[str] = list(workbook.sheetnames)
    chosen = next((name for name in names if name.strip().lower() == DATA_SHEET), None)
    others = [name for name in names if name.strip().lower() != INSTRUCTIONS_SHEET]
    if chosen is None:
        if len(others) != 1:
            listed = ", ".join(f"'{name}'" for name in names) or "none"
            raise reject(
                f"the workbook has the sheets {listed}; put the data on a sheet named '{DATA_SHEET}'",
                "no_data_sheet",
                format="xlsx",
            )
        chosen = others[0]
    sheet = workbook[chosen]
    if not isinstance(sheet, ReadOnlyWorksheet):
        raise reject(f"'{chosen}' is a chart sheet, not a worksheet", "no_data_sheet", format="xlsx")
    grid = Grid("xlsx", chosen)
    ignored = [name for name in others if name != chosen]
    if ignored:
        grid.warnings.append(
            grid.issue(f"only the sheet '{chosen}' was read; ignored: {', '.join(ignored)}", "ignored_sheets")
        )
    # The parser yields only the cells present in the XML (iter_rows would pad every row out to
    # the widest column, which a hostile file can set to XFD).
    with sheet._get_source() as source:  # type: ignore[attr-defined]
        parser = WorkSheetParser(
            source,
            sheet._shared_strings,  # type: ignore[attr-defined]
            data_only=False,
            epoch=workbook.epoch,
            date_formats=workbook._date_formats,
            timedelta_formats=workbook._timedelta_formats,
        )
        for _, cells in parser.parse():
            for raw in cells:
                if not grid.add(raw["row"], raw["column"], _cell(raw["value"], raw["data_type"])):
                    return grid
    return grid


def _cell(value: Any, data_type: str) -> Cell:
    if value is None:
        return EMPTY
    if data_type == "f":
        text = value if isinstance(value, str) else getattr(value, "text", None) or "=(table formula)"
        return Cell("formula", str(text), formula=str(text))
    if data_type == "e":
        return Cell("error", str(value))
    if data_type == "b":
        return Cell("bool", bool(value))
    if isinstance(value, datetime):
        return Cell("date", value)
    if isinstance(value, date):
        return Cell("date", datetime(value.year, value.month, value.day))
    if isinstance(value, bool):
        return Cell("bool", value)
    if isinstance(value, int | float):
        return Cell("number", float(value))
    if isinstance(value, str):
        return Cell("text", value)
    return Cell("text", str(value))  # a time or a duration: refused as text by the readers

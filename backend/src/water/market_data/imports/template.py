"""The import template, as CSV and as XLSX: lines as rows, periods as columns.

Both have the same grid (the XLSX on the sheet 'statements', with an 'instructions' sheet
beside it that the import ignores):

    # comment rows (ignored)
    line         | label                    | YYYY-MM-DD | YYYY-MM-DD | ...
    period_type  | annual or quarterly      | annual     | annual     |
    currency     | ISO 4217 code            | USD        | USD        |
    # Income statement (flows for the period)
    revenue      | Revenue [required] ...   |            |            |
    ...
"""

from __future__ import annotations

import csv
import io

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation

from ..canonical import CANONICAL_LINES
from .grid import DATA_SHEET, INSTRUCTIONS_SHEET
from .model import (
    MAX_BYTES,
    MAX_COLUMNS,
    MAX_ROWS,
    REQUIRED_LINES,
    TEMPLATE_VERSION,
    line_label,
    template_sections,
)

PLACEHOLDER_PERIODS = 3
PLACEHOLDER_DATE = "YYYY-MM-DD"
TITLE = f"# Water statement import template v{TEMPLATE_VERSION}"

INSTRUCTIONS: tuple[str, ...] = (
    "Lines are rows, periods are columns. Rows whose first cell starts with # are ignored.",
    "Column A: the line's name (keep it as it is; the label also works). Column B: label, units, "
    "required or optional; ignored on import. Columns C onwards: one column per period.",
    "Row 'line': the fiscal period end as YYYY-MM-DD (e.g. 2023-12-31). Row 'period_type': annual or "
    "quarterly, for every column (annual and quarterly columns may be mixed). Row 'currency': the "
    "ISO 4217 code of the statement currency, e.g. USD.",
    "Money in units of the statement currency, not thousands or millions: 1250000 or 1,250,000 or 1.25e6. "
    "Negatives as -5 or (5). Share counts in shares.",
    "Signs: capex, interest expense, dividends paid and D&A are positive amounts (capex positive = spending); "
    "change in working capital is positive when it absorbs cash.",
    "Required lines need a value in every period (write 0 for zero). Optional lines may be left empty. "
    "n/a, dashes and other text are rejected; so are formulas (paste values).",
    "The balance sheet must balance: total assets = total liabilities + shareholders' equity + minority "
    "interests, within 0.5% of total assets.",
    f"Limits: {MAX_BYTES // 1_000_000} MB, {MAX_ROWS} rows, {MAX_COLUMNS} columns. CSV must be saved as "
    "CSV UTF-8 (comma delimited). Any error rejects the whole file; nothing is imported.",
)


def _label(line: str) -> str:
    need = "required" if line in REQUIRED_LINES else "optional"
    return f"{line_label(line)} [{need}]: {CANONICAL_LINES[line]}"


def template_rows() -> list[list[str]]:
    """The template's grid, shared by the CSV and the XLSX."""
    blanks = [""] * PLACEHOLDER_PERIODS
    rows: list[list[str]] = [[TITLE]]
    rows += [[f"# {text}"] for text in INSTRUCTIONS]
    rows.append(["line", "label", *[PLACEHOLDER_DATE] * PLACEHOLDER_PERIODS])
    rows.append(["period_type", "annual or quarterly", *["annual"] * PLACEHOLDER_PERIODS])
    rows.append(["currency", "ISO 4217 code of the statement currency", *["USD"] * PLACEHOLDER_PERIODS])
    for title, lines in template_sections():
        rows.append([f"# {title}"])
        rows += [[line, _label(line), *blanks] for line in lines]
    return rows


def template_csv() -> bytes:
    """The CSV template, UTF-8 with a byte-order mark (so that Excel opens it as UTF-8)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    width = 2 + PLACEHOLDER_PERIODS
    for row in template_rows():
        writer.writerow(row + [""] * (width - len(row)) if not row[0].startswith("#") else row)
    return buffer.getvalue().encode("utf-8-sig")


def template_xlsx() -> bytes:
    """The XLSX template: the grid on 'statements', the instructions on 'instructions'."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = DATA_SHEET
    comment_font = Font(italic=True, color="666666")
    bold = Font(bold=True)
    input_fill = PatternFill("solid", fgColor="FFF7E0")
    header_row = 0
    for index, row in enumerate(template_rows(), start=1):
        for column, value in enumerate(row, start=1):
            sheet.cell(index, column, value)
        first = row[0]
        if first.startswith("#"):
            sheet.cell(index, 1).font = comment_font if index > 1 else Font(bold=True, size=13)
        elif first == "line":
            header_row = index
            for column in range(1, 3 + PLACEHOLDER_PERIODS):
                sheet.cell(index, column).font = bold
        if not first.startswith("#"):
            for column in range(3, 3 + PLACEHOLDER_PERIODS):
                cell = sheet.cell(index, column)
                cell.fill = input_fill
                if first == "line":
                    cell.number_format = "yyyy-mm-dd"
                elif first not in {"period_type", "currency"}:
                    cell.number_format = "#,##0;(#,##0)"
    sheet.column_dimensions["A"].width = 28
    sheet.column_dimensions["B"].width = 70
    for letter in "CDEFGHIJKL":
        sheet.column_dimensions[letter].width = 16
    sheet.freeze_panes = f"C{header_row + 3}"
    period_types = DataValidation(type="list", formula1='"annual,quarterly"', allow_blank=True)
    period_types.add(f"C{header_row + 1}:GR{header_row + 1}")
    sheet.add_data_validation(period_types)

    notes = workbook.create_sheet(INSTRUCTIONS_SHEET)
    notes.column_dimensions["A"].width = 120
    notes.cell(1, 1, TITLE.lstrip("# ")).font = Font(bold=True, size=13)
    texts = [
        *INSTRUCTIONS,
        "",
        f"Fill in the sheet '{DATA_SHEET}'. This sheet is ignored on import.",
        "Required lines: " + ", ".join(line for line in REQUIRED_LINES if line in CANONICAL_LINES) + ".",
        "Optional lines: " + ", ".join(line for line in CANONICAL_LINES if line not in REQUIRED_LINES) + ".",
        "Numbers typed as text may use thousands separators in groups of three (1,234,567.89), parentheses "
        "for negatives ((1,234)) and scientific notation (1.2e6).",
    ]
    for index, text in enumerate(texts, start=2):
        notes.cell(index, 1, text).alignment = Alignment(wrap_text=True, vertical="top")
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()

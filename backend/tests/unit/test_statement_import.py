"""Private-company statement imports: the template round trip and every malformed file.

Pure parsing: no database. Each rejection asserts the exact location (cell or row/column),
a readable reason, and that nothing was returned (all or nothing).
"""

from __future__ import annotations

import csv
import io
import struct
import time
import zipfile
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook

from water.errors import InvalidInput, problem
from water.market_data.canonical import CANONICAL_LINES, Figure, PeriodType, StatementPeriod
from water.market_data.imports import (
    LINE_LABELS,
    MAX_COLUMNS,
    MAX_ROWS,
    REQUIRED_LINES,
    TEMPLATE_VERSION,
    ImportResult,
    ImportValidationError,
    parse_statement_import,
    template_csv,
    template_xlsx,
)

Value = str | float | int | date | datetime | None
Rows = list[list[Value]]

PERIODS = ("2022-12-31", "2023-12-31")
BASE: dict[str, list[Value]] = {
    "revenue": [1000, 1100],
    "ebit": [200, 230],
    "depreciation_amortization": [50, 55],
    "interest_expense": [20, None],  # optional: blank is fine
    "pretax_income": [180, 210],
    "income_tax": [45, 52],
    "capex": [70, 80],
    "change_in_working_capital": [10, 12],
    "cash": [300, 350],
    "total_debt": [400, 380],
    "book_equity": [900, 1000],
    "total_assets": [2000, 2150],
    "total_liabilities": [1050, 1100],
    "minority_interests": [50, 50],
    "shares_outstanding": [1_000_000, 1_010_000],
}


# --- building files from the template -------------------------------------------------------------


def template_grid() -> Rows:
    text = template_csv().decode("utf-8-sig")
    return [list(row) for row in csv.reader(io.StringIO(text, newline=""))]


def row_of(rows: Rows, first: str) -> int:
    """The 1-based row whose column A is `first`."""
    return next(index for index, row in enumerate(rows, start=1) if row and row[0] == first)


def filled(
    periods: Sequence[Value] = PERIODS,
    values: Mapping[str, Sequence[Value]] | None = None,
    *,
    types: Sequence[Value] | None = None,
    currencies: Sequence[Value] | None = None,
) -> Rows:
    """The template with the periods in columns C onwards and the values filled in."""
    rows = template_grid()
    values = BASE if values is None else values
    types = ["annual"] * len(periods) if types is None else types
    currencies = ["USD"] * len(periods) if currencies is None else currencies
    out: Rows = []
    for row in rows:
        if not row or str(row[0]).startswith("#"):
            out.append(list(row))
            continue
        head = list(row[:2])
        key = row[0]
        if key == "line":
            out.append([*head, *periods])
        elif key == "period_type":
            out.append([*head, *types])
        elif key == "currency":
            out.append([*head, *currencies])
        else:
            out.append([*head, *values.get(str(key), [None] * len(periods))])
    return out


def set_cell(rows: Rows, row: int, column: int, value: Value) -> Rows:
    """Set a 1-based cell, growing the grid as needed."""
    while len(rows) < row:
        rows.append([])
    line = rows[row - 1]
    while len(line) < column:
        line.append(None)
    line[column - 1] = value
    return rows


def csv_bytes(rows: Rows, *, bom: bool = False, delimiter: str = ",") -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    for row in rows:
        writer.writerow(["" if value is None else value for value in row])
    return buffer.getvalue().encode("utf-8-sig" if bom else "utf-8")


def to_cell(value: Value) -> Value:
    """As an analyst would type it into Excel: numbers as numbers, ISO dates as dates."""
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return value
    return value


def xlsx_bytes(rows: Rows, *, sheet: str = "statements", extra_sheets: Sequence[str] = ()) -> bytes:
    workbook = Workbook()
    ws = workbook.active
    assert ws is not None
    ws.title = sheet
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row, start=1):
            if value is not None:
                ws.cell(r, c, to_cell(value))
    for name in extra_sheets:
        workbook.create_sheet(name)["A1"] = "anything"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def rejected(filename: str, content: bytes, **kwargs: Any) -> list[dict[str, Any]]:
    """The error items of a rejected import (and the proof that nothing came back)."""
    result: ImportResult | None = None
    with pytest.raises(ImportValidationError) as caught:
        result = parse_statement_import(filename, content, **kwargs)
    assert result is None
    error = caught.value
    assert isinstance(error, InvalidInput)
    assert error.status == 422
    assert error.code == "import_invalid"
    assert "nothing was imported" in error.detail
    errors: list[dict[str, Any]] = error.extra["errors"]
    assert errors
    assert len(errors) == min(len(error.issues), 100) + (len(error.issues) > 100)
    return errors


def only(errors: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(errors) == 1, [e["msg"] for e in errors]
    return errors[0]


def expected_periods(source: str, rows: Rows) -> list[StatementPeriod]:
    periods = []
    for index, day in enumerate(PERIODS):
        column = "CD"[index]
        figures = {}
        for line, values in BASE.items():
            value = values[index]
            if value is None:
                continue
            row = row_of(rows, line)
            where = f"{column}{row}" if source == "statements" else f"row {row} col {column}"
            assert isinstance(value, int | float)
            figures[line] = Figure(float(value), f"import:{source}!{where}")
        periods.append(StatementPeriod(PeriodType.annual, date.fromisoformat(day), "USD", figures))
    return periods


# --- the template -------------------------------------------------------------------------------------


def test_csv_template_round_trips() -> None:
    rows = filled()
    result = parse_statement_import("acme.csv", csv_bytes(rows, bom=True))
    assert result.format == "csv"
    assert result.template_version == TEMPLATE_VERSION
    assert result.warnings == []
    assert result.periods == expected_periods("csv", rows)
    assert result.periods[0].figures["revenue"].source == f"import:csv!row {row_of(rows, 'revenue')} col C"


def test_xlsx_template_round_trips() -> None:
    """Fill the generated XLSX itself (dates typed as dates, numbers as numbers) and read it back."""
    rows = template_grid()
    workbook = load_workbook(io.BytesIO(template_xlsx()))
    ws = workbook["statements"]
    header = row_of(rows, "line")
    assert ws.cell(header, 1).value == "line"
    for index, day in enumerate(PERIODS):
        column = 3 + index
        ws.cell(header, column, datetime.fromisoformat(day))
        for line, values in BASE.items():
            ws.cell(row_of(rows, line), column, values[index])
    ws.cell(header, 5).value = None  # the third placeholder period, unused: a trailing blank column
    for row in range(header + 1, ws.max_row + 1):
        if ws.cell(row, 5).value in {"annual", "USD"}:
            ws.cell(row, 5).value = None
    buffer = io.BytesIO()
    workbook.save(buffer)
    result = parse_statement_import("acme.xlsx", buffer.getvalue())
    assert result.format == "xlsx"
    assert result.template_version == TEMPLATE_VERSION
    assert result.warnings == []  # the instructions sheet is ignored silently
    assert result.periods == expected_periods("statements", rows)
    assert result.periods[1].figures["total_assets"].source == f"import:statements!D{row_of(rows, 'total_assets')}"


def test_template_lists_every_canonical_line_once_with_required_marked() -> None:
    rows = template_grid()
    lines = [row[0] for row in rows if row and row[0] in CANONICAL_LINES]
    assert sorted(lines) == sorted(CANONICAL_LINES)
    for row in rows:
        if row and row[0] in CANONICAL_LINES:
            assert ("[required]" in str(row[1])) == (row[0] in REQUIRED_LINES)
            assert CANONICAL_LINES[str(row[0])] in str(row[1])
    assert template_csv().startswith(b"\xef\xbb\xbf# Water statement import template v" + TEMPLATE_VERSION.encode())
    text = template_csv().decode("utf-8-sig")
    for needle in ("YYYY-MM-DD", "annual or quarterly", "ISO 4217", "not thousands", "(5)", "1.25e6", "UTF-8"):
        assert needle in text


def test_xlsx_template_has_the_grid_and_the_instructions() -> None:
    workbook = load_workbook(io.BytesIO(template_xlsx()))
    assert workbook.sheetnames == ["statements", "instructions"]
    ws = workbook["statements"]
    assert [row[0] for row in ws.iter_rows(values_only=True)] == [row[0] for row in template_grid()]
    notes = "\n".join(str(row[0]) for row in workbook["instructions"].iter_rows(values_only=True) if row[0])
    assert "Required lines: revenue, ebit" in notes
    assert "1,234,567.89" in notes


def test_every_line_has_a_label_and_required_lines_are_canonical() -> None:
    assert set(LINE_LABELS) == set(CANONICAL_LINES)
    assert set(REQUIRED_LINES) <= set(CANONICAL_LINES)
    assert {"revenue", "ebit", "shares_outstanding", "cash", "total_debt", "book_equity"} <= set(REQUIRED_LINES)


def test_the_unfilled_template_is_rejected_at_its_placeholder_dates() -> None:
    rows = template_grid()
    header = row_of(rows, "line")
    errors = rejected("template.csv", template_csv())
    assert [e["loc"] for e in errors] == [["file", "csv", f"row {header}", f"column {c}"] for c in (3, 4, 5)]
    assert errors[0]["msg"] == (
        f"Row {header}, column 3 (C): 'YYYY-MM-DD' is not a date; write the fiscal period end as YYYY-MM-DD, "
        "e.g. 2023-12-31"
    )


# --- accepted variations ------------------------------------------------------------------------------


def test_annual_and_quarterly_may_be_mixed_when_every_column_says_which() -> None:
    values = {line: [*v, v[0]] for line, v in BASE.items()}
    rows = filled(("2023-12-31", "2023-09-30", "2022-12-31"), values, types=("annual", "Quarterly", "annual"))
    result = parse_statement_import("mixed.csv", csv_bytes(rows))
    assert [(p.period_type, p.fiscal_date_ending.isoformat()) for p in result.periods] == [
        (PeriodType.annual, "2022-12-31"),
        (PeriodType.annual, "2023-12-31"),
        (PeriodType.quarterly, "2023-09-30"),
    ]


def test_same_date_as_annual_and_quarterly_is_not_a_duplicate() -> None:
    rows = filled(("2023-12-31", "2023-12-31"), types=("annual", "quarterly"))
    result = parse_statement_import("a.csv", csv_bytes(rows))
    assert {p.period_type for p in result.periods} == {PeriodType.annual, PeriodType.quarterly}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1234", 1234.0),
        ("1,234,567.5", 1234567.5),
        ("(1,234)", -1234.0),
        ("( 12.5 )", -12.5),
        ("1.2e6", 1_200_000.0),
        ("1.2E+06", 1_200_000.0),
        ("-5", -5.0),
        ("+5", 5.0),
        ("\u22125", -5.0),
        ("  42  ", 42.0),
        (".5", 0.5),
        ("0", 0.0),
    ],
)
def test_accepted_number_formats(text: str, value: float) -> None:
    values: dict[str, list[Value]] = {**BASE, "retained_earnings": [text, None]}
    result = parse_statement_import("a.csv", csv_bytes(filled(values=values)))
    assert result.periods[0].value("retained_earnings") == value


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("n/a", "'n/a' is not a number: leave the cell empty if the figure is not reported, or write 0 if it is zero"),
        ("N/A", "'N/A' is not a number: leave the cell empty"),
        ("-", "'-' is not a number: leave the cell empty"),
        ("$1,000", "'$1,000' is not a number: remove the currency symbol"),
        ("12%", "'12%' is not a number: percentages are not accepted"),
        ("1.2M", "'1.2M' is not a number: write the full amount in units (e.g. 1.2e6 for 1.2 million)"),
        ("1,5", "'1,5' is not a number: it looks like a European number format"),
        ("1.234.567,89", "'1.234.567,89' is not a number: it looks like a European number format"),
        ("1 234", "'1 234' is not a number: write digits with '.' for decimals"),
        ("12,34,567", "'12,34,567' is not a number: write digits with '.' for decimals"),
        ("about 5", "'about 5' is not a number"),
        ("1e999", "'1e999' is too large to be a number"),
        ("=C14*1.1", "contains a formula ('=C14*1.1'); paste values instead"),
        ("(-5)", "'(-5)' is not a number"),
    ],
)
def test_non_numeric_cells_are_named_with_their_text(text: str, reason: str) -> None:
    rows = filled(values={**BASE, "revenue": [1000, text]})
    error = only(rejected("a.csv", csv_bytes(rows)))
    row = row_of(rows, "revenue")
    assert error["loc"] == ["file", "csv", f"row {row}", "column 4"]
    assert error["msg"].startswith(f"Row {row}, column 4 (D): {reason}")


def test_labels_work_instead_of_canonical_names_and_trailing_blanks_are_fine() -> None:
    rows = filled()
    rows[row_of(rows, "revenue") - 1][0] = "Revenue"
    rows[row_of(rows, "ebit") - 1][0] = "  operating income (EBIT) "
    rows += [[None] * 8 for _ in range(50)]  # trailing blank rows
    for row in rows:
        row += [None, None, "  "]  # trailing blank columns
    result = parse_statement_import("a.csv", csv_bytes(rows))
    assert result.periods[0].value("revenue") == 1000.0
    assert result.periods[0].value("ebit") == 200.0


@pytest.mark.parametrize(
    ("text", "day"), [("12/31/2023", "2023-12-31"), ("31.12.2023", "2023-12-31"), ("2023/6/30", "2023-06-30")]
)
def test_unambiguous_non_iso_dates_are_read(text: str, day: str) -> None:
    rows = filled((text, "2020-12-31"))
    result = parse_statement_import("a.csv", csv_bytes(rows))
    assert date.fromisoformat(day) in {p.fiscal_date_ending for p in result.periods}


def test_lowercase_currency_is_upper_cased_and_mixed_currencies_warn() -> None:
    result = parse_statement_import("a.csv", csv_bytes(filled(currencies=("eur", "USD"))))
    assert [p.currency for p in result.periods] == ["EUR", "USD"]
    assert [w.type for w in result.warnings] == ["mixed_currencies"]
    assert "EUR, USD" in result.warnings[0].message


def test_unusual_signs_warn_without_rejecting() -> None:
    rows = filled(values={**BASE, "capex": [-70, 80]})
    result = parse_statement_import("a.csv", csv_bytes(rows))
    assert result.periods[0].value("capex") == -70.0
    (warning,) = result.warnings
    assert warning.type == "unusual_sign"
    assert warning.cell == f"C{row_of(rows, 'capex')}"
    assert "'capex' is negative (-70) for annual 2022-12-31" in warning.message


def test_balance_within_tolerance_is_accepted() -> None:
    # 2000 vs 1050 + 900 + 50 + 9 = 2009: off by 9, tolerance 0.5% of 2000 = 10.
    rows = filled(values={**BASE, "total_liabilities": [1059, 1100]})
    assert parse_statement_import("a.csv", csv_bytes(rows)).periods


def test_a_single_sheet_with_another_name_is_read() -> None:
    result = parse_statement_import("a.xlsx", xlsx_bytes(filled(), sheet="Sheet1", extra_sheets=["Instructions"]))
    assert len(result.periods) == 2


def test_other_sheets_are_ignored_with_a_warning() -> None:
    result = parse_statement_import("a.xlsx", xlsx_bytes(filled(), extra_sheets=["workings"]))
    assert [w.message for w in result.warnings] == ["only the sheet 'statements' was read; ignored: workings"]


# --- encodings and file types ------------------------------------------------------------------------


def test_utf8_with_and_without_bom_and_accented_labels() -> None:
    rows = filled()
    rows[row_of(rows, "revenue") - 1][1] = "Chiffre d'affaires (é, ü, ñ)"
    for bom in (False, True):
        assert len(parse_statement_import("a.csv", csv_bytes(rows, bom=bom)).periods) == 2


@pytest.mark.parametrize(
    ("encoding", "reason"),
    [
        ("utf-16", "the file is encoded as UTF-16 (little-endian, as Excel's 'Unicode Text' writes it), not UTF-8"),
        ("utf-16-be-bom", "the file is encoded as UTF-16 (big-endian), not UTF-8"),
        ("utf-16-le", "the file looks like UTF-16 (little-endian, without a byte-order mark), not UTF-8"),
        ("utf-16-be", "the file looks like UTF-16 (big-endian, without a byte-order mark), not UTF-8"),
        ("utf-32", "the file is encoded as UTF-32, not UTF-8"),
    ],
)
def test_utf16_and_utf32_are_refused_with_the_fix(encoding: str, reason: str) -> None:
    text = csv_bytes(filled()).decode()
    content = b"\xfe\xff" + text.encode("utf-16-be") if encoding == "utf-16-be-bom" else text.encode(encoding)
    if encoding == "utf-16":
        assert content.startswith(b"\xff\xfe")
    error = only(rejected("a.csv", content))
    assert error["loc"] == ["file"]
    assert error["type"] == "encoding"
    assert error["msg"] == f"{reason}; save it as 'CSV UTF-8 (Comma delimited) (*.csv)'"


def test_latin1_is_refused_naming_the_row_and_the_byte() -> None:
    rows = filled()
    rows[row_of(rows, "revenue") - 1][1] = "Chiffre d'affaires (é)"
    content = csv_bytes(rows).decode().encode("latin-1")
    error = only(rejected("a.csv", content))
    row = row_of(rows, "revenue")
    assert error["loc"] == ["file", "csv", f"row {row}"]
    assert error["msg"] == (
        f"Row {row}: the file is not UTF-8: byte 0xE9 is not valid UTF-8 (in Windows-1252 / Latin-1 it would be "
        "'é'), so the file was probably saved in a legacy encoding; save it as 'CSV UTF-8 (Comma delimited) (*.csv)'"
    )


def test_binary_garbage_is_refused() -> None:
    garbage = bytes(range(256)) * 8
    assert only(rejected("a.csv", garbage))["msg"] == "the file is binary, not a text CSV; use the import template"
    error = only(rejected("a.csv", b"line,label\r\nrevenue,\x01\x02\r\n"))
    assert error["msg"] == "Row 2: the file contains the control character U+0001; it is not a text CSV"


@pytest.mark.parametrize(
    ("filename", "content", "reason"),
    [
        (
            "a.xlsx",
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600,
            "a.xlsx is a legacy Excel 97-2003 workbook (.xls) or a password-protected workbook; save it as "
            "'Excel Workbook (*.xlsx)' without a password, or save it as 'CSV UTF-8 (Comma delimited) (*.csv)'",
        ),
        ("a.pdf", b"%PDF-1.7\n...", "a.pdf is a PDF document, not a CSV or XLSX file; use the import template"),
        ("a.xlsx", b"line,label\r\n", "a.xlsx is named as an Excel workbook but its content is not one"),
        ("a.xls", b"<html><table></table></html>", "a.xls is named as an Excel workbook but its content is not one"),
        ("a.json", b'{"revenue": 1}', "a.json is named as a .json file but its content is not one"),
    ],
)
def test_file_types_are_judged_by_content(filename: str, content: bytes, reason: str) -> None:
    error = only(rejected(filename, content))
    assert error["loc"] == ["file"]
    assert error["msg"].startswith(reason)


def zip_of(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def with_members(workbook: bytes, extra: dict[str, bytes], replace: dict[str, bytes] | None = None) -> bytes:
    replace = replace or {}
    source = zipfile.ZipFile(io.BytesIO(workbook))
    members = {name: replace.get(name, source.read(name)) for name in source.namelist()}
    return zip_of({**members, **extra})


def test_xls_renamed_xlsx_and_macro_and_other_zips_are_refused() -> None:
    good = xlsx_bytes(filled())
    cases = {
        "macro.xlsx": (with_members(good, {"xl/vbaProject.bin": b"\x00vba"}), "is a macro-enabled workbook (.xlsm)"),
        "macro.xlsm": (good, "is a macro-enabled workbook (.xlsm)"),
        "sheet.ods": (
            zip_of({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "content.xml": b"<x/>"}),
            "is an OpenDocument file (.ods)",
        ),
        "doc.xlsx": (zip_of({"[Content_Types].xml": b"<x/>", "word/document.xml": b"<x/>"}), "is a Word document"),
        "bin.xlsx": (zip_of({"xl/workbook.bin": b"\x00"}), "is a binary workbook (.xlsb)"),
        "plain.xlsx": (zip_of({"readme.txt": b"hello"}), "is a ZIP archive"),
    }
    for filename, (content, reason) in cases.items():
        error = only(rejected(filename, content))
        assert error["msg"].startswith(f"{filename} {reason}, not an .xlsx workbook; save it as 'Excel Workbook"), error


def test_an_xlsx_named_csv_is_refused() -> None:
    error = only(rejected("a.csv", xlsx_bytes(filled())))
    assert error["msg"] == "a.csv is an .xlsx workbook but is named .csv; upload it with the .xlsx extension"


def test_a_damaged_workbook_is_refused() -> None:
    good = xlsx_bytes(filled())
    assert only(rejected("a.xlsx", good[: len(good) // 2]))["type"] == "damaged_workbook"
    broken = with_members(good, {}, replace={"xl/workbook.xml": b"<not-xml"})
    error = only(rejected("a.xlsx", broken))
    assert error["type"] == "damaged_workbook"
    assert error["msg"].startswith("the workbook could not be read (")


# --- sizes and bombs ---------------------------------------------------------------------------------


def test_a_file_over_the_limit_is_refused_before_parsing() -> None:
    huge = b"\xff\xfe" + b"x" * 2_000_000  # would be an encoding error if it were parsed
    error = only(rejected("a.csv", huge))
    assert error == {
        "loc": ["file"],
        "msg": "the file is 2.0 MB; the limit is 2.0 MB. Keep only the statements (one sheet, no images)",
        "type": "file_too_large",
        "sheet": None,
        "row": None,
        "column": None,
        "cell": None,
    }
    assert only(rejected("a.csv", csv_bytes(filled()), max_bytes=100))["type"] == "file_too_large"


def test_zip_bomb_xlsx_is_refused_from_the_declared_sizes() -> None:
    good = xlsx_bytes(filled())
    bomb = with_members(good, {"xl/media/padding.bin": b"\x00" * 30_000_000})
    assert len(bomb) < 200_000  # tiny on the wire
    started = time.perf_counter()
    error = only(rejected("bomb.xlsx", bomb))
    assert time.perf_counter() - started < 2.0
    assert error["type"] == "archive_too_large"
    assert error["msg"].startswith("the workbook expands to 30.0 MB uncompressed (limit 20 MB); it is refused as a")


def lie_about_size(archive: bytes, member: str, declared: int) -> bytes:
    """Patch a member's declared uncompressed size in its local header and the central directory."""
    data = bytearray(archive)
    info = zipfile.ZipFile(io.BytesIO(archive)).getinfo(member)
    struct.pack_into("<I", data, info.header_offset + 22, declared)
    directory = data.rindex(b"PK\x05\x06")
    offset = struct.unpack_from("<I", data, directory + 16)[0]
    while data[offset : offset + 4] == b"PK\x01\x02":
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, offset + 28)
        if data[offset + 46 : offset + 46 + name_len].decode() == member:
            struct.pack_into("<I", data, offset + 24, declared)
        offset += 46 + name_len + extra_len + comment_len
    return bytes(data)


def test_a_member_larger_than_declared_is_never_inflated_past_its_declared_size() -> None:
    """A zip bomb that lies about its sizes: zipfile stops at the declared size, the CRC then fails."""
    good = xlsx_bytes(filled())
    sheet = zipfile.ZipFile(io.BytesIO(good)).read("xl/worksheets/sheet1.xml")
    bomb = with_members(good, {}, replace={"xl/worksheets/sheet1.xml": sheet + b" " * 30_000_000})
    bomb = lie_about_size(bomb, "xl/worksheets/sheet1.xml", len(sheet))
    assert sum(info.file_size for info in zipfile.ZipFile(io.BytesIO(bomb)).infolist()) < 1_000_000
    started = time.perf_counter()
    error = only(rejected("bomb.xlsx", bomb))
    assert time.perf_counter() - started < 2.0
    assert error["type"] == "damaged_workbook"
    assert "Bad CRC-32" in error["msg"]


def test_xml_entity_bomb_is_refused() -> None:
    good = xlsx_bytes(filled())
    laughs = b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><x>&lol2;</x>'
    error = only(rejected("a.xlsx", with_members(good, {}, replace={"xl/worksheets/sheet1.xml": laughs})))
    assert error["type"] == "unsafe_workbook"
    assert "xl/worksheets/sheet1.xml declares XML entities" in error["msg"]


def test_too_many_rows_and_columns() -> None:
    rows = filled()
    set_cell(rows, MAX_ROWS + 1, 1, "revenue")
    error = only(rejected("a.csv", csv_bytes(rows)))
    assert error["loc"] == ["file", "csv", f"row {MAX_ROWS + 1}"]
    assert "too many rows: the limit is 500" in error["msg"]

    rows = filled()
    set_cell(rows, 14, MAX_COLUMNS + 1, 5)
    error = only(rejected("a.xlsx", xlsx_bytes(rows)))
    assert error["loc"] == ["file", "statements", "GS14"]
    assert error["msg"].startswith("Cell GS14 on sheet 'statements': too many columns: the limit is 200")


def test_a_csv_padded_with_blank_rows_up_to_the_size_limit_is_accepted_quickly() -> None:
    content = csv_bytes(filled()) + b",,,,\r\n" * 300_000
    assert len(content) < 2_000_000
    started = time.perf_counter()
    assert len(parse_statement_import("a.csv", content).periods) == 2
    assert time.perf_counter() - started < 2.0


def test_a_far_away_styled_but_empty_cell_is_a_trailing_blank() -> None:
    """Formatting the last cell of the sheet (XFD1048576) must neither fail nor pad a million rows."""
    workbook = load_workbook(io.BytesIO(xlsx_bytes(filled())))
    ws = workbook["statements"]
    ws["XFD1048576"].number_format = "0.00"
    ws["XFD1048576"].value = None
    buffer = io.BytesIO()
    workbook.save(buffer)
    started = time.perf_counter()
    assert len(parse_statement_import("a.xlsx", buffer.getvalue()).periods) == 2
    assert time.perf_counter() - started < 2.0


# --- empty files and sheets -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "the file is empty; fill in the import template"),
        (b"\xef\xbb\xbf", "the file is empty; fill in the import template"),
        (b"\r\n\r\n  ,, \r\n", "the file is empty; fill in the import template"),
        (b"# just a comment\r\n", "no data: the file has only comment rows"),
    ],
)
def test_empty_csv(content: bytes, reason: str) -> None:
    assert only(rejected("a.csv", content))["msg"] == reason


def test_empty_xlsx_sheet() -> None:
    error = only(rejected("a.xlsx", xlsx_bytes([])))
    assert error["msg"] == "the sheet 'statements' is empty; fill in the import template"
    assert error["sheet"] == "statements"


def test_xlsx_with_several_unnamed_sheets_says_which_sheet_to_use() -> None:
    error = only(rejected("a.xlsx", xlsx_bytes(filled(), sheet="2023", extra_sheets=["2022"])))
    assert error["msg"] == "the workbook has the sheets '2023', '2022'; put the data on a sheet named 'statements'"


def test_header_must_start_with_line() -> None:
    rows = filled()
    rows[row_of(rows, "line") - 1][0] = "item"
    error = only(rejected("a.csv", csv_bytes(rows)))
    assert error["msg"].startswith(
        f"Row {row_of(filled(), 'line')}, column 1 (A): the header row must start with 'line'"
    )


# --- periods -----------------------------------------------------------------------------------------


def test_a_period_type_missing_for_one_column_is_ambiguous() -> None:
    rows = filled(types=("annual", None))
    row = row_of(rows, "period_type")
    error = only(rejected("a.csv", csv_bytes(rows)))
    assert error["loc"] == ["file", "csv", f"row {row}", "column 4"]
    assert error["msg"] == (
        f"Row {row}, column 4 (D): the period type is missing; every period column must say annual or quarterly"
    )


def test_mixed_periods_without_a_period_type_row_are_refused() -> None:
    rows = [row for row in filled(("2023-12-31", "2023-09-30")) if not row or row[0] != "period_type"]
    error = only(rejected("a.xlsx", xlsx_bytes(rows)))
    assert error["loc"] == ["file", "statements", f"row {row_of(rows, 'line')}"]
    assert "the 'period_type' row is missing; add a row 'period_type' under the header" in error["msg"]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("ttm", "'ttm' cannot be imported: Water computes trailing twelve months from quarterly periods"),
        ("FY", "'FY' is not a period type; write annual or quarterly"),
    ],
)
def test_bad_period_types(value: str, reason: str) -> None:
    rows = filled(types=(value, "annual"))
    error = only(rejected("a.csv", csv_bytes(rows)))
    assert error["loc"] == ["file", "csv", f"row {row_of(rows, 'period_type')}", "column 3"]
    assert error["msg"].startswith(f"Row {row_of(rows, 'period_type')}, column 3 (C): {reason}")


def test_duplicate_periods() -> None:
    rows = filled(("2023-12-31", "2023-12-31"))
    header = row_of(rows, "line")
    error = only(rejected("a.xlsx", xlsx_bytes(rows)))
    assert error["loc"] == ["file", "statements", f"D{header}"]
    assert error["msg"] == (
        f"Cell D{header} on sheet 'statements': duplicate period: annual 2023-12-31 is also in column C; "
        "each period may appear once"
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("FY2023", "'FY2023' is not a date; write the fiscal period end as YYYY-MM-DD, e.g. 2023-12-31"),
        ("03/04/2023", "'03/04/2023' is ambiguous (day/month or month/day?)"),
        ("2023-02-30", "'2023-02-30' is not a valid date"),
        ("1850-12-31", "1850-12-31 is outside the years 1900 to 2100"),
        ("45291", "45291 is a number, not a date"),
    ],
)
def test_dates_that_are_not_dates(text: str, reason: str) -> None:
    rows = filled((text, "2023-12-31"))
    header = row_of(rows, "line")
    content = xlsx_bytes(rows) if text == "45291" else csv_bytes(rows)
    if text == "45291":
        workbook = load_workbook(io.BytesIO(content))
        workbook["statements"].cell(header, 3, 45291)
        buffer = io.BytesIO()
        workbook.save(buffer)
        content = buffer.getvalue()
    error = only(rejected("a.xlsx" if text == "45291" else "a.csv", content))
    assert (error["row"], error["column"]) == (header, 3)
    assert reason in error["msg"]


@pytest.mark.parametrize("currency", ["US$", "dollars", "", "12"])
def test_currency_must_look_like_iso_4217(currency: str) -> None:
    rows = filled(currencies=("USD", currency))
    error = only(rejected("a.csv", csv_bytes(rows)))
    assert (error["row"], error["column"]) == (row_of(rows, "currency"), 4)
    assert error["type"] in {"currency", "missing_currency"}
    assert "ISO 4217" in error["msg"]


def test_values_under_a_column_without_a_date() -> None:
    rows = filled()
    set_cell(rows, row_of(rows, "revenue"), 6, 5)
    error = only(rejected("a.csv", csv_bytes(rows)))
    assert error["loc"] == ["file", "csv", f"row {row_of(rows, 'line')}", "column 6"]
    assert "column F has values but no period date in its header" in error["msg"]


# --- lines ---------------------------------------------------------------------------------------------


def test_missing_required_line_and_value() -> None:
    rows = [row for row in filled(values={**BASE, "ebit": [200, None]}) if not row or row[0] != "capex"]
    errors = rejected("a.csv", csv_bytes(rows))
    assert [e["msg"] for e in errors] == [
        "the required line 'capex' (Capital expenditures) is missing; add a row for it (write 0 where the figure is zero)",
        f"Row {row_of(rows, 'ebit')}, column 4 (D): the required line 'ebit' has no value for annual 2023-12-31; "
        "write 0 if the figure is zero",
    ]


def test_unknown_line_lists_the_accepted_ones() -> None:
    rows = filled()
    rows.append(["Goodwill", "", 5, 5])
    error = only(rejected("a.csv", csv_bytes(rows)))
    assert error["loc"] == ["file", "csv", f"row {len(rows)}", "column 1"]
    assert error["type"] == "unknown_line"
    assert error["msg"].startswith(
        f"Row {len(rows)}, column 1 (A): unknown line 'Goodwill'; the accepted lines are revenue, ebit,"
    )
    assert all(line in error["msg"] for line in CANONICAL_LINES)


def test_duplicate_line() -> None:
    rows = filled()
    rows.append(["Revenue", "", 1, 2])
    error = only(rejected("a.csv", csv_bytes(rows)))
    assert (
        error["msg"]
        == f"Row {len(rows)}, column 1 (A): the line 'revenue' appears twice (rows {row_of(rows, 'revenue')} and {len(rows)})"
    )


def test_values_without_a_line_name() -> None:
    rows = filled()
    rows.append([None, "a note", 1, 2])
    error = only(rejected("a.csv", csv_bytes(rows)))
    assert error["msg"] == f"Row {len(rows)}, column 1 (A): this row has values but no line name in column A"


def test_negative_and_zero_share_counts_and_negative_cash() -> None:
    rows = filled(values={**BASE, "shares_outstanding": ["(1,000)", 0], "cash": [-1, 350]})
    shares, cash = row_of(rows, "shares_outstanding"), row_of(rows, "cash")
    errors = rejected("a.xlsx", xlsx_bytes(rows))
    assert [(e["cell"], e["type"]) for e in errors] == [
        (f"C{cash}", "negative_value"),
        (f"C{shares}", "negative_shares"),
        (f"D{shares}", "zero_shares"),
    ]
    assert errors[1]["msg"] == (
        f"Cell C{shares} on sheet 'statements': the share count is negative (-1,000); "
        "shares outstanding must be a positive number of shares"
    )
    assert errors[0]["msg"].endswith("'cash' cannot be negative (-1); cash, equivalents and short-term investments")


def test_unbalanced_balance_sheet_names_the_total_assets_cell() -> None:
    rows = filled(values={**BASE, "total_assets": [2000, 2500]})
    row = row_of(rows, "total_assets")
    error = only(rejected("a.csv", csv_bytes(rows)))
    assert error["loc"] == ["file", "csv", f"row {row}", "column 4"]
    assert error["type"] == "unbalanced_balance_sheet"
    assert error["msg"] == (
        f"Row {row}, column 4 (D): the balance sheet does not balance for annual 2023-12-31: total assets 2,500 ≠ "
        "total liabilities 1,100 + shareholders' equity 1,000 + minority interests 50 = 2,150 (off by 350; the "
        "tolerance is 12.50: 0.5% of total assets, at least 1)"
    )


def test_balance_tolerance_is_at_least_one_unit() -> None:
    small: dict[str, list[Value]] = {
        **BASE,
        "total_assets": [10, 10],
        "total_liabilities": [4, 4],
        "book_equity": [4.5, 7],
        "minority_interests": [0, 0],
    }
    error = only(rejected("a.csv", csv_bytes(filled(values=small))))
    # 2022: 10 vs 8.5 is off by 1.5 > 1 (0.5% of 10 would be 0.05); 2023: 10 vs 11 is off by 1, accepted.
    assert error["cell"] == f"C{row_of(filled(), 'total_assets')}"
    assert "(off by 1.50; the tolerance is 1: 0.5% of total assets, at least 1)" in error["msg"]


# --- XLSX cells --------------------------------------------------------------------------------------


def test_formulas_are_refused_with_their_text() -> None:
    rows = filled()
    workbook = load_workbook(io.BytesIO(xlsx_bytes(rows)))
    ws = workbook["statements"]
    revenue = row_of(rows, "revenue")
    ws.cell(revenue, 4, f"=C{revenue}*1.1")
    ws.cell(revenue + 1, 4, "=SUM(C1:C2)")
    buffer = io.BytesIO()
    workbook.save(buffer)
    errors = rejected("a.xlsx", buffer.getvalue())
    assert [e["msg"] for e in errors] == [
        f"Cell D{revenue} on sheet 'statements': contains a formula ('=C{revenue}*1.1'); paste values instead",
        f"Cell D{revenue + 1} on sheet 'statements': contains a formula ('=SUM(C1:C2)'); paste values instead",
    ]
    assert [e["type"] for e in errors] == ["formula", "formula"]


def test_error_bool_and_date_cells_are_not_numbers() -> None:
    rows = filled(values={**BASE, "revenue": ["#DIV/0!", True], "ebit": [datetime(2023, 1, 1), 230]})
    workbook = load_workbook(io.BytesIO(xlsx_bytes(rows)))
    ws = workbook["statements"]
    revenue = row_of(rows, "revenue")
    ws.cell(revenue, 3).data_type = "e"
    buffer = io.BytesIO()
    workbook.save(buffer)
    errors = rejected("a.xlsx", buffer.getvalue())
    assert [e["msg"].split(": ", 1)[1] for e in errors] == [
        "contains the spreadsheet error #DIV/0!; enter a number",
        "contains TRUE (a boolean), not a number",
        "contains a date (2023-01-01 00:00:00), not a number",
    ]


# --- CSV shape ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("delimiter", "name"), [(";", "';' (semicolon)"), ("\t", "a tab")])
def test_other_delimiters_are_refused_clearly(delimiter: str, name: str) -> None:
    rows = filled()
    error = only(rejected("a.csv", csv_bytes(rows, delimiter=delimiter)))
    assert error["loc"] == ["file", "csv", f"row {row_of(rows, 'line')}"]
    assert error["type"] == "delimiter"
    assert f"the file uses {name} as the separator; Water reads comma-separated files only" in error["msg"]


def test_malformed_quotes() -> None:
    error = only(rejected("a.csv", b'line,label,2023-12-31\r\nrevenue,"oops"x,5\r\n'))
    assert error["loc"] == ["file", "csv", "row 2"]
    assert error["msg"].startswith("Row 2: the CSV is malformed (")


# --- the problem body --------------------------------------------------------------------------------


def test_errors_render_as_a_422_problem_and_are_capped() -> None:
    values = {line: ["x", "y"] for line in BASE}
    rows = filled(values=values)
    rows.append(["retained_earnings", "", "bad", "bad"])
    rows += [[f"nope{i}", "", 1, 1] for i in range(100)]
    with pytest.raises(ImportValidationError) as caught:
        parse_statement_import("a.csv", csv_bytes(rows))
    error = caught.value
    assert len(error.issues) > 100
    body = problem(error.status, code=error.code, title=error.title, detail=error.detail, **error.extra)
    assert body["status"] == 422
    assert body["code"] == "import_invalid"
    assert body["type"] == "https://water.example/problems/import-invalid"
    assert len(body["errors"]) == 101
    assert body["errors"][-1] == {
        "loc": ["file"],
        "msg": f"... and {len(error.issues) - 100} more problems",
        "type": "truncated",
    }
    assert body["detail"].startswith(f"The file was rejected ({len(error.issues)} problems); nothing was imported.")

"""Private companies: statements imported from CSV or XLSX with the documented template.

`parse_statement_import` is pure (bytes in, canonical periods out) and all or nothing: any
error raises `ImportValidationError` (a 422 problem) listing every problem with its sheet,
row, column and reason, and nothing is returned. `template_csv` and `template_xlsx` give
the template. See docs/market-data.md, "Private companies: the import template".
"""

from __future__ import annotations

from .grid import read_csv, read_xlsx
from .layout import balance_tolerance, interpret
from .model import (
    LINE_LABELS,
    MAX_BYTES,
    MAX_COLUMNS,
    MAX_ROWS,
    MAX_UNCOMPRESSED_BYTES,
    REQUIRED_LINES,
    TEMPLATE_VERSION,
    ImportIssue,
    ImportResult,
    ImportValidationError,
)
from .sniff import Rejected, decode_csv, sniff
from .template import template_csv, template_xlsx

__all__ = [
    "LINE_LABELS",
    "MAX_BYTES",
    "MAX_COLUMNS",
    "MAX_ROWS",
    "MAX_UNCOMPRESSED_BYTES",
    "REQUIRED_LINES",
    "TEMPLATE_VERSION",
    "ImportIssue",
    "ImportResult",
    "ImportValidationError",
    "balance_tolerance",
    "file_too_large",
    "parse_statement_import",
    "template_csv",
    "template_xlsx",
]

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def parse_statement_import(filename: str, content: bytes, *, max_bytes: int = MAX_BYTES) -> ImportResult:
    """The canonical periods in an imported file, or ImportValidationError with every problem."""
    if len(content) > max_bytes:
        raise file_too_large(len(content), max_bytes=max_bytes)
    if not content:
        raise ImportValidationError([ImportIssue("the file is empty; fill in the import template", "empty")])
    try:
        file_format = sniff(filename, content)
        grid = read_xlsx(content) if file_format == "xlsx" else read_csv(decode_csv(content))
    except Rejected as rejected:
        raise ImportValidationError([rejected.issue]) from None
    parsed = interpret(grid)
    if parsed.errors:
        raise ImportValidationError(_ordered(parsed.errors))
    return ImportResult(
        periods=parsed.periods,
        format=file_format,
        warnings=parsed.warnings,
        template_version=parsed.template_version,
    )


def file_too_large(size: int | None, *, max_bytes: int = MAX_BYTES) -> ImportValidationError:
    """The `file_too_large` rejection (422 `import_invalid`); `size` None when only "over the limit" is known."""
    what = f"the file is {_size(size)}" if size is not None else "the file is larger than the limit"
    return ImportValidationError(
        [
            ImportIssue(
                f"{what}; the limit is {_size(max_bytes)}. Keep only the statements (one sheet, no images)",
                "file_too_large",
            )
        ]
    )


def _ordered(issues: list[ImportIssue]) -> list[ImportIssue]:
    """File-level problems first, then by row and column (stable otherwise)."""
    return sorted(issues, key=lambda issue: (issue.row is not None, issue.row or 0, issue.column or 0))


def _size(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size:,} bytes"

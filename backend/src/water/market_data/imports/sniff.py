"""What the file really is, judged by its content (the extension must agree), and its encoding.

CSV must be UTF-8 (with or without a byte-order mark). XLSX is checked as a ZIP archive before
openpyxl sees it: the declared uncompressed size of its members (Python's zipfile never
inflates a member past its declared size, so the declared total bounds the work), their
count, encryption, macros, and XML entity declarations (entity-expansion bombs).
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from typing import Literal

from .model import MAX_ARCHIVE_MEMBERS, MAX_UNCOMPRESSED_BYTES, FileFormat, ImportIssue

OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP = b"PK\x03\x04"
SAVE_AS_CSV = "save it as 'CSV UTF-8 (Comma delimited) (*.csv)'"
SAVE_AS_XLSX = "save it as 'Excel Workbook (*.xlsx)'"
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"{\\rtf", "an RTF document"),
)
TEXT_EXTENSIONS = frozenset({"csv", "txt", ""})
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class Rejected(Exception):
    """The file cannot be read at all; carries the one issue that says why."""

    def __init__(self, issue: ImportIssue) -> None:
        super().__init__(issue.reason)
        self.issue = issue


def reject(reason: str, type: str, *, format: FileFormat | None = None, row: int | None = None) -> Rejected:
    return Rejected(ImportIssue(reason, type, format=format, row=row))


def extension(filename: str) -> str:
    name = filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def sniff(filename: str, content: bytes) -> Literal["csv", "xlsx"]:
    """The format to parse the file as, or Rejected saying what the file is and how to fix it."""
    ext = extension(filename)
    name = filename or "the file"
    if content.startswith(OLE2):
        raise reject(
            f"{name} is a legacy Excel 97-2003 workbook (.xls) or a password-protected workbook; "
            f"{SAVE_AS_XLSX} without a password, or {SAVE_AS_CSV}",
            "unsupported_file_type",
        )
    if content.startswith(ZIP) or content.startswith(b"PK\x05\x06"):
        kind = _zip_kind(content)
        if ext in {"xlsm", "xltm"} and kind == "xlsx":
            kind = "a macro-enabled workbook (.xlsm)"
        if kind != "xlsx":
            raise reject(
                f"{name} is {kind}, not an .xlsx workbook; {SAVE_AS_XLSX} or {SAVE_AS_CSV}", "unsupported_file_type"
            )
        if ext not in {"xlsx", ""}:
            raise reject(
                f"{name} is an .xlsx workbook but is named .{ext}; upload it with the .xlsx extension",
                "extension_mismatch",
            )
        return "xlsx"
    for magic, what in _MAGIC:
        if content.startswith(magic):
            raise reject(f"{name} is {what}, not a CSV or XLSX file; use the import template", "unsupported_file_type")
    if ext not in TEXT_EXTENSIONS:
        what = "an Excel workbook" if ext in {"xlsx", "xlsm", "xls", "xlsb", "xltx"} else f"a .{ext} file"
        raise reject(
            f"{name} is named as {what} but its content is not one (it looks like text); "
            f"{SAVE_AS_XLSX}, or if it is a CSV, name it .csv",
            "extension_mismatch",
        )
    return "csv"


def _zip_kind(content: bytes) -> str:
    """'xlsx', or what the archive is instead. Applies the archive limits (Rejected)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, ValueError, OSError):
        raise reject(
            f"the file is a damaged ZIP archive (an .xlsx is one); {SAVE_AS_XLSX} again", "damaged_workbook"
        ) from None
    with archive:
        try:
            return _archive_kind(archive)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
            raise reject(f"the workbook archive is damaged ({exc}); {SAVE_AS_XLSX} again", "damaged_workbook") from None


def _archive_kind(archive: zipfile.ZipFile) -> str:
    """'xlsx', or what the archive is instead (Rejected past the limits)."""
    members = archive.infolist()
    if len(members) > MAX_ARCHIVE_MEMBERS:
        raise reject(
            f"the workbook archive has {len(members)} parts (limit {MAX_ARCHIVE_MEMBERS}); it is not a plain workbook",
            "archive_too_large",
        )
    total = sum(member.file_size for member in members)
    if total > MAX_UNCOMPRESSED_BYTES:
        raise reject(
            f"the workbook expands to {total / 1e6:.1f} MB uncompressed (limit "
            f"{MAX_UNCOMPRESSED_BYTES / 1e6:.0f} MB); it is refused as a possible zip bomb. "
            "Keep only the statements sheet, or upload a CSV",
            "archive_too_large",
        )
    if any(member.flag_bits & 0x1 for member in members):
        raise reject("the workbook archive is encrypted; save it without a password", "encrypted_workbook")
    names = {member.filename for member in members}
    if "mimetype" in names:
        mimetype = archive.read("mimetype")[:100]
        if b"opendocument" in mimetype:
            return "an OpenDocument file (.ods)"
    if "xl/workbook.bin" in names:
        return "a binary workbook (.xlsb)"
    if "xl/vbaProject.bin" in names:
        return "a macro-enabled workbook (.xlsm)"
    if "word/document.xml" in names:
        return "a Word document"
    if any(name.startswith("ppt/") for name in names):
        return "a PowerPoint presentation"
    if "xl/workbook.xml" not in names or "[Content_Types].xml" not in names:
        return "a ZIP archive"
    content_types = archive.read("[Content_Types].xml")
    if b"macroEnabled" in content_types:
        return "a macro-enabled workbook (.xlsm)"
    for member in members:
        if member.filename.endswith((".xml", ".rels", ".vml")):
            data = archive.read(member)
            if b"<!ENTITY" in data or b"<!DOCTYPE" in data:
                raise reject(
                    f"the workbook part {member.filename} declares XML entities; it is refused as unsafe. "
                    f"Open it in Excel and {SAVE_AS_XLSX} again",
                    "unsafe_workbook",
                )
    return "xlsx"


def decode_csv(content: bytes) -> str:
    """The text of a UTF-8 CSV (byte-order mark removed), or Rejected naming the encoding problem."""
    if content.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        raise reject(f"the file is encoded as UTF-32, not UTF-8; {SAVE_AS_CSV}", "encoding", format="csv")
    if content.startswith(b"\xff\xfe"):
        raise reject(
            "the file is encoded as UTF-16 (little-endian, as Excel's 'Unicode Text' writes it), not UTF-8; "
            + SAVE_AS_CSV,
            "encoding",
            format="csv",
        )
    if content.startswith(b"\xfe\xff"):
        raise reject(f"the file is encoded as UTF-16 (big-endian), not UTF-8; {SAVE_AS_CSV}", "encoding", format="csv")
    head = content[:4096]
    if b"\x00" in head:
        even = head[0::2].count(0)
        odd = head[1::2].count(0)
        if max(even, odd) > len(head) // 4 and min(even, odd) < len(head) // 50 + 1:
            endian = "big-endian" if even > odd else "little-endian"
            raise reject(
                f"the file looks like UTF-16 ({endian}, without a byte-order mark), not UTF-8; {SAVE_AS_CSV}",
                "encoding",
                format="csv",
            )
        raise reject("the file is binary, not a text CSV; use the import template", "binary_file", format="csv")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        row = content.count(b"\n", 0, exc.start) + 1
        byte = content[exc.start]
        legacy = bytes([byte]).decode("cp1252", errors="replace")
        raise reject(
            f"the file is not UTF-8: byte 0x{byte:02X} is not valid UTF-8 (in Windows-1252 / Latin-1 "
            f"it would be '{legacy}'), so the file was probably saved in a legacy encoding; {SAVE_AS_CSV}",
            "encoding",
            format="csv",
            row=row,
        ) from None
    control = _CONTROL.search(text)
    if control:
        row = text.count("\n", 0, control.start()) + 1
        raise reject(
            f"the file contains the control character U+{ord(control.group()):04X}; it is not a text CSV",
            "binary_file",
            format="csv",
            row=row,
        )
    return text

"""Exports of a valuation run: the PDF report and the XLSX workbook (pure functions: run dict in, bytes out)."""

from __future__ import annotations

from .pdf import build_report_pdf
from .workbook import build_workbook

__all__ = ["build_report_pdf", "build_workbook"]

"""The PDF report and the XLSX workbook of a run, through the API."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

from fastapi.testclient import TestClient
from openpyxl import load_workbook

from water.valuations.exports.common import fmt_money

from ..system_tools import require_tool
from ..worker.conftest import WorkerProcess
from .conftest import Covered, wait_for_run


def test_report_pdf_and_workbook(
    committed_client: TestClient, covered: Covered, valuation_worker: WorkerProcess, tmp_path: Path
) -> None:
    headers = covered.org.as_role("viewer").headers
    run = committed_client.post(
        f"/api/companies/{covered.company['id']}/valuation-runs",
        json={"methods": ["fcff_ginzu", "sensitivity"]},
        headers=covered.org.admin.headers,
    ).json()
    done = wait_for_run(committed_client, headers, run["id"])
    pdf = committed_client.get(f"/api/valuation-runs/{run['id']}/report.pdf", headers=headers)
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf.content)
    text = subprocess.run(
        [require_tool("pdftotext", "poppler-utils"), "-layout", str(path), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert fmt_money(done["value_per_share"], "USD", 2) in text
    assert done["input_hash"] in text.replace("\n", "")
    workbook = committed_client.get(f"/api/valuation-runs/{run['id']}/workbook.xlsx", headers=headers)
    assert workbook.status_code == 200
    wb = load_workbook(io.BytesIO(workbook.content))
    assert "Schedule" in wb.sheetnames
    assert "ValuePerShare" in wb.defined_names


def test_exporting_an_unfinished_run_is_409(committed_client: TestClient, covered: Covered) -> None:
    run = committed_client.post(
        f"/api/companies/{covered.company['id']}/valuation-runs",
        json={"methods": ["fcff_ginzu"]},
        headers=covered.org.admin.headers,
    ).json()
    committed_client.post(f"/api/valuation-runs/{run['id']}/cancel", headers=covered.org.admin.headers)
    response = committed_client.get(f"/api/valuation-runs/{run['id']}/report.pdf", headers=covered.org.admin.headers)
    assert response.status_code in (409, 200)  # 200 only if a worker finished it before the cancel

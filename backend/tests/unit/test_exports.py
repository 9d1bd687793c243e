"""Exports of a valuation run: the PDF report and the XLSX workbook (no database).

Fixtures are real engine runs (golden and seeded random requests), never hand-typed results.
The key test recalculates the workbook in LibreOffice headless and checks that its live
formulas give the engine's value per share.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import io
import json
import subprocess
import time
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from openpyxl import load_workbook

import water_engine
from water.valuations.exports import build_report_pdf, build_workbook
from water.valuations.exports.common import fmt_money

from ..integration.system_tools import require_tool

REPO = Path(__file__).resolve().parents[3]
GOLDEN = REPO / "engine" / "tests" / "golden"


def _random_cases() -> ModuleType:
    spec = importlib.util.spec_from_file_location("random_cases", REPO / "engine" / "tests" / "random_cases.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


random_cases = _random_cases()


def golden_request(name: str) -> dict[str, Any]:
    request: dict[str, Any] = json.loads((GOLDEN / f"{name}.json").read_text())["request"]
    return request


def coca_cola() -> dict[str, Any]:
    return golden_request("fcff_ginzu_coca_cola_2024")


# --- Building a run as the lead's worker stores it -------------------------------------------


def make_run(ginzu: dict[str, Any], *, full: bool = True, demo: bool = True, name: str = "Coca-Cola") -> dict[str, Any]:
    """A succeeded run dict: fcff_ginzu, and with `full` every analysis the report draws."""
    requests: dict[str, dict[str, Any]] = {"fcff_ginzu": ginzu}
    base_inputs = ginzu["inputs"]
    dcf = water_engine.run(ginzu)
    out = dcf["outputs"]
    price = base_inputs.get("price")
    if full:
        wacc = base_inputs["initial_cost_of_capital"]
        target = base_inputs.get("target_margin", base_inputs.get("margin_year_1", out["base_operating_margin"]))
        requests["sensitivity"] = {
            "model": "sensitivity",
            "inputs": {
                "base": ginzu,
                "rows": {
                    "path": "inputs.initial_cost_of_capital",
                    "values": [wacc + (i - 2) * 0.005 for i in range(5)],
                },
                "columns": {"path": "inputs.target_margin", "values": [target + (j - 2) * 0.02 for j in range(5)]},
            },
        }
        requests["monte_carlo"] = {
            "model": "monte_carlo",
            "inputs": {
                "base": ginzu,
                "paths": 2000,
                "seed": 7,
                "bins": 30,
                "drivers": [
                    {
                        "path": "inputs.growth_year_1",
                        "distribution": "normal",
                        "mean": base_inputs["growth_year_1"],
                        "stdev": 0.02,
                    },
                    {
                        "path": "inputs.initial_cost_of_capital",
                        "distribution": "lognormal",
                        "mean": wacc,
                        "stdev": 0.005,
                    },
                    {
                        "path": "inputs.target_margin",
                        "distribution": "triangular",
                        "low": target - 0.05,
                        "mode": target,
                        "high": target + 0.03,
                    },
                ],
                "correlations": [{"a": "inputs.growth_year_1", "b": "inputs.target_margin", "rho": 0.3}],
            },
        }
        requests["scenarios"] = {
            "model": "scenarios",
            "inputs": {
                "base": ginzu,
                "scenarios": [
                    {
                        "name": "Bear",
                        "probability": 0.25,
                        "overrides": {"inputs.growth_year_1": base_inputs["growth_year_1"] - 0.03},
                    },
                    {"name": "Base", "probability": 0.5, "overrides": {}},
                    {"name": "Bull", "probability": 0.25, "overrides": {"inputs.target_margin": target + 0.03}},
                ],
            },
        }
        requests["comparables"] = golden_request("comparables_worked")
        requests["fcff_explicit"] = golden_request("fcff_explicit_worked_example")
    results = {method: water_engine.run(request) for method, request in requests.items()}
    methods = list(requests)
    if full:
        grid = [v for row in results["sensitivity"]["outputs"]["grid"] for v in row if v is not None]
        mc = results["monte_carlo"]["outputs"]["percentiles"]
        sc = [s["value"] for s in results["scenarios"]["outputs"]["scenarios"]]
        ff: dict[str, Any] = {
            "model": "football_field",
            "inputs": {
                "methods": [
                    {"name": "DCF sensitivity", "low": min(grid), "high": max(grid), "weight": 2},
                    {"name": "Monte Carlo p5-p95", "low": mc["p5"], "high": mc["p95"], "weight": 1},
                    {"name": "Scenarios", "low": min(sc), "high": max(sc), "weight": 1},
                ],
                "price": price,
            },
        }
        requests["football_field"] = ff
        results["football_field"] = water_engine.run(ff)
        methods.append("football_field")
    input_hash = hashlib.sha256(json.dumps(requests, sort_keys=True).encode()).hexdigest()
    return {
        "id": str(uuid.UUID(int=0x1234_5678_9ABC_DEF0_1234_5678_9ABC_DEF0)),
        "status": "succeeded",
        "created_at": "2024-09-01T12:30:05+00:00",
        "finished_at": "2024-09-01T12:30:06+00:00",
        "created_by": "analyst@water.example",
        "company": {
            "id": str(uuid.UUID(int=42)),
            "name": name,
            "ticker": "KO",
            "currency": "USD",
            "price_currency": "USD",
            "is_demo": demo,
        },
        "methods": methods,
        "requests": requests,
        "results": results,
        "defaults_applied": [
            {
                "path": "fcff_ginzu.inputs.riskfree_rate",
                "value": base_inputs["riskfree_rate"],
                "source": "TREASURY_YIELD 10year monthly, 2024-08 (snapshot 7c1f09aa)",
            },
            {
                "path": "fcff_ginzu.inputs.shares_outstanding",
                "value": base_inputs["shares_outstanding"],
                "source": "OVERVIEW SharesOutstanding (snapshot 52be11c0)",
            },
        ],
        "conventions": {m: requests[m].get("conventions") or {} for m in methods},
        "summary": {
            "value_per_share": out["value_per_share"],
            "equity_value": out["value_of_equity"],
            "enterprise_value": out["value_of_operating_assets"],
            "price": price,
            "upside": out.get("upside"),
            "currency": "USD",
        },
        "input_hash": input_hash,
        "engine_version": dcf["engine_version"],
        "snapshots": [
            {
                "id": "7c1f09aa-0000-4000-8000-000000000001",
                "provider": "alphavantage",
                "function": "TREASURY_YIELD",
                "symbol": "10year",
                "fetched_at": "2024-09-01T06:00:00+00:00",
                "content_hash": "7c1f09aa" + "0" * 56,
            },
            {
                "id": "52be11c0-0000-4000-8000-000000000002",
                "provider": "alphavantage",
                "function": "OVERVIEW",
                "symbol": "KO",
                "fetched_at": "2024-09-01T06:00:01+00:00",
                "content_hash": "52be11c0" + "1" * 56,
            },
        ],
    }


def without_ginzu(run: dict[str, Any]) -> dict[str, Any]:
    """The same run as if only the other methods had been asked for."""
    out = copy.deepcopy(run)
    for key in ("requests", "results", "conventions"):
        out[key].pop("fcff_ginzu", None)
    out["methods"] = [m for m in out["methods"] if m != "fcff_ginzu"]
    out["defaults_applied"] = []
    return out


_NON_DEFAULT_OPTIONS = (
    "rnd",
    "leases",
    "nol",
    "failure_probability",
    "distress_proceeds_basis",
    "distress_proceeds_fraction",
    "reinvestment_lag",
    "tax_rate_converges_to_marginal",
    "trapped_cash",
    "trapped_cash_foreign_tax_rate",
)


def default_options(request: dict[str, Any]) -> dict[str, Any]:
    """A random Ginzu request with the template's default switches (no R&D, leases, NOL, failure...)."""
    out = copy.deepcopy(request)
    for key in _NON_DEFAULT_OPTIONS:
        out["inputs"].pop(key, None)
    out["conventions"] = {}
    return out


@pytest.fixture(scope="module")
def full_run() -> dict[str, Any]:
    return make_run(coca_cola())


@pytest.fixture(scope="module")
def pdf_text(full_run: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> str:
    return pdftotext(build_report_pdf(full_run), tmp_path_factory.mktemp("pdf"))


def pdftotext(data: bytes, folder: Path) -> str:
    tool = require_tool("pdftotext", "poppler-utils")
    path = folder / "report.pdf"
    path.write_bytes(data)
    done = subprocess.run([tool, "-layout", str(path), "-"], capture_output=True, text=True, timeout=60, check=True)
    return done.stdout


# --- PDF --------------------------------------------------------------------------------------


def test_pdf_is_a_pdf_and_deterministic(full_run: dict[str, Any]) -> None:
    first, second = build_report_pdf(full_run), build_report_pdf(full_run)
    assert first.startswith(b"%PDF-")
    assert first.rstrip().endswith(b"%%EOF")
    assert first == second


def test_pdf_text_has_the_value_per_share_and_identity(full_run: dict[str, Any], pdf_text: str) -> None:
    vps = full_run["results"]["fcff_ginzu"]["outputs"]["value_per_share"]
    assert fmt_money(vps, "USD", 2) == "USD 39.94"
    assert "USD 39.94" in pdf_text
    assert "USD 72.28" in pdf_text  # the price
    assert "-44.7%" in pdf_text  # upside
    assert "Valuation report: Coca-Cola (KO)" in pdf_text
    assert full_run["input_hash"] in pdf_text
    assert "Engine version" in pdf_text
    assert full_run["engine_version"] in pdf_text
    assert full_run["created_by"] in pdf_text
    assert "2024-09-01 12:30 UTC" in pdf_text
    assert "DEMO DATA" in pdf_text


def test_pdf_has_a_section_per_method(pdf_text: str) -> None:
    headings = [
        "Summary",
        "Assumptions",
        "Schedule",
        "FCFF DCF (Ginzu): year by year (USD)",
        "Valuation and equity bridge",
        "Explicit-forecast FCFF DCF: year by year (USD)",
        "Sensitivity",
        "Scenarios",
        "Comparables",
        "Football field",
        "Monte Carlo",
        "Conventions",
        "Reproducibility and data provenance",
        "Market-data snapshots",
    ]
    lines = {line.strip() for line in pdf_text.splitlines()}
    for heading in headings:
        assert heading in lines, heading


def test_pdf_shows_defaulted_values_with_their_source_and_the_snapshots(
    full_run: dict[str, Any], pdf_text: str
) -> None:
    assert "Defaulted: TREASURY_YIELD 10year monthly, 2024-08" in pdf_text
    assert "engine default (= riskfree rate after year 10)" in pdf_text
    for snapshot in full_run["snapshots"]:
        assert snapshot["content_hash"][:40] in pdf_text.replace("\n", "")
    assert "TREASURY_YIELD" in pdf_text
    assert "OVERVIEW" in pdf_text


def test_pdf_charts_and_tables_carry_numbers(full_run: dict[str, Any], pdf_text: str) -> None:
    mc = full_run["results"]["monte_carlo"]["outputs"]
    assert f"P(value > price) = {mc['probability_above_price'] * 100:.1f}%" in pdf_text
    assert f"p50 {mc['percentiles']['p50']:,.2f}" in pdf_text
    ff = full_run["results"]["football_field"]["outputs"]
    assert f"{ff['weighted_low']:,.2f} - {ff['weighted_high']:,.2f}" in pdf_text  # the weighted bar's label
    grid = full_run["results"]["sensitivity"]["outputs"]["grid"]
    assert f"{grid[2][2]:,.2f}" == "39.94"  # the centre cell is the base case
    schedule = full_run["results"]["fcff_ginzu"]["schedule"]
    assert f"{schedule[10]['revenues']:,.0f}" in pdf_text  # year-10 revenues, 74,782
    assert "195,730" in pdf_text  # terminal value


def test_pdf_has_only_the_sections_of_the_methods_run(tmp_path: Path) -> None:
    run = make_run(coca_cola(), full=False, demo=False, name="Plain Co")
    text = pdftotext(build_report_pdf(run), tmp_path)
    lines = {line.strip() for line in text.splitlines()}
    assert "Schedule" in lines
    assert "Assumptions" in lines
    for absent in ("Sensitivity", "Monte Carlo", "Football field", "Scenarios", "Comparables"):
        assert absent not in lines, absent
    assert "DEMO DATA" not in text
    assert "Valuation report: Plain Co (KO)" in text


def test_pdf_thins_a_large_sensitivity_grid_around_the_base(tmp_path: Path) -> None:
    run = make_run(coca_cola())
    request = run["requests"]["sensitivity"]
    wacc, target = coca_cola()["inputs"]["initial_cost_of_capital"], coca_cola()["inputs"]["target_margin"]
    request["inputs"]["rows"]["values"] = [wacc + (i - 30) * 0.001 for i in range(51)]
    request["inputs"]["columns"]["values"] = [target + (j - 20) * 0.005 for j in range(45)]
    run["results"]["sensitivity"] = water_engine.run(request)
    text = pdftotext(build_report_pdf(run), tmp_path)
    assert "values are shown (evenly spaced, the base case kept)" in " ".join(text.split())
    grid_lines = [line for line in text.splitlines() if line.strip().startswith("7.32%")]
    assert any("39.94" in line for line in grid_lines)  # the base row and cell are kept


def test_pdf_without_a_ginzu_dcf(full_run: dict[str, Any], tmp_path: Path) -> None:
    text = pdftotext(build_report_pdf(without_ginzu(full_run)), tmp_path)
    lines = {line.strip() for line in text.splitlines()}
    assert "Explicit-forecast FCFF DCF: year by year (USD)" in lines
    assert "FCFF DCF (Ginzu): year by year (USD)" not in lines
    assert "Monte Carlo" in lines


# --- Workbook ---------------------------------------------------------------------------------


def test_workbook_has_the_sheets_formulas_and_names(full_run: dict[str, Any]) -> None:
    wb = load_workbook(io.BytesIO(build_workbook(full_run)))
    for sheet in ("Summary", "Assumptions", "Schedule", "Sensitivity", "Monte Carlo", "Provenance"):
        assert sheet in wb.sheetnames
    for sheet in ("Explicit DCF", "Football Field", "Scenarios", "Comparables", "Results"):
        assert sheet in wb.sheetnames
    schedule = wb["Schedule"]
    formulas = [
        c.value for row in schedule.iter_rows() for c in row if isinstance(c.value, str) and c.value.startswith("=")
    ]
    assert len(formulas) > 150
    assert any("Assumptions!" in f for f in formulas)
    assert schedule["C16"].value == "=1/(1+C15)"  # year-1 discount factor
    assert schedule["D16"].value == "=C16*(1/(1+D15))"  # cumulative product of 1/(1+r)
    assert schedule["C6"].number_format == "#,##0.00;-#,##0.00"
    assert schedule.column_dimensions["A"].width == 34
    name = wb.defined_names["ValuePerShare"]
    ((sheet_name, coordinate),) = list(name.destinations)
    assert sheet_name == "Schedule"
    vps = wb[sheet_name][coordinate.replace("$", "")]
    common, shares = (vps.row - 2, vps.row - 1)
    assert vps.value == f"=$B${common}/$B${shares}"  # value of common equity / number of shares
    assert wb[sheet_name].cell(row=common, column=1).value == "Value of equity in common stock"
    assumptions = wb["Assumptions"]
    rows = {r[0].value: r for r in assumptions.iter_rows(min_row=4) if r[0].value}
    riskfree = rows["fcff_ginzu.inputs.riskfree_rate"]
    assert riskfree[2].value == 0.0458
    assert riskfree[4].value.startswith("defaulted: TREASURY_YIELD")
    assert riskfree[2].number_format == "0.00%"
    assert rows["fcff_ginzu.inputs.stable_growth"][2].value.startswith("=Assumptions!$C$")
    provenance = [c.value for row in wb["Provenance"].iter_rows() for c in row]
    assert full_run["input_hash"] in provenance
    assert full_run["snapshots"][0]["content_hash"] in provenance


def test_workbook_without_a_ginzu_dcf_names_the_summary_value(full_run: dict[str, Any]) -> None:
    wb = load_workbook(io.BytesIO(build_workbook(without_ginzu(full_run))))
    assert "Schedule" not in wb.sheetnames
    ((sheet_name, _),) = list(wb.defined_names["ValuePerShare"].destinations)
    assert sheet_name == "Summary"


def _recalc_cases() -> dict[str, dict[str, Any]]:
    cases = {"coca_cola": coca_cola()}
    for seed in range(6):
        cases[f"random_{seed}_defaults"] = default_options(random_cases.random_ginzu_request(seed))
    for seed in range(100, 106):  # every switch the formulas reproduce, R&D and leases as engine values
        cases[f"random_{seed}_options"] = random_cases.random_ginzu_request(seed)
    return cases


RECALC_CASES = _recalc_cases()


@pytest.fixture(scope="module")
def recalculated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Any, Any, dict[str, Any]]]:
    """{case: (value per share read back, operating assets read back, engine outputs)} after LibreOffice."""
    soffice = require_tool("soffice", "libreoffice-calc")
    folder = tmp_path_factory.mktemp("xlsx")
    src, out = folder / "in", folder / "out"
    src.mkdir()
    out.mkdir()
    engine: dict[str, dict[str, Any]] = {}
    for case, request in RECALC_CASES.items():
        run = make_run(request, full=False)
        engine[case] = run["results"]["fcff_ginzu"]["outputs"]
        (src / f"{case}.xlsx").write_bytes(build_workbook(run))
    profile = folder / f"lo-profile-{uuid.uuid4().hex}"
    (profile / "user").mkdir(parents=True)
    (profile / "user" / "registrymodifications.xcu").write_text(_ALWAYS_RECALCULATE)
    started = time.perf_counter()
    subprocess.run(
        [
            soffice,
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--norestore",
            "--convert-to",
            "xlsx",
            "--outdir",
            str(out),
            *[str(src / f"{case}.xlsx") for case in RECALC_CASES],
        ],
        capture_output=True,
        timeout=600,
        check=True,
    )
    elapsed = time.perf_counter() - started
    print(f"LibreOffice recalculated {len(RECALC_CASES)} workbooks in {elapsed:.1f} s")
    values: dict[str, tuple[Any, Any, dict[str, Any]]] = {}
    for case in RECALC_CASES:
        original = load_workbook(src / f"{case}.xlsx", data_only=True)
        ((sheet, coordinate),) = list(original.defined_names["ValuePerShare"].destinations)
        assert original[sheet][coordinate.replace("$", "")].value is None  # openpyxl stores no results
        wb = load_workbook(out / f"{case}.xlsx", data_only=True)
        ((sheet, coordinate),) = list(wb.defined_names["ValuePerShare"].destinations)
        ws = wb[sheet]
        labels = {ws.cell(row=r, column=1).value: r for r in range(1, ws.max_row + 1)}
        operating = ws.cell(row=labels["Value of operating assets"], column=2).value
        values[case] = (ws[coordinate.replace("$", "")].value, operating, engine[case])
    return values


_ALWAYS_RECALCULATE = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""


@pytest.mark.parametrize("case", list(RECALC_CASES))
def test_workbook_formulas_recalculated_by_libreoffice_give_the_engine_value(
    case: str, recalculated: dict[str, tuple[Any, Any, dict[str, Any]]]
) -> None:
    value, operating, outputs = recalculated[case]
    expected = outputs["value_per_share"]
    assert isinstance(value, float), f"{case}: ValuePerShare is {value!r}"
    assert value == pytest.approx(expected, rel=1e-6, abs=1e-9 * abs(outputs["value_of_operating_assets"]))
    assert operating == pytest.approx(outputs["value_of_operating_assets"], rel=1e-9)
    if case == "coca_cola":
        assert value == pytest.approx(39.940608035934304, rel=1e-12)

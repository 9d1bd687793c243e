"""The valuation-run workbook (XLSX): assumptions, a live Ginzu DCF, results and provenance.

`build_workbook(run) -> bytes` is pure: a run dict in, the bytes of an .xlsx file out.

Sheets: "Summary", "Assumptions" (every input with its unit and source; defaulted values
marked), "Schedule" (fcff_ginzu years 0-10 and the terminal year as LIVE formulas that
reference the Assumptions sheet, so the sheet recomputes the DCF and the equity bridge),
"Explicit DCF" (fcff_explicit schedule, values), "Sensitivity", "Monte Carlo",
"Football Field", "Scenarios", "Comparables" (when those methods ran), "Results" (every
scalar output of every method) and "Provenance" (hash, engine version, snapshots,
defaults, conventions, warnings).

The Schedule formulas reproduce the engine's fcff_ginzu mechanics, template quirks included
(margin path drawn from year 0, year-10 cost of capital by five subtractions, terminal margin
= year-10 margin, default stable ROC = year-10 cost of capital, terminal year ignoring the NOL,
no terminal reinvestment when g <= 0), as well as the NOL shield, the failure probability,
the reinvestment lag, trapped cash and mid-year timing. The R&D and operating-lease
converters are not re-built as formulas: their results (EBIT adjustments, lease debt, research
asset) are written as the engine's values and marked "engine value". The cell holding the
value per share carries the workbook-level defined name `ValuePerShare`.

openpyxl writes formulas without cached results: Excel and LibreOffice compute them on open.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.worksheet import Worksheet

from .common import (
    Unit,
    defaults_by_path,
    flatten,
    fmt_date,
    get_path,
    lookup_field,
    method_title,
)

__all__ = ["build_workbook"]

# --- Styles ---------------------------------------------------------------------------------

_BOLD = Font(bold=True)
_TITLE = Font(bold=True, size=14)
_HEADER_FONT = Font(bold=True, color="FFFFFF")
_HEADER_FILL = PatternFill("solid", fgColor="1F3A5F")
_INPUT_FONT = Font(color="0000CC")  # blue: an input you may change
_VALUE_FONT = Font(color="7F7F7F", italic=True)  # grey italic: an engine value, not a formula
_DEFAULT_FILL = PatternFill("solid", fgColor="FFF2CC")  # yellow: a defaulted value
_BASE_FILL = PatternFill("solid", fgColor="C6E0B4")  # green: the base case / the answer
_THIN = Side(style="thin", color="7F7F7F")
_TOP_BORDER = Border(top=_THIN)

_FORMATS: dict[Unit, str] = {
    "pct": "0.00%",
    "money": "#,##0.00;-#,##0.00",
    "per_share": "#,##0.00;-#,##0.00",
    "ratio": "0.0000",
    "years": "0",
    "count": "#,##0",
    "shares": "#,##0.00",
    "number": "#,##0.00########",
    "text": "@",
    "flag": "General",
}
_DF_FORMAT = "0.000000"


def _header(ws: Worksheet, row: int, titles: Sequence[str], col: int = 1) -> None:
    for i, title in enumerate(titles):
        cell = ws.cell(row=row, column=col + i, value=title)
        cell.font = _HEADER_FONT
        cell.fill = _HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)


def _widths(ws: Worksheet, widths: Mapping[str, float]) -> None:
    for letter, width in widths.items():
        ws.column_dimensions[letter].width = width


def _scalar(x: Any) -> Any:
    """A cell-safe value: numbers, strings and booleans as they are, anything else as text."""
    if x is None or isinstance(x, (bool, int, float, str)):
        return x
    return ", ".join(str(v) for v in x) if isinstance(x, (list, tuple)) else str(x)


def _fmt_for(x: Any, unit: Unit) -> str:
    if isinstance(x, (bool, str)):
        return "General"
    return _FORMATS.get(unit, "General")


# --- Assumptions (fcff_ginzu) ------------------------------------------------------------------

# (key, unit, default formula or None). A default formula names other keys in {braces}.
_GINZU_ROWS: tuple[tuple[str, Unit, str | None], ...] = (
    ("revenues", "money", None),
    ("ebit", "money", None),
    ("shares_outstanding", "shares", None),
    ("effective_tax_rate", "pct", None),
    ("marginal_tax_rate", "pct", None),
    ("growth_year_1", "pct", None),
    ("growth_years_2_5", "pct", "={growth_year_1}"),
    ("margin_year_1", "pct", "={base_operating_margin}"),
    ("target_margin", "pct", "={margin_year_1}"),
    ("margin_convergence_year", "years", None),
    ("sales_to_capital_years_1_5", "ratio", None),
    ("sales_to_capital_years_6_10", "ratio", "={sales_to_capital_years_1_5}"),
    ("riskfree_rate", "pct", None),
    ("initial_cost_of_capital", "pct", None),
    ("book_equity", "money", None),
    ("book_debt", "money", None),
    ("cash", "money", None),
    ("non_operating_assets", "money", None),
    ("minority_interests", "money", None),
    ("preferred_stock", "money", None),
    ("options_value", "money", None),
    ("price", "per_share", None),
    ("mature_market_erp", "pct", None),
    ("riskfree_rate_after_year_10", "pct", "={riskfree_rate}"),
    ("stable_growth", "pct", "={riskfree_rate_after_year_10}"),
    ("stable_cost_of_capital", "pct", "={riskfree_rate_after_year_10}+{mature_market_erp}"),
    ("stable_return_on_capital", "pct", "={cost_of_capital_year_10}"),
    ("failure_probability", "pct", None),
    ("distress_proceeds_basis", "text", None),
    ("distress_proceeds_fraction", "pct", None),
    ("reinvestment_lag", "years", None),
    ("tax_rate_converges_to_marginal", "flag", None),
    ("nol", "money", None),
    ("trapped_cash", "money", None),
    ("trapped_cash_foreign_tax_rate", "pct", None),
)

# Engine defaults of optional inputs without a formula default (as GinzuInputs).
_GINZU_PLAIN_DEFAULTS: dict[str, Any] = {
    "margin_convergence_year": 5,
    "book_equity": 0.0,
    "book_debt": 0.0,
    "cash": 0.0,
    "non_operating_assets": 0.0,
    "minority_interests": 0.0,
    "preferred_stock": 0.0,
    "options_value": 0.0,
    "price": None,
    "mature_market_erp": 0.045,
    "failure_probability": 0.0,
    "distress_proceeds_basis": "fair_value",
    "distress_proceeds_fraction": 0.5,
    "reinvestment_lag": 1,
    "tax_rate_converges_to_marginal": True,
    "nol": 0.0,
    "trapped_cash": 0.0,
    "trapped_cash_foreign_tax_rate": 0.0,
}

# Derived rows: (key, label, unit, formula or None for an engine value, engine output key, note)
_GINZU_DERIVED: tuple[tuple[str, str, Unit, str | None, str | None, str], ...] = (
    ("mid_year", "Mid-year discounting (convention)", "flag", None, None, "conventions.timing"),
    ("lease_ebit_adjustment", "Operating-lease EBIT adjustment", "money", None, "lease_ebit_adjustment", ""),
    ("lease_debt", "Operating-lease debt", "money", None, "lease_debt", ""),
    ("rnd_ebit_adjustment", "R&D EBIT adjustment", "money", None, "rnd_ebit_adjustment", ""),
    ("rnd_asset", "Research asset (capitalised R&D)", "money", None, "rnd_asset", ""),
    (
        "ebit_adjusted",
        "Base-year EBIT after lease and R&D adjustments",
        "money",
        "={ebit}+{lease_ebit_adjustment}+{rnd_ebit_adjustment}",
        "base_ebit_adjusted",
        "",
    ),
    (
        "base_operating_margin",
        "Base-year operating margin",
        "pct",
        "={ebit_adjusted}/{revenues}",
        "base_operating_margin",
        "",
    ),
    ("debt", "Debt in the equity bridge", "money", "={book_debt}+{lease_debt}", "debt", "book debt + lease debt"),
    (
        "cash_adjusted",
        "Cash after tax on trapped cash",
        "money",
        "={cash}-{trapped_cash}*({marginal_tax_rate}-{trapped_cash_foreign_tax_rate})",
        "cash",
        "",
    ),
    (
        "invested_capital_base",
        "Invested capital, base year",
        "money",
        "={book_equity}+{book_debt}-{cash}+{lease_debt}+{rnd_asset}",
        "invested_capital_base",
        "book equity + book debt - cash (+ lease debt + research asset)",
    ),
    (
        "terminal_tax_rate",
        "Tax rate after year 10",
        "pct",
        "=IF({tax_rate_converges_to_marginal},{marginal_tax_rate},{effective_tax_rate})",
        None,
        "",
    ),
    ("book_capital", "Book capital (failure proceeds basis)", "money", "={book_equity}+{book_debt}", None, ""),
)


@dataclass
class _Refs:
    """Absolute references to named assumption cells, e.g. refs['revenues'] = 'Assumptions!$C$5'."""

    cells: dict[str, str]

    def __getitem__(self, key: str) -> str:
        return self.cells[key]

    def fill(self, template: str) -> str:
        out = template
        for key, ref in self.cells.items():
            out = out.replace("{" + key + "}", ref)
        if "{" in out:
            raise KeyError(f"unresolved reference in {template!r}: {out!r}")
        return out


def _source_for(defaults: Mapping[str, Mapping[str, Any]], method: str, key: str) -> Mapping[str, Any] | None:
    return defaults.get(f"{method}.inputs.{key}")


def _write_ginzu_assumptions(
    ws: Worksheet, row: int, run: Mapping[str, Any], refs: dict[str, str], cost_of_capital_10: str
) -> tuple[int, list[tuple[str, str]]]:
    """Ginzu inputs and derived cells from `row`; returns the next free row and formulas to fill later."""
    request = (run.get("requests") or {}).get("fcff_ginzu") or {}
    inputs: Mapping[str, Any] = request.get("inputs") or {}
    conventions: Mapping[str, Any] = request.get("conventions") or {}
    outputs: Mapping[str, Any] = ((run.get("results") or {}).get("fcff_ginzu") or {}).get("outputs") or {}
    defaults = defaults_by_path(run)
    ws.cell(row=row, column=1, value=method_title("fcff_ginzu")).font = _BOLD
    row += 1
    pending: list[tuple[str, str]] = []  # (cell coordinate, formula template)
    refs["cost_of_capital_year_10"] = cost_of_capital_10
    for key, unit, default_formula in _GINZU_ROWS:
        info = lookup_field("fcff_ginzu", key)
        ws.cell(row=row, column=1, value=f"fcff_ginzu.inputs.{key}")
        ws.cell(row=row, column=2, value=info.label)
        value_cell = ws.cell(row=row, column=3)
        ws.cell(row=row, column=4, value=_UNIT_TEXT[unit])
        refs[key] = f"Assumptions!$C${row}"
        entry = _source_for(defaults, "fcff_ginzu", key)
        if key in inputs and inputs[key] is not None:
            value_cell.value = inputs[key]
            value_cell.font = _INPUT_FONT
            if entry is not None:
                ws.cell(row=row, column=5, value=f"defaulted: {entry.get('source', '')}")
                ws.cell(row=row, column=6, value="defaulted")
                for c in range(1, 7):
                    ws.cell(row=row, column=c).fill = _DEFAULT_FILL
            else:
                ws.cell(row=row, column=5, value="as submitted")
                ws.cell(row=row, column=6, value="input")
        elif default_formula is not None:
            pending.append((value_cell.coordinate, default_formula))
            ws.cell(row=row, column=5, value=f"engine default: {default_formula[1:].replace('{', '').replace('}', '')}")
            ws.cell(row=row, column=6, value="engine default (formula)")
        else:
            value_cell.value = _GINZU_PLAIN_DEFAULTS.get(key)
            value_cell.font = _INPUT_FONT
            ws.cell(row=row, column=5, value="engine default")
            ws.cell(row=row, column=6, value="engine default")
        value_cell.number_format = _fmt_for(value_cell.value, unit) if unit != "text" else "General"
        if key == "reinvestment_lag":
            ws.cell(
                row=row, column=5
            ).value = (
                f"{ws.cell(row=row, column=5).value}; the Schedule's reinvestment formulas are laid out for this lag"
            )
        row += 1
    row += 1
    ws.cell(row=row, column=1, value="Derived (formulas, or engine values where marked)").font = _BOLD
    row += 1
    for key, label, unit, formula, output_key, note in _GINZU_DERIVED:
        ws.cell(row=row, column=1, value=f"fcff_ginzu.{key}")
        ws.cell(row=row, column=2, value=label)
        cell = ws.cell(row=row, column=3)
        ws.cell(row=row, column=4, value=_UNIT_TEXT[unit])
        refs[key] = f"Assumptions!$C${row}"
        if key == "mid_year":
            cell.value = conventions.get("timing") == "mid_year"
            cell.font = _INPUT_FONT
            ws.cell(row=row, column=5, value=f"conventions.timing = {conventions.get('timing', 'end_of_year')}")
            ws.cell(row=row, column=6, value="input")
        elif formula is None:
            value = outputs.get(output_key or key, 0.0)
            cell.value = value if isinstance(value, (int, float)) else 0.0
            cell.font = _VALUE_FONT
            ws.cell(row=row, column=5, value="engine converter result (not re-derived as a formula)")
            ws.cell(row=row, column=6, value="engine value")
        else:
            pending.append((cell.coordinate, formula))
            ws.cell(row=row, column=5, value=note or "formula")
            ws.cell(row=row, column=6, value="formula")
        cell.number_format = _FORMATS[unit] if unit != "flag" else "General"
        row += 1
    return row, pending


_UNIT_TEXT: dict[Unit, str] = {
    "pct": "%",
    "money": "currency",
    "per_share": "currency / share",
    "ratio": "ratio",
    "years": "years",
    "shares": "shares",
    "count": "count",
    "text": "",
    "flag": "TRUE/FALSE",
    "number": "",
}


def _write_generic_assumptions(ws: Worksheet, row: int, run: Mapping[str, Any], method: str) -> int:
    request = (run.get("requests") or {}).get(method) or {}
    model = str(request.get("model") or method)
    defaults = defaults_by_path(run)
    ws.cell(row=row, column=1, value=method_title(method)).font = _BOLD
    row += 1
    for path, value in flatten(request.get("inputs") or {}):
        if path.startswith("base."):
            continue  # analysis models: the base request is the DCF's own assumptions
        info = lookup_field(model, path)
        ws.cell(row=row, column=1, value=f"{method}.inputs.{path}")
        ws.cell(row=row, column=2, value=info.label)
        cell = ws.cell(row=row, column=3, value=_scalar(value))
        cell.number_format = _fmt_for(value, info.unit) if not isinstance(value, list) else "General"
        cell.font = _INPUT_FONT
        ws.cell(row=row, column=4, value=_UNIT_TEXT[info.unit])
        entry = defaults.get(f"{method}.inputs.{path}")
        if entry is not None:
            ws.cell(row=row, column=5, value=f"defaulted: {entry.get('source', '')}")
            ws.cell(row=row, column=6, value="defaulted")
            for c in range(1, 7):
                ws.cell(row=row, column=c).fill = _DEFAULT_FILL
        else:
            ws.cell(row=row, column=5, value="as submitted")
            ws.cell(row=row, column=6, value="input")
        row += 1
    return row + 1


# --- Schedule (fcff_ginzu) --------------------------------------------------------------------

_YEARS = 12  # base year 0, years 1-10, terminal year 11
_FIRST_COL = 2  # column B holds year 0


def _col(t: int) -> str:
    return get_column_letter(_FIRST_COL + t)


_ROWS = {
    "year": 4,
    "growth": 5,
    "revenues": 6,
    "margin": 7,
    "ebit": 8,
    "tax": 9,
    "eat": 10,
    "nol": 11,
    "s2c": 12,
    "reinvestment": 13,
    "fcff": 14,
    "coc": 15,
    "df": 16,
    "pv": 17,
    "invested": 18,
    "roic": 19,
}
_ROW_LABELS = {
    "growth": ("Revenue growth", "pct"),
    "revenues": ("Revenues", "money"),
    "margin": ("Operating margin", "pct"),
    "ebit": ("EBIT (operating income)", "money"),
    "tax": ("Tax rate", "pct"),
    "eat": ("EBIT (1 - t)", "money"),
    "nol": ("NOL carried forward", "money"),
    "s2c": ("Sales to capital", "ratio"),
    "reinvestment": ("Reinvestment", "money"),
    "fcff": ("FCFF", "money"),
    "coc": ("Cost of capital", "pct"),
    "df": ("Cumulative discount factor", "df"),
    "pv": ("PV (FCFF)", "money"),
    "invested": ("Invested capital", "money"),
    "roic": ("ROIC", "pct"),
}
_SCHEDULE_KEYS = {
    "growth": "revenue_growth",
    "revenues": "revenues",
    "margin": "operating_margin",
    "ebit": "ebit",
    "tax": "tax_rate",
    "eat": "ebit_after_tax",
    "nol": "nol",
    "s2c": "sales_to_capital",
    "reinvestment": "reinvestment",
    "fcff": "fcff",
    "coc": "cost_of_capital",
    "df": "discount_factor",
    "pv": "pv_fcff",
    "invested": "invested_capital",
    "roic": "roic",
}


def _c(name: str, t: int) -> str:
    """Relative reference to line `name`, year t on the Schedule sheet."""
    return f"{_col(t)}{_ROWS[name]}"


def _reinvestment_formula(t: int, lag: int, a: _Refs) -> str:
    r, s = "revenues", "s2c"
    gs, s2 = a["stable_growth"], a["sales_to_capital_years_6_10"]
    if lag == 0:
        return f"=({_c(r, t)}-{_c(r, t - 1)})/{_c(s, t)}"
    if lag == 2:
        if t <= 8:
            return f"=({_c(r, t + 2)}-{_c(r, t + 1)})/{_c(s, t)}"
        if t == 9:
            return f"={_c(r, 10)}*{_c('growth', 10)}/{s2}"
        return f"={_c(r, 11)}*{gs}/{s2}"
    if lag == 3:
        if t <= 8:
            return f"=({_c(r, t + 3)}-{_c(r, t + 2)})/{_c(s, t)}"
        if t == 9:
            return f"={_c(r, 11)}*{gs}/{s2}"
        return f"={_c('reinvestment', 9)}*(1+{gs})"
    return f"=({_c(r, t + 1)}-{_c(r, t)})/{_c(s, t)}"


def _schedule_formulas(a: _Refs, lag: int) -> dict[str, Sequence[str | None]]:
    """Formulas for every line and year (index 0..11); None leaves a cell empty."""
    g1, g25, gs = a["growth_year_1"], a["growth_years_2_5"], a["stable_growth"]
    m1, target, n = a["margin_year_1"], a["target_margin"], a["margin_convergence_year"]
    eff, term = a["effective_tax_rate"], a["terminal_tax_rate"]
    r0, rs, mid = a["initial_cost_of_capital"], a["stable_cost_of_capital"], a["mid_year"]
    f: dict[str, Sequence[str | None]] = {}
    f["growth"] = (
        [None, f"={g1}"] + [f"={g25}"] * 4 + [f"={g25}-(({g25}-{gs})/5)*{k}" for k in range(1, 6)] + [f"={gs}"]
    )
    f["revenues"] = [f"={a['revenues']}"] + [f"={_c('revenues', t - 1)}*(1+{_c('growth', t)})" for t in range(1, 12)]
    f["margin"] = (
        [f"={a['base_operating_margin']}", f"={m1}"]
        + [
            f"=IF({_c('year', t)}>{n},{target},{target}-(({target}-{m1})/{n})*({n}-{_c('year', t)}))"
            for t in range(2, 11)
        ]
        + [f"={_c('margin', 10)}"]
    )
    f["ebit"] = [f"={a['ebit_adjusted']}"] + [f"={_c('margin', t)}*{_c('revenues', t)}" for t in range(1, 12)]
    f["tax"] = [f"={eff}"] * 6 + [f"={_c('tax', t - 1)}+({term}-{eff})/5" for t in range(6, 11)] + [f"={term}"]
    eat: list[str | None] = [f"=IF({_c('ebit', 0)}>0,{_c('ebit', 0)}*(1-{eff}),{_c('ebit', 0)})"]
    nol: list[str | None] = [f"={a['nol']}"]
    for t in range(1, 11):
        e, prev, tax = _c("ebit", t), _c("nol", t - 1), _c("tax", t)
        eat.append(f"=IF({e}>0,IF({e}<{prev},{e},{e}-({e}-{prev})*{tax}),{e})")
        nol.append(f"=IF({e}>0,IF({e}<{prev},{prev}-{e},0),IF({e}<0,{prev}-{e},{prev}))")
    e11, prev10 = _c("ebit", 11), _c("nol", 10)
    eat.append(f"={e11}*(1-{term})")
    nol.append(f"=IF(OR({e11}<0,{prev10}>{e11}),{prev10}-{e11},0)")
    f["eat"], f["nol"] = eat, nol
    s1, s2 = a["sales_to_capital_years_1_5"], a["sales_to_capital_years_6_10"]
    f["s2c"] = [None] + [f"={s1}"] * 5 + [f"={s2}"] * 5 + [None]
    roc = a["stable_return_on_capital"]
    f["reinvestment"] = (
        [None]
        + [_reinvestment_formula(t, lag, a) for t in range(1, 11)]
        + [f"=IF({gs}>0,({gs}/{roc})*{_c('eat', 11)},0)"]
    )
    f["fcff"] = [None] + [f"={_c('eat', t)}-{_c('reinvestment', t)}" for t in range(1, 12)]
    f["coc"] = [None] + [f"={r0}"] * 5 + [f"={_c('coc', t - 1)}-({r0}-{rs})/5" for t in range(6, 11)] + [f"={rs}"]
    f["df"] = (
        [None, f"=1/(1+{_c('coc', 1)})"] + [f"={_c('df', t - 1)}*(1/(1+{_c('coc', t)}))" for t in range(2, 11)] + [None]
    )
    f["pv"] = (
        [None] + [f"={_c('fcff', t)}*{_c('df', t)}*IF({mid},SQRT(1+{_c('coc', t)}),1)" for t in range(1, 11)] + [None]
    )
    f["invested"] = (
        [f"={a['invested_capital_base']}"]
        + [f"={_c('invested', t - 1)}+{_c('reinvestment', t)}" for t in range(1, 11)]
        + [None]
    )
    f["roic"] = (
        [f'=IF({_c("invested", 0)}<>0,{_c("eat", 0)}/{_c("invested", 0)},"")']
        + [f'=IF({_c("invested", t - 1)}<>0,{_c("eat", t)}/{_c("invested", t - 1)},"")' for t in range(1, 11)]
        + [f"={roc}"]
    )
    return f


# Equity bridge: (key, label, unit, formula template using {line} refs, engine output key)
def _bridge_rows(a: _Refs) -> list[tuple[str, str, Unit, str, str | None]]:
    mid, rs, gs = a["mid_year"], a["stable_cost_of_capital"], a["stable_growth"]
    return [
        ("terminal_cash_flow", "Terminal-year FCFF", "money", f"={_c('fcff', 11)}", "terminal_cash_flow"),
        ("stable_cost", "Cost of capital after year 10", "pct", f"={rs}", "terminal_cost_of_capital"),
        ("stable_growth", "Growth in perpetuity", "pct", f"={gs}", "terminal_growth"),
        ("terminal_value", "Terminal value", "money", "={terminal_cash_flow}/({stable_cost}-{stable_growth})", None),
        (
            "pv_terminal_value",
            "PV (terminal value)",
            "money",
            f"={{terminal_value}}*{_c('df', 10)}*IF({mid},SQRT(1+{rs}),1)",
            None,
        ),
        ("pv_cash_flows", "PV (FCFF, years 1-10)", "money", f"=SUM({_c('pv', 1)}:{_c('pv', 10)})", None),
        ("sum_of_pv", "Sum of PV", "money", "={pv_terminal_value}+{pv_cash_flows}", None),
        ("failure_probability", "Probability of failure", "pct", f"={a['failure_probability']}", None),
        (
            "distress_proceeds",
            "Proceeds if the firm fails",
            "money",
            f'=IF({a["distress_proceeds_basis"]}="book",{a["book_capital"]},{{sum_of_pv}})*{a["distress_proceeds_fraction"]}',
            None,
        ),
        (
            "value_of_operating_assets",
            "Value of operating assets",
            "money",
            "={sum_of_pv}*(1-{failure_probability})+{distress_proceeds}*{failure_probability}",
            None,
        ),
        ("debt", "- Debt", "money", f"={a['debt']}", None),
        ("minority_interests", "- Minority interests", "money", f"={a['minority_interests']}", None),
        ("preferred_stock", "- Preferred stock", "money", f"={a['preferred_stock']}", None),
        ("cash", "+ Cash", "money", f"={a['cash_adjusted']}", None),
        ("non_operating_assets", "+ Non-operating assets", "money", f"={a['non_operating_assets']}", None),
        (
            "value_of_equity",
            "Value of equity",
            "money",
            "={value_of_operating_assets}-{debt}-{minority_interests}-{preferred_stock}+{cash}+{non_operating_assets}",
            None,
        ),
        ("options_value", "- Value of options", "money", f"={a['options_value']}", None),
        (
            "value_of_common_equity",
            "Value of equity in common stock",
            "money",
            "={value_of_equity}-{options_value}",
            None,
        ),
        ("shares_outstanding", "Number of shares", "shares", f"={a['shares_outstanding']}", None),
        (
            "value_per_share",
            "Estimated value per share",
            "per_share",
            "={value_of_common_equity}/{shares_outstanding}",
            None,
        ),
        ("price", "Price per share", "per_share", f'=IF(ISBLANK({a["price"]}),"",{a["price"]})', None),
        (
            "price_to_value",
            "Price as % of value",
            "pct",
            '=IF(AND(ISNUMBER({price}),{value_per_share}>0),{price}/{value_per_share},"")',
            None,
        ),
        (
            "upside",
            "Upside (value / price - 1)",
            "pct",
            '=IF(AND(ISNUMBER({price}),{price}>0),{value_per_share}/{price}-1,"")',
            None,
        ),
    ]


def _write_schedule(wb: Workbook, run: Mapping[str, Any], a: _Refs) -> str:
    """The live Ginzu sheet; returns the absolute reference of the value-per-share cell."""
    ws = wb.create_sheet("Schedule")
    request = (run.get("requests") or {}).get("fcff_ginzu") or {}
    result = (run.get("results") or {}).get("fcff_ginzu") or {}
    lag = int((request.get("inputs") or {}).get("reinvestment_lag", 1) or 0)
    company = run.get("company") or {}
    currency = company.get("currency") or ""
    ws["A1"] = f"{company.get('name', '')} - FCFF DCF (Ginzu mechanics), live formulas ({currency})"
    ws["A1"].font = _TITLE
    ws["A2"] = (
        "Every cell below is a formula on the Assumptions sheet: change a blue input there and the DCF "
        "recomputes. Grey italic cells are the engine's values, kept for comparison."
    )
    ws["A2"].font = _VALUE_FONT
    _header(ws, 3, ["", "Base year", *[f"Year {t}" for t in range(1, 11)], "Terminal year"])
    ws.cell(row=_ROWS["year"], column=1, value="Year").font = _BOLD
    for t in range(_YEARS):
        ws.cell(row=_ROWS["year"], column=_FIRST_COL + t, value=t).alignment = Alignment(horizontal="center")
    formulas = _schedule_formulas(a, lag)
    for name, (label, unit) in _ROW_LABELS.items():
        r = _ROWS[name]
        ws.cell(row=r, column=1, value=label).font = _BOLD if name in ("fcff", "pv") else Font()
        for t, formula in enumerate(formulas[name]):
            if formula is None:
                continue
            cell = ws.cell(row=r, column=_FIRST_COL + t, value=formula)
            cell.number_format = _DF_FORMAT if unit == "df" else _FORMATS[unit]  # type: ignore[index]
    ws.cell(row=_ROWS["reinvestment"], column=_FIRST_COL + _YEARS, value=f"reinvestment lag {lag}").font = _VALUE_FONT
    # Engine schedule beneath, as values, for auditing.
    schedule: Sequence[Mapping[str, Any]] = result.get("schedule") or []
    engine_top = _ROWS["roic"] + 3
    ws.cell(row=engine_top - 1, column=1, value="Engine schedule (values, for comparison)").font = _BOLD
    for name, (label, unit) in _ROW_LABELS.items():
        r = engine_top + list(_ROW_LABELS).index(name)
        ws.cell(row=r, column=1, value=label).font = _VALUE_FONT
        for t, line in enumerate(schedule[:_YEARS]):
            value = line.get(_SCHEDULE_KEYS[name])
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                cell = ws.cell(row=r, column=_FIRST_COL + t, value=value)
                cell.font = _VALUE_FONT
                cell.number_format = _DF_FORMAT if unit == "df" else _FORMATS[unit]  # type: ignore[index]
    # Valuation and equity bridge.
    top = engine_top + len(_ROW_LABELS) + 2
    _header(ws, top, ["Valuation", "Formula", "Engine", "Difference"])
    outputs: Mapping[str, Any] = result.get("outputs") or {}
    rows = _bridge_rows(a)
    where = {key: f"$B${top + 1 + i}" for i, (key, *_rest) in enumerate(rows)}
    bridge = _Refs(where)
    vps_ref = ""
    for i, (key, label, unit, template, engine_key) in enumerate(rows):
        r = top + 1 + i
        ws.cell(row=r, column=1, value=label)
        cell = ws.cell(row=r, column=2, value=bridge.fill(template))
        cell.number_format = _FORMATS[unit]
        engine_value = outputs.get(engine_key or key)
        if isinstance(engine_value, (int, float)) and not isinstance(engine_value, bool):
            ev = ws.cell(row=r, column=3, value=engine_value)
            ev.number_format = _FORMATS[unit]
            ev.font = _VALUE_FONT
            diff = ws.cell(row=r, column=4, value=f'=IF(ISNUMBER(B{r}),B{r}-C{r},"")')
            diff.number_format = "0.00E+00"
        if key in ("value_of_operating_assets", "value_of_equity", "value_per_share"):
            for c in range(1, 3):
                ws.cell(row=r, column=c).font = _BOLD
                ws.cell(row=r, column=c).border = _TOP_BORDER
        if key == "value_per_share":
            cell.fill = _BASE_FILL
            vps_ref = f"Schedule!$B${r}"
    _widths(ws, {"A": 34, **{_col(t): 13 for t in range(_YEARS)}, _col(_YEARS): 18})
    ws.freeze_panes = "B5"
    return vps_ref


def _write_explicit(wb: Workbook, run: Mapping[str, Any]) -> None:
    result = (run.get("results") or {}).get("fcff_explicit") or {}
    schedule: Sequence[Mapping[str, Any]] = result.get("schedule") or []
    ws = wb.create_sheet("Explicit DCF")
    ws["A1"] = "Explicit-forecast FCFF DCF (engine values)"
    ws["A1"].font = _TITLE
    columns: list[str] = []
    for line in schedule:
        for k in line:
            if k not in columns:
                columns.append(k)
    _header(ws, 3, columns)
    for i, line in enumerate(schedule):
        for j, k in enumerate(columns):
            value = _scalar(line.get(k))
            cell = ws.cell(row=4 + i, column=1 + j, value=value)
            cell.font = _VALUE_FONT
            if k == "discount_factor":
                cell.number_format = _DF_FORMAT
            elif isinstance(value, float):
                cell.number_format = _FORMATS["money"]
    row = 5 + len(schedule)
    row = _write_outputs(ws, row, "fcff_explicit", result.get("outputs") or {})
    _widths(ws, {get_column_letter(i + 1): 18 for i in range(max(len(columns), 2))})


def _output_unit(key: str) -> Unit:
    k = key.lower()
    if any(w in k for w in ("rate", "growth", "margin", "upside", "probability", "share_of", "_share", "weight")):
        return "pct" if "per_share" not in k else "per_share"
    if "per_share" in k or k in ("price", "low", "high", "mid") or k.startswith(("weighted_", "overall_")):
        return "per_share"
    if "multiple" in k or "ratio" in k or "price_to" in k:
        return "ratio"
    if "shares" in k:
        return "shares"
    return "money"


def _write_outputs(ws: Worksheet, row: int, method: str, outputs: Mapping[str, Any]) -> int:
    ws.cell(row=row, column=1, value=f"{method_title(method)} - outputs").font = _BOLD
    row += 1
    for path, value in flatten(outputs):
        if isinstance(value, list) and len(value) > 50:
            continue
        ws.cell(row=row, column=1, value=f"{method}.outputs.{path}")
        cell = ws.cell(row=row, column=2, value=_scalar(value))
        cell.font = _VALUE_FONT
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            cell.number_format = _FORMATS[_output_unit(path.rsplit(".", 1)[-1])]
        row += 1
    return row + 1


# --- Analysis sheets --------------------------------------------------------------------------


def _write_sensitivity(wb: Workbook, run: Mapping[str, Any]) -> None:
    result = (run.get("results") or {}).get("sensitivity") or {}
    request = (run.get("requests") or {}).get("sensitivity") or {}
    out: Mapping[str, Any] = result.get("outputs") or {}
    ws = wb.create_sheet("Sensitivity")
    ws["A1"] = "Sensitivity of value per share (engine values: each cell is a full revaluation)"
    ws["A1"].font = _TITLE
    row_path, col_path = str(out.get("row_path", "")), str(out.get("column_path", ""))
    base = (request.get("inputs") or {}).get("base") or {}
    model = str(base.get("model", "fcff_ginzu"))
    row_unit = lookup_field(model, row_path.removeprefix("inputs.")).unit
    col_unit = lookup_field(model, col_path.removeprefix("inputs.")).unit
    ws["A2"] = f"Rows: {row_path}; columns: {col_path}; base value {out.get('base_value')}"
    ws["A2"].font = _VALUE_FONT
    rows: Sequence[float] = out.get("row_values") or []
    cols: Sequence[float] = out.get("column_values") or []
    grid: Sequence[Sequence[float | None]] = out.get("grid") or []
    bi, bj = _base_index(rows, get_path(base, row_path)), _base_index(cols, get_path(base, col_path))
    ws.cell(row=4, column=1, value=f"{row_path} \\ {col_path}").font = _BOLD
    for j, v in enumerate(cols):
        cell = ws.cell(row=4, column=2 + j, value=v)
        cell.font = _HEADER_FONT
        cell.fill = _HEADER_FILL
        cell.number_format = _FORMATS.get(col_unit, "General")
    for i, v in enumerate(rows):
        head = ws.cell(row=5 + i, column=1, value=v)
        head.font = _HEADER_FONT
        head.fill = _HEADER_FILL
        head.number_format = _FORMATS.get(row_unit, "General")
        for j, value in enumerate(grid[i] if i < len(grid) else []):
            cell = ws.cell(row=5 + i, column=2 + j, value=value if value is not None else "n/a")
            cell.number_format = _FORMATS["per_share"]
            if i == bi and j == bj:
                cell.fill = _BASE_FILL
                cell.font = _BOLD
    ws.cell(row=6 + len(rows), column=1, value="Green: the base case.").font = _VALUE_FONT
    _widths(ws, {"A": 40, **{get_column_letter(2 + j): 12 for j in range(len(cols))}})


def _base_index(values: Sequence[float], base: Any) -> int:
    """Index of the axis value equal (or nearest) to the base input; -1 if unknown."""
    if not values or not isinstance(base, (int, float)):
        return -1
    return min(range(len(values)), key=lambda i: abs(values[i] - base))


def _write_monte_carlo(wb: Workbook, run: Mapping[str, Any]) -> None:
    result = (run.get("results") or {}).get("monte_carlo") or {}
    request = (run.get("requests") or {}).get("monte_carlo") or {}
    out: Mapping[str, Any] = result.get("outputs") or {}
    ws = wb.create_sheet("Monte Carlo")
    ws["A1"] = "Monte Carlo simulation of value per share (engine values)"
    ws["A1"].font = _TITLE
    inputs = request.get("inputs") or {}
    row = 3
    _header(ws, row, ["Driver", "Distribution", "Parameters"])
    for d in inputs.get("drivers") or []:
        row += 1
        params = {k: v for k, v in d.items() if k not in ("path", "distribution") and v is not None}
        ws.cell(row=row, column=1, value=str(d.get("path")))
        ws.cell(row=row, column=2, value=str(d.get("distribution")))
        ws.cell(row=row, column=3, value=", ".join(f"{k} = {v:.6g}" for k, v in params.items()))
    for c in inputs.get("correlations") or []:
        row += 1
        ws.cell(row=row, column=1, value=f"correlation {c.get('a')} / {c.get('b')}")
        ws.cell(row=row, column=3, value=f"rho = {c.get('rho'):.4f}")
    row += 2
    _header(ws, row, ["Statistic", "Value"])
    stats: list[tuple[str, Any, Unit]] = [
        ("Paths", out.get("paths"), "count"),
        ("Valid paths", out.get("valid_paths"), "count"),
        ("Seed", inputs.get("seed", 0), "count"),
        ("Deterministic value", out.get("deterministic_value"), "per_share"),
        ("Mean", out.get("mean"), "per_share"),
        ("Standard deviation", out.get("stdev"), "per_share"),
        ("Minimum", out.get("min"), "per_share"),
        ("Maximum", out.get("max"), "per_share"),
    ]
    stats += [(f"Percentile {k[1:]}", v, "per_share") for k, v in (out.get("percentiles") or {}).items()]
    if "price" in out:
        stats += [
            ("Price", out.get("price"), "per_share"),
            ("P(value > price)", out.get("probability_above_price"), "pct"),
        ]
    for label, value, unit in stats:
        row += 1
        ws.cell(row=row, column=1, value=label)
        cell = ws.cell(row=row, column=2, value=_scalar(value))
        cell.number_format = _FORMATS[unit]
        cell.font = _VALUE_FONT
    row += 2
    _header(ws, row, ["Bin low", "Bin high", "Paths"])
    first = row + 1
    for b in out.get("histogram") or []:
        row += 1
        columns: tuple[tuple[str, Unit], ...] = (("low", "per_share"), ("high", "per_share"), ("count", "count"))
        for c, (k, unit) in enumerate(columns):
            cell = ws.cell(row=row, column=1 + c, value=b.get(k))
            cell.number_format = _FORMATS[unit]
    if row >= first:
        chart = BarChart()
        chart.type = "col"
        chart.title = "Distribution of value per share"
        chart.y_axis.title = "paths"
        chart.x_axis.title = "value per share (bin low)"
        chart.add_data(Reference(ws, min_col=3, min_row=first - 1, max_row=row), titles_from_data=True)
        chart.set_categories(Reference(ws, min_col=1, min_row=first, max_row=row))
        chart.gapWidth = 10
        chart.legend = None
        chart.width, chart.height = 22, 10
        ws.add_chart(chart, "E3")
    _widths(ws, {"A": 38, "B": 16, "C": 40})


def _write_table(
    wb: Workbook, title: str, heading: str, header: Sequence[str], rows: Sequence[Sequence[Any]], units: Sequence[Unit]
) -> Worksheet:
    ws: Worksheet = wb.create_sheet(title)
    ws["A1"] = heading
    ws["A1"].font = _TITLE
    _header(ws, 3, header)
    for i, line in enumerate(rows):
        for j, value in enumerate(line):
            cell = ws.cell(row=4 + i, column=1 + j, value=_scalar(value))
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                cell.number_format = _FORMATS[units[j]]
    _widths(ws, {get_column_letter(j + 1): 34 if j == 0 else 16 for j in range(len(header))})
    return ws


def _write_football(wb: Workbook, run: Mapping[str, Any]) -> None:
    out: Mapping[str, Any] = ((run.get("results") or {}).get("football_field") or {}).get("outputs") or {}
    rows = [
        [m.get("name"), m.get("low"), m.get("mid"), m.get("high"), m.get("weight")] for m in out.get("methods") or []
    ]
    rows.append(["Weighted", out.get("weighted_low"), out.get("weighted_mid"), out.get("weighted_high"), 1.0])
    if "price" in out:
        rows.append(["Price", out.get("price"), out.get("price"), out.get("price"), None])
    _write_table(
        wb,
        "Football Field",
        "Football field: range of value per share by method (engine values)",
        ["Method", "Low", "Mid", "High", "Weight"],
        rows,
        ["text", "per_share", "per_share", "per_share", "pct"],
    )


def _write_scenarios(wb: Workbook, run: Mapping[str, Any]) -> None:
    out: Mapping[str, Any] = ((run.get("results") or {}).get("scenarios") or {}).get("outputs") or {}
    rows: list[list[Any]] = [[s.get("name"), s.get("probability"), s.get("value")] for s in out.get("scenarios") or []]
    ws = _write_table(
        wb,
        "Scenarios",
        "Scenarios (engine values)",
        ["Scenario", "Probability", "Value per share"],
        rows,
        ["text", "pct", "per_share"],
    )
    r = 4 + len(rows)
    ws.cell(row=r, column=1, value="Probability-weighted value").font = _BOLD
    cell = ws.cell(row=r, column=3, value=f"=SUMPRODUCT(B4:B{r - 1},C4:C{r - 1})")
    cell.number_format = _FORMATS["per_share"]
    ws.cell(row=r + 1, column=1, value="Engine weighted value").font = _VALUE_FONT
    ev = ws.cell(row=r + 1, column=3, value=out.get("weighted_value"))
    ev.number_format = _FORMATS["per_share"]
    ev.font = _VALUE_FONT


def _write_comparables(wb: Workbook, run: Mapping[str, Any]) -> None:
    out: Mapping[str, Any] = ((run.get("results") or {}).get("comparables") or {}).get("outputs") or {}
    rows: list[list[Any]] = []
    for name, m in (out.get("multiples") or {}).items():
        stats = m.get("statistics") or {}
        point = m.get("point") or {}
        rng = m.get("range") or {}
        rows.append(
            [
                name,
                stats.get("count"),
                stats.get("q1"),
                stats.get("median"),
                stats.get("q3"),
                point.get("per_share"),
                (rng.get("low") or {}).get("per_share"),
                (rng.get("high") or {}).get("per_share"),
                len(m.get("excluded") or []),
            ]
        )
    _write_table(
        wb,
        "Comparables",
        "Trading comparables (engine values)",
        ["Multiple", "Peers", "Q1", "Median", "Q3", "Implied / share", "Low / share", "High / share", "Excluded"],
        rows,
        ["text", "count", "ratio", "ratio", "ratio", "per_share", "per_share", "per_share", "count"],
    )


# --- Summary and provenance -------------------------------------------------------------------


def _write_summary(ws: Worksheet, run: Mapping[str, Any], schedule_vps: str) -> str:
    company = run.get("company") or {}
    summary = run.get("summary") or {}
    currency = summary.get("currency") or company.get("currency") or ""
    ws["A1"] = f"Valuation of {company.get('name', '')}" + (f" ({company['ticker']})" if company.get("ticker") else "")
    ws["A1"].font = _TITLE
    row = 2
    if company.get("is_demo"):
        ws["A2"] = "DEMO DATA - not a real company's figures"
        ws["A2"].font = Font(bold=True, color="C00000")
        row = 3
    lines: list[tuple[str, Any, Unit]] = [
        ("Company", company.get("name"), "text"),
        ("Ticker", company.get("ticker") or "-", "text"),
        ("Currency", currency, "text"),
        ("Price currency", company.get("price_currency") or currency, "text"),
        ("Value per share", summary.get("value_per_share"), "per_share"),
        ("Price", summary.get("price"), "per_share"),
        ("Upside", summary.get("upside"), "pct"),
        ("Equity value", summary.get("equity_value"), "money"),
        ("Enterprise value", summary.get("enterprise_value"), "money"),
        ("Methods", ", ".join(run.get("methods") or []), "text"),
        ("Status", run.get("status"), "text"),
        ("Run", run.get("id"), "text"),
        ("Created", fmt_date(run.get("created_at")), "text"),
        ("Finished", fmt_date(run.get("finished_at")), "text"),
        ("Author", run.get("created_by"), "text"),
        ("Engine version", run.get("engine_version"), "text"),
        ("Input hash", run.get("input_hash"), "text"),
    ]
    vps_ref = ""
    for label, value, unit in lines:
        row += 1
        ws.cell(row=row, column=1, value=label).font = _BOLD
        cell = ws.cell(row=row, column=2, value=_scalar(value))
        cell.number_format = _FORMATS[unit]
        if label == "Value per share":
            cell.fill = _BASE_FILL
            vps_ref = f"Summary!$B${row}"
    if schedule_vps:
        row += 1
        ws.cell(row=row, column=1, value="Value per share recomputed by the Schedule").font = _BOLD
        cell = ws.cell(row=row, column=2, value="=ValuePerShare")
        cell.number_format = _FORMATS["per_share"]
    row += 2
    ws.cell(
        row=row,
        column=1,
        value="Colours: blue = input, yellow = defaulted value, grey italic = engine value, green = result.",
    ).font = _VALUE_FONT
    _widths(ws, {"A": 44, "B": 70})
    return vps_ref


def _write_provenance(wb: Workbook, run: Mapping[str, Any]) -> None:
    ws = wb.create_sheet("Provenance")
    ws["A1"] = "Reproducibility and data provenance"
    ws["A1"].font = _TITLE
    row = 3
    for label, value in (
        ("Run", run.get("id")),
        ("Input hash (SHA-256)", run.get("input_hash")),
        ("Engine version", run.get("engine_version")),
        ("Created", fmt_date(run.get("created_at"))),
        ("Finished", fmt_date(run.get("finished_at"))),
        ("Author", run.get("created_by")),
    ):
        ws.cell(row=row, column=1, value=label).font = _BOLD
        ws.cell(row=row, column=2, value=_scalar(value))
        row += 1
    row += 1
    ws.cell(row=row, column=1, value="Market-data snapshots").font = _BOLD
    row += 1
    _header(ws, row, ["Snapshot", "Provider", "Function", "Symbol", "Fetched at", "Content hash"])
    for snap in run.get("snapshots") or []:
        row += 1
        for j, k in enumerate(("id", "provider", "function", "symbol", "fetched_at", "content_hash")):
            value = snap.get(k)
            ws.cell(row=row, column=1 + j, value=fmt_date(value) if k == "fetched_at" else _scalar(value))
    row += 2
    ws.cell(row=row, column=1, value="Defaulted values").font = _BOLD
    row += 1
    _header(ws, row, ["Path", "Value", "Source"])
    for entry in run.get("defaults_applied") or []:
        row += 1
        ws.cell(row=row, column=1, value=str(entry.get("path")))
        ws.cell(row=row, column=2, value=_scalar(entry.get("value")))
        ws.cell(row=row, column=3, value=str(entry.get("source", "")))
    row += 2
    ws.cell(row=row, column=1, value="Conventions").font = _BOLD
    row += 1
    _header(ws, row, ["Method", "Convention", "Value"])
    for method, conv in _conventions(run).items():
        for path, value in flatten(conv) if conv else [("(defaults)", "")]:
            row += 1
            ws.cell(row=row, column=1, value=method)
            ws.cell(row=row, column=2, value=path)
            ws.cell(row=row, column=3, value=_scalar(value))
    row += 2
    ws.cell(row=row, column=1, value="Engine warnings").font = _BOLD
    for method, result in (run.get("results") or {}).items():
        for w in result.get("warnings") or []:
            row += 1
            ws.cell(row=row, column=1, value=method)
            ws.cell(row=row, column=2, value=str(w))
    _widths(ws, {"A": 40, "B": 40, "C": 60, "D": 14, "E": 22, "F": 70})


def _conventions(run: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Per method: the run's conventions, else the request's."""
    out: dict[str, Mapping[str, Any]] = {}
    given = run.get("conventions") or {}
    for method in run.get("methods") or []:
        conv = given.get(method)
        if conv is None:
            conv = ((run.get("requests") or {}).get(method) or {}).get("conventions") or {}
        out[method] = conv
    return out


# --- Entry point ------------------------------------------------------------------------------


def build_workbook(run: Mapping[str, Any]) -> bytes:
    """The run as an .xlsx workbook (bytes). Pure: no I/O besides an in-memory buffer."""
    wb = Workbook()
    summary = wb.active
    assert summary is not None
    summary.title = "Summary"
    assumptions = wb.create_sheet("Assumptions")
    assumptions["A1"] = "Assumptions"
    assumptions["A1"].font = _TITLE
    assumptions["A2"] = (
        "Blue values are inputs; yellow rows were defaulted by Water (source given); "
        "engine defaults are formulas on other inputs; grey italic values come from the engine."
    )
    assumptions["A2"].font = _VALUE_FONT
    _header(assumptions, 3, ["Path", "Assumption", "Value", "Unit", "Source", "Kind"])
    results = run.get("results") or {}
    methods: list[str] = list(run.get("methods") or results.keys())
    has_ginzu = "fcff_ginzu" in methods and "fcff_ginzu" in results
    row = 5
    schedule_vps = ""
    if has_ginzu:
        # The Schedule's year-10 cost of capital cell (the default stable ROC refers to it).
        coc10 = f"Schedule!${_col(10)}${_ROWS['coc']}"
        refs: dict[str, str] = {}
        row, pending = _write_ginzu_assumptions(assumptions, row, run, refs, coc10)
        a = _Refs(refs)
        for coordinate, template in pending:
            assumptions[coordinate] = a.fill(template)
        row += 1
        schedule_vps = _write_schedule(wb, run, a)
    for method in methods:
        if method == "fcff_ginzu":
            continue
        row = _write_generic_assumptions(assumptions, row, run, method)
    _widths(assumptions, {"A": 46, "B": 60, "C": 18, "D": 16, "E": 70, "F": 22})
    assumptions.freeze_panes = "A4"
    if "fcff_explicit" in results:
        _write_explicit(wb, run)
    writers = {
        "sensitivity": _write_sensitivity,
        "monte_carlo": _write_monte_carlo,
        "football_field": _write_football,
        "scenarios": _write_scenarios,
        "comparables": _write_comparables,
    }
    for method, writer in writers.items():
        if method in results:
            writer(wb, run)
    results_ws = wb.create_sheet("Results")
    results_ws["A1"] = "Every output of every method (engine values)"
    results_ws["A1"].font = _TITLE
    r = 3
    for method in methods:
        if method in results:
            r = _write_outputs(results_ws, r, method, results[method].get("outputs") or {})
    _widths(results_ws, {"A": 70, "B": 24})
    _write_provenance(wb, run)
    vps_summary = _write_summary(summary, run, schedule_vps)
    target = schedule_vps or vps_summary
    if target:
        wb.defined_names["ValuePerShare"] = DefinedName("ValuePerShare", attr_text=target)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()

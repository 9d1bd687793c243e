"""The valuation-run report (PDF) an analyst can hand to a committee.

`build_report_pdf(run) -> bytes` is pure: a run dict in, PDF bytes out (reportlab, built-in
Helvetica, charts drawn with reportlab.graphics; `invariant` mode, so the same run gives the
same bytes). Sections, each only when its method ran: Summary (value per share against the
price, upside, methods, date, author, a demo-data label), Assumptions (defaulted values
marked with their source), Schedule (fcff_ginzu years 0-10 and terminal, the equity bridge;
fcff_explicit years), Sensitivity (two-way grid, base cell highlighted), Scenarios,
Comparables, Football field (chart), Monte Carlo (histogram with percentiles and the price),
Other methods, Conventions, Reproducibility and data provenance (engine version, input hash,
snapshots, engine warnings). All text is real text, so `pdftotext` extracts it.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal
from xml.sax.saxutils import escape

from reportlab.graphics.shapes import Drawing, Line, Rect, String
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle, StyleSheet1, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    KeepTogether,
    NextPageTemplate,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from .common import (
    Unit,
    defaults_by_path,
    flatten,
    fmt_date,
    fmt_money,
    fmt_number,
    fmt_pct,
    fmt_value,
    get_path,
    lookup_field,
    method_title,
)

__all__ = ["build_report_pdf"]

_NAVY = colors.HexColor("#1F3A5F")
_GREY = colors.HexColor("#6B6B6B")
_LIGHT = colors.HexColor("#EEF2F7")
_DEFAULT_BG = colors.HexColor("#FFF2CC")
_BASE_BG = colors.HexColor("#C6E0B4")
_RED = colors.HexColor("#C00000")
_BAR = colors.HexColor("#4F81BD")
_MARGIN = 16 * mm


# --- Styles ----------------------------------------------------------------------------------


def _styles() -> StyleSheet1:
    ss = getSampleStyleSheet()
    ss.add(ParagraphStyle("Small", parent=ss["Normal"], fontSize=8, leading=10))
    ss.add(ParagraphStyle("Cell", parent=ss["Normal"], fontSize=7.5, leading=9))
    ss.add(ParagraphStyle("Note", parent=ss["Normal"], fontSize=7.5, leading=9.5, textColor=_GREY))
    ss.add(
        ParagraphStyle("Demo", parent=ss["Normal"], fontSize=10, leading=13, textColor=_RED, fontName="Helvetica-Bold")
    )
    ss.add(ParagraphStyle("KeyLabel", parent=ss["Normal"], fontSize=8, alignment=TA_CENTER, textColor=_GREY))
    ss.add(
        ParagraphStyle(
            "KeyValue", parent=ss["Normal"], fontSize=16, leading=20, alignment=TA_CENTER, fontName="Helvetica-Bold"
        )
    )
    ss["Title"].fontSize = 20
    ss["Title"].leading = 24
    ss["Heading1"].textColor = _NAVY
    ss["Heading1"].fontSize = 15
    ss["Heading2"].textColor = _NAVY
    ss["Heading2"].fontSize = 11.5
    ss["Heading2"].leading = 14
    return ss


def _p(text: Any, style: Any) -> Paragraph:
    """A paragraph of plain text (escaped); `style` is a ParagraphStyle from the style sheet."""
    return Paragraph(escape(str(text)), style)


def _table(
    rows: Sequence[Sequence[Any]],
    widths: Sequence[float] | None = None,
    *,
    header: bool = True,
    font_size: float = 7.5,
    align_right_from: int = 1,
    extra: Sequence[tuple[Any, ...]] = (),
) -> Table:
    table = Table([list(r) for r in rows], colWidths=widths, repeatRows=1 if header else 0, hAlign="LEFT")
    style: list[tuple[Any, ...]] = [
        ("FONT", (0, 0), (-1, -1), "Helvetica", font_size),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("ALIGN", (align_right_from, 0), (-1, -1), "RIGHT"),
        ("LINEBELOW", (0, -1), (-1, -1), 0.5, _GREY),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
    ]
    if header:
        style += [
            ("BACKGROUND", (0, 0), (-1, 0), _NAVY),
            ("TEXTCOLOR", (0, 0), (-1, 0), colors.white),
            ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", font_size),
        ]
        if len(rows) > 2:
            style.append(("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, _LIGHT]))
    table.setStyle(TableStyle(style + list(extra)))
    return table


# --- Small helpers ---------------------------------------------------------------------------


def _num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _f(x: Any) -> float:
    return float(x) if _num(x) else 0.0


def _rect(x: float, y: float, width: float, height: float, fill: colors.Color) -> Rect:
    rect = Rect(x, y, width, height)
    rect.fillColor = fill
    rect.strokeColor = None
    return rect


def _money(x: Any, currency: str = "") -> str:
    return fmt_money(x, currency or None)


def _share(x: Any, currency: str = "") -> str:
    return fmt_money(x, currency or None, 2)


def _outputs(run: Mapping[str, Any], method: str) -> Mapping[str, Any]:
    result = (run.get("results") or {}).get(method) or {}
    out: Mapping[str, Any] = result.get("outputs") or {}
    return out


def _request(run: Mapping[str, Any], method: str) -> Mapping[str, Any]:
    req: Mapping[str, Any] = (run.get("requests") or {}).get(method) or {}
    return req


def _has(run: Mapping[str, Any], method: str) -> bool:
    return method in (run.get("methods") or []) and method in (run.get("results") or {})


# --- Summary --------------------------------------------------------------------------------


def _method_values(run: Mapping[str, Any]) -> list[tuple[str, str, Any]]:
    """(method, what, value per share) for every method that gives one."""
    out: list[tuple[str, str, Any]] = []
    for method in run.get("methods") or []:
        o = _outputs(run, method)
        if not o:
            continue
        if method == "comparables":
            points = [m.get("point", {}).get("per_share") for m in (o.get("multiples") or {}).values()]
            points = [p for p in points if _num(p)]
            if points:
                points.sort()
                out.append((method, "median of the multiples' point values", points[len(points) // 2]))
        elif method == "scenarios":
            out.append((method, "probability-weighted", o.get("weighted_value")))
        elif method == "monte_carlo":
            out.append((method, "mean of the simulated values", o.get("mean")))
        elif method == "football_field":
            out.append((method, "weighted mid-point", o.get("weighted_mid")))
        elif method == "sensitivity":
            continue
        elif _num(o.get("value_per_share")):
            out.append((method, "value per share", o.get("value_per_share")))
    return out


def _summary(run: Mapping[str, Any], ss: StyleSheet1) -> list[Flowable]:
    company = run.get("company") or {}
    summary = run.get("summary") or {}
    currency = str(summary.get("currency") or company.get("currency") or "")
    price_currency = str(company.get("price_currency") or currency)
    name = str(company.get("name") or "")
    ticker = company.get("ticker")
    story: list[Flowable] = [
        _p(f"Valuation report: {name}" + (f" ({ticker})" if ticker else ""), ss["Title"]),
    ]
    if company.get("is_demo"):
        story.append(
            _p(
                "DEMO DATA - this company and its figures are illustrative sample data, not a real company's accounts.",
                ss["Demo"],
            )
        )
    story.append(
        _p(
            f"Prepared {fmt_date(run.get('finished_at') or run.get('created_at'))} by {run.get('created_by') or '-'}",
            ss["Note"],
        )
    )
    story.append(Spacer(1, 4 * mm))
    story.append(_p("Summary", ss["Heading1"]))
    vps, price, upside = summary.get("value_per_share"), summary.get("price"), summary.get("upside")
    key = Table(
        [
            [_p("Value per share", ss["KeyLabel"]), _p("Price", ss["KeyLabel"]), _p("Upside", ss["KeyLabel"])],
            [
                _p(_share(vps, currency), ss["KeyValue"]),
                _p(_share(price, price_currency), ss["KeyValue"]),
                _p(fmt_pct(upside, 1) if _num(upside) else "-", ss["KeyValue"]),
            ],
        ],
        colWidths=[58 * mm] * 3,
        hAlign="LEFT",
    )
    key.setStyle(
        TableStyle(
            [
                ("BOX", (0, 0), (-1, -1), 0.8, _NAVY),
                ("BACKGROUND", (0, 0), (-1, -1), _LIGHT),
                ("BACKGROUND", (0, 0), (0, -1), _BASE_BG),
                ("TOPPADDING", (0, 0), (-1, -1), 4),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
            ]
        )
    )
    story += [key, Spacer(1, 4 * mm)]
    if _num(vps) and _num(price) and price:
        verdict = "above" if vps > price else "below" if vps < price else "equal to"
        story.append(
            _p(
                f"The estimated value of {_share(vps, currency)} per share is {verdict} the price of "
                f"{_share(price, price_currency)}" + (f" ({fmt_pct(upside, 1)} upside)." if _num(upside) else "."),
                ss["Normal"],
            )
        )
        story.append(Spacer(1, 3 * mm))
    methods = [str(m) for m in run.get("methods") or []]
    details = [
        ["Company", name],
        ["Ticker", ticker or "-"],
        ["Currency", currency + (f" (prices in {price_currency})" if price_currency != currency else "")],
        ["Equity value", _money(summary.get("equity_value"), currency)],
        ["Enterprise value (operating assets)", _money(summary.get("enterprise_value"), currency)],
        ["Methods", ", ".join(method_title(m) for m in methods)],
        ["Status", str(run.get("status") or "-")],
        ["Created", fmt_date(run.get("created_at"))],
        ["Finished", fmt_date(run.get("finished_at"))],
        ["Author", str(run.get("created_by") or "-")],
        ["Run", str(run.get("id") or "-")],
        ["Engine version", str(run.get("engine_version") or "-")],
        ["Input hash", str(run.get("input_hash") or "-")],
    ]
    rows = [[_p(a, ss["Cell"]), _p(b, ss["Cell"])] for a, b in details]
    story.append(_table(rows, [55 * mm, 120 * mm], header=False, align_right_from=2))
    values = _method_values(run)
    if len(values) > 1:
        story += [Spacer(1, 4 * mm), _p("Value per share by method", ss["Heading2"])]
        rows2: list[list[Any]] = [["Method", "Measure", f"Value per share ({currency})"]]
        rows2 += [[method_title(m), what, _share(v)] for m, what, v in values]
        story.append(_table(rows2, [60 * mm, 70 * mm, 40 * mm], align_right_from=2))
    warnings = [(m, w) for m, r in (run.get("results") or {}).items() for w in (r.get("warnings") or [])]
    if warnings:
        story += [Spacer(1, 3 * mm), _p("Engine warnings", ss["Heading2"])]
        story += [_p(f"{method_title(m)}: {w}", ss["Small"]) for m, w in warnings]
    return story


# --- Assumptions ----------------------------------------------------------------------------

# Ginzu inputs in the template's order; for omitted ones, the engine default and where its value is.
_GINZU_ORDER = (
    "revenues",
    "ebit",
    "shares_outstanding",
    "price",
    "effective_tax_rate",
    "marginal_tax_rate",
    "growth_year_1",
    "growth_years_2_5",
    "margin_year_1",
    "target_margin",
    "margin_convergence_year",
    "sales_to_capital_years_1_5",
    "sales_to_capital_years_6_10",
    "riskfree_rate",
    "initial_cost_of_capital",
    "mature_market_erp",
    "riskfree_rate_after_year_10",
    "stable_growth",
    "stable_cost_of_capital",
    "stable_return_on_capital",
    "book_equity",
    "book_debt",
    "cash",
    "non_operating_assets",
    "minority_interests",
    "preferred_stock",
    "options_value",
    "failure_probability",
    "distress_proceeds_basis",
    "distress_proceeds_fraction",
    "reinvestment_lag",
    "tax_rate_converges_to_marginal",
    "nol",
    "trapped_cash",
    "trapped_cash_foreign_tax_rate",
    "rnd",
    "leases",
)
_GINZU_ENGINE_DEFAULTS: dict[str, tuple[str, str | None]] = {
    "growth_years_2_5": ("= revenue growth, year 1", "growth_year_1"),
    "margin_year_1": ("= base-year operating margin", "@base_operating_margin"),
    "target_margin": ("= operating margin, year 1", "margin_year_1"),
    "sales_to_capital_years_6_10": ("= sales to capital, years 1-5", "sales_to_capital_years_1_5"),
    "riskfree_rate_after_year_10": ("= riskfree rate", "riskfree_rate"),
    "stable_growth": ("= riskfree rate after year 10", "@terminal_growth"),
    "stable_cost_of_capital": ("= riskfree rate after year 10 + mature-market ERP", "@terminal_cost_of_capital"),
    "stable_return_on_capital": ("= year-10 cost of capital", "@stable_return_on_capital"),
}
_GINZU_SKIP_WHEN_ZERO = {
    "preferred_stock",
    "options_value",
    "failure_probability",
    "nol",
    "trapped_cash",
    "trapped_cash_foreign_tax_rate",
    "minority_interests",
}


def _ginzu_assumption_rows(run: Mapping[str, Any], ss: StyleSheet1, currency: str) -> tuple[list[list[Any]], list[int]]:
    inputs: Mapping[str, Any] = _request(run, "fcff_ginzu").get("inputs") or {}
    outputs = _outputs(run, "fcff_ginzu")
    defaults = defaults_by_path(run)
    rows: list[list[Any]] = [["Input", "Value", "Source"]]
    marked: list[int] = []

    def resolved(key: str) -> Any:
        if key in inputs and inputs[key] is not None:
            return inputs[key]
        rule = _GINZU_ENGINE_DEFAULTS.get(key)
        if rule and rule[1]:
            ref = rule[1]
            return outputs.get(ref[1:]) if ref.startswith("@") else resolved(ref)
        return None

    for key in _GINZU_ORDER:
        info = lookup_field("fcff_ginzu", key)
        given = key in inputs and inputs[key] is not None
        if key in ("rnd", "leases"):
            if given:
                for path, value in flatten(inputs[key], key):
                    sub = lookup_field("fcff_ginzu", path)
                    rows.append(
                        [
                            _p(sub.label, ss["Cell"]),
                            fmt_value(value, sub.unit, currency),
                            _p("as submitted", ss["Cell"]),
                        ]
                    )
            continue
        if given:
            value = inputs[key]
            if key in _GINZU_SKIP_WHEN_ZERO and value == 0:
                continue
            entry = defaults.get(f"fcff_ginzu.inputs.{key}")
            source = f"Defaulted: {entry.get('source', '')}" if entry else "as submitted"
            if entry:
                marked.append(len(rows))
        elif key in _GINZU_ENGINE_DEFAULTS:
            value = resolved(key)
            source = f"engine default ({_GINZU_ENGINE_DEFAULTS[key][0]})"
        else:
            continue  # an optional input left at its neutral default (zero, no price, lag 1, ...)
        unit: Unit = "per_share" if key == "price" else info.unit
        rows.append([_p(info.label, ss["Cell"]), fmt_value(value, unit, currency), _p(source, ss["Cell"])])
    return rows, marked


def _generic_assumption_rows(
    run: Mapping[str, Any], method: str, ss: StyleSheet1, currency: str
) -> tuple[list[list[Any]], list[int]]:
    request = _request(run, method)
    model = str(request.get("model") or method)
    defaults = defaults_by_path(run)
    rows: list[list[Any]] = [["Input", "Value", "Source"]]
    marked: list[int] = []
    for path, value in flatten(request.get("inputs") or {}):
        if path.startswith(("base.", "peers[")) or path == "base":
            continue  # the base request is the DCF's; peers are tabled in the Comparables section
        info = lookup_field(model, path)
        label = info.label if "[" not in path else f"{info.label} ({path})"
        entry = defaults.get(f"{method}.inputs.{path}")
        if entry:
            marked.append(len(rows))
        source = f"Defaulted: {entry.get('source', '')}" if entry else "as submitted"
        rows.append(
            [_p(label, ss["Cell"]), _p(fmt_value(value, info.unit, currency), ss["Cell"]), _p(source, ss["Cell"])]
        )
    return rows, marked


# Analysis methods whose parameters are shown in their own section.
_DESCRIBED_IN_SECTION = {"sensitivity", "scenarios", "football_field", "monte_carlo"}


def _assumptions(run: Mapping[str, Any], ss: StyleSheet1, currency: str) -> list[Flowable]:
    story: list[Flowable] = [PageBreak(), _p("Assumptions", ss["Heading1"])]
    story.append(
        _p(
            "Values as run. Rows shaded yellow were not entered by the analyst: Water filled them from market "
            "data, and the source names the data set and snapshot. 'engine default' rows follow the model's "
            "documented rule.",
            ss["Note"],
        )
    )
    widths = [62 * mm, 38 * mm, 78 * mm]
    for method in run.get("methods") or []:
        if method not in (run.get("requests") or {}) or method in _DESCRIBED_IN_SECTION:
            continue
        if method == "fcff_ginzu":
            rows, marked = _ginzu_assumption_rows(run, ss, currency)
        else:
            rows, marked = _generic_assumption_rows(run, method, ss, currency)
        if len(rows) <= 1:
            continue
        extra = [("BACKGROUND", (0, i), (-1, i), _DEFAULT_BG) for i in marked]
        story += [
            CondPageBreak(30 * mm),
            _p(method_title(method), ss["Heading2"]),
            _table(rows, widths, align_right_from=1, extra=[*extra, ("ALIGN", (2, 0), (2, -1), "LEFT")]),
            Spacer(1, 3 * mm),
        ]
    if _has(run, "monte_carlo"):
        story += _monte_carlo_drivers(run, ss)
    return story


def _monte_carlo_drivers(run: Mapping[str, Any], ss: StyleSheet1) -> list[Flowable]:
    inputs: Mapping[str, Any] = _request(run, "monte_carlo").get("inputs") or {}
    rows: list[list[Any]] = [["Driver", "Distribution", "Parameters"]]
    model = str((inputs.get("base") or {}).get("model") or "fcff_ginzu")
    for d in inputs.get("drivers") or []:
        path = str(d.get("path", ""))
        unit = lookup_field(model, path.removeprefix("inputs.")).unit
        params = ", ".join(
            f"{k} {fmt_value(v, unit)}" for k, v in d.items() if k not in ("path", "distribution") and v is not None
        )
        rows.append([_p(path, ss["Cell"]), str(d.get("distribution", "")), _p(params, ss["Cell"])])
    for c in inputs.get("correlations") or []:
        rows.append(
            [_p(f"{c.get('a')} ~ {c.get('b')}", ss["Cell"]), "correlation", f"rho {fmt_number(c.get('rho'), 2)}"]
        )
    rows.append(["Paths / seed", "", f"{fmt_number(inputs.get('paths', 10000))} / {inputs.get('seed', 0)}"])
    return [
        CondPageBreak(30 * mm),
        _p(method_title("monte_carlo"), ss["Heading2"]),
        _table(rows, [62 * mm, 30 * mm, 86 * mm], extra=[("ALIGN", (1, 0), (-1, -1), "LEFT")]),
    ]


# --- Schedules ------------------------------------------------------------------------------

_SCHEDULE_LINES: tuple[tuple[str, str, str], ...] = (
    ("revenue_growth", "Revenue growth", "pct"),
    ("revenues", "Revenues", "money"),
    ("operating_margin", "Operating margin", "pct"),
    ("ebit", "EBIT", "money"),
    ("tax_rate", "Tax rate", "pct"),
    ("ebit_after_tax", "EBIT (1 - t)", "money"),
    ("nol", "NOL carried forward", "money"),
    ("reinvestment", "Reinvestment", "money"),
    ("fcff", "FCFF", "money"),
    ("sales_to_capital", "Sales to capital", "ratio"),
    ("cost_of_capital", "Cost of capital", "pct"),
    ("discount_factor", "Discount factor", "df"),
    ("pv_fcff", "PV (FCFF)", "money"),
    ("invested_capital", "Invested capital", "money"),
    ("roic", "ROIC", "pct"),
)


def _cell(value: Any, kind: str) -> str:
    if value is None:
        return ""
    if kind == "pct":
        return fmt_pct(value, 2)
    if kind == "ratio":
        return fmt_number(value, 2)
    if kind == "df":
        return fmt_number(value, 4)
    return _money(value)


def _ginzu_schedule(run: Mapping[str, Any], ss: StyleSheet1, currency: str) -> list[Flowable]:
    result = (run.get("results") or {}).get("fcff_ginzu") or {}
    schedule: Sequence[Mapping[str, Any]] = result.get("schedule") or []
    header = [
        "",
        *[
            "Base" if s.get("year") == 0 else "Terminal" if s.get("period") == "terminal" else f"Year {s.get('year')}"
            for s in schedule
        ],
    ]
    rows: list[list[Any]] = [header]
    nol_used = any(_num(s.get("nol")) and s.get("nol") for s in schedule)
    for key, label, kind in _SCHEDULE_LINES:
        if key == "nol" and not nol_used:
            continue
        rows.append([label, *[_cell(s.get(key), kind) for s in schedule]])
    bold = [i for i, r in enumerate(rows) if r[0] in ("FCFF", "PV (FCFF)")]
    extra = [("FONT", (0, i), (-1, i), "Helvetica-Bold", 7) for i in bold]
    width = (landscape(A4)[0] - 2 * _MARGIN - 30 * mm) / max(len(schedule), 1)
    conv = (_request(run, "fcff_ginzu").get("conventions") or {}).get("timing", "end_of_year")
    return [
        _p("Schedule", ss["Heading1"]),
        _p(f"{method_title('fcff_ginzu')}: year by year ({currency})", ss["Heading2"]),
        _p(
            f"Cash flows {'at mid-year' if conv == 'mid_year' else 'at the end of each year'}; the discount factor "
            "is cumulative, DF(t) = DF(t-1) / (1 + r(t)); reinvestment = change in revenues / sales to capital; "
            "the terminal year grows at the stable rate.",
            ss["Note"],
        ),
        Spacer(1, 2 * mm),
        _table(rows, [30 * mm] + [width] * len(schedule), font_size=7, extra=extra),
        Spacer(1, 4 * mm),
        _ginzu_bridge(run, ss, currency),
    ]


def _ginzu_bridge(run: Mapping[str, Any], ss: StyleSheet1, currency: str) -> Flowable:
    o = _outputs(run, "fcff_ginzu")
    lines: list[tuple[str, Any, str]] = [
        ("Terminal-year FCFF", o.get("terminal_cash_flow"), "money"),
        ("Cost of capital after year 10", o.get("terminal_cost_of_capital"), "pct"),
        ("Growth in perpetuity", o.get("terminal_growth"), "pct"),
        ("Terminal value", o.get("terminal_value"), "money"),
        ("PV (terminal value)", o.get("pv_terminal_value"), "money"),
        ("PV (FCFF, years 1-10)", o.get("pv_cash_flows"), "money"),
        ("Sum of PV", o.get("sum_of_pv"), "money"),
    ]
    if o.get("failure_probability"):
        lines += [
            ("Probability of failure", o.get("failure_probability"), "pct"),
            ("Proceeds if the firm fails", o.get("distress_proceeds"), "money"),
        ]
    lines += [
        ("Value of operating assets", o.get("value_of_operating_assets"), "money"),
        ("- Debt", o.get("debt"), "money"),
        ("- Minority interests", o.get("minority_interests"), "money"),
        ("- Preferred stock", o.get("preferred_stock"), "money"),
        ("+ Cash", o.get("cash"), "money"),
        ("+ Non-operating assets", o.get("non_operating_assets"), "money"),
        ("Value of equity", o.get("value_of_equity"), "money"),
        ("- Value of options", o.get("options_value"), "money"),
        ("Value of equity in common stock", o.get("value_of_common_equity"), "money"),
        ("Number of shares", o.get("shares_outstanding"), "shares"),
        ("Estimated value per share", o.get("value_per_share"), "per_share"),
    ]
    if _num(o.get("price")):
        lines += [("Price", o.get("price"), "per_share"), ("Price as % of value", o.get("price_to_value"), "pct")]
    split = next(i for i, (label, _, _) in enumerate(lines) if label == "Value of operating assets")
    left = _bridge_table([("Terminal value and present values", None, "head"), *lines[: split + 1]], currency)
    right = _bridge_table([("Equity bridge", None, "head"), *lines[split:]], currency)
    pair = Table([[left, right]], colWidths=[120 * mm, 120 * mm], hAlign="LEFT")
    pair.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
    return KeepTogether([_p("Valuation and equity bridge", ss["Heading2"]), pair])


def _bridge_table(lines: Sequence[tuple[str, Any, str]], currency: str) -> Table:
    rows: list[list[Any]] = []
    for label, value, kind in lines:
        if kind == "head":
            rows.append([label, currency])
            continue
        if kind == "pct":
            text = fmt_pct(value, 2)
        elif kind == "per_share":
            text = _share(value)
        else:
            text = fmt_value(value, "shares" if kind == "shares" else "money")
        rows.append([label, text])
    bold = [
        i
        for i, r in enumerate(rows)
        if r[0] in ("Value of operating assets", "Value of equity", "Estimated value per share")
    ]
    extra: list[tuple[Any, ...]] = [("FONT", (0, i), (-1, i), "Helvetica-Bold", 8) for i in bold if i > 1]
    extra += [("LINEABOVE", (0, i), (-1, i), 0.6, _NAVY) for i in bold if i > 1]
    extra += [
        ("BACKGROUND", (0, i), (-1, i), _BASE_BG) for i, r in enumerate(rows) if r[0] == "Estimated value per share"
    ]
    return _table(rows, [70 * mm, 40 * mm], font_size=8, extra=extra)


_UPPER = {"pv", "fcff", "fcfe", "ebit", "ebitda", "tv", "nol", "roic"}


def _words(key: str) -> str:
    """'pv_fcff' -> 'PV FCFF', 'terminal_value' -> 'Terminal value'."""
    text = " ".join(w.upper() if w in _UPPER else w for w in key.split("_"))
    return text[0].upper() + text[1:]


def _explicit_schedule(run: Mapping[str, Any], ss: StyleSheet1, currency: str) -> list[Flowable]:
    result = (run.get("results") or {}).get("fcff_explicit") or {}
    schedule: Sequence[Mapping[str, Any]] = result.get("schedule") or []
    keys: list[str] = []
    for line in schedule:
        keys += [k for k in line if k not in keys and k != "year"]
    rows: list[list[Any]] = [["", *[f"Year {s.get('year')}" for s in schedule]]]
    for k in keys:
        kind = "df" if k == "discount_factor" else "pct" if ("rate" in k or "growth" in k) else "money"
        rows.append(
            [
                _words(k),
                *[_cell(s.get(k), kind) for s in schedule],
            ]
        )
    o = _outputs(run, "fcff_explicit")
    summary: list[list[Any]] = [["Result", currency]]
    for k in (
        "pv_cash_flows",
        "terminal_value",
        "pv_terminal_value",
        "enterprise_value",
        "terminal_value_share",
        "value_of_equity",
        "value_per_share",
        "upside",
    ):
        if k in o:
            v = o[k]
            text = (
                fmt_pct(v, 1)
                if k in ("terminal_value_share", "upside")
                else _share(v)
                if k == "value_per_share"
                else _money(v)
            )
            summary.append([_words(k), text])
    width = min(22 * mm, (landscape(A4)[0] - 2 * _MARGIN - 40 * mm) / max(len(schedule), 1))
    return [
        CondPageBreak(50 * mm),
        _p(f"{method_title('fcff_explicit')}: year by year ({currency})", ss["Heading2"]),
        _table(rows, [40 * mm] + [width] * len(schedule), font_size=7),
        Spacer(1, 3 * mm),
        _table(summary, [55 * mm, 35 * mm], font_size=8),
    ]


# --- Sensitivity, scenarios, comparables -------------------------------------------------------


def _axis_text(value: Any, path: str, model: str) -> str:
    info = lookup_field(model, path.removeprefix("inputs."))
    return fmt_value(value, info.unit)


def _sensitivity(run: Mapping[str, Any], ss: StyleSheet1, currency: str) -> tuple[list[Flowable], bool]:
    """The grid's flowables, and whether it needs a landscape page (more than 10 columns)."""
    o = _outputs(run, "sensitivity")
    base = (_request(run, "sensitivity").get("inputs") or {}).get("base") or {}
    model = str(base.get("model") or "fcff_ginzu")
    rows_v: Sequence[Any] = o.get("row_values") or []
    cols_v: Sequence[Any] = o.get("column_values") or []
    grid: Sequence[Sequence[Any]] = o.get("grid") or []
    row_path, col_path = str(o.get("row_path", "")), str(o.get("column_path", ""))
    bi, bj = _nearest(rows_v, get_path(base, row_path)), _nearest(cols_v, get_path(base, col_path))
    row_label = lookup_field(model, row_path.removeprefix("inputs.")).label
    col_label = lookup_field(model, col_path.removeprefix("inputs.")).label
    corner = ParagraphStyle("Corner", parent=ss["Cell"], textColor=colors.white, fontSize=6.5, leading=8)
    ri = _thin(len(rows_v), _MAX_GRID_ROWS, bi)
    ci = _thin(len(cols_v), _MAX_GRID_COLUMNS, bj)
    wide = len(ci) > 10
    rows: list[list[Any]] = [[_p("rows \\ columns", corner), *[_axis_text(cols_v[j], col_path, model) for j in ci]]]
    for i in ri:
        line = grid[i] if i < len(grid) else []
        rows.append(
            [
                _axis_text(rows_v[i], row_path, model),
                *[_share(line[j]) if j < len(line) and line[j] is not None else "n/a" for j in ci],
            ]
        )
    font = 7.5 if not wide else 6
    extra: list[tuple[Any, ...]] = [
        ("BACKGROUND", (0, 1), (0, -1), _LIGHT),
        ("FONT", (0, 1), (0, -1), "Helvetica-Bold", font),
        ("ROWBACKGROUNDS", (1, 1), (-1, -1), [colors.white]),
        ("LEFTPADDING", (1, 0), (-1, -1), 1.5),
        ("RIGHTPADDING", (1, 0), (-1, -1), 2),
    ]
    if bi in ri and bj in ci:
        cell = (ci.index(bj) + 1, ri.index(bi) + 1)
        extra += [
            ("BACKGROUND", cell, cell, _BASE_BG),
            ("FONT", cell, cell, "Helvetica-Bold", font),
            ("BOX", cell, cell, 0.8, _NAVY),
        ]
    n = max(len(ci), 1)
    page_width = landscape(A4)[0] if wide else A4[0]
    col_w = min(24 * mm, (page_width - 2 * _MARGIN - 22 * mm) / n)
    thinned = len(ri) < len(rows_v) or len(ci) < len(cols_v)
    note = (
        f"Value per share ({currency}) for each pair of {row_label.lower()} (rows) and {col_label.lower()} "
        f"(columns); every cell is a full revaluation. The shaded cell is the base case "
        f"({_share(o.get('base_value'))})."
    )
    if thinned:
        note += (
            f" Only {len(ri)} x {len(ci)} of the {len(rows_v)} x {len(cols_v)} values are shown (evenly spaced, "
            "the base case kept); the workbook has the full grid."
        )
    body: list[Flowable] = [
        Spacer(1, 4 * mm),
        _p("Sensitivity", ss["Heading1"]),
        _p(note, ss["Note"]),
        Spacer(1, 2 * mm),
        _table(rows, [22 * mm] + [col_w] * n, font_size=font, extra=extra),
    ]
    return [CondPageBreak(60 * mm), *body], wide


_MAX_GRID_ROWS = 41
_MAX_GRID_COLUMNS = 21


def _thin(n: int, limit: int, keep: int) -> list[int]:
    """Indices 0..n-1, every k-th one when n > limit, always keeping `keep` (the base) and the ends."""
    if n <= limit:
        return list(range(n))
    step = math.ceil(n / limit)
    picked = set(range(keep % step if keep >= 0 else 0, n, step)) | {0, n - 1}
    if keep >= 0:
        picked.add(keep)
    out = sorted(picked)
    while len(out) > limit + 2:
        out = out[::2] if keep < 0 else sorted(set(out[::2]) | {keep})
    return out


def _nearest(values: Sequence[Any], base: Any) -> int:
    if not values or not _num(base):
        return -1
    return min(range(len(values)), key=lambda i: abs(float(values[i]) - float(base)))


def _scenarios(run: Mapping[str, Any], ss: StyleSheet1, currency: str) -> list[Flowable]:
    o = _outputs(run, "scenarios")
    req: Mapping[str, Any] = _request(run, "scenarios").get("inputs") or {}
    overrides = {s.get("name"): s.get("overrides") or {} for s in req.get("scenarios") or []}
    rows: list[list[Any]] = [["Scenario", "Probability", "Changes from the base case", f"Value per share ({currency})"]]
    for s in o.get("scenarios") or []:
        changes = "; ".join(
            f"{k.removeprefix('inputs.')} = {fmt_value(v, 'number')}"
            for k, v in overrides.get(s.get("name"), {}).items()
        )
        rows.append(
            [s.get("name"), fmt_pct(s.get("probability"), 1), _p(changes or "none", ss["Cell"]), _share(s.get("value"))]
        )
    rows.append(["Probability-weighted value", "", "", _share(o.get("weighted_value"))])
    extra = [("FONT", (0, -1), (-1, -1), "Helvetica-Bold", 8), ("ALIGN", (2, 0), (2, -1), "LEFT")]
    return [
        CondPageBreak(40 * mm),
        _p("Scenarios", ss["Heading1"]),
        _table(rows, [40 * mm, 22 * mm, 80 * mm, 36 * mm], font_size=8, extra=extra),
    ]


def _comparables(run: Mapping[str, Any], ss: StyleSheet1, currency: str) -> list[Flowable]:
    o = _outputs(run, "comparables")
    conv = (run.get("conventions") or {}).get("comparables") or _request(run, "comparables").get("conventions") or {}
    statistic = conv.get("statistic", "median")
    names = {
        "ev_ebitda": "EV / EBITDA",
        "ev_ebit": "EV / EBIT",
        "ev_sales": "EV / Sales",
        "pe": "P / E",
        "pb": "P / B",
        "p_fcf": "P / FCF",
    }
    rows: list[list[Any]] = [
        ["Multiple", "Peers", "Q1", "Median", "Q3", f"Implied / share ({statistic})", "Range / share", "Excluded"]
    ]
    for key, m in (o.get("multiples") or {}).items():
        st = m.get("statistics") or {}
        rng = m.get("range") or {}
        low, high = (rng.get("low") or {}).get("per_share"), (rng.get("high") or {}).get("per_share")
        rows.append(
            [
                names.get(key, key),
                fmt_number(st.get("count")),
                fmt_number(st.get("q1"), 2),
                fmt_number(st.get("median"), 2),
                fmt_number(st.get("q3"), 2),
                _share((m.get("point") or {}).get("per_share")),
                f"{_share(low)} - {_share(high)}" if _num(low) and _num(high) else "-",
                str(len(m.get("excluded") or [])),
            ]
        )
    excluded = [
        f"{names.get(k, k)}: {e.get('peer')} ({e.get('reason')})"
        for k, m in (o.get("multiples") or {}).items()
        for e in m.get("excluded") or []
    ]
    story: list[Flowable] = [
        CondPageBreak(40 * mm),
        _p("Comparables", ss["Heading1"]),
        _table(rows, [24 * mm, 12 * mm, 16 * mm, 16 * mm, 16 * mm, 32 * mm, 38 * mm, 18 * mm], font_size=7.5),
    ]
    if excluded:
        story += [Spacer(1, 2 * mm), _p("Excluded peers: " + "; ".join(excluded), ss["Note"])]
    peers: Sequence[Mapping[str, Any]] = (_request(run, "comparables").get("inputs") or {}).get("peers") or []
    if peers:
        fields = ("market_cap", "net_debt", "ebitda", "ebit", "sales", "net_income", "book_equity", "fcf")
        heads = ("Market cap", "Net debt", "EBITDA", "EBIT", "Sales", "Net income", "Book equity", "FCF")
        table: list[list[Any]] = [["Peer", *heads]]
        table += [
            [_p(str(p.get("name", "")), ss["Cell"]), *[_money(p.get(f)) if f in p else "-" for f in fields]]
            for p in peers
        ]
        story += [
            Spacer(1, 2 * mm),
            _p(f"Peer set ({currency})", ss["Heading2"]),
            _table(table, [34 * mm] + [18 * mm] * len(fields), font_size=7),
        ]
    return story


# --- Charts ---------------------------------------------------------------------------------


def _ticks(lo: float, hi: float, n: int = 6) -> list[float]:
    span = hi - lo
    if span <= 0:
        return [lo]
    raw = span / n
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    out = []
    x = first
    while x <= hi + step * 1e-9:
        out.append(x)
        x += step
    return out


def _tick_text(x: float, step: float) -> str:
    decimals = 0 if step >= 1 else 1 if step >= 0.1 else 2
    return fmt_number(x, decimals)


def _football_chart(o: Mapping[str, Any], currency: str) -> Drawing:
    methods: Sequence[Mapping[str, Any]] = o.get("methods") or []
    bars = [
        (str(m.get("name")), float(m.get("low", 0)), float(m.get("high", 0)), float(m.get("weight", 0)))
        for m in methods
    ]
    bars.append(("Weighted range", _f(o.get("weighted_low", 0)), _f(o.get("weighted_high", 0)), 1.0))
    price = o.get("price")
    values = [v for _, lo, hi, _ in bars for v in (lo, hi)] + ([_f(price)] if _num(price) else [])
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.08 or max(abs(hi) * 0.1, 1.0)
    lo, hi = lo - pad, hi + pad
    width, label_w, bar_h, gap = 178 * mm, 45 * mm, 14.0, 8.0
    plot_w = width - label_w - 60
    height = len(bars) * (bar_h + gap) + 45
    d = Drawing(width, height)

    def x_of(v: float) -> float:
        return label_w + (v - lo) / (hi - lo) * plot_w

    base_y = 28.0
    ticks = _ticks(lo, hi)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    for t in ticks:
        x = x_of(t)
        d.add(Line(x, base_y - 3, x, height - 12, strokeColor=colors.HexColor("#DDDDDD"), strokeWidth=0.4))
        d.add(String(x, base_y - 12, _tick_text(t, step), fontName="Helvetica", fontSize=7, textAnchor="middle"))
    d.add(Line(label_w, base_y - 3, label_w + plot_w, base_y - 3, strokeColor=_GREY, strokeWidth=0.6))
    d.add(
        String(
            label_w + plot_w / 2,
            4,
            f"value per share ({currency})",
            fontName="Helvetica",
            fontSize=7,
            textAnchor="middle",
            fillColor=_GREY,
        )
    )
    for i, (name, blo, bhi, weight) in enumerate(reversed(bars)):
        y = base_y + 4 + i * (bar_h + gap)
        weighted = i == 0
        d.add(_rect(x_of(blo), y, max(x_of(bhi) - x_of(blo), 1.0), bar_h, _NAVY if weighted else _BAR))
        label = name if weighted else f"{name} ({fmt_pct(weight, 0)})"
        d.add(
            String(
                label_w - 4,
                y + 4,
                label[:34],
                fontName="Helvetica-Bold" if weighted else "Helvetica",
                fontSize=7.5,
                textAnchor="end",
            )
        )
        d.add(
            String(
                x_of(bhi) + 3, y + 4, f"{fmt_number(blo, 2)} - {fmt_number(bhi, 2)}", fontName="Helvetica", fontSize=7
            )
        )
    if _num(price):
        x = x_of(_f(price))
        d.add(Line(x, base_y - 3, x, height - 10, strokeColor=_RED, strokeWidth=1.2, strokeDashArray=[3, 2]))
        d.add(
            String(
                x,
                height - 8,
                f"price {fmt_number(price, 2)}",
                fontName="Helvetica-Bold",
                fontSize=7,
                fillColor=_RED,
                textAnchor="middle",
            )
        )
    return d


def _football(run: Mapping[str, Any], ss: StyleSheet1, currency: str) -> list[Flowable]:
    o = _outputs(run, "football_field")
    rows: list[list[Any]] = [["Method", "Weight", "Low", "Mid", "High"]]
    for m in o.get("methods") or []:
        rows.append(
            [
                m.get("name"),
                fmt_pct(m.get("weight"), 1),
                _share(m.get("low")),
                _share(m.get("mid")),
                _share(m.get("high")),
            ]
        )
    rows.append(
        [
            "Weighted",
            "100.0%",
            _share(o.get("weighted_low")),
            _share(o.get("weighted_mid")),
            _share(o.get("weighted_high")),
        ]
    )
    note = ""
    if _num(o.get("price")):
        inside = o.get("price_in_weighted_range")
        note = (
            f"The price ({_share(o.get('price'), currency)}) is {'inside' if inside else 'outside'} the weighted range."
        )
    return [
        CondPageBreak(90 * mm),
        _p("Football field", ss["Heading1"]),
        _p(f"Range of value per share ({currency}) by method; the dashed line is the price. {note}", ss["Note"]),
        Spacer(1, 2 * mm),
        _football_chart(o, currency),
        Spacer(1, 3 * mm),
        _table(
            rows,
            [60 * mm, 20 * mm, 30 * mm, 30 * mm, 30 * mm],
            font_size=8,
            extra=[("FONT", (0, -1), (-1, -1), "Helvetica-Bold", 8)],
        ),
    ]


def _histogram_chart(o: Mapping[str, Any], currency: str) -> Drawing:
    hist: Sequence[Mapping[str, Any]] = o.get("histogram") or []
    width, height = 178 * mm, 70 * mm
    left, bottom, top = 30.0, 26.0, 16.0
    plot_w, plot_h = width - left - 10, height - bottom - top
    d = Drawing(width, height)
    if not hist:
        return d
    lo, hi = _f(hist[0].get("low", 0)), _f(hist[-1].get("high", 0))
    price = o.get("price")
    if _num(price):
        lo, hi = min(lo, _f(price)), max(hi, _f(price))
    if hi <= lo:
        hi = lo + 1.0
    top_count = max(int(b.get("count", 0)) for b in hist) or 1

    def x_of(v: float) -> float:
        return left + (v - lo) / (hi - lo) * plot_w

    for b in hist:
        x0, x1 = x_of(float(b.get("low", 0))), x_of(float(b.get("high", 0)))
        h = int(b.get("count", 0)) / top_count * plot_h
        d.add(_rect(x0, bottom, max(x1 - x0 - 0.6, 0.4), h, _BAR))
    d.add(Line(left, bottom, left + plot_w, bottom, strokeColor=_GREY, strokeWidth=0.6))
    d.add(Line(left, bottom, left, bottom + plot_h, strokeColor=_GREY, strokeWidth=0.6))
    ticks = _ticks(lo, hi)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    for t in ticks:
        d.add(Line(x_of(t), bottom, x_of(t), bottom - 3, strokeColor=_GREY, strokeWidth=0.5))
        d.add(String(x_of(t), bottom - 11, _tick_text(t, step), fontName="Helvetica", fontSize=7, textAnchor="middle"))
    for c in _ticks(0, top_count, 4):
        y = bottom + c / top_count * plot_h
        d.add(String(left - 3, y - 2, fmt_number(c), fontName="Helvetica", fontSize=6.5, textAnchor="end"))
    d.add(
        String(
            left + plot_w / 2,
            3,
            f"value per share ({currency}); bars: number of paths",
            fontName="Helvetica",
            fontSize=7,
            textAnchor="middle",
            fillColor=_GREY,
        )
    )
    pct: Mapping[str, Any] = o.get("percentiles") or {}
    for key in ("p5", "p50", "p95"):
        v = pct.get(key)
        if _num(v):
            x = x_of(_f(v))
            d.add(Line(x, bottom, x, bottom + plot_h + 2, strokeColor=_NAVY, strokeWidth=0.8, strokeDashArray=[2, 2]))
            d.add(
                String(
                    x,
                    bottom + plot_h + 4,
                    f"{key} {fmt_number(v, 2)}",
                    fontName="Helvetica",
                    fontSize=6.5,
                    textAnchor="middle",
                    fillColor=_NAVY,
                )
            )
    if _num(price):
        x = x_of(_f(price))
        d.add(Line(x, bottom, x, bottom + plot_h, strokeColor=_RED, strokeWidth=1.2))
        label = f"price {fmt_number(price, 2)}"
        if _num(o.get("probability_above_price")):
            label += f": P(value > price) = {fmt_pct(o.get('probability_above_price'), 1)}"
        anchor: Literal["start", "end"] = "start" if x < left + plot_w * 0.6 else "end"
        d.add(
            String(
                x + (3 if anchor == "start" else -3),
                bottom + plot_h - 8,
                label,
                fontName="Helvetica-Bold",
                fontSize=7,
                fillColor=_RED,
                textAnchor=anchor,
            )
        )
    return d


def _monte_carlo(run: Mapping[str, Any], ss: StyleSheet1, currency: str) -> list[Flowable]:
    o = _outputs(run, "monte_carlo")
    stats: list[list[Any]] = [["Statistic", f"Value ({currency})"]]
    stats += [
        ["Paths valued", f"{fmt_number(o.get('valid_paths'))} of {fmt_number(o.get('paths'))}"],
        ["Deterministic (base) value", _share(o.get("deterministic_value"))],
        ["Mean", _share(o.get("mean"))],
        ["Standard deviation", _share(o.get("stdev"))],
        ["Minimum", _share(o.get("min"))],
        ["Maximum", _share(o.get("max"))],
    ]
    stats += [[f"Percentile {k[1:]}", _share(v)] for k, v in (o.get("percentiles") or {}).items()]
    if _num(o.get("price")):
        stats += [
            ["Price", _share(o.get("price"))],
            ["Probability value > price", fmt_pct(o.get("probability_above_price"), 1)],
        ]
    return [
        CondPageBreak(110 * mm),
        _p("Monte Carlo", ss["Heading1"]),
        _p(
            "Distribution of value per share over the simulated paths (seeded, reproducible); dashed lines mark "
            "the 5th, 50th and 95th percentiles, the solid red line the price.",
            ss["Note"],
        ),
        Spacer(1, 2 * mm),
        _histogram_chart(o, currency),
        Spacer(1, 3 * mm),
        _table(stats, [60 * mm, 40 * mm], font_size=8),
    ]


# --- Other methods, conventions, provenance ------------------------------------------------------

_DEDICATED = {"fcff_ginzu", "fcff_explicit", "sensitivity", "scenarios", "comparables", "football_field", "monte_carlo"}


def _other_methods(run: Mapping[str, Any], ss: StyleSheet1, currency: str) -> list[Flowable]:
    story: list[Flowable] = []
    for method in run.get("methods") or []:
        if method in _DEDICATED or not _has(run, method):
            continue
        rows: list[list[Any]] = [["Output", "Value"]]
        for path, value in flatten(_outputs(run, method)):
            if isinstance(value, list) and len(value) > 12:
                continue
            last = path.rsplit(".", 1)[-1]
            unit: Unit = (
                "pct"
                if any(w in last for w in ("rate", "growth", "upside", "probability", "solution", "margin"))
                else "per_share"
                if "per_share" in last or last in ("value", "target", "base_value", "value_at_solution")
                else "number"
            )
            rows.append([_p(path, ss["Cell"]), _p(fmt_value(value, unit, currency), ss["Cell"])])
        if len(rows) > 1:
            story += [
                CondPageBreak(30 * mm),
                _p(method_title(method), ss["Heading2"]),
                _table(rows, [80 * mm, 90 * mm]),
            ]
    if story:
        story.insert(0, _p("Other methods", ss["Heading1"]))
    return story


def _conventions(run: Mapping[str, Any], ss: StyleSheet1) -> list[Flowable]:
    given = run.get("conventions") or {}
    rows: list[list[Any]] = [["Method", "Convention", "Value"]]
    for method in run.get("methods") or []:
        conv = given.get(method)
        if conv is None:
            conv = _request(run, method).get("conventions") or {}
        items = list(flatten(conv)) if conv else []
        if not items:
            rows.append([method_title(method), "model defaults", "-"])
        for path, value in items:
            rows.append([method_title(method), path, _p(fmt_value(value, "number"), ss["Cell"])])
    return [
        CondPageBreak(40 * mm),
        _p("Conventions", ss["Heading1"]),
        _p("Conventions not listed take the model's documented default (docs/engine.md).", ss["Note"]),
        _table(rows, [60 * mm, 50 * mm, 68 * mm], extra=[("ALIGN", (1, 0), (-1, -1), "LEFT")]),
    ]


def _provenance(run: Mapping[str, Any], ss: StyleSheet1) -> list[Flowable]:
    repro = [
        ["Engine version", str(run.get("engine_version") or "-")],
        ["Input hash (SHA-256)", str(run.get("input_hash") or "-")],
        ["Run", str(run.get("id") or "-")],
        ["Created / finished", f"{fmt_date(run.get('created_at'))} / {fmt_date(run.get('finished_at'))}"],
        ["Author", str(run.get("created_by") or "-")],
    ]
    snaps: list[list[Any]] = [["Provider", "Data set", "Symbol", "Fetched", "Snapshot / content hash"]]
    for s in run.get("snapshots") or []:
        snaps.append(
            [
                str(s.get("provider", "")),
                str(s.get("function", "")),
                str(s.get("symbol", "")),
                fmt_date(s.get("fetched_at")),
                Paragraph(f"{escape(str(s.get('id', '')))}<br/>{escape(str(s.get('content_hash', '')))}", ss["Cell"]),
            ]
        )
    story: list[Flowable] = [
        CondPageBreak(60 * mm),
        _p("Reproducibility and data provenance", ss["Heading1"]),
        _p(
            "The input hash covers the assumptions, conventions, market-data snapshot hashes and engine version: "
            "rerunning the same inputs on the same engine version gives bit-identical results.",
            ss["Note"],
        ),
        Spacer(1, 2 * mm),
        _table(
            [[_p(a, ss["Cell"]), _p(b, ss["Cell"])] for a, b in repro],
            [45 * mm, 133 * mm],
            header=False,
            align_right_from=2,
        ),
        Spacer(1, 3 * mm),
        _p("Market-data snapshots", ss["Heading2"]),
    ]
    if len(snaps) > 1:
        story.append(
            _table(snaps, [24 * mm, 30 * mm, 20 * mm, 30 * mm, 74 * mm], extra=[("ALIGN", (0, 0), (-1, -1), "LEFT")])
        )
    else:
        story.append(_p("No market-data snapshot was used: every input was entered by the analyst.", ss["Small"]))
    defaults = run.get("defaults_applied") or []
    if defaults:
        rows: list[list[Any]] = [["Defaulted input", "Value", "Source"]]
        for e in defaults:
            path = str(e.get("path", ""))
            method, _, rest = path.partition(".inputs.")
            model = str(_request(run, method).get("model") or method)
            unit = lookup_field(model, rest).unit if rest else "number"
            rows.append(
                [_p(path, ss["Cell"]), fmt_value(e.get("value"), unit), _p(str(e.get("source", "")), ss["Cell"])]
            )
        story += [
            Spacer(1, 3 * mm),
            _p("Defaulted values", ss["Heading2"]),
            _table(rows, [62 * mm, 28 * mm, 88 * mm], extra=[("ALIGN", (2, 0), (2, -1), "LEFT")]),
        ]
    return story


# --- Page furniture and entry point -----------------------------------------------------------


def _on_page(run: Mapping[str, Any]) -> Any:
    company = run.get("company") or {}
    title = f"{company.get('name', '')} - valuation report"
    footer = f"Run {run.get('id', '')} - engine {run.get('engine_version', '')} - input hash {str(run.get('input_hash', ''))[:16]}"
    demo = bool(company.get("is_demo"))

    def draw(canvas: Canvas, doc: BaseDocTemplate) -> None:
        width, height = doc.pageTemplate.pagesize or A4
        canvas.saveState()
        canvas.setFont("Helvetica", 7.5)
        canvas.setFillColor(_GREY)
        canvas.drawString(_MARGIN, height - 10 * mm, title)
        canvas.drawRightString(width - _MARGIN, height - 10 * mm, "Water")
        canvas.drawString(_MARGIN, 8 * mm, footer)
        canvas.drawRightString(width - _MARGIN, 8 * mm, f"Page {doc.page}")
        if demo:
            canvas.setFillColor(_RED)
            canvas.setFont("Helvetica-Bold", 7.5)
            canvas.drawCentredString(width / 2, height - 10 * mm, "DEMO DATA")
        canvas.restoreState()

    return draw


def build_report_pdf(run: Mapping[str, Any]) -> bytes:
    """The run as a PDF report (bytes). Pure: no I/O besides an in-memory buffer."""
    ss = _styles()
    company = run.get("company") or {}
    currency = str((run.get("summary") or {}).get("currency") or company.get("currency") or "")
    buffer = io.BytesIO()
    doc = BaseDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=_MARGIN,
        rightMargin=_MARGIN,
        topMargin=15 * mm,
        bottomMargin=14 * mm,
        title=f"Valuation report: {company.get('name', '')}",
        author=str(run.get("created_by") or ""),
        subject=f"Valuation run {run.get('id', '')}",
        creator="Water",
        invariant=True,
    )
    on_page = _on_page(run)
    portrait_frame = Frame(_MARGIN, 14 * mm, A4[0] - 2 * _MARGIN, A4[1] - 29 * mm, id="portrait")
    wide = landscape(A4)
    landscape_frame = Frame(_MARGIN, 14 * mm, wide[0] - 2 * _MARGIN, wide[1] - 29 * mm, id="landscape")
    doc.addPageTemplates(
        [
            PageTemplate("portrait", [portrait_frame], onPage=on_page, pagesize=A4),
            PageTemplate("landscape", [landscape_frame], onPage=on_page, pagesize=wide),
        ]
    )
    story: list[Flowable] = _summary(run, ss)
    story += _assumptions(run, ss, currency)
    has_ginzu, has_explicit = _has(run, "fcff_ginzu"), _has(run, "fcff_explicit")
    wide_pages: list[Flowable] = []
    if has_ginzu:
        wide_pages += _ginzu_schedule(run, ss, currency)
    elif has_explicit:
        wide_pages.append(_p("Schedule", ss["Heading1"]))
    if has_explicit:
        wide_pages += _explicit_schedule(run, ss, currency)
    sensitivity: list[Flowable] = []
    if _has(run, "sensitivity"):
        sensitivity, wide_grid = _sensitivity(run, ss, currency)
        if wide_grid:
            wide_pages += sensitivity
            sensitivity = []
    if wide_pages:
        story += [NextPageTemplate("landscape"), PageBreak(), *wide_pages, NextPageTemplate("portrait"), PageBreak()]
    story += sensitivity
    sections = (
        ("scenarios", _scenarios),
        ("comparables", _comparables),
        ("football_field", _football),
        ("monte_carlo", _monte_carlo),
    )
    for method, section in sections:
        if _has(run, method):
            story += [*section(run, ss, currency), Spacer(1, 4 * mm)]
    story += _other_methods(run, ss, currency)
    story += _conventions(run, ss)
    story += _provenance(run, ss)
    doc.build(story)
    return buffer.getvalue()

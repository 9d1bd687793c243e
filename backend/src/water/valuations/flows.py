"""From a submission to complete engine requests: defaults from the company's data, recorded with their sources.

This spans domains (companies, market data, valuations), hence a flow. Every value
the analyst did not give is filled from the company's normalized financials and
market inputs, and `defaults_applied` says which value came from where. Nothing
here writes to the database except market-data snapshots (through the gateway).
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

import water_engine

from ..errors import InvalidInput
from ..market_data import service as market_data
from ..market_data.errors import MarketDataError
from ..models import Company, FinancialPeriod, MarketDataSnapshot
from .schemas import ANALYSES, Method, ValuationRunCreate

# Documented defaults (docs/valuations.md) that do not come from the company's data.
EQUITY_RISK_PREMIUM = 0.046  # Damodaran's implied ERP for the S&P 500, January 2024
MARGINAL_TAX_RATE = 0.25  # US federal 21% plus a typical state rate
DEFAULT_SPREAD = 0.015  # pre-tax spread over the risk-free rate when no coverage ratio is available
SENSITIVITY_STEPS = 21


@dataclass
class Resolution:
    requests: dict[str, dict[str, Any]] = field(default_factory=dict)
    defaults: list[dict[str, Any]] = field(default_factory=list)
    snapshot_ids: set[str] = field(default_factory=set)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def default(self, method: str, key: str, value: Any, source: str) -> Any:
        self.defaults.append({"path": f"{method}.inputs.{key}", "value": value, "source": source})
        return value


def _loc(*parts: Any) -> list[Any]:
    return ["body", "assumptions", *parts]


# --- company data --------------------------------------------------------------------------


@dataclass
class CompanyData:
    annual: list[FinancialPeriod]
    ttm: FinancialPeriod | None
    latest_balance: FinancialPeriod | None
    market: dict[str, Any] | None
    market_error: str | None

    def figure(self, period: FinancialPeriod | None, line: str) -> tuple[float, str] | None:
        if period is None or line not in period.figures:
            return None
        item = period.figures[line]
        where = f"{period.period_type} {period.fiscal_date_ending.isoformat()}"
        return float(item["value"]), f"{item['source']} ({where})"

    def snapshot_ids(self) -> set[str]:
        ids = {
            str(f["snapshot_id"])
            for p in [*self.annual, self.ttm, self.latest_balance]
            if p
            for f in p.figures.values()
            if f.get("snapshot_id")
        }
        if self.market:
            for part in ("price", "beta", "risk_free_rate"):
                ids.update(self.market[part]["snapshot_ids"])
        return ids


def load_company_data(session: Session, company: Company) -> CompanyData:
    periods = market_data.financials(session, company, None)
    annual = sorted((p for p in periods if p.period_type == "annual"), key=lambda p: p.fiscal_date_ending)
    ttm = next((p for p in periods if p.period_type == "ttm"), None)
    quarterly = sorted((p for p in periods if p.period_type == "quarterly"), key=lambda p: p.fiscal_date_ending)
    balance = max([*annual[-1:], *quarterly[-1:]], key=lambda p: p.fiscal_date_ending, default=None)
    market, market_error = None, None
    if company.ticker and not company.is_private:
        try:
            market = market_data.market_inputs(session, company)
        except (MarketDataError, InvalidInput) as exc:
            market_error = exc.detail
    return CompanyData(annual, ttm, balance, market, market_error)


# --- defaults per model ----------------------------------------------------------------------


def _clip(value: float, low: float, high: float) -> float:
    return min(high, max(low, value))


def ginzu_defaults(data: CompanyData, res: Resolution, given: dict[str, Any]) -> dict[str, Any]:
    """Defaults for the driver-based FCFF DCF; only keys the analyst left out are filled."""
    m = "fcff_ginzu"
    inputs: dict[str, Any] = {}
    flow = data.ttm or (data.annual[-1] if data.annual else None)

    def take(key: str, line: str, period: FinancialPeriod | None, transform: Any = None) -> None:
        if key in given:
            return
        found = data.figure(period, line)
        if found is not None:
            value = transform(found[0]) if transform else found[0]
            inputs[key] = res.default(m, key, value, found[1])

    take("revenues", "revenue", flow)
    take("ebit", "ebit", flow)
    take("book_equity", "book_equity", data.latest_balance)
    take("book_debt", "total_debt", data.latest_balance)
    take("cash", "cash", data.latest_balance)
    take("minority_interests", "minority_interests", data.latest_balance)
    take("preferred_stock", "preferred_equity", data.latest_balance)
    take("shares_outstanding", "shares_outstanding", data.latest_balance)
    _tax_defaults(data, res, given, inputs)
    _growth_and_margin_defaults(data, res, given, inputs)
    _market_defaults(data, res, given, inputs)
    return inputs


def _tax_defaults(data: CompanyData, res: Resolution, given: dict[str, Any], inputs: dict[str, Any]) -> None:
    m = "fcff_ginzu"
    if "marginal_tax_rate" not in given:
        inputs["marginal_tax_rate"] = res.default(
            m, "marginal_tax_rate", MARGINAL_TAX_RATE, "Water default: US federal 21% + state"
        )
    if "effective_tax_rate" in given:
        return
    latest = data.annual[-1] if data.annual else None
    tax, pretax = data.figure(latest, "income_tax"), data.figure(latest, "pretax_income")
    if tax and pretax and pretax[0] > 0:
        rate = _clip(tax[0] / pretax[0], 0.0, 0.5)
        inputs["effective_tax_rate"] = res.default(
            m, "effective_tax_rate", rate, f"income_tax / pretax_income: {tax[1]}, {pretax[1]} (clipped to 0–50%)"
        )
    else:
        inputs["effective_tax_rate"] = res.default(
            m, "effective_tax_rate", MARGINAL_TAX_RATE, "no positive pre-tax income: the marginal rate"
        )


def _growth_and_margin_defaults(
    data: CompanyData, res: Resolution, given: dict[str, Any], inputs: dict[str, Any]
) -> None:
    m = "fcff_ginzu"
    revenues = [
        (p.fiscal_date_ending, float(p.figures["revenue"]["value"])) for p in data.annual if "revenue" in p.figures
    ]
    if "growth_year_1" not in given:
        if len(revenues) >= 2 and revenues[0][1] > 0 and revenues[-1][1] > 0:
            years = len(revenues) - 1
            ratio = revenues[-1][1] / revenues[0][1]
            cagr = _clip(_nth_root(ratio, years) - 1.0, -0.10, 0.30)
            source = (
                f"revenue CAGR {revenues[0][0].year}–{revenues[-1][0].year} (annual statements; clipped to −10%…30%)"
            )
        else:
            cagr, source = 0.03, "Water default 3% (fewer than two annual revenues)"
        inputs["growth_year_1"] = res.default(m, "growth_year_1", cagr, source)
    revenue, ebit = inputs.get("revenues", given.get("revenues")), inputs.get("ebit", given.get("ebit"))
    if "target_margin" not in given and revenue and ebit is not None and revenue > 0:
        inputs["target_margin"] = res.default(
            m, "target_margin", ebit / revenue, "current operating margin (EBIT / revenue)"
        )
    if "sales_to_capital_years_1_5" not in given:
        equity, debt, cash = (inputs.get(k, given.get(k)) for k in ("book_equity", "book_debt", "cash"))
        capital = (equity or 0.0) + (debt or 0.0) - (cash or 0.0)
        if revenue and capital > 0:
            ratio = _clip(revenue / capital, 0.5, 5.0)
            source = "revenue / invested capital (book equity + debt − cash), clipped to 0.5–5"
        else:
            ratio, source = 1.5, "Water default 1.5 (invested capital not positive)"
        inputs["sales_to_capital_years_1_5"] = res.default(m, "sales_to_capital_years_1_5", ratio, source)


def _nth_root(x: float, n: int) -> float:
    """x ** (1/n) by bisection: exact enough for a default, and free of libm differences."""
    low, high = 0.0, max(1.0, x)
    for _ in range(100):
        mid = (low + high) / 2
        if mid**n < x:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def _market_defaults(data: CompanyData, res: Resolution, given: dict[str, Any], inputs: dict[str, Any]) -> None:
    m = "fcff_ginzu"
    market = data.market
    if market is None:
        return
    price = market["price"]
    if "price" not in given:
        inputs["price"] = res.default(
            m, "price", price["value"], f"quote as of {price['as_of']}{' (stale)' if price['stale'] else ''}"
        )
    rf = market["risk_free_rate"]
    if "riskfree_rate" not in given:
        inputs["riskfree_rate"] = res.default(m, "riskfree_rate", rf["value"], f"{rf['series']} as of {rf['as_of']}")
    if "mature_market_erp" not in given:
        inputs["mature_market_erp"] = res.default(
            m, "mature_market_erp", EQUITY_RISK_PREMIUM, "Damodaran implied ERP, January 2024"
        )
    if "initial_cost_of_capital" not in given:
        wacc, source = _cost_of_capital(market, inputs, given)
        inputs["initial_cost_of_capital"] = res.default(m, "initial_cost_of_capital", wacc, source)


def _cost_of_capital(market: dict[str, Any], inputs: dict[str, Any], given: dict[str, Any]) -> tuple[float, str]:
    """WACC with market-value weights: CAPM cost of equity with the regression beta, debt at rf + spread."""
    merged = {**inputs, **given}
    rf = float(merged["riskfree_rate"])
    erp = float(merged.get("mature_market_erp", EQUITY_RISK_PREMIUM))
    beta = float(market["beta"]["value"])
    cost_of_equity = water_engine.run(
        {"model": "capm", "inputs": {"risk_free": rf, "beta": beta, "equity_risk_premium": erp}}
    )["outputs"]["cost_of_equity"]
    equity_value = float(merged.get("price", 0.0)) * float(merged.get("shares_outstanding", 0.0))
    debt_value = float(merged.get("book_debt", 0.0))
    tax = float(merged.get("marginal_tax_rate", MARGINAL_TAX_RATE))
    wacc = water_engine.run(
        {
            "model": "wacc",
            "inputs": {
                "cost_of_equity": cost_of_equity,
                "equity_value": max(equity_value, 1.0),
                "pre_tax_cost_of_debt": rf + DEFAULT_SPREAD,
                "debt_value": max(debt_value, 0.0),
                "tax_rate": tax,
            },
        }
    )["outputs"]["wacc"]
    source = (
        f"WACC: CAPM cost of equity {cost_of_equity:.4f} (regression beta {beta:.3f}, weekly, {market['beta']['observations']} obs., "
        f"R² {market['beta']['r_squared']:.2f}; ERP {erp:.4f}), debt at risk-free + {DEFAULT_SPREAD:.2%}, market-value weights"
    )
    return float(wacc), source


# --- the submission ----------------------------------------------------------------------------


def resolve(session: Session, company: Company, body: ValuationRunCreate) -> Resolution:
    res = Resolution()
    data = load_company_data(session, company)
    methods = [m.value for m in body.methods]
    value_methods = [m for m in methods if m not in {a.value for a in ANALYSES} | {Method.football_field.value}]
    needs_ginzu = "fcff_ginzu" in methods or any(
        body.assumptions.get(a.value, {}).get("base_method", "fcff_ginzu") == "fcff_ginzu"
        for a in ANALYSES
        if a.value in methods
    )
    for method in methods:
        given = dict(body.assumptions.get(method, {}))
        conventions = body.conventions.get(method, {})
        if method == "fcff_ginzu" or (
            method in {a.value for a in ANALYSES} and needs_ginzu and "fcff_ginzu" not in res.requests
        ):
            ginzu_given = dict(body.assumptions.get("fcff_ginzu", {}))
            inputs = {**ginzu_defaults(data, res, ginzu_given), **ginzu_given}
            res.requests["fcff_ginzu"] = {
                "model": "fcff_ginzu",
                "inputs": inputs,
                "conventions": body.conventions.get("fcff_ginzu", {}),
            }
        if method in {"fcff_explicit", "fcfe", "ddm"}:
            res.requests[method] = {"model": method, "inputs": given, "conventions": conventions}
        elif method == "comparables":
            res.requests[method] = _comparables_request(session, company, data, res, given, conventions)
    for method in methods:
        if method in {a.value for a in ANALYSES}:
            res.requests[method] = _analysis_request(method, res, dict(body.assumptions.get(method, {})))
    if Method.football_field.value in methods:
        weights = body.assumptions.get("football_field", {}).get("weights", {})
        res.requests["football_field"] = {"model": "football_field", "weights": weights, "methods": value_methods}
    res.snapshot_ids |= data.snapshot_ids()
    _validate(res, data, methods)
    return res


def _comparables_request(
    session: Session,
    company: Company,
    data: CompanyData,
    res: Resolution,
    given: dict[str, Any],
    conventions: dict[str, Any],
) -> dict[str, Any]:
    """Peers given as companies of the organization (their data is loaded) or as explicit peer objects."""
    from ..companies.repository import CompanyRepository

    peers: list[dict[str, Any]] = []
    for index, peer in enumerate(given.get("peers", [])):
        if isinstance(peer, dict):
            peers.append(peer)
            continue
        import uuid

        try:
            peer_company = CompanyRepository(session).get(company.organization_id, uuid.UUID(str(peer)))
        except ValueError:
            peer_company = None
        if peer_company is None:
            res.errors.append(
                {
                    "loc": _loc("comparables", "peers", index),
                    "msg": "no such company in your organization",
                    "type": "peer",
                }
            )
            continue
        peer_data = load_company_data(session, peer_company)
        res.snapshot_ids |= peer_data.snapshot_ids()
        peers.append(_peer_from(peer_company, peer_data))
    subject = dict(given.get("subject") or _subject_from(data))
    return {"model": "comparables", "inputs": {"peers": peers, "subject": subject}, "conventions": conventions}


def _line(data: CompanyData, period: FinancialPeriod | None, line: str) -> float | None:
    found = data.figure(period, line)
    return found[0] if found else None


def _peer_from(company: Company, data: CompanyData) -> dict[str, Any]:
    flow = data.ttm or (data.annual[-1] if data.annual else None)
    shares = _line(data, data.latest_balance, "shares_outstanding") or 0.0
    price = data.market["price"]["value"] if data.market else 0.0
    ebit, da = _line(data, flow, "ebit"), _line(data, flow, "depreciation_amortization")
    return {
        "name": company.ticker or company.name,
        "market_cap": price * shares,
        "net_debt": (_line(data, data.latest_balance, "total_debt") or 0.0)
        - (_line(data, data.latest_balance, "cash") or 0.0),
        "minority_interest": _line(data, data.latest_balance, "minority_interests") or 0.0,
        "ebitda": ebit + da if ebit is not None and da is not None else None,
        "ebit": ebit,
        "sales": _line(data, flow, "revenue"),
        "net_income": _line(data, flow, "net_income"),
        "book_equity": _line(data, data.latest_balance, "book_equity"),
    }


def _subject_from(data: CompanyData) -> dict[str, Any]:
    peer = _peer_from(Company(name="subject"), data)
    subject = {k: peer[k] for k in ("ebitda", "ebit", "sales", "net_income", "book_equity", "net_debt")}
    subject["minority_interest"] = peer["minority_interest"]
    subject["shares"] = _line(data, data.latest_balance, "shares_outstanding")
    subject["price"] = data.market["price"]["value"] if data.market else None
    return subject


def _analysis_request(method: str, res: Resolution, given: dict[str, Any]) -> dict[str, Any]:
    base_method = given.pop("base_method", "fcff_ginzu")
    base = res.requests.get(base_method)
    if base is None:
        res.errors.append(
            {
                "loc": _loc(method, "base_method"),
                "msg": f"{base_method} must also be one of the methods",
                "type": "base_method",
            }
        )
        return {}
    inputs: dict[str, Any] = {"base": copy.deepcopy(base), **given}
    if method == "sensitivity" and base_method == "fcff_ginzu":
        wacc = float(base["inputs"].get("initial_cost_of_capital", 0.08))
        growth = float(base["inputs"].get("stable_growth", base["inputs"].get("riskfree_rate", 0.03)))
        if "rows" not in given:
            inputs["rows"] = {"path": "inputs.initial_cost_of_capital", "values": _steps(wacc, 0.02)}
            res.defaults.append(
                {
                    "path": "sensitivity.inputs.rows",
                    "value": inputs["rows"],
                    "source": "cost of capital ±2 points, 21 steps",
                }
            )
        if "columns" not in given:
            inputs["columns"] = {"path": "inputs.stable_growth", "values": _steps(growth, 0.01)}
            res.defaults.append(
                {
                    "path": "sensitivity.inputs.columns",
                    "value": inputs["columns"],
                    "source": "stable growth ±1 point, 21 steps",
                }
            )
    return {"model": method, "inputs": inputs, "conventions": {}}


def _steps(centre: float, half_width: float) -> list[float]:
    """SENSITIVITY_STEPS values centred exactly on `centre` (the centre cell is the base case)."""
    half = SENSITIVITY_STEPS // 2
    step = half_width / half
    return [centre + (i - half) * step if i != half else centre for i in range(SENSITIVITY_STEPS)]


def _validate(res: Resolution, data: CompanyData, methods: list[str]) -> None:
    errors = list(res.errors)
    for method, request in res.requests.items():
        if method == "football_field" or not request:
            continue
        try:
            water_engine.validate(request)
        except water_engine.ValidationError as exc:
            for err in exc.errors:
                parts = [p for p in err.path.replace("[", ".").replace("]", "").split(".") if p]
                hint = ""
                if method == "fcff_ginzu" and err.message == "is required" and data.market is None:
                    hint = (
                        f" (no market data to default it from{': ' + data.market_error if data.market_error else ''})"
                    )
                errors.append({"loc": _loc(method, *parts), "msg": err.message + hint, "type": "engine"})
        except water_engine.NotComputableError as exc:  # valid inputs whose resolution overflows
            errors.append({"loc": _loc(method), "msg": str(exc), "type": "engine"})
    if errors:
        detail = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in errors[:5])
        raise InvalidInput(f"The valuation cannot run: {detail}", errors=errors)


# --- reproducibility ------------------------------------------------------------------------


def input_hash(requests: dict[str, Any], snapshots: list[MarketDataSnapshot], engine_version: str) -> str:
    """sha256 over the resolved requests (assumptions and conventions), the snapshots' content hashes and the engine version."""
    canonical = json.dumps(
        {
            "requests": requests,
            "snapshots": sorted(s.content_hash for s in snapshots),
            "engine_version": engine_version,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()

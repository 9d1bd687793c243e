"""The canonical financial model every source maps into (Alpha Vantage, imports, demo data).

One `StatementPeriod` per (period type, fiscal period end). Every figure carries its
provenance: the snapshot it came from (filled in when stored) and the source field
(e.g. `INCOME_STATEMENT.totalRevenue`, or `import:income!C7` for an imported sheet).
Money is in `currency` (the statement currency); share counts are never converted.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date


class PeriodType(enum.StrEnum):
    annual = "annual"
    quarterly = "quarterly"
    ttm = "ttm"


# The canonical lines, with units. Flows are for the period; stocks are at its end.
CANONICAL_LINES: dict[str, str] = {
    "revenue": "money, flow: total revenue",
    "ebit": "money, flow: operating income (EBIT)",
    "depreciation_amortization": "money, flow: depreciation and amortization",
    "interest_expense": "money, flow: interest expense (positive)",
    "pretax_income": "money, flow: income before tax",
    "income_tax": "money, flow: income tax expense",
    "net_income": "money, flow: net income to common",
    "rnd_expense": "money, flow: research and development expense",
    "capex": "money, flow: capital expenditures (positive = spending)",
    "change_in_working_capital": "money, flow: increase in non-cash working capital (positive = cash absorbed)",
    "operating_cash_flow": "money, flow: cash flow from operations",
    "dividends_paid": "money, flow: dividends paid to common (positive)",
    "cash": "money, stock: cash, equivalents and short-term investments",
    "total_debt": "money, stock: short- and long-term debt, including leases where reported",
    "lease_liabilities": "money, stock: operating lease liabilities where reported separately",
    "minority_interests": "money, stock: non-controlling interests",
    "preferred_equity": "money, stock: preferred stock",
    "book_equity": "money, stock: total shareholders' equity",
    "total_assets": "money, stock: total assets",
    "total_liabilities": "money, stock: total liabilities",
    "current_assets": "money, stock: total current assets",
    "current_liabilities": "money, stock: total current liabilities",
    "retained_earnings": "money, stock: retained earnings",
    "shares_outstanding": "count, stock: common shares outstanding (never FX-converted)",
}
FLOW_LINES = frozenset(k for k, v in CANONICAL_LINES.items() if ", flow:" in v)


@dataclass(frozen=True)
class Figure:
    value: float
    source: str  # the source field, e.g. "INCOME_STATEMENT.totalRevenue" or "import:income!C7"
    snapshot_id: str | None = None  # set when the raw response is stored as a snapshot


@dataclass(frozen=True)
class StatementPeriod:
    period_type: PeriodType
    fiscal_date_ending: date
    currency: str
    figures: dict[str, Figure] = field(default_factory=dict)

    def value(self, line: str) -> float | None:
        figure = self.figures.get(line)
        return figure.value if figure else None

"""ORM models, one file per table. Importing this package registers them all on Base.metadata."""

from .api_key import ApiKey
from .audit_event import AuditEvent
from .company import Company
from .company_dataset import CompanyDataset
from .financial_period import FinancialPeriod
from .job import Job
from .market_data_snapshot import MarketDataSnapshot
from .organization import Organization
from .refresh_token import RefreshToken
from .run_event import RunEvent
from .statement_import import StatementImport
from .user import Role, User
from .valuation_run import RunStatus, ValuationRun

__all__ = [
    "ApiKey",
    "AuditEvent",
    "Company",
    "CompanyDataset",
    "FinancialPeriod",
    "Job",
    "MarketDataSnapshot",
    "Organization",
    "RefreshToken",
    "Role",
    "RunEvent",
    "RunStatus",
    "StatementImport",
    "User",
    "ValuationRun",
]

"""ORM models, one file per table. Importing this package registers them all on Base.metadata."""

from .api_key import ApiKey
from .audit_event import AuditEvent
from .company import Company
from .job import Job
from .organization import Organization
from .refresh_token import RefreshToken
from .user import Role, User

__all__ = ["ApiKey", "AuditEvent", "Company", "Job", "Organization", "RefreshToken", "Role", "User"]

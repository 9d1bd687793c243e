"""companies.financials_revision: a counter bumped whenever the company's financial periods are replaced

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 09:30:00

The financials read is a pure function of the company's periods and its currencies. The API
keeps rendered financials bodies in memory keyed by this revision (read with the company row
it already reads), so a financials read after the first one is one SELECT and no rendering.
A constant default makes the column instant to add (PostgreSQL 11+ stores it in the catalog).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("companies", sa.Column("financials_revision", sa.BigInteger(), server_default="0", nullable=False))


def downgrade() -> None:
    op.drop_column("companies", "financials_revision")

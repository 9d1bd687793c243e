"""jobs: an index on (organization, kind, created_at) for "the latest job of a kind"

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 20:00:00

`GET /api/market-data/quota` shows the organization's last nightly refresh, the newest job of
kind `market_data.nightly`. Without this index that lookup reads every job of the organization
(a refresh job per company per night adds up); with it, one index probe, newest first.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_jobs_organization_kind_created", "jobs", ["organization_id", "kind", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_jobs_organization_kind_created", table_name="jobs")

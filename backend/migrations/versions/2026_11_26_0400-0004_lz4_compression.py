"""lz4 compression for the large JSON and body columns, where the server has it

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 04:00:00

PostgreSQL compresses values over ~2 kB (TOAST) with pglz unless a column says otherwise.
Every run's result (~17 kB of JSON) and every market-data body is written once and read
often; lz4 compresses them several times faster for about the same size (a run result:
8.9 kB against pglz's 8.5 kB) and decompresses faster too. Only servers built with lz4
(`--with-lz4`, as Debian's and the official images are) offer it; on others (the embedded
server of `make run`) this migration changes nothing. Existing values keep their
compression until rewritten; both kinds read the same.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LARGE_COLUMNS = (
    ("valuation_runs", "result"),
    ("valuation_runs", "requests"),
    ("valuation_runs", "assumptions"),
    ("valuation_runs", "defaults_applied"),
    ("market_data_snapshots", "body"),
    ("jobs", "result"),
)


def lz4_available(connection: sa.Connection) -> bool:
    """True when the server was built with lz4 (it is then one of default_toast_compression's values)."""
    values = connection.scalar(sa.text("SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'"))
    return bool(values) and "lz4" in values


def _set_compression(method: str) -> None:
    for table, column in LARGE_COLUMNS:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION {method}")


def upgrade() -> None:
    if lz4_available(op.get_bind()):
        _set_compression("lz4")


def downgrade() -> None:
    _set_compression("default")

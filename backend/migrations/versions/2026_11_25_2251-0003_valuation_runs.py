"""valuation runs and run events

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 22:51:54.626506
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "run_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("run_id", sa.UUID(), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_run_events_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_events")),
    )
    op.create_index("ix_run_events_org_id", "run_events", ["organization_id", "id"], unique=False)
    op.create_index(op.f("ix_run_events_run_id"), "run_events", ["run_id"], unique=False)
    op.create_table(
        "valuation_runs",
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("company_id", sa.UUID(), nullable=False),
        sa.Column("created_by_id", sa.UUID(), nullable=True),
        sa.Column(
            "status",
            sa.Enum("queued", "running", "succeeded", "failed", "cancelled", name="run_status"),
            nullable=False,
        ),
        sa.Column("methods", sa.ARRAY(sa.String(length=40)), nullable=False),
        sa.Column("assumptions", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("requests", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("defaults_applied", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("snapshot_ids", sa.ARRAY(sa.UUID()), nullable=False),
        sa.Column("input_hash", sa.String(length=64), nullable=False),
        sa.Column("engine_version", sa.String(length=20), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("body_hash", sa.String(length=64), nullable=True),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("rerun_of_id", sa.UUID(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("error", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("value_per_share", sa.Float(), nullable=True),
        sa.Column("equity_value", sa.Float(), nullable=True),
        sa.Column("enterprise_value", sa.Float(), nullable=True),
        sa.Column("price", sa.Float(), nullable=True),
        sa.Column("upside", sa.Float(), nullable=True),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("compute_ms", sa.Float(), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_valuation_runs_company_id_companies"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_valuation_runs_created_by_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_valuation_runs_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["rerun_of_id"],
            ["valuation_runs.id"],
            name=op.f("fk_valuation_runs_rerun_of_id_valuation_runs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_valuation_runs")),
    )
    op.create_index(op.f("ix_valuation_runs_company_id"), "valuation_runs", ["company_id"], unique=False)
    op.create_index(op.f("ix_valuation_runs_input_hash"), "valuation_runs", ["input_hash"], unique=False)
    op.create_index(
        "ix_valuation_runs_org_created", "valuation_runs", ["organization_id", "created_at", "id"], unique=False
    )
    op.create_index("ix_valuation_runs_status_updated", "valuation_runs", ["status", "updated_at"], unique=False)
    op.create_index(
        "uq_valuation_runs_org_idempotency_key",
        "valuation_runs",
        ["organization_id", "idempotency_key"],
        unique=True,
        postgresql_where=sa.text("idempotency_key IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index(
        "uq_valuation_runs_org_idempotency_key",
        table_name="valuation_runs",
        postgresql_where=sa.text("idempotency_key IS NOT NULL"),
    )
    op.drop_index("ix_valuation_runs_status_updated", table_name="valuation_runs")
    op.drop_index("ix_valuation_runs_org_created", table_name="valuation_runs")
    op.drop_index(op.f("ix_valuation_runs_input_hash"), table_name="valuation_runs")
    op.drop_index(op.f("ix_valuation_runs_company_id"), table_name="valuation_runs")
    op.drop_table("valuation_runs")
    op.drop_index(op.f("ix_run_events_run_id"), table_name="run_events")
    op.drop_index("ix_run_events_org_id", table_name="run_events")
    op.drop_table("run_events")
    sa.Enum(name="run_status").drop(op.get_bind(), checkfirst=True)

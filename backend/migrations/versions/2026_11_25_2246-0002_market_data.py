"""market data: snapshots, company datasets, financial periods, statement imports

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 22:46:48.844344
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "market_data_snapshots",
        sa.Column("provider", sa.String(length=40), nullable=False),
        sa.Column("function", sa.String(length=60), nullable=False),
        sa.Column("symbol", sa.String(length=40), nullable=True),
        sa.Column("params", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=120), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_data_snapshots")),
        sa.UniqueConstraint("content_hash", name=op.f("uq_market_data_snapshots_content_hash")),
    )
    op.create_index(
        "ix_market_data_snapshots_symbol_function",
        "market_data_snapshots",
        ["symbol", "function", "fetched_at"],
        unique=False,
    )
    op.create_table(
        "company_datasets",
        sa.Column("company_id", sa.UUID(), nullable=False),
        sa.Column("dataset", sa.String(length=40), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("snapshot_ids", sa.ARRAY(sa.UUID()), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_company_datasets_company_id_companies"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_company_datasets_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("company_id", "dataset", name=op.f("pk_company_datasets")),
    )
    op.create_index(op.f("ix_company_datasets_organization_id"), "company_datasets", ["organization_id"], unique=False)
    op.create_table(
        "statement_imports",
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("company_id", sa.UUID(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("periods", sa.Integer(), nullable=False),
        sa.Column("warnings", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_by_id", sa.UUID(), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_statement_imports_company_id_companies"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_statement_imports_created_by_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_statement_imports_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statement_imports")),
    )
    op.create_index(op.f("ix_statement_imports_company_id"), "statement_imports", ["company_id"], unique=False)
    op.create_index(
        op.f("ix_statement_imports_organization_id"), "statement_imports", ["organization_id"], unique=False
    )
    op.create_table(
        "financial_periods",
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("company_id", sa.UUID(), nullable=False),
        sa.Column("period_type", sa.String(length=12), nullable=False),
        sa.Column("fiscal_date_ending", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("source_kind", sa.String(length=20), nullable=False),
        sa.Column("statement_import_id", sa.UUID(), nullable=True),
        sa.Column("figures", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_financial_periods_company_id_companies"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_financial_periods_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["statement_import_id"],
            ["statement_imports.id"],
            name=op.f("fk_financial_periods_statement_import_id_statement_imports"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_financial_periods")),
        sa.UniqueConstraint(
            "company_id",
            "period_type",
            "fiscal_date_ending",
            name=op.f("uq_financial_periods_company_id_period_type_fiscal_date_ending"),
        ),
    )
    op.create_index(op.f("ix_financial_periods_company_id"), "financial_periods", ["company_id"], unique=False)
    op.create_index(
        op.f("ix_financial_periods_organization_id"), "financial_periods", ["organization_id"], unique=False
    )
    op.add_column("companies", sa.Column("price_currency", sa.String(length=3), nullable=True))
    op.add_column("companies", sa.Column("market_data_refreshed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        op.f("ix_companies_market_data_refreshed_at"), "companies", ["market_data_refreshed_at"], unique=False
    )
    # Snapshots are immutable: a valuation pins exactly the bytes it used.
    op.execute(
        """
        CREATE FUNCTION refuse_snapshot_update() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION 'market data snapshots are immutable';
        END;
        $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        "CREATE TRIGGER market_data_snapshots_immutable BEFORE UPDATE ON market_data_snapshots "
        "FOR EACH ROW EXECUTE FUNCTION refuse_snapshot_update()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS market_data_snapshots_immutable ON market_data_snapshots")
    op.execute("DROP FUNCTION IF EXISTS refuse_snapshot_update()")
    op.drop_index(op.f("ix_companies_market_data_refreshed_at"), table_name="companies")
    op.drop_column("companies", "market_data_refreshed_at")
    op.drop_column("companies", "price_currency")
    op.drop_index(op.f("ix_financial_periods_organization_id"), table_name="financial_periods")
    op.drop_index(op.f("ix_financial_periods_company_id"), table_name="financial_periods")
    op.drop_table("financial_periods")
    op.drop_index(op.f("ix_statement_imports_organization_id"), table_name="statement_imports")
    op.drop_index(op.f("ix_statement_imports_company_id"), table_name="statement_imports")
    op.drop_table("statement_imports")
    op.drop_index(op.f("ix_company_datasets_organization_id"), table_name="company_datasets")
    op.drop_table("company_datasets")
    op.drop_index("ix_market_data_snapshots_symbol_function", table_name="market_data_snapshots")
    op.drop_table("market_data_snapshots")

"""Alembic environment: the URL comes from Water's settings; models register on Base.metadata."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

import water.models  # noqa: F401  (registers every table)
from water.config import get_settings
from water.db.base import Base
from water.db.session import database_url

target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(url=database_url(get_settings()), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(database_url(get_settings()), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

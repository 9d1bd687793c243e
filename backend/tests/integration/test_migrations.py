"""Models and migrations agree (`alembic check`), and upgrade → downgrade → upgrade works on an empty database."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

from water.cli import MIGRATIONS_DIR

SCRATCH = "water_migrations_test"


@pytest.fixture
def scratch_database(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    import os

    from water.config import get_settings

    base = make_url(os.environ["WATER_DATABASE_URL"])
    admin = base.set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{SCRATCH}"')
        conn.execute(f'CREATE DATABASE "{SCRATCH}"')
    url = base.set(database=SCRATCH).render_as_string(hide_password=False)
    monkeypatch.setenv("WATER_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()
    with psycopg.connect(admin.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{SCRATCH}" WITH (FORCE)')


def _config() -> Config:
    config = Config(str(MIGRATIONS_DIR.parent / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def test_upgrade_check_downgrade_upgrade(scratch_database: str) -> None:
    config = _config()
    command.upgrade(config, "head")
    command.check(config)  # raises if the models have changes the migrations lack
    command.downgrade(config, "base")
    command.upgrade(config, "head")
    command.check(config)


def test_large_columns_use_lz4_where_the_server_has_it(scratch_database: str) -> None:
    config = _config()
    command.upgrade(config, "head")
    with psycopg.connect(scratch_database.replace("postgresql+psycopg", "postgresql")) as conn:
        has_lz4 = (
            "lz4"
            in conn.execute("SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'").fetchone()[0]
        )
        compression = dict(
            conn.execute(
                "SELECT attrelid::regclass::text || '.' || attname, attcompression FROM pg_attribute "
                "WHERE attrelid IN ('valuation_runs'::regclass, 'market_data_snapshots'::regclass) "
                "AND attname IN ('result', 'requests', 'body')"
            ).fetchall()
        )
    expected = "l" if has_lz4 else ""  # "" is the server default (pglz)
    assert compression == dict.fromkeys(
        ["valuation_runs.result", "valuation_runs.requests", "market_data_snapshots.body"], expected
    )


def test_revision_files_are_date_prefixed() -> None:
    import re

    files = [p.name for p in (MIGRATIONS_DIR / "versions").glob("*.py")]
    assert files
    assert all(re.match(r"^\d{4}_\d{2}_\d{2}_\d{4}-", name) for name in files), files

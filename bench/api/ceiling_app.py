"""The ceilings: a bare FastAPI app whose endpoints read one row from PostgreSQL, nothing else.

* `GET /rows/{id}`: a sync `def` endpoint on the thread pool, SQLAlchemy 2 sync engine, psycopg 3,
  a pool of 10: Water's stack before its hot reads moved into the event loop.
* `GET /arows/{id}`: an `async def` endpoint awaiting one statement on a psycopg
  `AsyncConnectionPool` of autocommit connections (max 10): the stack of Water's hot reads now
  (`water.db.reads`).

No middleware, no authentication, no transaction commit, no pre-ping. Run it exactly like Water:

    CEILING_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/water_bench \\
        .venv/bin/python -m uvicorn ceiling_app:app --app-dir bench/api --workers 1 --no-access-log

and read `GET /rows/{id}` or `GET /arows/{id}` (any companies.id; the bench uses Water's own row).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import create_engine, text

URL = os.environ.get("CEILING_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/water_bench")
engine = create_engine(URL.replace("postgresql://", "postgresql+psycopg://", 1), pool_size=10, max_overflow=10)
QUERY = text("SELECT id, name, ticker, currency, created_at FROM companies WHERE id = :id")

ASYNC_QUERY = "SELECT id, name, ticker, currency, created_at FROM companies WHERE id = %(id)s"
async_pool = AsyncConnectionPool(URL, max_size=10, kwargs={"autocommit": True, "row_factory": dict_row}, open=False)


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    await async_pool.open()
    yield
    await async_pool.close()


app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None, lifespan=lifespan)


@app.get("/rows/{row_id}")
def read_row(row_id: uuid.UUID) -> dict[str, Any]:
    with engine.connect() as connection:
        row = connection.execute(QUERY, {"id": row_id}).mappings().first()
    if row is None:
        raise HTTPException(404, "no such row")
    return dict(row)


@app.get("/arows/{row_id}")
async def read_row_async(row_id: uuid.UUID) -> dict[str, Any]:
    async with async_pool.connection() as connection:
        cursor = await connection.execute(ASYNC_QUERY, {"id": row_id})
        row = await cursor.fetchone()
    if row is None:
        raise HTTPException(404, "no such row")
    return row

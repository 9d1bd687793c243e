"""The ceiling: a bare FastAPI app with one endpoint that reads one row from PostgreSQL.

Same stack as Water's hot path (FastAPI, a sync `def` endpoint on the thread pool,
SQLAlchemy 2 sync engine, psycopg 3, a pool of 10) and nothing else: no middleware,
no authentication, no transaction commit, no pre-ping. Run it exactly like Water:

    CEILING_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/water_bench \\
        .venv/bin/python -m uvicorn ceiling_app:app --app-dir bench/api --workers 1 --no-access-log

and read `GET /rows/{id}` (any companies.id; the bench uses Water's own row).
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from fastapi import FastAPI, HTTPException
from sqlalchemy import create_engine, text

URL = os.environ.get("CEILING_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/water_bench")
engine = create_engine(URL.replace("postgresql://", "postgresql+psycopg://", 1), pool_size=10, max_overflow=10)
QUERY = text("SELECT id, name, ticker, currency, created_at FROM companies WHERE id = :id")

app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


@app.get("/rows/{row_id}")
def read_row(row_id: uuid.UUID) -> dict[str, Any]:
    with engine.connect() as connection:
        row = connection.execute(QUERY, {"id": row_id}).mappings().first()
    if row is None:
        raise HTTPException(404, "no such row")
    return dict(row)

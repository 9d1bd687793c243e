"""Storing raw responses as immutable, content-addressed snapshots."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from ..db.session import side_session
from ..models import MarketDataSnapshot
from .providers.base import RawResponse


def content_hash(response: RawResponse) -> str:
    """The hash covers what was asked and what came back, so equal bodies for other requests stay distinct."""
    digest = hashlib.sha256()
    digest.update(f"{response.request.provider}|{response.request.function}|{response.request.params}|".encode())
    digest.update(response.body)
    return digest.hexdigest()


def store(response: RawResponse) -> str:
    """Insert the snapshot unless an identical one exists; its id."""
    return store_many([response])[0]


def store_many(responses: Sequence[RawResponse]) -> list[str]:
    """Insert each response as a snapshot unless an identical one exists; their ids, in order.

    One short transaction of its own for the whole batch (one multi-row INSERT … ON CONFLICT
    DO NOTHING RETURNING, one SELECT for the bodies that were already stored, one COMMIT):
    the snapshots must exist before the cache points at them, whatever happens to the
    caller's transaction. Existing snapshots are never updated.
    """
    if not responses:
        return []
    digests = [content_hash(r) for r in responses]
    rows: dict[str, dict[str, Any]] = {}
    for digest, response in zip(digests, responses, strict=True):
        request = response.request
        rows.setdefault(
            digest,
            {
                "id": uuid.uuid4(),
                "provider": request.provider,
                "function": request.function,
                "symbol": request.symbol,
                "params": dict(request.params),
                "content_hash": digest,
                "content_type": response.content_type,
                "body": response.body,
                "size_bytes": len(response.body),
                "fetched_at": response.fetched_at,
            },
        )
    with side_session() as session:
        inserted = session.execute(
            insert(MarketDataSnapshot)
            .values(list(rows.values()))
            .on_conflict_do_nothing(index_elements=["content_hash"])
            .returning(MarketDataSnapshot.content_hash, MarketDataSnapshot.id)
        )
        ids: dict[str, uuid.UUID] = dict(inserted.all())
        if missing := [d for d in rows if d not in ids]:
            ids.update(
                session.execute(
                    select(MarketDataSnapshot.content_hash, MarketDataSnapshot.id).where(
                        MarketDataSnapshot.content_hash.in_(missing)
                    )
                ).all()
            )
        session.commit()
    return [str(ids[d]) for d in digests]

"""Storing raw responses as immutable, content-addressed snapshots."""

from __future__ import annotations

import hashlib
import uuid

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
    """Insert the snapshot unless an identical one exists; its id.

    Committed in its own short transaction: the snapshot must exist before the cache
    points at it, whatever happens to the caller's transaction.
    """
    digest = content_hash(response)
    request = response.request
    with side_session() as session:
        inserted = session.scalar(
            insert(MarketDataSnapshot)
            .values(
                id=uuid.uuid4(),
                provider=request.provider,
                function=request.function,
                symbol=request.symbol,
                params=dict(request.params),
                content_hash=digest,
                content_type=response.content_type,
                body=response.body,
                size_bytes=len(response.body),
                fetched_at=response.fetched_at,
            )
            .on_conflict_do_nothing(index_elements=["content_hash"])
            .returning(MarketDataSnapshot.id)
        )
        if inserted is None:
            inserted = session.scalar(select(MarketDataSnapshot.id).where(MarketDataSnapshot.content_hash == digest))
        session.commit()
    return str(inserted)

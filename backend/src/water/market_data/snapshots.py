"""Storing raw responses as immutable, content-addressed snapshots."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import ARRAY, Connection, String, Table, any_, bindparam, select
from sqlalchemy.dialects.postgresql import insert

from ..db.session import side_autocommit
from ..models import MarketDataSnapshot
from .providers.base import RawResponse


def content_hash(response: RawResponse) -> str:
    """The hash covers what was asked and what came back, so equal bodies for other requests stay distinct."""
    digest = hashlib.sha256()
    digest.update(f"{response.request.provider}|{response.request.function}|{response.request.params}|".encode())
    digest.update(response.body)
    return digest.hexdigest()


_SNAPSHOTS = cast(Table, MarketDataSnapshot.__table__)
# One statement object for every batch: executed with a list of rows, SQLAlchemy sends it as one
# multi-row INSERT ("insertmanyvalues") from a compiled form it caches, where a `.values([...])` built
# per batch was compiled again each time (8% of a refresh's CPU). Core, not ORM: no bulk-ORM layer.
_INSERT_NEW = (
    insert(_SNAPSHOTS)
    .on_conflict_do_nothing(index_elements=["content_hash"])
    .returning(MarketDataSnapshot.content_hash, MarketDataSnapshot.id)
)


def store(response: RawResponse) -> str:
    """Insert the snapshot unless an identical one exists; its id."""
    return store_many([response])[0]


def store_many(responses: Sequence[RawResponse]) -> list[str]:
    """Insert each response as a snapshot unless an identical one exists; their ids, in order.

    Committed before returning, on a connection of its own: the snapshots must exist before
    the cache points at them, whatever happens to the caller's transaction. It first looks the
    content hashes up (bodies already stored are not sent again: PostgreSQL would compress and
    write each one before finding the conflict), then inserts the new ones in one multi-row
    INSERT … ON CONFLICT DO NOTHING RETURNING, and looks up any that another transaction stored
    in between. Each statement commits by itself (autocommit: no BEGIN or COMMIT round trip):
    every insert is whole, and a snapshot stored without a pointer to it is harmless, since the
    next store of the same bytes finds it. Existing snapshots are never updated.
    """
    if not responses:
        return []
    digests = [content_hash(r) for r in responses]
    by_digest: dict[str, RawResponse] = {}
    for digest, response in zip(digests, responses, strict=True):
        by_digest.setdefault(digest, response)
    with side_autocommit() as connection:
        ids = _ids_of(connection, list(by_digest))
        if new := [d for d in by_digest if d not in ids]:
            inserted = connection.execute(_INSERT_NEW, [_row(d, by_digest[d]) for d in new])
            ids.update(inserted.all())
            if raced := [d for d in new if d not in ids]:
                ids.update(_ids_of(connection, raced))
    return [str(ids[d]) for d in digests]


# Core, on the table (a select of mapped attributes would go through the ORM's query machinery), with
# the hashes as one array parameter: the SQL text never changes, so psycopg prepares it on the server,
# where an expanding IN list is rewritten for each execution.
_IDS_OF = select(_SNAPSHOTS.c.content_hash, _SNAPSHOTS.c.id).where(
    _SNAPSHOTS.c.content_hash == any_(bindparam("digests", type_=ARRAY(String)))
)


def _ids_of(connection: Connection, digests: list[str]) -> dict[str, uuid.UUID]:
    return dict(connection.execute(_IDS_OF, {"digests": digests}).all())


def _row(digest: str, response: RawResponse) -> dict[str, Any]:
    request = response.request
    return {
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
    }

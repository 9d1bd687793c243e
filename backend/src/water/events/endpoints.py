"""Server-Sent Events: the organization's run events, live, resumable with Last-Event-ID."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

import redis.asyncio as aioredis
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from ..auth.dependencies import Reader
from ..db.session import side_session
from ..redis_client import redis_url
from ..valuations.events import channel
from ..valuations.repository import ValuationRunRepository

router = APIRouter(tags=["events"])
HEARTBEAT_SECONDS = 15.0


def _format(event_id: int, event_type: str, data: dict[str, Any]) -> bytes:
    return f"id: {event_id}\nevent: {event_type}\ndata: {json.dumps(data, default=str)}\n\n".encode()


def _replay(organization_id: uuid.UUID, after: int, run_id: uuid.UUID | None) -> list[tuple[int, str, dict[str, Any]]]:
    with side_session() as session:
        rows = ValuationRunRepository(session).events_after(organization_id, after, run_id)
        return [(r.id, r.type, {"run_id": str(r.run_id), **r.data, "at": r.at.isoformat()}) for r in rows]


async def _stream(
    request: Request, organization_id: uuid.UUID, after: int, run_id: uuid.UUID | None
) -> AsyncIterator[bytes]:
    client = aioredis.Redis.from_url(redis_url(), decode_responses=True)
    pubsub = client.pubsub()
    await pubsub.subscribe(channel(organization_id))  # subscribe first, then replay: nothing falls in between
    last = after
    try:
        yield b"retry: 2000\n\n"
        while True:
            # Replay from the log (also after every live message, so the order is the log's order, gapless).
            for event_id, event_type, data in await run_in_threadpool(_replay, organization_id, last, run_id):
                last = max(last, event_id)
                yield _format(event_id, event_type, data)
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=HEARTBEAT_SECONDS)
            if await request.is_disconnected():
                return
            if message is None:
                yield b": heartbeat\n\n"
    finally:
        await pubsub.unsubscribe()
        await pubsub.aclose()  # type: ignore[no-untyped-call]
        await client.aclose()


@router.get("/events", response_class=StreamingResponse, responses={200: {"content": {"text/event-stream": {}}}})
async def stream_events(
    request: Request,
    principal: Reader,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=20, pattern=r"^\d+$")] = None,
    run_id: Annotated[uuid.UUID | None, Query(description="only this run's events")] = None,
    after: Annotated[int | None, Query(ge=0, description="resume after this event id (like Last-Event-ID)")] = None,
) -> StreamingResponse:
    """Run state changes as Server-Sent Events for the caller's organization; heartbeats every 15 s."""
    start = int(last_event_id) if last_event_id else (after or 0)
    if start == 0 and last_event_id is None and after is None:
        start = await run_in_threadpool(_latest_event_id, principal.organization_id)
    return StreamingResponse(
        _stream(request, principal.organization_id, start, run_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _latest_event_id(organization_id: uuid.UUID) -> int:
    """A new stream (no Last-Event-ID) starts from now, not from the beginning of history."""
    from sqlalchemy import func, select

    from ..models import RunEvent

    with side_session() as session:
        return int(
            session.scalar(
                select(func.coalesce(func.max(RunEvent.id), 0)).where(RunEvent.organization_id == organization_id)
            )
            or 0
        )

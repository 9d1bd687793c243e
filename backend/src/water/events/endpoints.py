"""Server-Sent Events: the organization's run events, live, resumable with Last-Event-ID."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import deque
from collections.abc import AsyncIterator
from typing import Annotated, Any

import redis.asyncio as aioredis
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from prometheus_client import Counter
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


REPLAY_LIMIT = 1000  # events read from the log at a time
# A stream reads the log at most READS_PER_WINDOW times per READ_WINDOW_SECONDS: an idle stream
# reads at once for each message (a run's queued, running and succeeded come within milliseconds),
# a busy one lets one read serve the messages of a few milliseconds (at most 80 reads/s a stream).
READS_PER_WINDOW = 4
READ_WINDOW_SECONDS = 0.05

log_reads = Counter(
    "water_event_stream_log_reads",
    "Reads of the run-event log by live event streams (the first, and one per message that brings news).",
)
messages_skipped = Counter(
    "water_event_stream_messages_skipped",
    "Live messages a stream had already sent from the log, so it did not read the log again.",
)


def _replay(organization_id: uuid.UUID, after: int, run_id: uuid.UUID | None) -> list[tuple[int, str, dict[str, Any]]]:
    log_reads.inc()
    with side_session() as session:
        rows = ValuationRunRepository(session).events_after(organization_id, after, run_id, REPLAY_LIMIT)
        return [(i, kind, {"run_id": str(run), **data, "at": at.isoformat()}) for i, kind, run, data, at in rows]


def _message_event_id(message: dict[str, Any]) -> int | None:
    """The event id a live message announces (events.publish), or None if it carries none."""
    try:
        event_id = json.loads(message["data"])["id"]
    except (KeyError, TypeError, ValueError):
        return None
    return event_id if isinstance(event_id, int) else None


async def _stream(
    request: Request, organization_id: uuid.UUID, after: int, run_id: uuid.UUID | None
) -> AsyncIterator[bytes]:
    """Events from the log, in the log's order, woken by live messages.

    Why a message needs no log read when its id is at most `covered`: an organization's events
    commit in id order (events.append), and a message is published only after its event
    committed. So once a log read started after the message for id N arrived, every event of
    the organization up to N was in the log and that read returned it (or the stream's run
    filter left it out). Under load one read then serves many messages instead of one each,
    and reads are spaced out (READS_PER_WINDOW).
    """
    loop = asyncio.get_running_loop()
    client = aioredis.Redis.from_url(redis_url(), decode_responses=True)
    pubsub = client.pubsub()
    await pubsub.subscribe(channel(organization_id))  # subscribe first, then replay: nothing falls in between
    last = after  # the newest event sent
    covered = after  # every event up to this id has been sent or filtered out
    announced = 0  # the newest event id a message announced
    must_read = True
    recent_reads: deque[float] = deque(maxlen=READS_PER_WINDOW)  # when the last reads started
    try:
        yield b"retry: 2000\n\n"
        while True:
            if must_read:
                if len(recent_reads) == READS_PER_WINDOW:
                    wait = recent_reads[0] + READ_WINDOW_SECONDS - loop.time()
                    if wait > 0:
                        await asyncio.sleep(wait)
                recent_reads.append(loop.time())
                read_after = announced
                rows = await run_in_threadpool(_replay, organization_id, last, run_id)
                for event_id, event_type, data in rows:
                    last = max(last, event_id)
                    yield _format(event_id, event_type, data)
                if len(rows) >= REPLAY_LIMIT:
                    continue  # more in the log than one read returns
                covered = max(covered, last, read_after)
                must_read = False
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=HEARTBEAT_SECONDS)
            if message is None:
                # StreamingResponse cancels this generator when the client goes away; the check here
                # only ends a stream whose server cannot notice that (no message per message: it costs).
                if await request.is_disconnected():
                    return
                yield b": heartbeat\n\n"
                continue
            announces = _message_event_id(message)
            if announces is not None and announces <= covered:
                messages_skipped.inc()
                continue
            announced = max(announced, announces or 0)
            must_read = True
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

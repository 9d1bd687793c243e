"""Pure-ASGI middleware: request id, metrics, body size limit.

Pure ASGI (not BaseHTTPMiddleware) keeps them cheap and keeps streaming working.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from typing import Any

import structlog
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import problem
from .metrics import http_in_flight, http_request_duration, http_requests

log = structlog.get_logger("water.api")


async def send_problem(send: Send, body: dict[str, Any]) -> None:
    """Answer with a problem-details body from inside a middleware (below the app's handlers)."""
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": body["status"], "headers": headers})
    await send({"type": "http.response.body", "body": payload})


class _StartTracker:
    """Wraps `send` and remembers whether the response has started (then it can no longer be replaced)."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)


REQUEST_ID_HEADER = b"x-request-id"
VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


class RequestIdMiddleware:
    """Accept a well-formed inbound X-Request-ID, else generate one; echo it; bind it to logs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        inbound = _header(scope, REQUEST_ID_HEADER)
        request_id = inbound if inbound and VALID_REQUEST_ID.match(inbound) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != REQUEST_ID_HEADER]
                headers.append((REQUEST_ID_HEADER, request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            structlog.contextvars.clear_contextvars()


class RouteTemplates:
    """Maps a request path to its route template using the OpenAPI document's paths.

    Labels stay bounded: a path that matches no route is counted as "unmatched".
    """

    EXTRA = ("/metrics", "/api/openapi.json", "/api/docs", "/api/redoc", "/api/docs/oauth2-redirect")

    def __init__(self, app: Any) -> None:
        self.app = app
        self._patterns: list[tuple[re.Pattern[str], str]] | None = None

    def _build(self) -> list[tuple[re.Pattern[str], str]]:
        templates = list(self.app.openapi().get("paths", {})) + list(self.EXTRA)
        # Literal segments before parameters: /jobs/probe must win over /jobs/{job_id}.
        templates.sort(key=lambda t: (t.count("{"), -len(t)))
        patterns = []
        for template in templates:
            regex = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
            patterns.append((re.compile(f"^{regex}$"), template))
        return patterns

    def __call__(self, path: str) -> str:
        if self._patterns is None:
            self._patterns = self._build()
        for pattern, template in self._patterns:
            if pattern.match(path):
                return template
        return "unmatched"


class MetricsMiddleware:
    """Count requests and time them by route template, method and status."""

    def __init__(self, app: ASGIApp, fastapi_app: Any) -> None:
        self.app = app
        self.templates = RouteTemplates(fastapi_app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def send_recording(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        http_in_flight.inc()
        try:
            await self.app(scope, receive, send_recording)
        finally:
            http_in_flight.dec()
            template = self.templates(scope["path"])
            method = scope["method"]
            http_requests.labels(template, method, str(status)).inc()
            http_request_duration.labels(template, method).observe(time.perf_counter() - started)


class BodySizeLimitMiddleware:
    """Reject bodies larger than `max_bytes` with a 413 problem, by header or while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(scope, send)
            return
        received = 0
        started = _StartTracker(send)

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge()
            return message

        try:
            await self.app(scope, limited_receive, started.send)
        except _BodyTooLarge:
            if not started.started:
                await self._reject(scope, send)

    async def _reject(self, scope: Scope, send: Send) -> None:
        request_id = scope.get("state", {}).get("request_id")
        body = problem(
            413,
            code="payload_too_large",
            title="Request body too large",
            detail=f"The request body exceeds the limit of {self.max_bytes} bytes.",
            request_id=request_id,
        )
        await send_problem(send, body)


class _BodyTooLarge(HTTPException):
    """Raised from receive(); an HTTPException so body parsers re-raise it as a 413."""

    def __init__(self) -> None:
        super().__init__(413, "The request body exceeds the size limit.")


class UnhandledErrorMiddleware:
    """The last line of the exception layer: an unexpected exception becomes a 500 problem with no internals.

    It sits inside the request-id middleware, so the log line (with traceback) and
    the response both carry the request id.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = _StartTracker(send)
        try:
            await self.app(scope, receive, started.send)
        except Exception as exc:
            log.error("unhandled_exception", path=scope.get("path"), method=scope.get("method"), exc_info=exc)
            if started.started:
                raise
            body = problem(
                500,
                code="internal_error",
                title="Internal Server Error",
                detail="Something went wrong on our side; quote the request id if you report it.",
                request_id=scope.get("state", {}).get("request_id"),
            )
            await send_problem(send, body)


class AllowlistCORSMiddleware(CORSMiddleware):
    """CORS for the allowlisted origins only: any other origin gets no CORS headers at all."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        origin = _header(scope, b"origin") if scope["type"] == "http" else None
        if origin is not None and not self.is_allowed_origin(origin):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


class ConcurrencyLimitMiddleware:
    """At most `limit` database-backed requests in flight per process; the rest wait their turn.

    Why: a sync handler holds a pooled connection until its response has been serialized, and
    serialization needs a worker thread. Past the pool's size, threads can all end up waiting
    for connections held by requests that are waiting for threads. Admitting no more requests
    than there are connections makes that impossible. Streams (SSE) and health checks bypass it.
    """

    BYPASS = ("/api/events", "/api/healthz", "/api/readyz", "/metrics")

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self._semaphore: asyncio.Semaphore | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.BYPASS):
            await self.app(scope, receive, send)
            return
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.limit)
        async with self._semaphore:
            await self.app(scope, receive, send)

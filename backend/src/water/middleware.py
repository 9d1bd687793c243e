"""Pure-ASGI middleware: request id, metrics, body size limit.

Pure ASGI (not BaseHTTPMiddleware) keeps them cheap and keeps streaming working.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import WaterError, problem
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


class RouteTemplates:
    """Maps a request path to its route template using the OpenAPI document's paths.

    Labels stay bounded: a path that matches no route is counted as "unmatched". Templates are
    grouped by their number of segments, so a path is tried only against templates of its length,
    and recent paths are remembered (a bounded memo: the same resources are read again and again).
    """

    EXTRA = ("/metrics", "/api/openapi.json", "/api/docs", "/api/redoc", "/api/docs/oauth2-redirect")
    MEMO_SIZE = 4096

    def __init__(self, app: Any) -> None:
        self.app = app
        self._by_length: dict[int, list[tuple[re.Pattern[str], str]]] | None = None
        self._memo: dict[str, str] = {}

    def _build(self) -> dict[int, list[tuple[re.Pattern[str], str]]]:
        templates = list(self.app.openapi().get("paths", {})) + list(self.EXTRA)
        # Literal segments before parameters: /jobs/probe must win over /jobs/{job_id}.
        templates.sort(key=lambda t: (t.count("{"), -len(t)))
        by_length: dict[int, list[tuple[re.Pattern[str], str]]] = {}
        for template in templates:
            regex = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
            by_length.setdefault(template.count("/"), []).append((re.compile(f"^{regex}$"), template))
        return by_length

    def __call__(self, path: str) -> str:
        template = self._memo.get(path)
        if template is None:
            template = self._match(path)
            if len(self._memo) >= self.MEMO_SIZE:
                self._memo.clear()
            self._memo[path] = template
        return template

    def _match(self, path: str) -> str:
        if self._by_length is None:
            self._by_length = self._build()
        for pattern, template in self._by_length.get(path.count("/"), ()):
            if pattern.match(path):
                return template
        return "unmatched"


class _Series:
    """The labelled children of the request metrics, looked up once per (route, method, status)."""

    def __init__(self) -> None:
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._histograms: dict[tuple[str, str], Any] = {}

    def record(self, template: str, method: str, status: int, seconds: float) -> None:
        counter = self._counters.get((template, method, status))
        if counter is None:  # bounded: templates x methods x statuses
            counter = self._counters[(template, method, status)] = http_requests.labels(template, method, str(status))
        histogram = self._histograms.get((template, method))
        if histogram is None:
            histogram = self._histograms[(template, method)] = http_request_duration.labels(template, method)
        counter.inc()
        histogram.observe(seconds)


class RequestMiddleware:
    """The outermost layer: names each request and measures it.

    - Request id: accept a well-formed inbound X-Request-ID, else generate one; echo it on the
      response; bind it to every log line of the request.
    - Metrics: count requests and time them by route template, method and status; in-flight gauge.

    One layer with one `send` wrapper for both (each pure-ASGI layer costs a call and a closure
    per request, see docs/benchmarks.md).
    """

    def __init__(self, app: ASGIApp, fastapi_app: Any) -> None:
        self.app = app
        self.templates = RouteTemplates(fastapi_app)
        self.series = _Series()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        inbound = _header(scope, REQUEST_ID_HEADER)
        request_id = inbound if inbound and VALID_REQUEST_ID.match(inbound) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        id_header = (REQUEST_ID_HEADER, request_id.encode())
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != REQUEST_ID_HEADER]
                headers.append(id_header)
                message["headers"] = headers
            await send(message)

        http_in_flight.inc()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            http_in_flight.dec()
            seconds = time.perf_counter() - started
            self.series.record(self.templates(scope["path"]), scope["method"], status, seconds)
            structlog.contextvars.clear_contextvars()


@dataclass(frozen=True)
class RouteBodyLimit:
    """A larger (still bounded) body allowance for the paths `pattern` matches (e.g. a file upload).

    `reject(declared_bytes)` gives the error the route documents for a body over `max_bytes`, so
    the user gets the route's own problem (e.g. the import's `file_too_large`), not the generic one.
    """

    pattern: re.Pattern[str]
    max_bytes: int
    reject: Callable[[int | None], WaterError]


class BodySizeLimitMiddleware:
    """Reject bodies larger than `max_bytes` with a 413 problem, by header or while streaming.

    A path matched by one of `routes` gets that route's allowance and its own problem instead.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, routes: Sequence[RouteBodyLimit] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.routes = tuple(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes, reject = self.max_bytes, None
        if self.routes and scope["method"] in ("POST", "PUT", "PATCH"):
            for route in self.routes:
                if route.pattern.match(scope["path"]):
                    max_bytes, reject = route.max_bytes, route.reject
                    break
        declared = chunked = None
        for key, value in scope["headers"]:
            if key == b"content-length":
                declared = value
            elif key == b"transfer-encoding":
                chunked = value
        if declared is not None and chunked is None:
            if declared.isdigit() and int(declared) > max_bytes:
                await self._reject(scope, send, max_bytes, reject, int(declared))
                return
            if declared.isdigit():  # the server reads no more than the declared length: nothing to count
                await self.app(scope, receive, send)
                return
        elif declared is None and chunked is None:  # no body (e.g. a GET)
            await self.app(scope, receive, send)
            return
        received = 0
        started = _StartTracker(send)

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    # Raised inside the app's body parsing; the app's handler answers it with the route's
                    # own problem when it has one (`route_error`), else the generic 413.
                    raise _BodyTooLarge(None if reject is None else reject(None))
            return message

        try:
            await self.app(scope, limited_receive, started.send)
        except _BodyTooLarge:
            if not started.started:
                await self._reject(scope, send, max_bytes, reject, None)

    @staticmethod
    async def _reject(
        scope: Scope,
        send: Send,
        max_bytes: int,
        reject: Callable[[int | None], WaterError] | None,
        declared: int | None,
    ) -> None:
        request_id = scope.get("state", {}).get("request_id")
        if reject is not None:
            error = reject(declared)
            fields = {**error.extra, "title": error.title, "detail": error.detail}
            await send_problem(send, problem(error.status, code=error.code, request_id=request_id, **fields))
            return
        body = problem(
            413,
            code="payload_too_large",
            title="Request body too large",
            detail=f"The request body exceeds the limit of {max_bytes} bytes.",
            request_id=request_id,
        )
        await send_problem(send, body)


class _BodyTooLarge(HTTPException):
    """Raised from receive(); an HTTPException so body parsers re-raise it as a 413, or as the route's
    own problem (`route_error`, e.g. the import's `file_too_large`) when the route has one."""

    def __init__(self, route_error: WaterError | None = None) -> None:
        super().__init__(413, route_error.detail if route_error else "The request body exceeds the size limit.")
        self.route_error = route_error


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
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        origin = _header(scope, b"origin")
        if origin is None:
            # Not a CORS request: only `Vary: Origin` (as Starlette adds), without its header parsing.
            async def send_varying(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = _vary_origin(message.get("headers", ()))
                await send(message)

            await self.app(scope, receive, send_varying)
            return
        if not self.is_allowed_origin(origin):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def _vary_origin(headers: Any) -> list[tuple[bytes, bytes]]:
    """The response headers with Origin added to Vary (one Vary header, as Starlette writes it)."""
    varies = [v for k, v in headers if k.lower() == b"vary"]
    kept = [(k, v) for k, v in headers if k.lower() != b"vary"] if varies else list(headers)
    kept.append((b"vary", b", ".join([*varies, b"Origin"])))
    return kept


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

"""A fake Alpha Vantage on a real socket: replays the recorded fixtures and the project's demo data.

    with FakeAlphaVantage() as server:
        transport = AlphaVantageTransport("key", server.url, timeout=2.0)
        server.count("OVERVIEW", "IBM")          # requests seen per (function, symbol)
        server.fail("http_503", times=1)         # the next request gets a 503
        server.serve_error("ERROR_daily_limit_information.json")  # every request gets that body
        server.serve_error("EMPTY_OBJECT.json", only="DIVIDENDS")  # only DIVIDENDS requests get it

Answers, in order: a switched-on failure mode or forced error body; the recorded response whose
manifest query equals the request (ignoring `apikey` and the defaults `datatype=json`,
`outputsize=compact`); then the demo data, which answers unknown symbols the way Alpha Vantage
does (`{}`, `{"Global Quote": {}}` or the "Invalid API call" message).

The recordings live beside the checkout in `../shared/fixtures/alphavantage/` (third-party data,
never copied into the repository). Without that folder the server still serves the demo data,
and tests that need the recordings skip naming the folder (`require_recordings`).
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from water.market_data.demo import DemoData, demo_data

FIXTURES_DIR = Path(__file__).resolve().parents[3].parent / "shared" / "fixtures" / "alphavantage"
DEFAULT_PARAMS = frozenset({("datatype", "json"), ("outputsize", "compact")})
FAILURE_MODES = ("html", "http_500", "http_503", "slow", "reset")
HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>alphavantage.co | 502: Bad gateway</title></head>"
    b"<body><h1>Bad gateway</h1><p>The web server reported a bad gateway error.</p></body></html>\n"
)
INVALID_KEY = (
    "the parameter apikey is invalid or missing. Please claim your free API key on "
    "(https://www.alphavantage.co/support/#api-key). It should take less than 20 seconds."
)


@dataclass(frozen=True)
class Recorded:
    file: str
    body: bytes
    content_type: str
    status: int


def _query_key(query: dict[str, str]) -> frozenset[tuple[str, str]]:
    return frozenset((k, v) for k, v in query.items() if k != "apikey") - DEFAULT_PARAMS


def load_recordings(directory: Path) -> tuple[dict[frozenset[tuple[str, str]], Recorded], dict[str, Recorded]]:
    """(data responses by query, every response by file name) from a fixtures manifest."""
    manifest = json.loads((directory / "manifest.json").read_text())
    by_query: dict[frozenset[tuple[str, str]], Recorded] = {}
    by_file: dict[str, Recorded] = {}
    for entry in manifest["responses"]:
        recorded = Recorded(
            entry["file"], (directory / entry["file"]).read_bytes(), entry["content_type"], entry["http_status"]
        )
        by_file[entry["file"]] = recorded
        if "query" in entry:
            by_query[_query_key(entry["query"])] = recorded
    return by_query, by_file


class FakeAlphaVantage:
    """A threaded HTTP/1.1 server on 127.0.0.1 (free port) that answers `GET /query`."""

    def __init__(
        self, fixtures_dir: Path | None = FIXTURES_DIR, *, demo: DemoData | None = None, api_key: str | None = None
    ) -> None:
        self.fixtures_dir = fixtures_dir if fixtures_dir is not None and fixtures_dir.is_dir() else None
        self.recordings: dict[frozenset[tuple[str, str]], Recorded] = {}
        self.files: dict[str, Recorded] = {}
        if self.fixtures_dir is not None:
            self.recordings, self.files = load_recordings(self.fixtures_dir)
        self.demo = demo or demo_data()
        self.api_key = api_key  # when set, any other key gets the invalid-key answer
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str | None]] = Counter()
        self.requests: list[dict[str, str]] = []
        self.connections: set[tuple[str, int]] = set()
        self._failure: str | None = None
        self._forced: Recorded | None = None
        self._times: int | None = None
        self._only: str | None = None  # the function a failure mode or forced body is limited to
        self.delay = 3.0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def has_recordings(self) -> bool:
        return self.fixtures_dir is not None

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the server first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeAlphaVantage:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        server.daemon_threads = True
        server.block_on_close = False
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeAlphaVantage:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what tests read and switch ----------------------------------------------------------

    def count(self, function: str, symbol: str | None = None) -> int:
        """Requests seen for (function, symbol); symbol None counts the function's requests without one."""
        with self._lock:
            return self._counts[(function, symbol)]

    def counts(self) -> dict[tuple[str, str | None], int]:
        with self._lock:
            return dict(self._counts)

    @property
    def total_requests(self) -> int:
        with self._lock:
            return sum(self._counts.values())

    def reset(self) -> None:
        """Forget counts, requests, connections and failure modes (between tests)."""
        with self._lock:
            self._counts.clear()
            self.requests.clear()
            self.connections.clear()
            self._failure, self._forced, self._times, self._only = None, None, None, None
            self.delay = 3.0

    def fail(self, mode: str, *, times: int | None = None, delay: float | None = None, only: str | None = None) -> None:
        """Switch a failure mode on for the next `times` requests (None: until `reset`); with `only`, for
        requests of that function alone (the others are answered as usual and not counted in `times`)."""
        if mode not in FAILURE_MODES:
            raise ValueError(f"unknown failure mode {mode!r}; one of {FAILURE_MODES}")
        with self._lock:
            self._failure, self._forced, self._times, self._only = mode, None, times, only
            if delay is not None:
                self.delay = delay

    def serve_error(self, file_name: str, *, times: int | None = None, only: str | None = None) -> None:
        """Answer with a recorded body (e.g. "ERROR_daily_limit_information.json") for the next `times` requests;
        with `only`, for requests of that function alone."""
        if file_name not in self.files:
            raise LookupError(f"{file_name} is not in {self.fixtures_dir or FIXTURES_DIR}/manifest.json")
        with self._lock:
            self._failure, self._forced, self._times, self._only = None, self.files[file_name], times, only

    def serve_body(
        self,
        body: bytes,
        *,
        content_type: str = "application/json",
        times: int | None = None,
        only: str | None = None,
    ) -> None:
        """Answer with `body` (HTTP 200), e.g. a malformed data body, like `serve_error` does with a recording."""
        with self._lock:
            self._failure, self._forced, self._times, self._only = (
                None, Recorded("<served body>", body, content_type, 200), times, only,
            )  # fmt: skip

    # --- answering ---------------------------------------------------------------------------

    def _take_override(self, function: str | None = None) -> tuple[str | None, Recorded | None]:
        with self._lock:
            if self._only is not None and function != self._only:
                return None, None
            failure, forced = self._failure, self._forced
            if self._times is not None:
                self._times -= 1
                if self._times <= 0:
                    self._failure, self._forced, self._times, self._only = None, None, None, None
            return failure, forced

    def record(self, query: dict[str, str], client: tuple[str, int]) -> None:
        with self._lock:
            self._counts[(query.get("function", ""), query.get("symbol"))] += 1
            self.requests.append(query)
            self.connections.add(client)

    def answer(self, query: dict[str, str]) -> tuple[int, str, bytes]:
        """(status, content type, body) for a request without a failure mode."""
        if self.api_key is not None and query.get("apikey") != self.api_key:
            return 200, "application/json", json.dumps({"Error Message": INVALID_KEY}, indent=4).encode()
        recorded = self.recordings.get(_query_key(query))
        if recorded is not None:
            return recorded.status, recorded.content_type, recorded.body
        params = {k: v for k, v in query.items() if k not in ("function", "apikey")}
        body, content_type = self.demo.respond(query.get("function", ""), params)
        return 200, content_type, body


def _handler_for(fake: FakeAlphaVantage) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, so connection reuse is observable
        server_version = "FakeAlphaVantage/1.0"
        disable_nagle_algorithm = True  # else small responses wait ~40 ms for the client's delayed ACK

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path != "/query":
                self._send(404, "text/plain", b"not found\n")
                return
            query = dict(parse_qsl(parts.query, keep_blank_values=True))
            fake.record(query, self.client_address[:2])
            failure, forced = fake._take_override(query.get("function"))
            if failure == "reset":
                self._reset()
                return
            if failure == "slow":
                time.sleep(fake.delay)
            if failure == "html":
                self._send(200, "text/html; charset=UTF-8", HTML_PAGE)
            elif failure == "http_500":
                self._send(500, "text/plain", b"Internal Server Error\n")
            elif failure == "http_503":
                self._send(503, "text/html; charset=UTF-8", HTML_PAGE.replace(b"502: Bad gateway", b"503"))
            elif forced is not None:
                # The live daily-limit text echoes the caller's key; the recording says YOUR_API_KEY.
                body = forced.body.replace(b"YOUR_API_KEY", query.get("apikey", "").encode())
                self._send(forced.status, forced.content_type, body)
            else:
                self._send(*fake.answer(query))

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
                self.close_connection = True

        def _reset(self) -> None:
            """Close with SO_LINGER 0: the client sees a TCP reset, not a clean end."""
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()

        def finish(self) -> None:
            with contextlib.suppress(OSError, ValueError):
                super().finish()

    return Handler


def free_port() -> int:
    """A port nobody listens on (bound and released), for connection-refused tests."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port

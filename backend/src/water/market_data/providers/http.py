"""An httpx transport over the standard library's `http.client`, with kept-alive connections.

The Alpha Vantage client speaks httpx (`httpx.Request` in, `httpx.Response` out, httpx's
timeouts and exceptions), and any `httpx.BaseTransport` can stand in for this one. Underneath,
httpx's own `HTTPTransport` parses HTTP/1.1 with h11, in pure Python: on loopback it cost about
0.6 ms of CPU per call, three times what `http.client` (whose response parsing is mostly C)
costs for the same call, and a refresh makes nine calls per company. This transport keeps what
the provider relies on:

* connection reuse: idle connections are kept per origin (at most `max_keepalive`, each for
  `keepalive_expiry` seconds); one idle for a second or more is checked before use (a server
  that closed it, or wrote to it, makes it readable), and a GET that fails on a reused
  connection before any byte of the answer arrived is sent once more on a new one (a server
  may close an idle connection at any time);
* httpx's timeouts (the request's "timeout" extension: connect, then read/write per operation);
* httpx's exceptions (ConnectError, ConnectTimeout, ReadTimeout, ReadError for a connection
  that fails while sending or reading, RemoteProtocolError for a closed or malformed answer), so
  callers catch `httpx.TimeoutException` and `httpx.HTTPError` as before;
* TLS for https origins, verified against the system's certificate store.

HTTP/1.1 GETs without a body are what Alpha Vantage needs; other methods are refused.
"""

from __future__ import annotations

import http.client
import select
import ssl
import threading
import time
from collections import defaultdict

import httpx

_Origin = tuple[str, str, int]
# A connection idle for less than this is used without first checking that the server has not
# closed it (a poll, a system call per request): servers close idle connections after seconds,
# not milliseconds, and one that closes in between is caught by sending once more.
_TRUSTED_IDLE = 1.0


class _Idle:
    __slots__ = ("connection", "since")

    def __init__(self, connection: http.client.HTTPConnection, since: float) -> None:
        self.connection = connection
        self.since = since


class StdlibHTTPTransport(httpx.BaseTransport):
    """GET over kept-alive `http.client` connections, behind httpx's transport interface (see the module)."""

    def __init__(
        self, *, max_keepalive: int = 10, keepalive_expiry: float = 30.0, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self._max_keepalive = max_keepalive
        self._keepalive_expiry = keepalive_expiry
        self._ssl_context = ssl_context
        self._idle: defaultdict[_Origin, list[_Idle]] = defaultdict(list)
        self._lock = threading.Lock()
        self.connections_opened = 0  # read by tests and benchmarks: reuse shows as few openings

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method != "GET":
            raise httpx.UnsupportedProtocol(f"{type(self).__name__} sends GET requests only", request=request)
        url = request.url
        origin = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        timeouts = request.extensions.get("timeout", {})
        target = url.raw_path.decode("ascii")
        headers = request.headers.raw
        connection, reused = self._checkout(origin, request, timeouts)
        while True:  # at most twice: `_Stale` comes only from a reused connection
            try:
                status, reason, response_headers, body, keep = self._exchange(
                    connection, target, headers, request, reused
                )
                break
            except _Stale:
                connection.close()
                connection, reused = self._open(origin, request, timeouts), False
            except BaseException:
                connection.close()
                raise
        if keep:
            self._checkin(origin, connection)
        else:
            connection.close()
        return httpx.Response(
            status, headers=response_headers, content=body, request=request, extensions={"reason_phrase": reason}
        )

    def close(self) -> None:
        with self._lock:
            idle = [entry for entries in self._idle.values() for entry in entries]
            self._idle.clear()
        for entry in idle:
            entry.connection.close()

    # --- one exchange -------------------------------------------------------------------------

    def _exchange(
        self,
        connection: http.client.HTTPConnection,
        target: str,
        headers: list[tuple[bytes, bytes]],
        request: httpx.Request,
        reused: bool,
    ) -> tuple[int, bytes, list[tuple[str, str]], bytes, bool]:
        """Send the GET and read the whole answer: (status, reason, headers, body, connection reusable)."""
        answered = False
        try:
            connection.putrequest("GET", target, skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                connection.putheader(name, value)
            connection.endheaders()
            response = connection.getresponse()
            answered = True
            body = response.read()
        except TimeoutError:
            raise httpx.ReadTimeout("timed out waiting for the server", request=request) from None
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
            if reused and not answered:
                raise _Stale from exc
            error = httpx.RemoteProtocolError if isinstance(exc, http.client.RemoteDisconnected) else httpx.ReadError
            raise error(f"the connection was closed: {exc}", request=request) from None
        except http.client.HTTPException as exc:
            raise httpx.RemoteProtocolError(f"malformed answer: {type(exc).__name__}", request=request) from None
        except OSError as exc:
            raise httpx.ReadError(f"the connection failed: {exc}", request=request) from None
        reason = response.reason.encode("ascii", "replace")
        return response.status, reason, response.getheaders(), body, not response.will_close

    # --- the pool -----------------------------------------------------------------------------

    def _checkout(
        self, origin: _Origin, request: httpx.Request, timeouts: dict[str, float | None]
    ) -> tuple[http.client.HTTPConnection, bool]:
        now = time.monotonic()
        with self._lock:
            idle = self._idle.get(origin)
            while idle:
                entry = idle.pop()  # the most recently used: the least likely to have been closed
                idle_for = now - entry.since
                if idle_for < self._keepalive_expiry and (idle_for < _TRUSTED_IDLE or not _readable(entry.connection)):
                    entry.connection.sock.settimeout(timeouts.get("read"))
                    return entry.connection, True
                entry.connection.close()  # expired, or closed (or written to) by the server while idle
        return self._open(origin, request, timeouts), False

    def _checkin(self, origin: _Origin, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle[origin]
            if len(idle) < self._max_keepalive:
                idle.append(_Idle(connection, time.monotonic()))
                return
        connection.close()

    def _open(
        self, origin: _Origin, request: httpx.Request, timeouts: dict[str, float | None]
    ) -> http.client.HTTPConnection:
        scheme, host, port = origin
        connection: http.client.HTTPConnection
        if scheme == "https":
            if self._ssl_context is None:  # made once: loading the system's certificates takes milliseconds
                self._ssl_context = ssl.create_default_context()
            connection = http.client.HTTPSConnection(
                host, port, timeout=timeouts.get("connect"), context=self._ssl_context
            )
        elif scheme == "http":
            connection = http.client.HTTPConnection(host, port, timeout=timeouts.get("connect"))
        else:
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {scheme!r}", request=request)
        try:
            connection.connect()  # sets TCP_NODELAY
        except TimeoutError:
            connection.close()
            raise httpx.ConnectTimeout("timed out connecting to the server", request=request) from None
        except OSError as exc:
            connection.close()
            raise httpx.ConnectError(f"could not connect: {exc}", request=request) from None
        assert connection.sock is not None
        connection.sock.settimeout(timeouts.get("read"))
        with self._lock:
            self.connections_opened += 1
        return connection


class _Stale(Exception):
    """A reused connection turned out to be closed before the answer began: send again on a new one."""


def _readable(connection: http.client.HTTPConnection) -> bool:
    """True when an idle connection has something to read: the server closed it (or sent junk)."""
    sock = connection.sock
    if sock is None:
        return True
    poller = select.poll()  # not select.select: it cannot watch descriptors above 1023
    try:
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):  # a closed socket
        return True

"""The Alpha Vantage client's httpx transport (http.client underneath), against real sockets.

Servers here are written on raw sockets so that each can misbehave exactly as a remote server
may: close a kept-alive connection while it is idle, or just as the next request arrives; answer
too slowly; speak TLS with a certificate the client does or does not trust.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from water.market_data.providers import http as http_transport
from water.market_data.providers.http import StdlibHTTPTransport

TIMEOUT = httpx.Timeout(2.0).as_dict()
ANSWER = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok": 1}\r\n'

# What the server does with the n-th request (0-based) on a connection, after reading it.
Behaviour = Callable[[socket.socket, int], bool]  # False: close the connection


class RawServer:
    """One thread per connection; counts connections and requests."""

    def __init__(self, behaviour: Behaviour, wrap: ssl.SSLContext | None = None) -> None:
        self.behaviour = behaviour
        self.wrap = wrap
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.requests: list[bytes] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            if self.wrap is not None:
                conn = self.wrap.wrap_socket(conn, server_side=True)
            buffered = b""
            for n in range(100):
                while b"\r\n\r\n" not in buffered:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffered += chunk
                head, _, buffered = buffered.partition(b"\r\n\r\n")
                self.requests.append(head)
                if not self.behaviour(conn, n):
                    return
        except (OSError, ssl.SSLError):
            return
        finally:
            conn.close()

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def serve() -> Iterator[Callable[..., RawServer]]:
    servers: list[RawServer] = []

    def start(behaviour: Behaviour, wrap: ssl.SSLContext | None = None) -> RawServer:
        servers.append(RawServer(behaviour, wrap))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def _get(transport: StdlibHTTPTransport, url: str, timeout: dict[str, float | None] = TIMEOUT) -> httpx.Response:
    request = httpx.Request("GET", url, headers={"Accept": "application/json"}, extensions={"timeout": timeout})
    response = transport.handle_request(request)
    response.read()
    return response


def _answer(conn: socket.socket, _n: int) -> bool:
    conn.sendall(ANSWER)
    return True


def test_a_kept_alive_connection_carries_every_request_and_the_request_as_built_by_httpx(
    serve: Callable[..., RawServer],
) -> None:
    server = serve(_answer)
    with StdlibHTTPTransport() as transport:
        for _ in range(3):
            response = _get(transport, f"http://127.0.0.1:{server.port}/query?function=OVERVIEW&symbol=IBM")
            assert response.status_code == 200
            assert response.json() == {"ok": 1}
            assert response.headers["content-type"] == "application/json"
    assert server.connections == 1
    assert transport.connections_opened == 1
    first = server.requests[0].decode()
    assert first.startswith("GET /query?function=OVERVIEW&symbol=IBM HTTP/1.1\r\n")
    assert f"host: 127.0.0.1:{server.port}" in first.lower()
    assert "accept: application/json" in first.lower()


def test_a_connection_the_server_wrote_to_and_closed_while_idle_is_replaced_before_use(
    serve: Callable[..., RawServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """As some servers do at their idle timeout: a 408 nobody asked for, then close. It must not
    be read as the answer to the next request."""
    monkeypatch.setattr(http_transport, "_TRUSTED_IDLE", 0.0)  # every reuse is checked first

    def answer_then_time_out(conn: socket.socket, _n: int) -> bool:
        conn.sendall(ANSWER)
        time.sleep(0.1)  # later, on its own: not in the buffer the answer was read through
        conn.sendall(b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        return False

    server = serve(answer_then_time_out)
    with StdlibHTTPTransport() as transport:
        assert _get(transport, f"http://127.0.0.1:{server.port}/query").status_code == 200
        _wait_until(lambda: _idle_connections_readable(transport))
        assert _get(transport, f"http://127.0.0.1:{server.port}/query").json() == {"ok": 1}
    assert server.connections == 2


def test_a_connection_closed_while_briefly_idle_is_not_checked_but_the_request_is_sent_again(
    serve: Callable[..., RawServer],
) -> None:
    def answer_then_close(conn: socket.socket, _n: int) -> bool:
        conn.sendall(ANSWER)  # says nothing of closing (HTTP/1.1 keeps alive), then closes anyway
        return False

    server = serve(answer_then_close)
    with StdlibHTTPTransport() as transport:
        assert _get(transport, f"http://127.0.0.1:{server.port}/query").status_code == 200
        _wait_until(lambda: _idle_connections_readable(transport))
        assert _get(transport, f"http://127.0.0.1:{server.port}/query").status_code == 200
    assert server.connections == 2


def test_a_request_on_a_reused_connection_closed_without_an_answer_is_sent_again_once(
    serve: Callable[..., RawServer],
) -> None:
    def second_request_hangs_up(conn: socket.socket, n: int) -> bool:
        if n == 1:
            return False  # the idle-timeout race: closed just as the next request arrived
        conn.sendall(ANSWER)
        return True

    server = serve(second_request_hangs_up)
    with StdlibHTTPTransport() as transport:
        assert _get(transport, f"http://127.0.0.1:{server.port}/a").status_code == 200
        assert _get(transport, f"http://127.0.0.1:{server.port}/b").status_code == 200
    assert server.connections == 2
    assert [r.split(b" ")[1] for r in server.requests] == [b"/a", b"/b", b"/b"]


def test_a_new_connection_closed_without_an_answer_is_an_error_not_a_retry(serve: Callable[..., RawServer]) -> None:
    server = serve(lambda _conn, _n: False)
    with StdlibHTTPTransport() as transport, pytest.raises(httpx.RemoteProtocolError):
        _get(transport, f"http://127.0.0.1:{server.port}/query")
    assert len(server.requests) == 1


def test_a_slow_answer_is_a_read_timeout(serve: Callable[..., RawServer]) -> None:
    released = threading.Event()

    def slow(conn: socket.socket, _n: int) -> bool:
        released.wait(5)
        return False

    server = serve(slow)
    try:
        with StdlibHTTPTransport() as transport, pytest.raises(httpx.ReadTimeout):
            _get(transport, f"http://127.0.0.1:{server.port}/query", httpx.Timeout(0.2).as_dict())
    finally:
        released.set()


def test_nothing_listening_is_a_connect_error() -> None:
    port = socket.create_server(("127.0.0.1", 0))
    closed_port = port.getsockname()[1]
    port.close()
    with StdlibHTTPTransport() as transport, pytest.raises(httpx.ConnectError):
        _get(transport, f"http://127.0.0.1:{closed_port}/query")


def test_connection_close_in_the_answer_is_honoured(serve: Callable[..., RawServer]) -> None:
    closing = ANSWER.replace(b"Content-Length", b"Connection: close\r\nContent-Length")

    def answer_and_close(conn: socket.socket, _n: int) -> bool:
        conn.sendall(closing)
        return False

    server = serve(answer_and_close)
    with StdlibHTTPTransport() as transport:
        for _ in range(2):
            assert _get(transport, f"http://127.0.0.1:{server.port}/query").json() == {"ok": 1}
    assert server.connections == 2
    assert len(server.requests) == 2  # no request was lost to a closed connection


def test_only_get_is_sent(serve: Callable[..., RawServer]) -> None:
    server = serve(_answer)
    with StdlibHTTPTransport() as transport, pytest.raises(httpx.UnsupportedProtocol):
        transport.handle_request(httpx.Request("POST", f"http://127.0.0.1:{server.port}/query", content=b"x"))
    assert server.connections == 0


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made by the system's openssl."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def test_https_is_verified_against_the_trusted_certificates(
    serve: Callable[..., RawServer], certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_side.load_cert_chain(cert, key)
    server = serve(_answer, wrap=server_side)
    url = f"https://127.0.0.1:{server.port}/query"
    with StdlibHTTPTransport() as untrusting, pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        _get(untrusting, url)  # the system's store does not hold this self-signed certificate
    with StdlibHTTPTransport(ssl_context=ssl.create_default_context(cafile=str(cert))) as trusting:
        assert _get(trusting, url).json() == {"ok": 1}
        assert _get(trusting, url).json() == {"ok": 1}
        assert trusting.connections_opened == 1


def _idle_connections_readable(transport: StdlibHTTPTransport) -> bool:
    idle = [entry.connection for entries in transport._idle.values() for entry in entries]
    return bool(idle) and all(http_transport._readable(c) for c in idle)


def _wait_until(condition: Callable[[], object], timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)

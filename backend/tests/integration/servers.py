"""A real uvicorn API process for tests that need HTTP streaming or true concurrency."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from water.embedded import free_port


@contextmanager
def api_server(log_path: Path, **env: str) -> Iterator[str]:
    port = free_port()
    environment = dict(os.environ, WATER_PORT=str(port), WATER_LOG_LEVEL="WARNING", **env)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "water.main:app", "--port", str(port), "--no-access-log"],
            stdout=log, stderr=subprocess.STDOUT, env=environment,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{base}/api/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the API did not start:\n" + log_path.read_text()[-3000:])
                time.sleep(0.1)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()

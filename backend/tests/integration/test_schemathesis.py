"""Schemathesis against the OpenAPI document of a real uvicorn server: no 5xx, responses match the schema."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from water.embedded import free_port

from ..factories import PASSWORD


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = (tmp_path_factory.mktemp("api") / "api.log").open("wb")
    env = dict(os.environ, WATER_PORT=str(port), WATER_LOG_LEVEL="WARNING")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "water.main:app", "--port", str(port), "--no-access-log"],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/api/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "the API did not start"
        time.sleep(0.1)
    yield base
    process.terminate()
    process.wait(10)


def _token(base: str) -> str:
    email = f"fuzz-{uuid.uuid4().hex[:8]}@example.com"
    httpx.post(
        f"{base}/api/auth/signup", json={"organization_name": "Fuzz", "email": email, "password": PASSWORD}
    ).raise_for_status()
    response = httpx.post(f"{base}/api/auth/token", data={"username": email, "password": PASSWORD})
    response.raise_for_status()
    return str(response.json()["access_token"])


def test_schemathesis_finds_no_server_errors_and_no_schema_violations(server: str, tmp_path: Path) -> None:
    token = _token(server)
    report = tmp_path / "junit.xml"
    command = [
        str(Path(sys.executable).parent / "schemathesis"), "run", f"{server}/api/openapi.json",
        "--checks", "not_a_server_error,response_schema_conformance,content_type_conformance",
        "--header", f"Authorization: Bearer {token}",
        "--max-examples", os.environ.get("WATER_SCHEMATHESIS_EXAMPLES", "25"),
        "--exclude-path-regex", "^/api/(auth/(token|logout)|events)$",
        "--seed", "20261125", "--no-color", "--report", "junit", "--report-junit-path", str(report),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    output = result.stdout[-6000:] + result.stderr[-2000:]
    assert result.returncode == 0, output
    import xml.etree.ElementTree as ET

    cases = ET.parse(report).getroot().iter("testcase")  # noqa: S314  (our own report file)
    operations = {case.get("name") for case in cases}
    assert len(operations) >= 15, f"schemathesis tested too few operations: {operations}\n{output}"

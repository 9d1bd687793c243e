"""`water up` on the embedded stack: cold start, demo login, clean Ctrl-C, warm restart reusing the data."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from water.embedded import free_port


def _start(data_dir: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATER_")}
    env.update(
        WATER_DATA_DIR=str(data_dir),
        WATER_PORT=str(port),
        WATER_ENVIRONMENT="development",
        WATER_WORKER_METRICS_PORT="0",
    )
    water = str(Path(sys.executable).parent / "water")
    return subprocess.Popen(
        [water, "up", "--concurrency", "1"],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        env=env,
        preexec_fn=_ignore_sigint,
    )


def _ignore_sigint() -> None:
    """Start `water up` as a non-interactive shell starts a background job (`make test &`), with
    SIGINT ignored: the Ctrl-C below must stop it all the same."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _wait_ready(process: subprocess.Popen[bytes], port: int, log: Path, timeout: float = 90) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        assert process.poll() is None, log.read_text()[-4000:]
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/readyz", timeout=1).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("water up never became ready:\n" + log.read_text()[-4000:])


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)
    process.wait(60)


def _leftovers(data_dir: Path) -> list[str]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if str(data_dir) in cmdline:
            found.append(cmdline)
    return found


@pytest.mark.slow
def test_water_up_cold_then_warm(tmp_path: Path) -> None:
    data_dir = tmp_path / "water-data"
    port = free_port()
    log = tmp_path / "up.log"

    process = _start(data_dir, port, log)
    try:
        cold = _wait_ready(process, port, log)
        base = f"http://127.0.0.1:{port}"
        token = httpx.post(
            f"{base}/api/auth/token", data={"username": "demo@water.example", "password": "water-demo-password"}
        ).json()["access_token"]
        companies = httpx.get(f"{base}/api/companies", headers={"Authorization": f"Bearer {token}"}).json()["items"]
        assert len(companies) == 3
        assert all(c["is_demo"] for c in companies)
        probe = httpx.post(
            f"{base}/api/jobs/probe", json={"queue": "low_priority"}, headers={"Authorization": f"Bearer {token}"}
        ).json()
        deadline = time.monotonic() + 30
        while (
            httpx.get(f"{base}/api/jobs/{probe['id']}", headers={"Authorization": f"Bearer {token}"}).json()["status"]
            != "succeeded"
        ):
            assert time.monotonic() < deadline, "the embedded worker did not run the probe"
            time.sleep(0.2)
    finally:
        _stop(process)
    assert process.returncode is not None
    assert "demo login: demo@water.example" in log.read_text()
    assert _leftovers(data_dir) == [], "processes outlived Ctrl-C"

    process = _start(data_dir, port, log)
    try:
        warm = _wait_ready(process, port, log)
        base = f"http://127.0.0.1:{port}"
        login = httpx.post(
            f"{base}/api/auth/token", data={"username": "demo@water.example", "password": "water-demo-password"}
        )
        assert login.status_code == 200  # the data survived the restart
        token = login.json()["access_token"]
        done = httpx.get(f"{base}/api/jobs/{probe['id']}", headers={"Authorization": f"Bearer {token}"}).json()
        assert done["status"] == "succeeded"
    finally:
        _stop(process)
    assert _leftovers(data_dir) == []
    print(f"water up: cold {cold:.1f}s, warm {warm:.1f}s")

"""The SSE stream delivers every state change of a run, in order, and resumes after a reconnect without gaps."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from water.db.session import new_session
from water.valuations import events

from ...factories import PASSWORD
from ..servers import api_server
from ..worker.conftest import WorkerProcess
from .conftest import Covered, wait_for_run


def _read_events(
    base: str,
    token: str,
    out: list[dict[str, Any]],
    stop: threading.Event,
    last_id: str | None = None,
    limit: int = 1000,
    run_id: str | None = None,
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    if last_id:
        headers["Last-Event-ID"] = last_id
    url = f"{base}/api/events" + (f"?run_id={run_id}&after=0" if run_id else "")
    try:
        _read_into(url, headers, out, stop, limit)
    except httpx.HTTPError:
        return  # the test stopped the server while this reader waited for a heartbeat


def _read_into(url: str, headers: dict[str, str], out: list[dict[str, Any]], stop: threading.Event, limit: int) -> None:
    with httpx.stream("GET", url, headers=headers, timeout=httpx.Timeout(5, read=20)) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        event: dict[str, Any] = {}
        for line in response.iter_lines():
            if stop.is_set() or len(out) >= limit:
                return
            if line.startswith("id: "):
                event["id"] = int(line[4:])
            elif line.startswith("event: "):
                event["event"] = line[7:]
            elif line.startswith("data: "):
                event["data"] = json.loads(line[6:])
            elif line == "" and "id" in event:
                out.append(event)
                event = {}


def _token(base: str, email: str) -> str:
    return str(
        httpx.post(f"{base}/api/auth/token", data={"username": email, "password": PASSWORD}).json()["access_token"]
    )


def test_stream_delivers_every_state_change_in_order_and_resumes(
    committed_client: TestClient, covered: Covered, valuation_worker: WorkerProcess, tmp_path: Path
) -> None:
    with api_server(tmp_path / "api.log") as base:
        token = _token(base, covered.org.admin.email)
        seen: list[dict[str, Any]] = []
        stop = threading.Event()
        reader = threading.Thread(target=_read_events, args=(base, token, seen, stop))
        reader.start()
        time.sleep(0.5)  # the stream is open and subscribed
        run_ids = [
            committed_client.post(
                f"/api/companies/{covered.company['id']}/valuation-runs",
                json={"methods": ["fcff_ginzu"]},
                headers=covered.org.admin.headers,
            ).json()["id"]
            for _ in range(3)
        ]
        for run_id in run_ids:
            wait_for_run(committed_client, covered.org.admin.headers, run_id)
        deadline = time.monotonic() + 10
        while sum(1 for e in seen if e["data"]["run_id"] in run_ids) < 9 and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        mine = [e for e in seen if e["data"]["run_id"] in run_ids]
        for run_id in run_ids:
            assert [e["event"] for e in mine if e["data"]["run_id"] == run_id] == [
                "run.queued",
                "run.running",
                "run.succeeded",
            ]
        ids = [e["id"] for e in seen]
        assert ids == sorted(ids)
        assert len(ids) == len(set(ids))

        # Reconnect from the middle: everything after that id comes again, nothing missing.
        resume_from = mine[3]["id"]
        resumed: list[dict[str, Any]] = []
        stop_again = threading.Event()
        expected = [e["id"] for e in seen if e["id"] > resume_from]
        again = threading.Thread(
            target=_read_events, args=(base, token, resumed, stop_again, str(resume_from), len(expected))
        )
        again.start()
        again.join(15)
        stop_again.set()
        assert [e["id"] for e in resumed] == expected


def test_stream_needs_authentication_and_is_scoped_to_the_organization(
    committed_client: TestClient, committed_factory, covered: Covered, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    with api_server(tmp_path / "api.log") as base:
        assert httpx.get(f"{base}/api/events", timeout=5).status_code == 401
        other = committed_factory.organization(with_roles=False)
        token = _token(base, other.admin.email)
        seen: list[dict[str, Any]] = []
        stop = threading.Event()
        reader = threading.Thread(target=_read_events, args=(base, token, seen, stop, "0"))
        reader.start()
        run = committed_client.post(
            f"/api/companies/{covered.company['id']}/valuation-runs",
            json={"methods": ["fcff_ginzu"]},
            headers=covered.org.admin.headers,
        ).json()
        time.sleep(1.5)
        stop.set()
        assert all(e["data"]["run_id"] != run["id"] for e in seen)


def test_no_event_is_lost_when_runs_are_submitted_concurrently(
    committed_client: TestClient, covered: Covered, valuation_worker: WorkerProcess, tmp_path: Path
) -> None:
    """Event ids commit in order per organization, so a live stream cannot skip a late-committing id."""
    with api_server(tmp_path / "api.log") as base:
        token = _token(base, covered.org.admin.email)
        seen: list[dict[str, Any]] = []
        stop = threading.Event()
        reader = threading.Thread(target=_read_events, args=(base, token, seen, stop))
        reader.start()
        time.sleep(0.5)
        run_ids: list[str] = []
        headers = {"Authorization": f"Bearer {token}"}

        def submit() -> None:
            response = httpx.post(
                f"{base}/api/companies/{covered.company['id']}/valuation-runs",
                json={"methods": ["fcff_ginzu"]},
                headers=headers,
                timeout=60,
            )
            run_ids.append(response.json()["id"])

        submitters = [threading.Thread(target=submit) for _ in range(20)]
        for thread in submitters:
            thread.start()
        for thread in submitters:
            thread.join(60)
        for run_id in run_ids:
            wait_for_run(committed_client, covered.org.admin.headers, run_id, timeout=60)
        deadline = time.monotonic() + 15
        while sum(1 for e in seen if e["data"]["run_id"] in run_ids) < 3 * len(run_ids) and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        mine = [e for e in seen if e["data"]["run_id"] in run_ids]
        assert len(run_ids) == 20
        assert len(mine) == 60, f"{60 - len(mine)} events never reached the stream"


def _counter(base: str, name: str) -> float:
    found = re.search(rf"^{name}_total (\S+)$", httpx.get(f"{base}/metrics", timeout=5).text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_one_log_read_serves_every_message_it_already_covered(covered: Covered, tmp_path: Path) -> None:
    """Five events committed together: the first message reads the log (all five), the other four need no read."""
    with api_server(tmp_path / "api.log") as base:
        token = _token(base, covered.org.admin.email)
        run_id = str(uuid.uuid4())  # the log keeps any run's events; this test needs no run row
        seen: list[dict[str, Any]] = []
        stop = threading.Event()
        reader = threading.Thread(target=_read_events, args=(base, token, seen, stop))
        reader.start()
        deadline = time.monotonic() + 10
        while _counter(base, "water_event_stream_log_reads") < 1 and time.monotonic() < deadline:
            time.sleep(0.05)  # the stream is open: subscribed, and its first read of the log is done
        reads_before = _counter(base, "water_event_stream_log_reads")
        organization_id = uuid.UUID(covered.org.id)
        with new_session() as session:
            for step in range(5):
                events.append(session, organization_id, uuid.UUID(run_id), "run.progress", {"step": step})
            session.commit()  # publishes five messages, after all five events are in the log
        while len(seen) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        while _counter(base, "water_event_stream_messages_skipped") < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        assert [e["data"]["step"] for e in seen] == [0, 1, 2, 3, 4]
        assert _counter(base, "water_event_stream_log_reads") - reads_before == 1
        assert _counter(base, "water_event_stream_messages_skipped") == 4


def test_a_stream_filtered_on_one_run_gets_exactly_that_runs_events(covered: Covered, tmp_path: Path) -> None:
    """Other runs' messages move the stream on without losing a later event of its own run."""
    with api_server(tmp_path / "api.log") as base:
        token = _token(base, covered.org.admin.email)
        mine, other = str(uuid.uuid4()), str(uuid.uuid4())
        seen: list[dict[str, Any]] = []
        stop = threading.Event()
        reader = threading.Thread(target=_read_events, args=(base, token, seen, stop, None, 1000, mine))
        reader.start()
        time.sleep(0.5)
        organization_id = uuid.UUID(covered.org.id)
        for run_id, step in [(other, 0), (other, 1), (mine, 2), (other, 3), (mine, 4)]:
            with new_session() as session:
                events.append(session, organization_id, uuid.UUID(run_id), "run.progress", {"step": step})
                session.commit()
        deadline = time.monotonic() + 10
        while len(seen) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # nothing else may follow
        stop.set()
        assert [e["data"]["step"] for e in seen] == [2, 4]
        assert {e["data"]["run_id"] for e in seen} == {mine}

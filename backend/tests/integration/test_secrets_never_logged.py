"""Passwords, tokens and API keys never reach a log line, in JSON or console format."""

from __future__ import annotations

import io
import logging

import pytest
from fastapi.testclient import TestClient

from water.logging import HANDLER_NAME, configure_logging, get_logger

from ..factories import PASSWORD, Factory


@pytest.fixture(params=[True, False], ids=["json", "console"])
def captured_logs(request: pytest.FixtureRequest) -> io.StringIO:
    configure_logging(json_logs=request.param, level="DEBUG")
    buffer = io.StringIO()
    ours = next(h for h in logging.getLogger().handlers if h.get_name() == HANDLER_NAME)
    capture = logging.StreamHandler(buffer)
    capture.setFormatter(ours.formatter)
    logging.getLogger().addHandler(capture)
    yield buffer
    logging.getLogger().removeHandler(capture)
    configure_logging(json_logs=False, level="INFO")


def test_secrets_never_logged_during_auth_flows(
    client: TestClient, factory: Factory, captured_logs: io.StringIO
) -> None:
    org = factory.organization(with_roles=False)
    login = client.post("/api/auth/token", data={"username": org.admin.email, "password": PASSWORD})
    access, refresh = login.json()["access_token"], login.cookies["water_refresh"]
    client.cookies.clear()
    client.post("/api/auth/refresh", cookies={"water_refresh": refresh})
    key = factory.api_key(org)["key"]
    client.get("/api/companies", headers={"X-API-Key": key})
    client.post("/api/auth/token", data={"username": org.admin.email, "password": "Wrong-Secret-99"})
    # Deliberately log secrets the way careless code would.
    log = get_logger("water.test")
    log.info("careless", password=PASSWORD, authorization=f"Bearer {access}", note=f"key={key} token={refresh}")
    log.info(f"url with apikey=SECRETAPIKEY123 and bearer {access}")
    logging.getLogger("water.test.stdlib").info("stdlib line with %s", key)
    text = captured_logs.getvalue()
    assert "careless" in text
    for secret in (PASSWORD, "Wrong-Secret-99", access, refresh, key, "SECRETAPIKEY123"):
        assert secret not in text, f"a secret reached the logs: {secret[:8]}..."

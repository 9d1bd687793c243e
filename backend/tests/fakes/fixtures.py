"""Pytest fixtures for the fake Alpha Vantage; import them into a conftest.py:

    from ...fakes.fixtures import fake_alphavantage, fake_alphavantage_server, recorded_alphavantage  # noqa: F401

`fake_alphavantage_server` is one server for the session; `fake_alphavantage` hands it to a test
with counts, request log and failure modes reset; `recorded_alphavantage` also skips the test
when the recorded fixtures folder beside the checkout is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .alphavantage_server import FIXTURES_DIR, FakeAlphaVantage

RECORDINGS_MISSING = (
    f"needs the recorded Alpha Vantage responses in {FIXTURES_DIR} "
    "(the ../shared/fixtures/alphavantage folder beside the checkout; CI has it, a fresh clone does not)"
)


def require_recordings() -> Path:
    """The recordings folder, or skip the calling test with a reason that names it."""
    if not (FIXTURES_DIR / "manifest.json").is_file():
        pytest.skip(RECORDINGS_MISSING)
    return FIXTURES_DIR


@pytest.fixture(scope="session")
def fake_alphavantage_server() -> Iterator[FakeAlphaVantage]:
    with FakeAlphaVantage() as server:
        yield server


@pytest.fixture
def fake_alphavantage(fake_alphavantage_server: FakeAlphaVantage) -> Iterator[FakeAlphaVantage]:
    fake_alphavantage_server.reset()
    yield fake_alphavantage_server
    fake_alphavantage_server.reset()


@pytest.fixture
def recorded_alphavantage(fake_alphavantage: FakeAlphaVantage) -> FakeAlphaVantage:
    require_recordings()
    return fake_alphavantage

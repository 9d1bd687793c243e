"""Market-data tests share the fake Alpha Vantage server (tests/fakes)."""

from __future__ import annotations

from ...fakes.fixtures import fake_alphavantage, fake_alphavantage_server, recorded_alphavantage

__all__ = ["fake_alphavantage", "fake_alphavantage_server", "recorded_alphavantage"]

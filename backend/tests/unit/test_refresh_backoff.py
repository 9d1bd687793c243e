"""The waits between retries of a throttled refresh: exponential with jitter, capped, never shorter than the
provider's Retry-After (`market_data.tasks.retry_countdown`, a pure function of the retry number)."""

from __future__ import annotations

import pytest

from water.market_data.tasks import BACKOFF_BASE, BACKOFF_CAP, retry_countdown


def test_the_schedule_doubles_from_the_base_up_to_the_cap() -> None:
    lows = [retry_countdown(n, 0.0, jitter=0.0) for n in range(12)]
    highs = [retry_countdown(n, 0.0, jitter=1.0) for n in range(12)]
    assert highs[:8] == [2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0]
    assert highs[8:] == [BACKOFF_CAP] * 4
    assert lows[:8] == [h / 2 for h in highs[:8]]  # equal jitter: the upper half of each step
    assert lows[8:] == [BACKOFF_CAP / 2] * 4
    assert highs[0] == BACKOFF_BASE


def test_jitter_stays_within_the_upper_half_of_each_step() -> None:
    for n in range(15):
        step = min(BACKOFF_CAP, BACKOFF_BASE * 2**n)
        for _ in range(200):
            wait = retry_countdown(n, 0.0)
            assert step / 2 <= wait <= step
    waits = {retry_countdown(5, 0.0) for _ in range(50)}
    assert len(waits) > 40  # really random: workers throttled together spread out


def test_never_shorter_than_the_providers_retry_after() -> None:
    # Alpha Vantage's per-second notice: 2 s; its HTTP 429: 5 s; its per-minute notice: 60 s.
    assert [retry_countdown(n, 2.0, jitter=0.0) for n in range(4)] == [2.0, 2.0, 4.0, 8.0]
    assert [retry_countdown(n, 5.0, jitter=0.0) for n in range(5)] == [5.0, 5.0, 5.0, 8.0, 16.0]
    assert retry_countdown(0, 60.0, jitter=1.0) == 60.0
    assert retry_countdown(30, 900.0) == 900.0  # above the cap too: the provider's word wins


@pytest.mark.parametrize("retries", [10, 50, 1_100, 10_000])
def test_huge_retry_numbers_stay_at_the_cap_without_overflowing(retries: int) -> None:
    assert BACKOFF_CAP / 2 <= retry_countdown(retries, 0.0) <= BACKOFF_CAP


def test_a_wait_grows_with_each_retry_whatever_the_jitter() -> None:
    """Each retry's shortest wait is at least the previous retry's longest but for the jitter range itself:
    over two retries the wait strictly grows, until the cap."""
    for n in range(6):
        assert retry_countdown(n + 2, 0.0, jitter=0.0) > retry_countdown(n, 0.0, jitter=1.0)

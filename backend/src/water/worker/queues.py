"""The three queues, fixed by the architecture, and the time limits that make redelivery safe.

A worker killed with SIGKILL leaves its message unacknowledged in Redis; kombu
restores messages unacknowledged for longer than the visibility timeout, checking
every UNACKED_RESTORE_INTERVAL seconds, so redelivery happens within
VISIBILITY_TIMEOUT + UNACKED_RESTORE_INTERVAL = 22 s. The hard time limit is below
the visibility timeout, so no task can still be running when its message is
restored: a task never runs twice concurrently.
"""

from __future__ import annotations

from enum import StrEnum


class Queue(StrEnum):
    default = "default"  # valuation runs
    high_priority = "high_priority"  # compliance after each run, alert fan-out, notifications
    low_priority = "low_priority"  # beat work: refreshes, feed polling, aggregation, maintenance


VISIBILITY_TIMEOUT = 20
UNACKED_RESTORE_INTERVAL = 2
HARD_TIME_LIMIT = 15
SOFT_TIME_LIMIT = 12

assert HARD_TIME_LIMIT < VISIBILITY_TIMEOUT
assert VISIBILITY_TIMEOUT + UNACKED_RESTORE_INTERVAL <= 30

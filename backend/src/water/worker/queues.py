"""The three queues, fixed by the architecture, and the time limits that make redelivery safe.

A worker killed with SIGKILL leaves its message unacknowledged in Redis; kombu
restores messages unacknowledged for longer than the visibility timeout, checking
every UNACKED_RESTORE_INTERVAL seconds, so redelivery happens within
VISIBILITY_TIMEOUT + UNACKED_RESTORE_INTERVAL = 22 s. The hard time limit is below
the visibility timeout, so no task can still be running when its message is
restored: a task never runs twice concurrently.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum


class Queue(StrEnum):
    default = "default"  # valuation runs
    high_priority = "high_priority"  # compliance after each run, alert fan-out, notifications
    low_priority = "low_priority"  # beat work: refreshes, feed polling, aggregation, maintenance


VISIBILITY_TIMEOUT = 20
UNACKED_RESTORE_INTERVAL = 2
HARD_TIME_LIMIT = 15
SOFT_TIME_LIMIT = 12

# Rows claimed by tasks (jobs, valuation runs) follow from these limits:
# a claim older than the hard limit belongs to a dead attempt and may be taken over;
CLAIM_LEASE = timedelta(seconds=HARD_TIME_LIMIT + 1)
# a row still queued after a redelivery window has probably lost its message: send it again;
RESEND_AFTER = timedelta(seconds=VISIBILITY_TIMEOUT + UNACKED_RESTORE_INTERVAL + 5)
# a row still running past every redelivery window will not finish: fail it.
OVERDUE = timedelta(seconds=VISIBILITY_TIMEOUT + UNACKED_RESTORE_INTERVAL + HARD_TIME_LIMIT + 10)

assert HARD_TIME_LIMIT < VISIBILITY_TIMEOUT
assert VISIBILITY_TIMEOUT + UNACKED_RESTORE_INTERVAL <= 30

"""The beat schedule. Every entry expires, so a backlog never replays stale work."""

from __future__ import annotations

from typing import Any

from ..config import get_settings


def beat_schedule() -> dict[str, dict[str, Any]]:
    heartbeat = get_settings().beat_heartbeat_seconds
    return {
        "ops.heartbeat": {
            "task": "ops.heartbeat",
            "schedule": float(heartbeat),
            "options": {"queue": "low_priority", "expires": float(heartbeat)},
        },
        "ops.reap_jobs": {
            "task": "ops.reap_jobs",
            "schedule": 30.0,
            "options": {"queue": "low_priority", "expires": 30.0},
        },
    }

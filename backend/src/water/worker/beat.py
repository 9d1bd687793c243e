"""The beat schedule. Every entry expires, so a backlog never replays stale work."""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab

from ..config import get_settings


def beat_schedule() -> dict[str, dict[str, Any]]:
    heartbeat = get_settings().beat_heartbeat_seconds
    return {
        "ops.heartbeat": {
            "task": "ops.heartbeat",
            "schedule": float(heartbeat),
            "options": {"queue": "low_priority", "expires": float(heartbeat)},
        },
        "market_data.refresh_all": {
            "task": "market_data.refresh_all",
            "schedule": crontab(hour=2, minute=0),  # nightly, 02:00 UTC
            "options": {"queue": "low_priority", "expires": 3600.0},
        },
        "valuations.reap": {
            "task": "valuations.reap",
            "schedule": 10.0,
            "options": {"queue": "low_priority", "expires": 10.0},
        },
        "ops.reap_jobs": {
            "task": "ops.reap_jobs",
            "schedule": 30.0,
            "options": {"queue": "low_priority", "expires": 30.0},
        },
    }

"""Send tasks only after the current transaction commits (dropped on rollback).

The request id travels in the message headers so the worker's log lines carry it.
"""

from __future__ import annotations

from typing import Any

import structlog
from celery import Task
from sqlalchemy.orm import Session

from ..db.session import after_commit
from .task import REQUEST_ID_HEADER


def send_now(task: Task, *args: Any) -> None:
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    task.apply_async(args=args, headers={REQUEST_ID_HEADER: request_id})


def enqueue_after_commit(session: Session, task: Task, *args: Any) -> None:
    """Queue `task(*args)` to be sent once `session` commits; nothing is sent if it rolls back."""
    after_commit(session, lambda: send_now(task, *args))

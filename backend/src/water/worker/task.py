"""One decorator for every task: name, queue, transaction, request id, metrics.

    @water_task("companies.refresh", queue=Queue.low_priority)
    def refresh_company(session: Session, company_id: str) -> None: ...

The body receives a session whose transaction the wrapper commits when the body
returns (then runs after-commit hooks, e.g. follow-up enqueues) and rolls back
when it raises. With `session=False` the body gets only its arguments and owns
its statements (the valuation run's two autocommitted statements). Tasks take ids, not objects, and must be idempotent: the message
may be delivered again after a worker dies.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import structlog
from celery import Task
from celery.exceptions import Retry, SoftTimeLimitExceeded
from sqlalchemy.orm import Session

from ..db.session import new_session
from ..metrics import celery_task_duration, celery_tasks
from .celery_app import celery_app
from .queues import HARD_TIME_LIMIT, SOFT_TIME_LIMIT, Queue

P = ParamSpec("P")
R = TypeVar("R")
REQUEST_ID_HEADER = "water_request_id"
log = structlog.get_logger("water.worker")


def _request_id(task: Task) -> str | None:
    headers = getattr(task.request, "headers", None) or {}
    value = headers.get(REQUEST_ID_HEADER) if isinstance(headers, dict) else None
    return value or getattr(task.request, REQUEST_ID_HEADER, None)


def water_task(
    name: str,
    *,
    queue: Queue,
    time_limit: int = HARD_TIME_LIMIT,
    soft_time_limit: int = SOFT_TIME_LIMIT,
    max_retries: int = 3,
    session: bool = True,
) -> Callable[[Callable[..., Any]], Task]:
    """Register `body(session, *args)` as Celery task `name` on `queue` (`<domain>.<verb>`)."""
    if "." not in name:
        raise ValueError("task names are <domain>.<verb>")
    if time_limit > HARD_TIME_LIMIT:
        raise ValueError(f"time_limit may not exceed {HARD_TIME_LIMIT}s (the visibility timeout guard)")

    def decorator(body: Callable[..., Any]) -> Task:
        @celery_app.task(
            name=name,
            queue=queue.value,
            bind=True,
            time_limit=time_limit,
            soft_time_limit=min(soft_time_limit, time_limit - 1),
            max_retries=max_retries,
            acks_late=True,
            reject_on_worker_lost=True,
        )
        def run(task: Task, *args: Any, **kwargs: Any) -> Any:
            structlog.contextvars.clear_contextvars()
            structlog.contextvars.bind_contextvars(request_id=_request_id(task), task_id=task.request.id, task=name)
            started = time.perf_counter()
            outcome = "failure"
            log.info("task.started", attempt=task.request.retries)
            try:
                result = _run_in_transaction(body, args, kwargs) if session else body(*args, **kwargs)
                outcome = "success"
                return result
            except Retry:
                outcome = "retry"
                raise
            except SoftTimeLimitExceeded:
                outcome = "timeout"
                log.error("task.timeout")
                raise
            except Exception:
                log.exception("task.failed")
                raise
            finally:
                elapsed = time.perf_counter() - started
                celery_tasks.labels(name, queue.value, outcome).inc()
                celery_task_duration.labels(name, queue.value).observe(elapsed)
                log.info("task.finished", outcome=outcome, seconds=round(elapsed, 6))
                structlog.contextvars.clear_contextvars()

        run.__doc__ = body.__doc__
        return run

    return decorator


def _run_in_transaction(body: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    session: Session = new_session()
    try:
        result = body(session, *args, **kwargs)
        session.commit()
        return result
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()

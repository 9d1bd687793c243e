"""Operational tasks: the beat heartbeat, probe jobs on each queue, and the job reaper."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from celery import Task
from sqlalchemy.orm import Session

from ..jobs import service as jobs
from ..redis_client import get_redis
from .queues import Queue
from .task import water_task

HEARTBEAT_KEY = "water:beat:heartbeat"


@water_task("ops.heartbeat", queue=Queue.low_priority)
def heartbeat(_session: Session) -> None:
    """Proves that beat schedules and a low-priority worker consumes (read by /api/readyz)."""
    get_redis().set(HEARTBEAT_KEY, f"{time.time():.3f}", ex=3600)


def _probe(queue: Queue) -> Any:
    def body(session: Session, job_id: str) -> str:
        try:
            return jobs.run_job(session, job_id, jobs.probe_work(queue.value))
        except jobs.JobBusy as busy:
            raise current_task(queue).retry(countdown=busy.retry_in) from None

    body.__doc__ = f"Probe job on the {queue.value} queue."
    return body


probe_default = water_task("ops.probe", queue=Queue.default)(_probe(Queue.default))
probe_high_priority = water_task("ops.probe_high_priority", queue=Queue.high_priority)(_probe(Queue.high_priority))
probe_low_priority = water_task("ops.probe_low_priority", queue=Queue.low_priority)(_probe(Queue.low_priority))
PROBES: dict[Queue, Task] = {
    Queue.default: probe_default,
    Queue.high_priority: probe_high_priority,
    Queue.low_priority: probe_low_priority,
}


def current_task(queue: Queue) -> Task:
    return PROBES[queue]


def _task_getter(task: Task) -> Callable[[], Task]:
    return lambda: task


for _queue, _task in PROBES.items():
    jobs.TASKS_BY_KIND[f"probe:{_queue.value}"] = _task_getter(_task)


@water_task("ops.reap_jobs", queue=Queue.low_priority)
def reap_jobs(session: Session) -> dict[str, int]:
    """Re-send jobs whose messages were lost; fail jobs stuck running past every redelivery window."""
    return {"resent": jobs.resend_stale(session), "failed": jobs.fail_overdue(session)}

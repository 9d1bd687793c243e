"""The Celery application: Redis broker, JSON only, late acks, prefetch 1, results ignored."""

from __future__ import annotations

import os

import structlog
from celery import Celery
from celery.signals import setup_logging, worker_init, worker_process_shutdown
from kombu.entity import Queue as KombuQueue

from ..config import get_settings
from ..logging import configure_logging
from .queues import HARD_TIME_LIMIT, SOFT_TIME_LIMIT, UNACKED_RESTORE_INTERVAL, VISIBILITY_TIMEOUT, Queue

TASK_MODULES = ["water.worker.ops_tasks", "water.market_data.tasks", "water.valuations.tasks"]


def broker_url() -> str:
    settings = get_settings()
    if settings.redis_url is None:
        return "redis://127.0.0.1:6379/0"  # not used: `water up` or the environment always sets it
    return settings.redis_url.get_secret_value()


def create_celery() -> Celery:
    app = Celery("water", broker=broker_url(), include=TASK_MODULES)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        result_backend=None,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_time_limit=HARD_TIME_LIMIT,
        task_soft_time_limit=SOFT_TIME_LIMIT,
        task_default_queue=Queue.default.value,
        task_queues=[KombuQueue(q.value, routing_key=q.value) for q in Queue],
        task_create_missing_queues=False,
        broker_transport_options={
            "visibility_timeout": VISIBILITY_TIMEOUT,
            "unacked_restore_interval": UNACKED_RESTORE_INTERVAL,
            "unacked_restore_throttle": 1,
        },
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        task_send_sent_event=False,
        enable_utc=True,
        timezone="UTC",
    )
    from .beat import beat_schedule

    app.conf.beat_schedule = beat_schedule()
    return app


@setup_logging.connect
def _configure_worker_logging(**_kwargs: object) -> None:
    settings = get_settings()
    configure_logging(json_logs=settings.json_logs, level=settings.log_level)


celery_app = create_celery()


@worker_init.connect
def _serve_worker_metrics(**_kwargs: object) -> None:
    """Serve the prefork children's aggregated metrics (PROMETHEUS_MULTIPROC_DIR) for Prometheus to scrape."""
    settings = get_settings()
    port = settings.worker_metrics_port
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR") or port <= 0:
        return
    from prometheus_client import CollectorRegistry, multiprocess, start_http_server

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    try:
        start_http_server(port, addr=settings.worker_metrics_host, registry=registry)
    except OSError as exc:
        structlog.get_logger("water.worker").warning("worker_metrics.unavailable", port=port, error=str(exc))


@worker_process_shutdown.connect
def _mark_child_dead(pid: int | None = None, **_kwargs: object) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())

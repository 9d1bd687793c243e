"""Prometheus metrics shared by the API and the workers.

The API serves its registry at /metrics. Celery's prefork children each record
task metrics; with PROMETHEUS_MULTIPROC_DIR set (the worker sets it before
importing prometheus_client) they are aggregated and served by the worker's own
small HTTP endpoint on WATER_WORKER_METRICS_PORT.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

http_requests = Counter(
    "water_http_requests",
    "HTTP requests served, by route template, method and status.",
    ["route", "method", "status"],
)
http_request_duration = Histogram(
    "water_http_request_duration_seconds",
    "HTTP request latency by route template and method.",
    ["route", "method"],
    buckets=LATENCY_BUCKETS,
)
http_in_flight = Gauge(
    "water_http_requests_in_flight",
    "HTTP requests being served right now.",
    multiprocess_mode="livesum",
)
celery_tasks = Counter(
    "water_celery_tasks",
    "Celery tasks finished, by task, queue and outcome.",
    ["task", "queue", "outcome"],
)
celery_task_duration = Histogram(
    "water_celery_task_duration_seconds",
    "Celery task run time by task and queue.",
    ["task", "queue"],
    buckets=(*LATENCY_BUCKETS, 30.0, 60.0),
)

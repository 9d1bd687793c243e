"""A no-op Celery task for the valuation-run benchmark only (never part of Water).

It is registered on Water's own Celery app, so it shares every setting a valuation task
gets (Redis broker, JSON, late acks, prefetch 1, results ignored, `default` queue). The
benchmark starts the worker with `-I noop_tasks` (this directory on PYTHONPATH), so the
same worker processes run `valuations.run` and `bench.noop`.
"""

from __future__ import annotations

from water.worker.celery_app import celery_app


@celery_app.task(name="bench.noop", queue="default")
def noop() -> None:
    """Nothing: the broker and Celery's own per-task cost, and no more."""
    return None

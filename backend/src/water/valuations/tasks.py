"""Valuation tasks: runs on `default`; the reaper on `low_priority` (beat)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ..worker.queues import Queue
from ..worker.task import water_task
from . import service


@water_task("valuations.run", queue=Queue.default, max_retries=20, session=False)
def run_valuation(run_id: str) -> str:
    """Run one valuation (idempotent: the run row is claimed atomically; its own two statements, no session)."""
    try:
        return service.execute(run_id)
    except service.RunBusy as busy:
        raise run_valuation.retry(countdown=min(busy.retry_in, 10)) from None


@water_task("valuations.reap", queue=Queue.low_priority)
def reap_runs(session: Session) -> dict[str, int]:
    """Re-send runs left queued (message lost), fail runs stuck running."""
    return service.reap(session)


@water_task("valuations.export", queue=Queue.default)
def export_run(session: Session, job_id: str) -> str:
    """Render a large run's PDF or XLSX export and keep it for download."""
    from ..jobs import service as jobs
    from .export_service import render_for_job

    try:
        return jobs.run_job(session, job_id, render_for_job)
    except jobs.JobBusy as busy:
        raise export_run.retry(countdown=min(busy.retry_in, 10)) from None

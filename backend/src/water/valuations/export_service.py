"""Exports of a succeeded run: the PDF report and the XLSX workbook.

Small runs are rendered in the request (tens of milliseconds). Large ones are rendered on a
worker: the first GET answers 202 with the job to poll, and once rendered the file is kept
in Redis for an hour (exports are reproducible from the run, so losing one loses nothing).
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.principal import Principal
from ..errors import Conflict
from ..models import Company, Job, MarketDataSnapshot, User, ValuationRun
from ..models.job import JobStatus
from ..models.valuation_run import RunStatus
from ..redis_client import get_redis_bytes
from . import service

if TYPE_CHECKING:
    from ..jobs.repository import ClaimedJob

FORMATS = {
    "pdf": ("application/pdf", "report.pdf"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "workbook.xlsx"),
}
INLINE_LIMIT_BYTES = 1_000_000  # results larger than this are rendered on a worker
CACHE_SECONDS = 3600


def cache_key(run_id: uuid.UUID | str, fmt: str) -> str:
    return f"water:export:{run_id}:{fmt}"


def export_document(session: Session, run: ValuationRun) -> dict[str, Any]:
    """The run as the export builders read it."""
    company = session.get(Company, run.company_id)
    assert company is not None
    author = session.get(User, run.created_by_id) if run.created_by_id else None
    snapshots = (
        session.scalars(select(MarketDataSnapshot).where(MarketDataSnapshot.id.in_(run.snapshot_ids))).all()
        if run.snapshot_ids
        else []
    )
    summary = {k: getattr(run, k) for k in ("value_per_share", "equity_value", "enterprise_value", "price", "upside")}
    summary["currency"] = company.price_currency or company.currency
    return {
        "id": str(run.id),
        "status": run.status.value,
        "created_at": run.created_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "created_by": author.email if author else "api key",
        "company": {
            "id": str(company.id), "name": company.name, "ticker": company.ticker, "currency": company.currency,
            "price_currency": company.price_currency or company.currency, "is_demo": company.is_demo,
        },
        "methods": list(run.methods),
        "requests": run.requests,
        "results": run.result or {},
        "defaults_applied": run.defaults_applied,
        "conventions": {m: r.get("conventions", {}) for m, r in run.requests.items() if isinstance(r, dict)},
        "summary": summary,
        "input_hash": run.input_hash,
        "engine_version": run.engine_version,
        "snapshots": [
            {"id": str(s.id), "provider": s.provider, "function": s.function, "symbol": s.symbol, "fetched_at": s.fetched_at.isoformat(), "content_hash": s.content_hash}
            for s in snapshots
        ],
    }  # fmt: skip


def render(document: dict[str, Any], fmt: str) -> bytes:
    from .exports import build_report_pdf, build_workbook

    return build_report_pdf(document) if fmt == "pdf" else build_workbook(document)


def get_export(session: Session, principal: Principal, run_id: uuid.UUID, fmt: str) -> bytes | Job:
    """The file, or the job rendering it (large runs)."""
    run = service.get_run(session, principal, run_id)
    if run.status != RunStatus.succeeded:
        raise Conflict(
            f"The run has {run.status.value}; only a succeeded run can be exported.", code="run_not_succeeded"
        )
    cached = get_redis_bytes().get(cache_key(run.id, fmt))
    if cached is not None:
        return bytes(cached)  # type: ignore[arg-type]
    if len(json.dumps(run.result)) <= INLINE_LIMIT_BYTES:
        return render(export_document(session, run), fmt)
    return _export_job(session, principal, run, fmt)


def _export_job(session: Session, principal: Principal, run: ValuationRun, fmt: str) -> Job:
    from ..jobs import service as jobs
    from .tasks import export_run

    kind = "valuations.export"
    pending = session.scalar(
        select(Job).where(
            Job.organization_id == principal.organization_id,
            Job.kind == kind,
            Job.status.in_([JobStatus.queued, JobStatus.running]),
            Job.payload["run_id"].astext == str(run.id),
            Job.payload["format"].astext == fmt,
        )
    )
    return pending or jobs.create_job(session, principal, kind, {"run_id": str(run.id), "format": fmt}, export_run)


def render_for_job(session: Session, job: ClaimedJob) -> dict[str, Any]:
    """Worker side: render and keep the file for an hour."""
    run = session.get(ValuationRun, uuid.UUID(job.payload["run_id"]))
    if run is None:
        return {"skipped": "the run no longer exists"}
    content = render(export_document(session, run), job.payload["format"])
    get_redis_bytes().set(cache_key(run.id, job.payload["format"]), content, ex=CACHE_SECONDS)
    return {"bytes": len(content), "url": f"/api/valuation-runs/{run.id}/{FORMATS[job.payload['format']][1]}"}

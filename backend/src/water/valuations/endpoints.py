"""Valuation runs: submit, read, list, cancel, rerun, verify, compare."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response, status
from fastapi.responses import JSONResponse

from ..auth.dependencies import DbSession, Reader, Writer
from ..jobs.schemas import JobRead
from ..kit.pagination import MAX_LIMIT
from ..kit.schemas import Page
from ..models.valuation_run import RunStatus
from . import service
from .repository import ValuationRunRepository
from .schemas import CompareRead, Method, ValuationRunCreate, ValuationRunDetail, ValuationRunRead, VerifyRead

router = APIRouter(tags=["valuations"])
IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")
]


@router.post(
    "/companies/{company_id}/valuation-runs", status_code=status.HTTP_202_ACCEPTED, response_model=ValuationRunRead
)
def create_valuation_run(
    company_id: uuid.UUID,
    data: ValuationRunCreate,
    principal: Writer,
    session: DbSession,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> ValuationRunRead:
    """Ask for a valuation: validated now, queued, run on a worker. Retries with the same Idempotency-Key return the same run."""
    run, created = service.submit(session, principal, company_id, data, idempotency_key)
    response.headers["Location"] = f"/api/valuation-runs/{run.id}"
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    return ValuationRunRead.model_validate(run)


@router.get("/valuation-runs", response_model=Page[ValuationRunRead])
def list_valuation_runs(
    principal: Reader,
    session: DbSession,
    company_id: uuid.UUID | None = None,
    status_: Annotated[RunStatus | None, Query(alias="status")] = None,
    method: Method | None = None,
    created_by: uuid.UUID | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> Page[ValuationRunRead]:
    """List runs, newest first, filtered by company, status, method, author and date range."""
    filters = {
        "company_id": company_id,
        "status": status_,
        "method": method.value if method else None,
        "created_by": created_by,
        "created_from": created_from,
        "created_to": created_to,
    }
    rows, next_cursor = ValuationRunRepository(session).search(principal.organization_id, filters, cursor, limit)
    return Page(items=[ValuationRunRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/valuation-runs/compare", response_model=CompareRead)
def compare_valuation_runs(a: uuid.UUID, b: uuid.UUID, principal: Reader, session: DbSession) -> CompareRead:
    """The differences between two runs: assumptions, data snapshots and outputs."""
    return CompareRead(**service.compare(session, principal, a, b))


@router.get("/valuation-runs/{run_id}", response_model=ValuationRunDetail)
def get_valuation_run(run_id: uuid.UUID, principal: Reader, session: DbSession) -> ValuationRunDetail:
    """One run with its engine requests and full result (schedules, grids, distributions)."""
    return ValuationRunDetail.model_validate(service.get_run(session, principal, run_id))


@router.post("/valuation-runs/{run_id}/cancel", response_model=ValuationRunRead)
def cancel_valuation_run(run_id: uuid.UUID, principal: Writer, session: DbSession) -> ValuationRunRead:
    """Cancel a queued or running run."""
    return ValuationRunRead.model_validate(service.cancel(session, principal, run_id))


@router.post("/valuation-runs/{run_id}/rerun", status_code=status.HTTP_202_ACCEPTED, response_model=ValuationRunRead)
def rerun_valuation_run(
    run_id: uuid.UUID, principal: Writer, session: DbSession, response: Response
) -> ValuationRunRead:
    """Run the same requests on the same pinned data again (bit-identical when nothing changed)."""
    run = service.rerun(session, principal, run_id)
    response.headers["Location"] = f"/api/valuation-runs/{run.id}"
    return ValuationRunRead.model_validate(run)


@router.get("/valuation-runs/{run_id}/verify", response_model=VerifyRead)
def verify_valuation_run(run_id: uuid.UUID, principal: Reader, session: DbSession) -> VerifyRead:
    """Recompute the run now and report identical, or the exact differences."""
    return VerifyRead(**service.verify(session, principal, run_id))


def _export(run_id: uuid.UUID, fmt: str, principal: Reader, session: DbSession) -> Response:
    from . import export_service

    outcome = export_service.get_export(session, principal, run_id, fmt)
    if isinstance(outcome, bytes):
        media_type, filename = export_service.FORMATS[fmt]
        return Response(
            outcome,
            media_type=media_type,
            headers={"Content-Disposition": f'attachment; filename="valuation-{run_id}-{filename}"'},
        )
    body = JobRead.model_validate(outcome).model_dump(mode="json")
    return JSONResponse(body, status_code=202, headers={"Location": f"/api/jobs/{outcome.id}", "Retry-After": "1"})


@router.get(
    "/valuation-runs/{run_id}/report.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}, 202: {"model": JobRead}},
)
def get_valuation_report(run_id: uuid.UUID, principal: Reader, session: DbSession) -> Response:
    """The run's PDF report (summary, assumptions with sources, schedules, sensitivity, charts, provenance)."""
    return _export(run_id, "pdf", principal, session)


@router.get(
    "/valuation-runs/{run_id}/workbook.xlsx",
    response_class=Response,
    responses={
        200: {"content": {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}},
        202: {"model": JobRead},
    },
)
def get_valuation_workbook(run_id: uuid.UUID, principal: Reader, session: DbSession) -> Response:
    """The run as a workbook with live formulas for the DCF, so it can be audited and recalculated."""
    return _export(run_id, "xlsx", principal, session)

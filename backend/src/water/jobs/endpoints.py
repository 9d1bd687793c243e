from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from ..auth.dependencies import Admin, DbSession, Reader
from ..worker.ops_tasks import PROBES
from . import service
from .schemas import JobRead, ProbeCreate

router = APIRouter(prefix="/jobs", tags=["jobs"])


@router.get("/{job_id}", response_model=JobRead)
def get_job(job_id: uuid.UUID, principal: Reader, session: DbSession) -> JobRead:
    """Poll a background job."""
    return JobRead.model_validate(service.get_job(session, principal, job_id))


@router.post("/probe", status_code=status.HTTP_202_ACCEPTED, response_model=JobRead)
def create_probe_job(data: ProbeCreate, principal: Admin, session: DbSession, response: Response) -> JobRead:
    """Send a probe job through a queue to prove the pipeline works end to end (admins only)."""
    job = service.create_job(
        session, principal, f"probe:{data.queue.value}", data.model_dump(mode="json"), PROBES[data.queue]
    )
    response.headers["Location"] = f"/api/jobs/{job.id}"
    return JobRead.model_validate(job)

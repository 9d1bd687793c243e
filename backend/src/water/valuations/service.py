"""Valuation run use cases: submit (idempotent), run (worker), cancel, rerun, verify, compare, reap."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import water_engine

from ..audit import service as audit
from ..auth.principal import Principal
from ..companies import service as companies
from ..db.session import side_session
from ..errors import Conflict, NotFound
from ..models import ValuationRun
from ..models.valuation_run import RunStatus
from ..worker.enqueue import enqueue_after_commit, send_now
from ..worker.queues import CLAIM_LEASE, OVERDUE, RESEND_AFTER
from . import compute, events, flows, worker_db
from .repository import Claimed, RunStatements, ValuationRunRepository
from .schemas import ValuationRunCreate

LEASE = CLAIM_LEASE
log = structlog.get_logger("water.valuations")


def _task() -> Any:
    from .tasks import run_valuation

    return run_valuation


def body_hash(company_id: uuid.UUID, body: ValuationRunCreate) -> str:
    canonical = json.dumps(
        {"company_id": str(company_id), "body": body.model_dump(mode="json")}, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _status_event(session: Session, run: ValuationRun, status: RunStatus, extra: dict[str, Any] | None = None) -> None:
    data = {"status": status.value, "company_id": str(run.company_id), **(extra or {})}
    events.append(session, run.organization_id, run.id, f"run.{status.value}", data)


def _idempotent_replay(existing: ValuationRun, digest: str) -> ValuationRun:
    if existing.body_hash != digest:
        raise Conflict("This Idempotency-Key was used with a different request body.", code="idempotency_key_reused")
    return existing


def submit(
    session: Session, principal: Principal, company_id: uuid.UUID, body: ValuationRunCreate, idempotency_key: str | None
) -> tuple[ValuationRun, bool]:
    """Validate and record a run as queued; its task is sent after the commit. (run, created)."""
    company = companies.get_company(session, principal, company_id)
    repo = ValuationRunRepository(session)
    digest = body_hash(company.id, body)
    if idempotency_key:
        existing = repo.by_idempotency_key(principal.organization_id, idempotency_key)
        if existing is not None:
            return _idempotent_replay(existing, digest), False
    resolution = flows.resolve(session, company, body)
    snapshot_ids = sorted(uuid.UUID(s) for s in resolution.snapshot_ids)
    snapshots = repo.snapshots(snapshot_ids)
    run = ValuationRun(
        id=uuid.uuid4(),
        organization_id=principal.organization_id,
        company_id=company.id,
        created_by_id=principal.user_id,
        status=RunStatus.queued,
        methods=[m.value for m in body.methods],
        assumptions=body.model_dump(mode="json"),
        requests=resolution.requests,
        defaults_applied=resolution.defaults,
        snapshot_ids=snapshot_ids,
        input_hash=flows.input_hash(resolution.requests, snapshots, water_engine.__version__),
        engine_version=water_engine.__version__,
        idempotency_key=idempotency_key,
        body_hash=digest,
        request_id=structlog.contextvars.get_contextvars().get("request_id"),
        queued_at=datetime.now(UTC),
    )
    return _record_new_run(principal, run, digest)


def _record_new_run(principal: Principal, run: ValuationRun, digest: str) -> tuple[ValuationRun, bool]:
    """Insert the queued run (with its event and audit entry) in a short transaction of its own.

    Committed at once, not at the end of the request: a concurrent retry with the same
    Idempotency-Key waits on the key's unique index only for these few statements, never for
    another request to finish (which, with every worker thread waiting, could never happen).
    The task is sent after this commit.
    """
    with side_session() as own:
        repo = ValuationRunRepository(own)
        try:
            with own.begin_nested():
                repo.add(run)
                own.flush()
        except IntegrityError:
            existing = repo.by_idempotency_key(principal.organization_id, run.idempotency_key or "")
            if existing is None:
                raise
            return _idempotent_replay(existing, digest), False
        _status_event(own, run, RunStatus.queued)
        audit.record(
            own,
            principal,
            action="valuation_run.queued",
            object_type="valuation_run",
            object_id=run.id,
            after={"methods": run.methods, "input_hash": run.input_hash},
        )
        enqueue_after_commit(own, _task(), str(run.id))
        own.commit()
        return run, True


def get_run(session: Session, principal: Principal, run_id: uuid.UUID) -> ValuationRun:
    run = ValuationRunRepository(session).get(principal.organization_id, run_id)
    if run is None:
        raise NotFound("No such valuation run.")
    return run


def cancel(session: Session, principal: Principal, run_id: uuid.UUID) -> ValuationRun:
    run = get_run(session, principal, run_id)
    previous = ValuationRunRepository(session).cancel(run.id)
    if previous is None:
        raise Conflict(
            f"The run has already {run.status.value}; only queued or running runs can be cancelled.",
            code="run_finished",
        )
    session.refresh(run)
    _status_event(session, run, RunStatus.cancelled, {"previous": previous.value})
    audit.record(
        session,
        principal,
        action="valuation_run.cancelled",
        object_type="valuation_run",
        object_id=run.id,
        before={"status": previous.value},
        after={"status": "cancelled"},
    )
    return run


def rerun(session: Session, principal: Principal, run_id: uuid.UUID) -> ValuationRun:
    """A new run with exactly the same engine requests and pinned snapshots."""
    source = get_run(session, principal, run_id)
    run = ValuationRun(
        id=uuid.uuid4(),
        organization_id=source.organization_id,
        company_id=source.company_id,
        created_by_id=principal.user_id,
        status=RunStatus.queued,
        methods=list(source.methods),
        assumptions=source.assumptions,
        requests=source.requests,
        defaults_applied=source.defaults_applied,
        snapshot_ids=list(source.snapshot_ids),
        input_hash=flows.input_hash(
            source.requests,
            ValuationRunRepository(session).snapshots(list(source.snapshot_ids)),
            water_engine.__version__,
        ),
        engine_version=water_engine.__version__,
        rerun_of_id=source.id,
        request_id=structlog.contextvars.get_contextvars().get("request_id"),
        queued_at=datetime.now(UTC),
    )
    ValuationRunRepository(session).add(run)
    session.flush()
    _status_event(session, run, RunStatus.queued, {"rerun_of": str(source.id)})
    audit.record(
        session,
        principal,
        action="valuation_run.rerun",
        object_type="valuation_run",
        object_id=run.id,
        after={"rerun_of": str(source.id)},
    )
    enqueue_after_commit(session, _task(), str(run.id))
    return run


def verify(session: Session, principal: Principal, run_id: uuid.UUID) -> dict[str, Any]:
    """Recompute from the stored requests and report identical, or every difference."""
    run = get_run(session, principal, run_id)
    if run.status != RunStatus.succeeded or run.result is None:
        raise Conflict("Only a succeeded run can be verified.", code="run_not_succeeded")
    try:
        results, _summary, _ms = compute.compute(list(run.methods), run.requests)
    except compute.RunFailure as failure:
        return {
            "run_id": run.id,
            "identical": False,
            "engine_version_then": run.engine_version,
            "engine_version_now": water_engine.__version__,
            "differences": [{"path": "", "then": "succeeded", "now": failure.problem}],
        }
    diffs = compute.differences(run.result, json.loads(json.dumps(results)))
    return {
        "run_id": run.id,
        "identical": not diffs,
        "engine_version_then": run.engine_version,
        "engine_version_now": water_engine.__version__,
        "differences": diffs[:200],
    }


def compare(session: Session, principal: Principal, a: uuid.UUID, b: uuid.UUID) -> dict[str, Any]:
    run_a, run_b = get_run(session, principal, a), get_run(session, principal, b)
    assumptions = compute.differences(run_a.requests, run_b.requests)
    outputs = compute.differences(
        {m: r.get("outputs") for m, r in (run_a.result or {}).items()},
        {m: r.get("outputs") for m, r in (run_b.result or {}).items()},
    )
    ids_a, ids_b = {str(s) for s in run_a.snapshot_ids}, {str(s) for s in run_b.snapshot_ids}
    return {
        "a": run_a.id,
        "b": run_b.id,
        "assumptions": assumptions,
        "snapshots": {"only_a": sorted(ids_a - ids_b), "only_b": sorted(ids_b - ids_a), "both": sorted(ids_a & ids_b)},
        "outputs": outputs,
    }


# --- the worker side ----------------------------------------------------------------------------


class RunBusy(Exception):
    def __init__(self, retry_in: float) -> None:
        self.retry_in = retry_in


def _claim(statements: RunStatements, run_id: uuid.UUID) -> Claimed | None:
    """Claim with its `running` event in one autocommitted statement.

    The event is in the log at once. It is announced on Redis at once only when the run may take
    a while (`compute.quick`); a quick run's outcome, published milliseconds later, wakes the
    streams, which read both events from the log, in order (events/endpoints.py).
    """
    claimed = statements.claim(run_id, LEASE)
    if claimed is None:
        state = statements.status(run_id)
        if state and state[0] == RunStatus.running and state[1] is not None:
            raise RunBusy(max(1.0, (state[1] + LEASE - datetime.now(UTC)).total_seconds()))
        return None
    run, event_id = claimed
    if not compute.quick(run.requests):
        data = {"status": "running", "attempt": run.attempt}
        events.publish(run.organization_id, event_id, "run.running", run_id, data)
    return run


def _finish(
    statements: RunStatements,
    claimed: Claimed,
    run_id: uuid.UUID,
    status: RunStatus,
    values: dict[str, Any],
    extra: dict[str, Any],
) -> bool:
    """Store the outcome with its event (one statement), then publish it; False when the claim was lost."""
    data = {"status": status.value, "company_id": str(claimed.company_id), **extra}
    event_id = statements.finish(run_id, claimed.attempt, status, values, data)
    if event_id is None:
        return False
    events.publish(claimed.organization_id, event_id, f"run.{status.value}", run_id, data)
    return True


def execute(run_id: str) -> str:
    """Claim, compute, store: two autocommitted statements on the worker's own connection (worker_db)."""
    rid = uuid.UUID(run_id)
    claimed = worker_db.run(lambda conn: _claim(RunStatements(conn), rid))
    if claimed is None:
        return "not claimable"
    try:
        results, summary, elapsed = compute.compute(claimed.methods, claimed.requests)
    except compute.RunFailure as failure:
        error = {"error": failure.problem}
        worker_db.run(lambda conn: _finish(RunStatements(conn), claimed, rid, RunStatus.failed, error, error))
        return "failed"
    values = {
        "result": results,
        "compute_ms": elapsed,
        **{k: summary.get(k) for k in ("value_per_share", "equity_value", "enterprise_value", "price", "upside")},
    }
    extra = {"value_per_share": summary.get("value_per_share"), "upside": summary.get("upside")}
    if not worker_db.run(lambda conn: _finish(RunStatements(conn), claimed, rid, RunStatus.succeeded, values, extra)):
        return "discarded (cancelled or reclaimed)"
    return "succeeded"


def reap(session: Session) -> dict[str, int]:
    """Re-send runs whose message was lost; fail runs running past every redelivery window."""
    now = datetime.now(UTC)
    repo = ValuationRunRepository(session)
    stale = repo.stale_queued(now - RESEND_AFTER, limit=1000)
    for run_id in stale:
        send_now(_task(), str(run_id))
    overdue = repo.overdue_running(now - OVERDUE)
    for run in overdue:
        error = {
            "code": "timed_out",
            "title": "Valuation failed",
            "detail": "The run did not finish within its time limit; it was stopped. Rerun it.",
        }
        if repo.finish(run.id, run.attempts, RunStatus.failed, {"error": error}):
            _status_event(session, run, RunStatus.failed, {"error": error})
    if stale or overdue:
        log.warning("valuations.reaped", resent=len(stale), failed=len(overdue))
    return {"resent": len(stale), "failed": len(overdue)}

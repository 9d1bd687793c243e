"""A/B of the worker's task body, in one process: the ORM path (before) against the two-statement path.

    .venv/bin/python bench/valuations/ab_worker_path.py --db postgresql://postgres@127.0.0.1:5432/water_bench_runs

Needs a Water database holding at least one succeeded run (e.g. `bench_runs.py --keep-db`).
The run is cloned into 2 x N queued rows; the two paths then alternate run by run (no Celery,
same process, same connection settings), each timed for wall time, this process's CPU time and
the CPU time of the PostgreSQL backends serving it (from /proc, so PostgreSQL must run on this
machine). "before" is the worker path as it was at a493c65 (claim in a side transaction with its
event, compute, finish in the task's transaction), kept here verbatim for the comparison.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[2]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def backend_cpu(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/4")
    parser.add_argument("--runs", type=int, default=300, help="runs per path")
    args = parser.parse_args()
    os.environ.setdefault("WATER_DATABASE_URL", args.db)
    os.environ.setdefault("WATER_REDIS_URL", args.redis)
    os.environ.setdefault("WATER_LOG_LEVEL", "WARNING")

    # --- before: the worker path at a493c65 -----------------------------------------------------
    from sqlalchemy import func, or_, select, text, update

    from water.db.session import new_session, side_session
    from water.models import ValuationRun
    from water.models.valuation_run import RunStatus
    from water.valuations import compute, events, service, worker_db
    from water.valuations.repository import Claimed, ValuationRunRepository

    def old_claim_row(session: Any, run_id: uuid.UUID) -> Claimed | None:
        now = datetime.now(UTC)
        row = session.execute(
            update(ValuationRun)
            .where(
                ValuationRun.id == run_id,
                or_(
                    ValuationRun.status == RunStatus.queued,
                    (ValuationRun.status == RunStatus.running) & (ValuationRun.started_at < now - service.LEASE),
                ),
            )
            .values(status=RunStatus.running, attempts=ValuationRun.attempts + 1, started_at=now)
            .returning(
                ValuationRun.attempts,
                ValuationRun.organization_id,
                ValuationRun.company_id,
                ValuationRun.methods,
                ValuationRun.requests,
            )
        ).first()
        return Claimed(int(row[0]), row[1], row[2], list(row[3]), row[4]) if row else None

    def old_execute(run_id: str) -> str:
        session = new_session()
        try:
            rid = uuid.UUID(run_id)
            with side_session() as own:
                claimed = old_claim_row(own, rid)
                assert claimed is not None
                events.append(
                    own, claimed.organization_id, rid, "run.running", {"status": "running", "attempt": claimed.attempt}
                )
                own.commit()
            repo = ValuationRunRepository(session)
            results, summary, elapsed = compute.compute(claimed.methods, claimed.requests)
            values = {
                "result": results,
                "compute_ms": elapsed,
                **{
                    k: summary.get(k)
                    for k in ("value_per_share", "equity_value", "enterprise_value", "price", "upside")
                },
            }
            assert repo.finish(rid, claimed.attempt, RunStatus.succeeded, values)
            data = {"status": "succeeded", "company_id": str(claimed.company_id)}
            data |= {"value_per_share": summary.get("value_per_share"), "upside": summary.get("upside")}
            events.append(session, claimed.organization_id, rid, "run.succeeded", data)
            session.commit()
            return "succeeded"
        finally:
            session.close()

    # --- the runs ---------------------------------------------------------------------------------
    with new_session() as session:
        seed = session.scalar(select(ValuationRun.id).where(ValuationRun.status == RunStatus.succeeded).limit(1))
        if seed is None:
            sys.exit("no succeeded run to clone")
        columns = [
            c
            for c in session.scalars(
                text(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = 'valuation_runs'"
                    " ORDER BY ordinal_position"
                )
            )
            if c not in {"id", "status", "attempts", "result", "started_at", "finished_at", "queued_at"}
        ]
        cols = ", ".join(columns)
        ids = list(
            session.scalars(
                text(
                    f"INSERT INTO valuation_runs (id, status, attempts, queued_at, {cols}) "  # noqa: S608
                    f"SELECT gen_random_uuid(), 'queued', 0, now(), {cols} FROM valuation_runs, generate_series(1, :n) "
                    "WHERE id = :seed RETURNING id"
                ),
                {"n": 2 * args.runs, "seed": seed},
            )
        )
        session.commit()
    paths = {"before": old_execute, "after": service.execute}
    # warm both (connections, prepared statements, imports)
    for name, run in paths.items():
        for _ in range(10):
            assert run(str(ids.pop())) == "succeeded", name
    with psycopg.connect(args.db.replace("postgresql+psycopg://", "postgresql://")) as conn:

        def backends() -> list[int]:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchall()
            return [int(r[0]) for r in rows]

        pids = backends()
        samples: dict[str, dict[str, list[float]]] = {n: {"wall": [], "cpu": [], "pg": []} for n in paths}
        load0 = Path("/proc/loadavg").read_text().split()[:3]
        for i, run_id in enumerate(ids[: 2 * args.runs - 20]):
            name = "before" if i % 2 == 0 else "after"
            pg0, c0, w0 = backend_cpu(pids), time.process_time(), time.perf_counter()
            assert paths[name](str(run_id)) == "succeeded"
            w1, c1, pg1 = time.perf_counter(), time.process_time(), backend_cpu(pids)
            samples[name]["wall"].append((w1 - w0) * 1000)
            samples[name]["cpu"].append((c1 - c0) * 1000)
            samples[name]["pg"].append((pg1 - pg0) * 1000)
        load1 = Path("/proc/loadavg").read_text().split()[:3]
    worker_db.close()
    with new_session() as session:
        left = session.scalar(select(func.count()).where(ValuationRun.status != RunStatus.succeeded))
    print(
        f"load {' '.join(load0)} -> {' '.join(load1)}; runs per path {len(samples['after']['wall'])}; not succeeded {left}"
    )
    print("| Path | wall p50 ms | wall mean ms | CPU mean ms (this process) | PostgreSQL CPU mean ms |")
    print("|---|---:|---:|---:|---:|")
    for name, s in samples.items():
        print(
            f"| {name} | {statistics.median(s['wall']):.2f} | {statistics.fmean(s['wall']):.2f} | "
            f"{statistics.fmean(s['cpu']):.2f} | {statistics.fmean(s['pg']):.2f} |"
        )


if __name__ == "__main__":
    main()

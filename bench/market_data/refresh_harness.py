"""One process refreshing N distinct companies as a worker does, for CPU counts without Celery or HTTP noise.

Each job runs the worker's task body (`_run_in_transaction` -> `jobs.run_job` -> the refresh
work: claim, fetch nine datasets, store snapshots and periods, finish) against the refresh
benchmark's fake server (`AliasingFake`, in a child process: DAQI001, DAQI002, ... are distinct
tickers answered from the demo data) on a database of its own. Three warm-up jobs run first.
It prints the CPU per job (`time.process_time`) and the wall time per job.

    .venv/bin/python bench/market_data/refresh_harness.py 60

For a count that does not depend on the machine's speed, run it under callgrind for 40 and for
10 jobs and divide the difference by 30 (set-up and warm-up are the same in both runs):

    valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.40 .venv/bin/python bench/market_data/refresh_harness.py 40
    valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.10 .venv/bin/python bench/market_data/refresh_harness.py 10
    # instructions per job = (totals of cg.40 - totals of cg.10) / 30   (the "summary:" line of each file)

Another checkout's backend is measured with PYTHONPATH=<checkout>/backend/src. PostgreSQL:
WATER_BENCH_PG (default postgresql://postgres@127.0.0.1:5432), database water_bench_harness
(made afresh, and dropped at the end); Redis: WATER_BENCH_HARNESS_REDIS (default
redis://127.0.0.1:6379/8, flushed before and after).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_market_data import PG, fake_in_child_process, water_env

REDIS = os.environ.get("WATER_BENCH_HARNESS_REDIS", "redis://127.0.0.1:6379/8")
DB = "water_bench_harness"
WARM_UP = 3


def configure(fake_url: str) -> None:
    import psycopg
    import redis

    os.environ.update(water_env(fake_url, Path(tempfile.mkdtemp(prefix="water-harness-"))))
    os.environ.update({"WATER_DATABASE_URL": f"{PG}/{DB}", "WATER_REDIS_URL": REDIS})
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {DB}")
    water = Path(sys.executable).parent / "water"
    subprocess.run([str(water), "migrate"], check=True, capture_output=True)
    redis.Redis.from_url(REDIS).flushdb()


def clean_up() -> None:
    """Drop the harness's database and empty its Redis database, so nothing is left behind."""
    import psycopg
    import redis

    from water.db.session import get_engine

    get_engine().dispose()  # close the pooled connections before the database goes
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    redis.Redis.from_url(REDIS).flushdb()


def queued_jobs(count: int) -> list[str]:
    """`count` distinct companies of one organization, each with a queued refresh job."""
    from water.db.session import new_session
    from water.models import Company, Job, Organization
    from water.models.job import JobStatus

    with new_session() as session:
        org = Organization(id=uuid.uuid4(), name="harness")
        session.add(org)
        session.flush()
        companies = [
            Company(id=uuid.uuid4(), organization_id=org.id, name=f"Harness {i}", ticker=f"DAQI{i:03d}")
            for i in range(1, count + 1)
        ]
        session.add_all(companies)
        session.flush()
        jobs = [
            Job(
                id=uuid.uuid4(),
                organization_id=org.id,
                kind="market_data.refresh",
                status=JobStatus.queued,
                payload={"company_id": str(c.id)},
            )
            for c in companies
        ]
        session.add_all(jobs)
        session.commit()
        return [str(j.id) for j in jobs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("jobs", type=int, help="measured jobs (after three warm-up jobs)")
    args = parser.parse_args()
    fake, url = fake_in_child_process()
    try:
        configure(url)
        from water.jobs import service as jobs
        from water.market_data import tasks
        from water.worker.task import _run_in_transaction

        def run(job_id: str) -> str:
            return _run_in_transaction(lambda session, j: jobs.run_job(session, j, tasks._refresh_work), (job_id,), {})

        ids = queued_jobs(WARM_UP + args.jobs)
        outcomes = [run(job_id) for job_id in ids[:WARM_UP]]
        cpu, wall = time.process_time(), time.perf_counter()
        outcomes += [run(job_id) for job_id in ids[WARM_UP:]]
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        fake.kill()
        clean_up()
    failed = [o for o in outcomes if o != "succeeded"]
    if failed:
        sys.exit(f"{len(failed)} jobs did not succeed: {failed[:3]}")
    print(
        f"{args.jobs} jobs: CPU {cpu * 1000 / args.jobs:.2f} ms per job, wall {wall * 1000 / args.jobs:.2f} ms per job"
    )


if __name__ == "__main__":
    main()

"""Valuation-run benchmark (issue 5): latency, throughput beside a no-op Celery task, a 1,000-run burst.

Starts its own stack on loopback: `water api` (one uvicorn worker, production mode) and
Celery workers on the `default` queue started with `water worker`'s exact command
(`water.cli.worker_command`) plus `-I noop_tasks` (bench/valuations/noop_tasks.py, a
no-op task registered on Water's Celery app for this benchmark only). Then:

1. latency   - idle stack, one run at a time: POST /api/companies/{id}/valuation-runs
               {"methods": ["fcff_ginzu", "sensitivity"]} (Ginzu DCF + the default 21x21 grid),
               timed from just before the POST to the run's `run.succeeded` event on
               GET /api/events (SSE, Bearer token, httpx streaming); split with the run row.
2. burst     - 1,000 runs submitted as fast as possible by concurrent clients while the
               workers run; checks none lost, none duplicated, reports the time to drain.
3. throughput- workers stopped; N runs submitted through the API by concurrent clients
               (their tasks wait in Redis), then M no-op tasks published behind them on the
               same queue; the same worker processes are started and drain both: Water's
               runs/s over 60 s from the run rows' finished_at, then no-op tasks/s over 60 s
               from the queue length.

    .venv/bin/python bench/valuations/bench_runs.py [--latency-runs 200] [--workers 1 --concurrency 2]

PostgreSQL: WATER_BENCH_PG (default postgresql://postgres@127.0.0.1:5432), trust auth; the
database water_bench_runs is dropped and re-created, and dropped at the end (--keep-db keeps
it). Redis: WATER_BENCH_REDIS (default redis://127.0.0.1:6379/4); that database is flushed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import math
import os
import platform
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
from procstat import load_avg, tree_cpu_seconds, tree_pids  # noqa: E402  (bench/procstat.py)

HERE = Path(__file__).resolve().parent
VENV_BIN = Path(sys.executable).parent
PG = os.environ.get("WATER_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
REDIS = os.environ.get("WATER_BENCH_REDIS", "redis://127.0.0.1:6379/4")
DB = "water_bench_runs"
HOST = "127.0.0.1"
PORT = 18121
BASE = f"http://{HOST}:{PORT}"
SECRET = secrets.token_urlsafe(48)
PASSWORD = "Bb9-" + secrets.token_urlsafe(18)
BODY = {"methods": ["fcff_ginzu", "sensitivity"]}
TARGET_P50_MS, TARGET_P99_MS, TARGET_RPS, GOAL_NOOP_RATIO = 100.0, 300.0, 150.0, 0.30

ENV = {
    **os.environ,
    "WATER_DATABASE_URL": f"{PG}/{DB}",
    "WATER_REDIS_URL": REDIS,
    "WATER_ENVIRONMENT": "production",
    "WATER_SECRET_KEY": SECRET,
    "WATER_LOG_LEVEL": "WARNING",
    "WATER_WORKER_METRICS_PORT": "0",
    "WATER_HOST": HOST,
    "WATER_PORT": str(PORT),
}
os.environ.update({k: ENV[k] for k in ("WATER_DATABASE_URL", "WATER_REDIS_URL", "WATER_SECRET_KEY")})
os.environ["WATER_ENVIRONMENT"] = "production"

from water.cli import worker_command  # noqa: E402  (after the environment is set)

STARTED: list[subprocess.Popen[bytes]] = []


def git_state() -> str:
    """The commit and any uncommitted backend/engine changes, read when the benchmark starts (what it loads)."""
    run = functools.partial(subprocess.run, capture_output=True, text=True, check=False)
    commit = run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]).stdout.strip()
    dirty = run(["git", "-C", str(ROOT), "status", "--porcelain", "backend/src", "engine"]).stdout.split("\n")
    changed = [line[3:] for line in dirty if line.strip()]
    return commit + (f" + uncommitted changes in {', '.join(changed)}" if changed else "")


GIT_STATE = git_state()
STARTED_AT = f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC"


# --- processes, machine --------------------------------------------------------------------------


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start in its own process group; everything started is stopped at the end, even on failure."""
    with log.open("ab") as out:
        process = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    STARTED.append(process)
    return process


def stop(process: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM) -> None:
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, sig)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def py_spy(args: argparse.Namespace, name: str, pids: list[int], seconds: float) -> list[subprocess.Popen[bytes]]:
    """With --profile DIR: sample each pid for `seconds` (collapsed stacks, 100 Hz, idle frames excluded)."""
    if not args.profile:
        return []
    out = Path(args.profile)
    out.mkdir(parents=True, exist_ok=True)
    procs = []
    for pid in pids:
        cmd = [str(VENV_BIN / "py-spy"), "record", "--pid", str(pid), "--duration", str(int(seconds))]
        cmd += ["--format", "raw", "--rate", "100", "--output", str(out / f"{name}-{pid}.txt")]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return procs


def wait_profilers(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        try:
            p.wait(timeout=120)
        except subprocess.TimeoutExpired:
            p.kill()


def pg(sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(f"{PG}/{DB}", autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]


def recreate_db() -> None:
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB}"')


def drop_db() -> None:
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')


def check(response: httpx.Response, what: str) -> dict[str, Any]:
    if response.status_code >= 300:
        sys.exit(f"{what}: HTTP {response.status_code} {response.text[:500]}")
    body: dict[str, Any] = response.json()
    return body


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))]


# --- the stack -----------------------------------------------------------------------------------


@dataclass
class Stack:
    logs: Path
    api: subprocess.Popen[bytes] | None = None
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    company_id: str = ""
    worker_spec: str = ""

    def start_api(self) -> None:
        self.api = start([str(VENV_BIN / "water"), "api"], ENV, self.logs / "api.log")
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.api.poll() is not None:
                sys.exit(f"water api exited; log:\n{(self.logs / 'api.log').read_text()[-3000:]}")
            try:
                if httpx.get(f"{BASE}/api/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        sys.exit("water api not ready after 90 s")

    def start_workers(self, count: int, concurrency: int, queues: str = "default") -> None:
        # An outer PYTHONPATH stays first (e.g. an older copy of backend/src, for an A/B of a change).
        env = {**ENV, "PYTHONPATH": os.pathsep.join(p for p in (os.environ.get("PYTHONPATH"), str(HERE)) if p)}
        for i in range(count):
            metrics = self.logs / f"prometheus-{queues}-{i}"
            metrics.mkdir(exist_ok=True)
            env_i = {**env, "PROMETHEUS_MULTIPROC_DIR": str(metrics)}  # as `water worker` does
            cmd = [*worker_command(queues, concurrency), "-I", "noop_tasks", "-n", f"bench{i}-{queues}@%h"]
            self.worker_spec = " ".join(["celery", *cmd[3:]]) + f" (x{count})"
            self.workers.append(start(cmd, env_i, self.logs / f"worker-{queues}-{i}.log"))
        time.sleep(0.5)

    def wait_workers_ready(self, timeout: float = 60) -> None:
        """Ready when every prefork pool has its children."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(len(tree_pids(w.pid)) >= 2 for w in self.workers):
                time.sleep(2.0)  # connect to the broker, start consuming
                return
            time.sleep(0.2)
        sys.exit("workers did not start")

    def stop_workers(self) -> None:
        for w in self.workers:
            stop(w)
        self.workers = []

    def worker_pids(self) -> list[int]:
        """Every worker's main process (broker, dispatch) and its prefork children (the tasks)."""
        return [pid for w in self.workers for pid in tree_pids(w.pid)]

    def worker_cpu(self) -> float:
        return sum(tree_cpu_seconds(w.pid) for w in self.workers)

    def submit(self, client: httpx.Client) -> tuple[str, float, float]:
        """(run id, wall time just before the POST, POST seconds)."""
        wall = time.time()
        t0 = time.perf_counter()
        response = client.post(f"{BASE}/api/companies/{self.company_id}/valuation-runs", json=BODY)
        elapsed = time.perf_counter() - t0
        if response.status_code != 202:
            raise RuntimeError(f"submit: HTTP {response.status_code} {response.text[:300]}")
        return str(response.json()["id"]), wall, elapsed

    def client(self) -> httpx.Client:
        return httpx.Client(headers=self.headers, timeout=60)


def setup(stack: Stack) -> None:
    recreate_db()
    migrate = subprocess.run([str(VENV_BIN / "water"), "migrate"], env=ENV, capture_output=True, text=True, timeout=180)
    if migrate.returncode != 0:
        sys.exit(f"water migrate failed:\n{migrate.stdout}\n{migrate.stderr}")
    import redis

    redis.Redis.from_url(REDIS).flushdb()
    stack.start_api()
    email = f"bench-{int(time.time())}@water.example"
    check(
        httpx.post(
            f"{BASE}/api/auth/signup",
            json={"organization_name": "Bench Runs", "email": email, "password": PASSWORD},
            timeout=30,
        ),
        "signup",
    )
    token = check(
        httpx.post(f"{BASE}/api/auth/token", data={"username": email, "password": PASSWORD}, timeout=30), "token"
    )["access_token"]
    stack.headers = {"Authorization": f"Bearer {token}"}
    with stack.client() as client:
        company = check(client.post(f"{BASE}/api/companies/from-symbol", json={"symbol": "DAQI"}), "from-symbol")
        stack.company_id = company["id"]
        # Market data is refreshed by a low_priority worker, stopped before anything is measured.
        low = start(
            [str(VENV_BIN / "water"), "worker", "-Q", "low_priority", "--concurrency", "1"],
            {**ENV, "WATER_DATA_DIR": str(stack.logs / "data")},
            stack.logs / "worker-low.log",
        )
        job = check(client.post(f"{BASE}/api/companies/{stack.company_id}/refresh"), "refresh")
        for _ in range(600):
            job = check(client.get(f"{BASE}/api/jobs/{job['id']}"), "job")
            if job["status"] in ("succeeded", "failed"):
                break
            time.sleep(0.2)
        stop(low)
        if job["status"] != "succeeded":
            sys.exit(f"refresh did not succeed: {job}")


# --- the SSE listener ----------------------------------------------------------------------------


class EventListener:
    """Reads GET /api/events in a thread; records every event with its arrival time."""

    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = headers
        self.events: dict[str, list[tuple[str, int, float, float]]] = defaultdict(list)  # run -> (type, id, perf, wall)
        self.cond = threading.Condition()
        self.ready = threading.Event()
        self.stopping = False
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self.thread.start()
        if not self.ready.wait(30):
            sys.exit(f"SSE stream did not open: {self.error}")

    def _run(self) -> None:
        import json

        try:
            timeout = httpx.Timeout(30, read=60)
            with (
                httpx.Client(headers=self.headers, timeout=timeout) as client,
                client.stream("GET", f"{BASE}/api/events") as response,
            ):
                if response.status_code != 200:
                    raise RuntimeError(f"GET /api/events: HTTP {response.status_code}")
                event_type, event_id = "", 0
                for line in response.iter_lines():
                    if self.stopping:
                        return
                    if line.startswith("retry:"):
                        self.ready.set()
                    elif line.startswith("id: "):
                        event_id = int(line[4:])
                    elif line.startswith("event: "):
                        event_type = line[7:]
                    elif line.startswith("data: "):
                        perf, wall = time.perf_counter(), time.time()
                        run_id = json.loads(line[6:]).get("run_id", "")
                        with self.cond:
                            self.events[run_id].append((event_type, event_id, perf, wall))
                            self.cond.notify_all()
        except BaseException as exc:  # reported by the waiters
            if not self.stopping:
                self.error = exc
            self.ready.set()
            with self.cond:
                self.cond.notify_all()

    def wait_for(self, run_id: str, event_type: str, timeout: float) -> tuple[float, float] | None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for etype, _eid, perf, wall in self.events.get(run_id, []):
                    if etype == event_type:
                        return perf, wall
                left = deadline - time.monotonic()
                if left <= 0 or self.error is not None:
                    return None
                self.cond.wait(left)

    def stop(self) -> None:
        self.stopping = True


# --- 1. latency ----------------------------------------------------------------------------------


def run_latency(stack: Stack, listener: EventListener, runs: int, warmup: int) -> dict[str, Any]:
    e2e, post, ids, walls = [], [], [], []
    ev_wall: dict[str, float] = {}
    load_start = load_avg()
    cpu0 = stack.worker_cpu()
    with stack.client() as client:
        for i in range(warmup + runs):
            t0 = time.perf_counter()
            run_id, wall, post_s = stack.submit(client)
            got = listener.wait_for(run_id, "run.succeeded", 30)
            if got is None:
                sys.exit(f"run {run_id}: no run.succeeded event within 30 s (listener error: {listener.error})")
            if i >= warmup:
                e2e.append((got[0] - t0) * 1000)
                post.append(post_s * 1000)
                ids.append(run_id)
                walls.append(wall)
                ev_wall[run_id] = got[1]
            time.sleep(0.02)  # idle between runs
    cpu = stack.worker_cpu() - cpu0
    rows = {
        str(r[0]): r[1:]
        for r in pg(
            "SELECT id, queued_at, started_at, finished_at, compute_ms, attempts, status FROM valuation_runs"
            " WHERE id = ANY(%s)",
            (ids,),
        )
    }
    q_run, run_fin, fin_ev, compute, sub_q = [], [], [], [], []
    for run_id, wall in zip(ids, walls, strict=True):
        queued_at, started_at, finished_at, compute_ms, _attempts, _status = rows[run_id]
        sub_q.append((queued_at.timestamp() - wall) * 1000)
        q_run.append((started_at - queued_at).total_seconds() * 1000)
        run_fin.append((finished_at - started_at).total_seconds() * 1000)
        fin_ev.append((ev_wall[run_id] - finished_at.timestamp()) * 1000)
        compute.append(compute_ms)
    return {
        "runs": runs,
        "warmup": warmup,
        "e2e": e2e,
        "post": post,
        "submit_to_queued_at": sub_q,
        "queued_to_running": q_run,
        "running_to_finished": run_fin,
        "compute": compute,
        "finished_to_event": fin_ev,
        "worker_cpu_ms_per_run": cpu / (warmup + runs) * 1000,
        "load_start": load_start,
        "load_end": load_avg(),
    }


# --- helpers for many submissions ----------------------------------------------------------------


def submit_many(stack: Stack, count: int, clients: int) -> tuple[list[str], float, float, list[float]]:
    """Submit `count` runs with `clients` concurrent HTTP clients; (ids, wall start, seconds, POST ms)."""
    per = [count // clients + (1 if i < count % clients else 0) for i in range(clients)]

    def one_client(n: int) -> list[tuple[str, float]]:
        out = []
        with stack.client() as client:
            for _ in range(n):
                run_id, _wall, post_s = stack.submit(client)
                out.append((run_id, post_s * 1000))
        return out

    wall0, t0 = time.time(), time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(one_client, per))
    elapsed = time.perf_counter() - t0
    flat = [r for chunk in results for r in chunk]
    return [r[0] for r in flat], wall0, elapsed, [r[1] for r in flat]


def status_counts(ids: list[str]) -> dict[str, int]:
    return {
        str(s): int(n)
        for s, n in pg("SELECT status, count(*) FROM valuation_runs WHERE id = ANY(%s) GROUP BY 1", (ids,))
    }


# --- 2. burst ------------------------------------------------------------------------------------


def run_burst(stack: Stack, listener: EventListener, args: argparse.Namespace) -> dict[str, Any]:
    count, clients = args.burst, args.clients
    time.sleep(1.0)  # every earlier run has finished; rows queued from now on belong to the burst
    load_start = load_avg()
    profiler = py_spy(args, "api-submit", [stack.api.pid] if stack.api else [], 15)
    t0 = time.perf_counter()
    ids, wall0, submit_s, post_ms = submit_many(stack, count, clients)
    wait_profilers(profiler)
    drained = False
    for _ in range(3000):  # up to 10 minutes
        counts = status_counts(ids)
        if counts.get("succeeded", 0) + counts.get("failed", 0) + counts.get("cancelled", 0) >= len(set(ids)):
            drained = True
            break
        time.sleep(0.2)
    last_event_perf = 0.0
    for _ in range(100):  # the last events may trail the rows by a few ms
        with listener.cond:
            missing = [r for r in ids if not any(e[0] == "run.succeeded" for e in listener.events.get(r, []))]
        if not missing:
            break
        time.sleep(0.1)
    time.sleep(1.0)  # let any duplicate event arrive before counting
    with listener.cond:
        sse = {r: list(listener.events.get(r, [])) for r in ids}
    for evs in sse.values():
        for etype, _eid, perf, _wall in evs:
            if etype == "run.succeeded":
                last_event_perf = max(last_event_perf, perf)
    rows = pg(
        "SELECT id, status, attempts, queued_at, finished_at FROM valuation_runs WHERE queued_at >= %s",
        (dt.datetime.fromtimestamp(wall0, dt.UTC),),
    )
    db_events = pg(
        "SELECT run_id, type, count(*) FROM run_events WHERE run_id = ANY(%s) GROUP BY 1, 2",
        (ids,),
    )
    by_type: dict[str, list[int]] = defaultdict(list)
    for _run, etype, n in db_events:
        by_type[etype].append(int(n))
    finished = [r[4] for r in rows if r[4] is not None]
    sse_succeeded = [sum(1 for e in evs if e[0] == "run.succeeded") for evs in sse.values()]
    expected = ["run.queued", "run.running", "run.succeeded"]
    in_order = sum(1 for evs in sse.values() if [e[0] for e in evs] == expected)
    missing_by_type = {t: sum(1 for evs in sse.values() if t not in [e[0] for e in evs]) for t in expected}
    db_ids = pg("SELECT type, count(*) FROM run_events WHERE run_id = ANY(%s) GROUP BY 1", (ids,))
    return {
        "count": count,
        "clients": clients,
        "distinct_ids": len(set(ids)),
        "rows": len(rows),
        "statuses": dict(sorted({str(s): sum(1 for r in rows if r[1] == s) for s in {r[1] for r in rows}}.items())),
        "attempts_not_1": sum(1 for r in rows if r[2] != 1),
        "db_succeeded_events": (len(by_type["run.succeeded"]), max(by_type["run.succeeded"], default=0)),
        "sse_succeeded": (sum(1 for n in sse_succeeded if n == 1), sum(1 for n in sse_succeeded if n > 1)),
        "sse_in_order": in_order,
        "sse_missing": missing_by_type,
        "db_events_by_type": {str(t): int(n) for t, n in db_ids},
        "drained": drained,
        "submit_s": submit_s,
        "submit_rps": count / submit_s,
        "post_p50": pct(post_ms, 50),
        "post_p99": pct(post_ms, 99),
        "drain_db_s": (max(finished).timestamp() - wall0) if finished else float("nan"),
        "drain_event_s": (last_event_perf - t0) if last_event_perf else float("nan"),
        "load_start": load_start,
        "load_end": load_avg(),
    }


# --- 3. throughput -------------------------------------------------------------------------------


def clone_runs(seeds: list[str], count: int) -> list[str]:
    """Copy API-submitted queued runs in SQL (new ids, same requests and snapshots) and send each one's
    task exactly as the API does (`send_now`): the workers get the same work, without the API's cost."""
    from water.valuations.tasks import run_valuation
    from water.worker.celery_app import celery_app
    from water.worker.task import REQUEST_ID_HEADER

    skip = {"id", "idempotency_key", "created_at", "updated_at", "queued_at"}
    columns = [
        str(r[0])
        for r in pg(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'valuation_runs'"
            " ORDER BY ordinal_position"
        )
        if r[0] not in skip
    ]
    cols = ", ".join(columns)
    new_ids: list[str] = []
    per = [count // len(seeds) + (1 if i < count % len(seeds) else 0) for i in range(len(seeds))]
    with psycopg.connect(f"{PG}/{DB}") as conn:
        for seed, n in zip(seeds, per, strict=True):
            rows = conn.execute(
                f"INSERT INTO valuation_runs (id, queued_at, {cols}) "  # noqa: S608  (column names from the catalog)
                f"SELECT gen_random_uuid(), clock_timestamp(), {cols} FROM valuation_runs, generate_series(1, %s) "
                "WHERE id = %s RETURNING id",
                (n, seed),
            ).fetchall()
            new_ids += [str(r[0]) for r in rows]
        conn.commit()
    with celery_app.producer_or_acquire() as producer:
        for run_id in new_ids:
            run_valuation.apply_async(args=(run_id,), headers={REQUEST_ID_HEADER: None}, producer=producer)
    return new_ids


def publish_noops(count: int) -> float:
    from noop_tasks import noop

    from water.worker.celery_app import celery_app

    t0 = time.perf_counter()
    with celery_app.producer_or_acquire() as producer:
        for _ in range(count):
            noop.apply_async(producer=producer)
    return time.perf_counter() - t0


def queue_len() -> int:
    import redis

    return int(redis.Redis.from_url(REDIS).llen("default"))


def measure_noop_pilot(stack: Stack, count: int) -> float:
    """Rough no-op tasks/s with the workers running (to size the real measurement)."""
    t0 = time.perf_counter()
    publish_noops(count)
    for _ in range(6000):
        if queue_len() == 0:
            break
        time.sleep(0.01)
    return count / (time.perf_counter() - t0)


def run_throughput(stack: Stack, args: argparse.Namespace, est_water_rps: float, est_noop_rps: float) -> dict[str, Any]:
    window, warm = args.window, 5.0
    n_runs = args.runs or int(min(args.max_runs, max(1500, est_water_rps * (window + warm + 10) * 1.5)))
    n_noop = args.noops or int(min(400_000, max(20_000, est_noop_rps * (window + warm + 10) * 1.5)))
    stack.stop_workers()
    load_submit = load_avg()
    if args.preload == "api":
        ids, _wall0, submit_s, post_ms = submit_many(stack, n_runs, args.clients)
    else:
        seeds, _wall0, _s, post_ms = submit_many(stack, 100, args.clients)
        t0 = time.perf_counter()
        ids = clone_runs(seeds, n_runs - len(seeds)) + seeds
        submit_s = time.perf_counter() - t0
    noop_publish_s = publish_noops(n_noop)
    in_queue = queue_len()
    result: dict[str, Any] = {
        "runs": n_runs,
        "noops": n_noop,
        "submit_s": submit_s,
        "submit_rps": n_runs / submit_s,
        "post_p50": pct(post_ms, 50),
        "post_p99": pct(post_ms, 99),
        "noop_publish_s": noop_publish_s,
        "queue_before": in_queue,
        "load_submit": load_submit,
    }
    # Water: the workers start and drain the runs; the window opens 5 s after the first finish.
    stack.start_workers(args.workers, args.concurrency)
    first = None
    for _ in range(1200):
        row = pg("SELECT min(finished_at) FROM valuation_runs WHERE finished_at IS NOT NULL")[0][0]
        if row is not None:
            first = row
            break
        time.sleep(0.1)
    if first is None:
        sys.exit("no run finished within 120 s of starting the workers")
    time.sleep(warm)
    w_start = time.time()
    load_w = load_avg()
    cpu0, busy0 = stack.worker_cpu(), machine_busy()
    profilers = py_spy(args, "worker-water", stack.worker_pids(), min(30, window))
    time.sleep(window)
    w_end = time.time()
    wait_profilers(profilers)
    cpu1, busy1 = stack.worker_cpu(), machine_busy()
    done_in_window, last_in_window = pg(
        "SELECT count(*), max(finished_at) FROM valuation_runs WHERE finished_at >= %s AND finished_at < %s",
        (dt.datetime.fromtimestamp(w_start, dt.UTC), dt.datetime.fromtimestamp(w_end, dt.UTC)),
    )[0]
    left = status_counts(ids).get("queued", 0)
    result.update(
        water_window_s=w_end - w_start,
        water_done=int(done_in_window),
        water_rps=int(done_in_window) / (w_end - w_start),
        water_queued_left=left,
        water_cpu_ms=(cpu1 - cpu0) / max(1, int(done_in_window)) * 1000,
        water_worker_cores=(cpu1 - cpu0) / (w_end - w_start),
        water_machine_busy=(busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1]),
        water_load=load_w,
    )
    if left == 0:
        result["water_note"] = f"queue drained inside the window (last finish {last_in_window})"
    # Wait for Water's runs to drain; the no-ops are behind them in the queue.
    for _ in range(12000):
        c = status_counts(ids)
        if c.get("queued", 0) + c.get("running", 0) == 0:
            break
        time.sleep(0.1)
    result["water_statuses"] = status_counts(ids)
    time.sleep(warm)
    l0, t0 = queue_len(), time.time()
    load_n = load_avg()
    cpu0, busy0 = stack.worker_cpu(), machine_busy()
    empty_at = None
    profilers = py_spy(args, "worker-noop", stack.worker_pids(), min(30, window))
    while time.time() - t0 < window:
        time.sleep(0.5)
        if queue_len() == 0:
            empty_at = time.time()
            break
    t1 = empty_at or time.time()
    l1 = queue_len()
    wait_profilers(profilers)
    cpu1, busy1 = stack.worker_cpu(), machine_busy()
    consumed = l0 - l1
    result.update(
        noop_window_s=t1 - t0,
        noop_done=consumed,
        noop_rps=consumed / (t1 - t0),
        noop_left=l1,
        noop_cpu_ms=(cpu1 - cpu0) / max(1, consumed) * 1000,
        noop_worker_cores=(cpu1 - cpu0) / (t1 - t0),
        noop_machine_busy=(busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1]),
        noop_load=load_n,
    )
    if empty_at is not None:
        result["noop_note"] = "queue emptied inside the window"
    import redis

    redis.Redis.from_url(REDIS).delete("default")  # the no-ops left over
    return result


# --- report --------------------------------------------------------------------------------------


def fmt(x: float, nd: int = 1) -> str:
    return f"{x:,.{nd}f}"


def yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


def report(
    stack: Stack, args: argparse.Namespace, lat: dict[str, Any], burst: dict[str, Any], thr: dict[str, Any]
) -> None:
    cpu = next(
        (x.split(":", 1)[1].strip() for x in Path("/proc/cpuinfo").read_text().splitlines() if "model name" in x),
        platform.processor(),
    )
    mem_kb = int(next(x.split()[1] for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemTotal")))
    print(f"# Valuation runs benchmark ({dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC)\n")
    print(f"- Machine: {cpu}, {os.cpu_count()} CPU(s), {mem_kb / 1024 / 1024:.1f} GiB RAM; {platform.platform()}")
    print(
        f"- Python {platform.python_version()}; Water at {GIT_STATE}; started {STARTED_AT}; `water api` (1 uvicorn worker)"
    )
    print(f"- Workers: `{stack.worker_spec}`")
    print(f"- Body: `{BODY}` (Ginzu DCF + default 21x21 sensitivity grid), company DAQI (demo data)\n")
    targets: list[tuple[str, str, str, str]] = []

    if lat:
        print("## 1. Idle latency: submit -> `run.succeeded` event (SSE), sequential\n")
        print(
            f"{lat['runs']} runs after {lat['warmup']} warm-up, one at a time (20 ms pause between runs); "
            f"load {lat['load_start']} -> {lat['load_end']}; worker CPU {fmt(lat['worker_cpu_ms_per_run'], 2)} ms/run\n"
        )
        print("| Segment | p50 ms | p90 ms | p99 ms | max ms |")
        print("|---|---:|---:|---:|---:|")
        for name, key in [
            ("**submit -> `run.succeeded` event** (client clock)", "e2e"),
            ("POST latency (client)", "post"),
            ("before POST -> row `queued_at` (API)", "submit_to_queued_at"),
            ("`queued_at` -> `started_at` (commit, send, broker, worker, claim)", "queued_to_running"),
            ("`started_at` -> `finished_at` (load row, engine, result)", "running_to_finished"),
            ("of which `compute_ms` (water_engine)", "compute"),
            ("`finished_at` -> event received (UPDATE, event, commit, publish, SSE)", "finished_to_event"),
        ]:
            v = lat[key]
            print(f"| {name} | {fmt(pct(v, 50), 2)} | {fmt(pct(v, 90), 2)} | {fmt(pct(v, 99), 2)} | {fmt(max(v), 2)} |")
        p50, p99 = pct(lat["e2e"], 50), pct(lat["e2e"], 99)
        targets.append(("submit -> succeeded event p50 (idle)", "<= 100 ms", f"{fmt(p50, 2)} ms", yes(p50 <= 100)))
        targets.append(("submit -> succeeded event p99 (idle)", "<= 300 ms", f"{fmt(p99, 2)} ms", yes(p99 <= 300)))
        print()

    if thr:
        print("## 2. Throughput: Water runs/s beside a no-op Celery task, same workers, same run\n")
        if args.preload == "api":
            how = f"{thr['runs']:,} runs submitted through the API by {args.clients} concurrent clients"
        else:
            how = (
                f"100 runs submitted through the API by {args.clients} concurrent clients, cloned in SQL to "
                f"{thr['runs']:,} queued rows (new ids, same requests and snapshots) and their tasks sent as the API "
                f"sends them (`run_valuation.apply_async`)"
            )
        print(
            f"Workers stopped; {how} in {fmt(thr['submit_s'])} s (load {thr['load_submit']}); then "
            f"{thr['noops']:,} `bench.noop` tasks published behind them on `default` in {fmt(thr['noop_publish_s'])} s "
            f"({thr['queue_before']:,} messages queued). Workers started; Water's window opens 5 s after the first run "
            f"finishes (runs counted by `finished_at`); the no-op window 5 s after the last run (tasks counted by the "
            f"queue length).\n"
        )
        ratio = thr["water_rps"] / thr["noop_rps"] if thr["noop_rps"] else float("nan")
        water_note = thr.get("water_note", f"{thr['water_queued_left']:,} still queued at the end")
        noop_note = thr.get("noop_note", f"{thr['noop_left']:,} still queued at the end")
        print(
            "| Task | Window s | Completed | Per second | Worker CPU ms/task | Worker cores busy | Machine CPU busy "
            "| Load at window start | Note |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---|---|")
        for label, k, nd, note in [
            ("`valuations.run` (Ginzu + 21x21)", "water", 2, water_note),
            ("`bench.noop`", "noop", 3, noop_note),
        ]:
            print(
                f"| {label} | {fmt(thr[f'{k}_window_s'])} | {thr[f'{k}_done']:,} | **{fmt(thr[f'{k}_rps'])}** | "
                f"{fmt(thr[f'{k}_cpu_ms'], nd)} | {fmt(thr[f'{k}_worker_cores'], 2)} | "
                f"{thr[f'{k}_machine_busy']:.0%} | {thr[f'{k}_load']} | {note} |"
            )
        print(f"\nWater runs, all: {thr['water_statuses']}. Water / no-op = {ratio:.1%}.\n")
        rps = thr["water_rps"]
        targets.append(("runs/s, two worker processes, 60 s", ">= 150", fmt(rps), yes(rps >= TARGET_RPS)))
        targets.append(("Water / no-op Celery task", ">= 30%", f"{ratio:.1%}", yes(ratio >= GOAL_NOOP_RATIO)))

    if burst:
        n = burst["count"]
        print(f"## 3. A {n:,}-run burst\n")
        print(
            f"{n:,} runs submitted by {burst['clients']} concurrent clients in {fmt(burst['submit_s'], 2)} s "
            f"({fmt(burst['submit_rps'])} submits/s; POST p50 {fmt(burst['post_p50'])} ms, p99 "
            f"{fmt(burst['post_p99'])} ms) with the workers running; load {burst['load_start']} -> "
            f"{burst['load_end']}.\n"
        )
        one, most = burst["db_succeeded_events"]
        sse_one, sse_more = burst["sse_succeeded"]
        print("| Check | Result |")
        print("|---|---|")
        print(f"| distinct run ids returned | {burst['distinct_ids']:,} |")
        print(f"| run rows queued since the burst started | {burst['rows']:,} |")
        print(f"| statuses | {burst['statuses']} |")
        print(f"| runs with attempts != 1 | {burst['attempts_not_1']} |")
        print(f"| run_events rows by type | {burst['db_events_by_type']} |")
        print(f"| runs with a `run.succeeded` row / most rows for one run | {one:,} / {most} |")
        print(f"| SSE: runs with exactly one `run.succeeded` / with more | {sse_one:,} / {sse_more} |")
        print(f"| SSE: runs missing an event, by type | {burst['sse_missing']} |")
        print(f"| SSE: runs whose events were exactly queued, running, succeeded | {burst['sse_in_order']:,} |")
        print(f"| time to drain: first POST -> last `finished_at` | {fmt(burst['drain_db_s'], 2)} s |")
        print(
            f"| time to drain: first POST -> last `run.succeeded` event received | {fmt(burst['drain_event_s'], 2)} s |"
        )
        print()
        lost_ok = burst["rows"] == n == burst["distinct_ids"] and burst["statuses"] == {"succeeded": n}
        dup_ok = burst["attempts_not_1"] == 0 and (one, most) == (n, 1) and sse_more == 0
        sse_ok = burst["sse_in_order"] == n
        rows = f"{burst['rows']:,} rows, {burst['statuses']}"
        dups = f"attempts != 1: {burst['attempts_not_1']}; most succeeded rows per run: {most}; SSE dupes: {sse_more}"
        missing = sum(burst["sse_missing"].values())
        targets.append((f"{n:,}-run burst: none lost", f"{n:,} rows, all succeeded", rows, yes(lost_ok)))
        targets.append((f"{n:,}-run burst: none duplicated", "one succeeded each, attempts 1", dups, yes(dup_ok)))
        targets.append(
            (
                f"{n:,}-run burst: SSE delivers every state change in order",
                "3 events per run",
                f"{burst['sse_in_order']:,} runs complete; {missing} events never delivered",
                yes(sse_ok),
            )
        )
        targets.append((f"{n:,}-run burst: time to drain", "reported", f"{fmt(burst['drain_db_s'], 2)} s", "-"))

    print("## Targets\n")
    print("| Target | Goal | Measured | Met |")
    print("|---|---|---:|---|")
    for row in targets:
        print("| " + " | ".join(row) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency-runs", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1, help="worker processes (celery worker commands)")
    parser.add_argument("--concurrency", type=int, default=2, help="prefork children per worker")
    parser.add_argument("--clients", type=int, default=8, help="concurrent HTTP clients for the burst and pre-load")
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--runs", type=int, default=0, help="runs to pre-load (default: sized from the latency phase)")
    parser.add_argument("--max-runs", type=int, default=15000)
    parser.add_argument("--noops", type=int, default=0, help="no-op tasks to pre-load (default: sized by a pilot)")
    parser.add_argument("--skip", default="", help="comma-separated phases to skip: latency,burst,throughput")
    parser.add_argument(
        "--preload",
        choices=["clone", "api"],
        default="clone",
        help="throughput pre-load: 100 runs through the API cloned in SQL (clone), or all through the API (api)",
    )
    parser.add_argument(
        "--profile",
        default="",
        help="directory for py-spy collapsed stacks (API during the burst, "
        "worker children during both throughput windows)",
    )
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--keep-logs", action="store_true")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    logs = Path(tempfile.mkdtemp(prefix="bench-runs-"))
    stack = Stack(logs)
    listener: EventListener | None = None
    try:
        print(f"setting up (logs in {logs}) ...", file=sys.stderr)
        setup(stack)
        stack.start_workers(args.workers, args.concurrency)
        stack.wait_workers_ready()
        listener = EventListener(stack.headers)
        listener.start()
        lat: dict[str, Any] = {}
        if "latency" not in skip:
            print("latency ...", file=sys.stderr)
            lat = run_latency(stack, listener, args.latency_runs, args.warmup)
        burst: dict[str, Any] = {}
        if "burst" not in skip:
            print("burst ...", file=sys.stderr)
            burst = run_burst(stack, listener, args)
        thr: dict[str, Any] = {}
        if "throughput" not in skip:
            per_run_ms = statistics.mean(lat["running_to_finished"]) + 3.0 if lat else 10.0
            est_water = args.workers * args.concurrency * 1000 / per_run_ms
            print("no-op pilot ...", file=sys.stderr)
            est_noop = measure_noop_pilot(stack, 3000)
            print(f"throughput (estimates: water {est_water:.0f}/s, noop {est_noop:.0f}/s) ...", file=sys.stderr)
            thr = run_throughput(stack, args, est_water, est_noop)
        listener.stop()
        report(stack, args, lat, burst, thr)
    finally:
        if listener is not None:
            listener.stop()
        for process in reversed(STARTED):
            stop(process)
        if not args.keep_db:
            drop_db()
        if not args.keep_logs:
            import shutil

            shutil.rmtree(logs, ignore_errors=True)


if __name__ == "__main__":
    main()

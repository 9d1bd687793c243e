"""Market-data benchmark (issue 4): cached reads, refresh throughput, and zero-call valuation inputs.

One driver, three measurements, against a fake Alpha Vantage on loopback (started in this
process: `FakeAlphaVantage` from backend/tests/fakes, answering from the generated demo data):

1. Cached reads: `nice -n 19 wrk -t2 -c32 -d10s --latency` on `GET /api/companies/{id}/quote`
   and `GET /api/companies/{id}/financials` (Bearer JWT) after the company was refreshed by a
   worker; `GET /api/companies/{id}` beside them as the baseline of the same stack. Twice:
   saturating (each connection sends its next request as soon as it has the answer: the p99 is
   then the queue of 32 requests, 32 / throughput), and paced (each connection waits an
   exponential think time between requests, as independent users do, at set mean rates).
   Target: p99 <= 10 ms.
2. Refresh throughput: 100 companies refreshed by two worker processes
   (`water worker -Q low_priority --concurrency 1`, twice) with an unlimited quota, timed from
   the first `POST /api/companies/{id}/refresh` until all 100 jobs are `succeeded` (polled in
   PostgreSQL). The raw cache (`water:md:raw:*`) is emptied first. Two scenarios:
   * distinct: 100 different tickers in one organization. The fake server knows only the demo
     symbols, so the bench serves aliases (DAQI001 answers as DAQI with the symbol rewritten):
     every company costs 9 real provider calls (900 in all);
   * shared: 34 organizations holding DAQI, DBRK and DCSH (100 companies, 3 distinct symbols):
     the shared Redis cache deduplicates across organizations, so few provider calls.
   Target: >= 50 companies/s.
3. Market inputs: `GET /api/companies/{id}/market-inputs` twice after emptying the raw cache;
   the fake server's request count for each call (target: 0 for the second) and both times.

    .venv/bin/python bench/market_data/bench_market_data.py [--rounds 2] [--duration 10] [--profile DIR]

`--api-workers N` runs the API as N uvicorn processes (the Kubernetes base runs 2 API replicas,
one process each); server CPU is then the sum over them.

`--profile DIR` also records py-spy (raw collapsed stacks) of the API during one extra wrk run
per cached endpoint and of both workers during an extra distinct refresh run.

PostgreSQL: WATER_BENCH_PG (default postgresql://postgres@127.0.0.1:5432), trust auth; the
database water_bench_md is dropped and re-created, and dropped again at the end.
Redis: WATER_BENCH_MD_REDIS (default redis://127.0.0.1:6379/7); that database is flushed at the
start and at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import redis

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "backend" / "tests"))
sys.path.insert(0, str(ROOT / "bench"))
from fakes.alphavantage_server import FakeAlphaVantage  # noqa: E402

from procstat import cpu_model, load_avg, memory_gib, tree_cpu_seconds, tree_pids  # noqa: E402  (bench/procstat.py)

VENV_BIN = Path(sys.executable).parent
PG = os.environ.get("WATER_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
REDIS = os.environ.get("WATER_BENCH_MD_REDIS", "redis://127.0.0.1:6379/7")
DB = "water_bench_md"
HOST = "127.0.0.1"
PORT = 18141
SECRET = secrets.token_urlsafe(48)
PASSWORD = "Bb9-" + secrets.token_urlsafe(18)
API_KEY = "BENCHKEY" + secrets.token_hex(4).upper()
SYMBOLS = ("DAQI", "DBRK", "DCSH")  # DSPY (the benchmark ETF) has no statements, so its refresh fails
CALLS_PER_COMPANY = 9
TARGET_P99_MS = 10.0
TARGET_COMPANIES_PER_S = 50.0
POLL_SECONDS = 0.05
STARTED: list[subprocess.Popen[bytes]] = []
ALIAS = re.compile(r"^(D[A-Z]{3})(\d{3})$")
CLIENT = httpx.Client(timeout=60, limits=httpx.Limits(max_connections=16))  # one client: no TLS set-up per call


class AliasingFake(FakeAlphaVantage):
    """The fake server, plus aliases: `DAQI001` is answered as `DAQI` with the symbol rewritten.

    Base answers are memoised, so the fake costs little CPU per request (a remote vendor's
    work is not on this machine either); counts still come from `FakeAlphaVantage.record`.
    """

    def __init__(self) -> None:
        super().__init__()
        self._memo: dict[tuple[tuple[str, str], ...], tuple[int, str, bytes]] = {}
        # FakeAlphaVantage as shipped leaves Nagle on: a small response written after its headers
        # waits for the client's delayed ACK, about 40 ms per request on loopback. TCP_NODELAY is
        # set per new connection while this is True (the default here); False keeps the shipped behaviour.
        self.nodelay = True

    def start(self) -> AliasingFake:
        super().start()
        assert self._server is not None
        fake = self

        class Handler(self._server.RequestHandlerClass):  # type: ignore[name-defined,misc]
            @property
            def disable_nagle_algorithm(self) -> bool:  # read by StreamRequestHandler.setup per connection
                return fake.nodelay

        self._server.RequestHandlerClass = Handler
        return self

    def answer(self, query: dict[str, str]) -> tuple[int, str, bytes]:
        symbol = query.get("symbol", "")
        match = ALIAS.match(symbol.upper())
        base_query = {**query, "symbol": match.group(1)} if match else query
        key = tuple(sorted((k, v) for k, v in base_query.items() if k != "apikey"))
        cached = self._memo.get(key)
        if cached is None:
            cached = super().answer(base_query)
            self._memo[key] = cached
        status, content_type, body = cached
        if match:
            body = body.replace(f'"{match.group(1)}"'.encode(), f'"{symbol.upper()}"'.encode())
        return status, content_type, body


# --- processes -----------------------------------------------------------------------------


def fake_in_child_process() -> tuple[subprocess.Popen[str], str]:
    """An AliasingFake in a process of its own (for in-process measurements of Water: the fake's
    threads then neither compete for the measured process's GIL nor count in its CPU); its URL."""
    code = (
        f"import sys, time; sys.path.insert(0, {str(Path(__file__).resolve().parent)!r}); "
        "from bench_market_data import AliasingFake; "
        "fake = AliasingFake().start(); print(fake.url, flush=True); time.sleep(24 * 3600)"
    )
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def self_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start a process in its own group; every one started is stopped at the end, even on failure."""
    with log.open("ab") as out:
        process = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    STARTED.append(process)
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


# Water commits the request's transaction after the response is sent (get_session is a yield dependency
# with FastAPI's default "request" scope), so a request sent right after a 201 may not see its row yet.
# The bench retries those (bounded) and counts them for the report.
RACE_RETRIES: dict[str, int] = {}


def post_seeing_writes(url: str, what: str, not_yet: int, **kwargs: Any) -> httpx.Response:
    """POST; on `not_yet` (401/404: the previous request's commit is not visible yet) retry up to 20 times.

    Also once when a kept-alive connection was reset: uvicorn closes idle ones after 5 s, and a
    request sent on one at that moment never reached the application.
    """
    try:
        response = CLIENT.post(url, **kwargs)
    except (httpx.ReadError, httpx.RemoteProtocolError):
        RACE_RETRIES["connection reset while idle"] = RACE_RETRIES.get("connection reset while idle", 0) + 1
        response = CLIENT.post(url, **kwargs)
    for _ in range(20):
        if response.status_code != not_yet:
            break
        RACE_RETRIES[what] = RACE_RETRIES.get(what, 0) + 1
        time.sleep(0.05)
        response = CLIENT.post(url, **kwargs)
    return response


def check(response: httpx.Response, what: str) -> Any:
    if response.status_code >= 300:
        sys.exit(f"{what}: HTTP {response.status_code} {response.text[:500]}")
    return response.json()


# --- set-up --------------------------------------------------------------------------------


def recreate_db() -> None:
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB}"')


def drop_db() -> None:
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')


def water_env(fake_url: str, data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "WATER_DATABASE_URL": f"{PG}/{DB}",
        "WATER_REDIS_URL": REDIS,
        "WATER_ENVIRONMENT": "production",
        "WATER_SECRET_KEY": SECRET,
        "WATER_LOG_LEVEL": "WARNING",
        "WATER_HOST": HOST,
        "WATER_PORT": str(PORT),
        "WATER_DATA_DIR": str(data_dir),
        "WATER_ALPHAVANTAGE_API_KEY": API_KEY,
        "WATER_ALPHAVANTAGE_BASE_URL": fake_url,
        "WATER_MARKET_DATA_DEMO": "false",
        "WATER_MARKET_DATA_REQUESTS_PER_SECOND": "100000",
        "WATER_MARKET_DATA_BURST": "100000",
        "WATER_MARKET_DATA_DAILY_BUDGET": "-1",
        "WATER_MARKET_DATA_BENCHMARK": "DSPY",
        "WATER_LOGIN_MAX_ATTEMPTS_PER_ADDRESS": "1000",
        "WATER_WORKER_METRICS_PORT": "0",  # several workers on one host; not measured here
    }


def api_processes(workers: int) -> str:
    if workers == 1:
        return "one uvicorn worker (`water api`), "
    return f"{workers} uvicorn workers (`water api --workers {workers}`; the deployment runs API replicas), "


def start_api(env: dict[str, str], logs: Path, workers: int = 1) -> tuple[subprocess.Popen[bytes], str]:
    log = logs / "api.log"
    process = start([str(VENV_BIN / "water"), "api", "--workers", str(workers)], env, log)
    base = f"http://{HOST}:{PORT}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"the API exited with {process.returncode}; log:\n{log.read_text()[-3000:]}")
        try:
            if CLIENT.get(f"{base}/api/readyz", timeout=2).status_code == 200:
                return process, base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    sys.exit(f"the API is not ready after 90 s; log:\n{log.read_text()[-3000:]}")


def start_worker(env: dict[str, str], logs: Path, name: str, queues: str, concurrency: int) -> subprocess.Popen[bytes]:
    data_dir = logs / f"data-{name}"  # own metrics directory: `water worker` empties it on start
    data_dir.mkdir(exist_ok=True)
    cmd = [str(VENV_BIN / "water"), "worker", "-Q", queues, "--concurrency", str(concurrency)]
    return start(cmd, {**env, "WATER_DATA_DIR": str(data_dir)}, logs / f"worker-{name}.log")


def wait_worker_ready(process: subprocess.Popen[bytes], concurrency: int, log: Path, timeout: float = 90.0) -> None:
    """Until the worker has forked its pool children (its "ready." line is INFO, below the log level), + 1 s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"the worker exited with {process.returncode}; log:\n{log.read_text()[-3000:]}")
        if len(tree_pids(process.pid)) > concurrency:
            time.sleep(1.0)
            return
        time.sleep(0.2)
    sys.exit(f"worker not ready after {timeout:.0f} s; log:\n{log.read_text()[-3000:]}")


def sign_up(base: str, n: int) -> dict[str, str]:
    email = f"md-bench-{n}-{secrets.token_hex(3)}@water.example"
    body = {"organization_name": f"MD Bench {n}", "email": email, "password": PASSWORD}
    check(CLIENT.post(f"{base}/api/auth/signup", json=body, timeout=60), "signup")
    form = {"username": email, "password": PASSWORD}
    token = check(post_seeing_writes(f"{base}/api/auth/token", "token after signup", 401, data=form), "token")[
        "access_token"
    ]
    CLIENT.cookies.clear()  # the refresh-token cookie; requests here use the Bearer header only
    return {"Authorization": f"Bearer {token}"}


def create_from_symbol(base: str, headers: dict[str, str], symbol: str) -> str:
    company = check(
        CLIENT.post(f"{base}/api/companies/from-symbol", json={"symbol": symbol}, headers=headers, timeout=60),
        f"from-symbol {symbol}",
    )
    return str(company["id"])


def enqueue_refreshes(base: str, targets: list[tuple[dict[str, str], str]]) -> list[str]:
    def one(target: tuple[dict[str, str], str]) -> str:
        headers, company_id = target
        url = f"{base}/api/companies/{company_id}/refresh"
        job = check(post_seeing_writes(url, "refresh after create", 404, headers=headers), f"refresh {company_id}")
        return str(job["id"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(one, targets))


def wait_jobs(job_ids: list[str], timeout: float = 600.0) -> dict[str, int]:
    """Poll PostgreSQL until every job is finished (or the timeout); the status counts."""
    deadline = time.monotonic() + timeout
    counts: dict[str, int] = {}
    with psycopg.connect(f"{PG}/{DB}", autocommit=True) as conn:
        while time.monotonic() < deadline:
            rows = conn.execute(
                "SELECT status::text, count(*) FROM jobs WHERE id = ANY(%s::uuid[]) GROUP BY 1", (job_ids,)
            ).fetchall()
            counts = dict(rows)
            if counts.get("succeeded", 0) + counts.get("failed", 0) >= len(job_ids):
                return counts
            time.sleep(POLL_SECONDS)
    return counts


def job_span(job_ids: list[str]) -> tuple[float, float, int]:
    """(first created → last finished, first started → last finished) in seconds, and the sum of attempts."""
    with psycopg.connect(f"{PG}/{DB}", autocommit=True) as conn:
        row = conn.execute(
            "SELECT extract(epoch FROM max(finished_at) - min(created_at)), "
            "extract(epoch FROM max(finished_at) - min(started_at)), sum(attempts) FROM jobs WHERE id = ANY(%s::uuid[])",
            (job_ids,),
        ).fetchone()
    assert row is not None
    return float(row[0] or 0), float(row[1] or 0), int(row[2] or 0)


def failed_jobs(job_ids: list[str]) -> list[str]:
    with psycopg.connect(f"{PG}/{DB}", autocommit=True) as conn:
        rows = conn.execute(
            "SELECT error::text FROM jobs WHERE id = ANY(%s::uuid[]) AND status = 'failed' LIMIT 3", (job_ids,)
        ).fetchall()
    return [r[0] for r in rows]


def clear_raw_cache(r: redis.Redis) -> int:
    keys = list(r.scan_iter("water:md:raw:*", count=1000))
    if keys:
        r.delete(*keys)
    return len(keys)


# --- 1. cached reads -----------------------------------------------------------------------


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    requests: int
    errors: str
    load: str
    cpu_us: float
    provider_calls: int


UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def to_ms(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", value)
    if not match:
        raise ValueError(f"unparsed wrk latency {value!r}")
    return float(match.group(1)) * UNIT[match.group(2)]


# wrk shares this machine's two cores with the server it measures. Run at the lowest priority it
# takes CPU only when the server does not want it, as a client on another machine would; at normal
# priority the scheduler preempts the server for it, which shows up in the tail (paced p99 at
# 500 requests/s: 10-12 ms against 6 ms). `--wrk-normal-priority` measures that way.
NICE_WRK = True

THINK_SCRIPT = """
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end
function init(args)
  math.randomseed(os.time() * 1000 + id)
end
function delay()
  return -MEAN_MS * math.log(1 - math.random())
end
"""


def run_wrk(
    url: str,
    headers: dict[str, str],
    duration: int,
    api_pid: int,
    fake: FakeAlphaVantage,
    connections: int = 32,
    think_ms: int = 0,
) -> WrkResult:
    """wrk on `url`; with `think_ms`, each connection waits a random think time (exponential, mean
    `think_ms`) after a response before its next request (wrk's Lua `delay()`), as independent users
    do: 32 connections then offer about 32,000 / think_ms requests/s instead of as many as the server
    can answer. Random waits keep the connections from firing in lockstep, which a fixed wait would
    do (32 requests arriving together, every time). The latency wrk reports excludes the wait."""
    cmd = ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{duration}s", "--latency"]
    if NICE_WRK:
        cmd = ["nice", "-n", "19", *cmd]
    for key, value in headers.items():
        cmd += ["-H", f"{key}: {value}"]
    if think_ms:
        script = Path(tempfile.gettempdir()) / f"water-bench-think-{think_ms}.lua"
        script.write_text(THINK_SCRIPT.replace("MEAN_MS", str(think_ms)))
        cmd += ["-s", str(script)]
    load = load_avg()
    cpu_before, calls_before = tree_cpu_seconds(api_pid), fake.total_requests
    out = subprocess.run([*cmd, url], capture_output=True, text=True, timeout=duration + 60).stdout
    cpu, calls = tree_cpu_seconds(api_pid) - cpu_before, fake.total_requests - calls_before
    percentiles = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)\s*$", out, re.MULTILINE))
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    if not rps or not total or len(percentiles) != 3:
        sys.exit(f"could not parse wrk output for {url}:\n{out}")
    errors = []
    if non2xx := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        errors.append(f"{non2xx.group(1)} non-2xx")
    if sock := re.search(r"Socket errors: (.*)", out):
        errors.append(f"socket errors: {sock.group(1)}")
    return WrkResult(
        float(rps.group(1)),
        to_ms(percentiles["50"]),
        to_ms(percentiles["90"]),
        to_ms(percentiles["99"]),
        int(total.group(1)),
        "; ".join(errors) or "0",
        load,
        cpu / max(int(total.group(1)), 1) * 1e6,
        calls,
    )


def py_spy(pids: list[int], seconds: int, out: Path, *, idle: bool = False) -> list[subprocess.Popen[bytes]]:
    """py-spy (raw collapsed stacks, one file per pid); `idle` keeps waiting stacks too (wall-clock view)."""
    spies = []
    for pid in pids:
        cmd = [str(VENV_BIN / "py-spy"), "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "250"]
        cmd += ["--format", "raw", "--output", str(out.with_suffix(f".{pid}.txt")), "--nonblocking"]
        cmd += ["--idle"] if idle else []
        spies.append(start(cmd, dict(os.environ), out.with_suffix(f".{pid}.log")))
    return spies


def wait_spies(spies: list[subprocess.Popen[bytes]]) -> None:
    for spy in spies:
        try:
            spy.wait(timeout=120)
        except subprocess.TimeoutExpired:
            stop(spy)


# --- 2. refresh throughput -----------------------------------------------------------------


@dataclass
class RefreshResult:
    scenario: str
    backend: str
    companies: int
    distinct_symbols: int
    wall_s: float
    enqueue_s: float
    span_created_s: float
    span_started_s: float
    statuses: dict[str, int]
    attempts: int
    provider_calls: int
    worker_cpu_s: float
    api_cpu_s: float
    driver_cpu_s: float
    load: str

    @property
    def per_second(self) -> float:
        return self.companies / self.wall_s


def refresh_run(
    scenario: str,
    backend: str,
    base: str,
    targets: list[tuple[dict[str, str], str]],
    distinct: int,
    r: redis.Redis,
    fake: FakeAlphaVantage,
    workers: list[subprocess.Popen[bytes]],
    api: subprocess.Popen[bytes],
) -> RefreshResult:
    clear_raw_cache(r)
    load = load_avg()
    calls_before = fake.total_requests
    worker_cpu = sum(tree_cpu_seconds(w.pid) for w in workers)
    api_cpu, driver_cpu = tree_cpu_seconds(api.pid), self_cpu_seconds()
    started = time.monotonic()
    job_ids = enqueue_refreshes(base, targets)
    enqueued = time.monotonic() - started
    statuses = wait_jobs(job_ids)
    wall = time.monotonic() - started
    worker_cpu = sum(tree_cpu_seconds(w.pid) for w in workers) - worker_cpu
    api_cpu, driver_cpu = tree_cpu_seconds(api.pid) - api_cpu, self_cpu_seconds() - driver_cpu
    calls = fake.total_requests - calls_before
    span_created, span_started, attempts = job_span(job_ids)
    if statuses.get("succeeded", 0) != len(job_ids):
        print(f"{scenario}: not all jobs succeeded: {statuses}; {failed_jobs(job_ids)}", file=sys.stderr)
    return RefreshResult(
        scenario, backend, len(targets), distinct, wall, enqueued, span_created, span_started, statuses, attempts, calls,
        worker_cpu, api_cpu, driver_cpu, load,
    )  # fmt: skip


# --- report --------------------------------------------------------------------------------


def backend_source(commit: str | None, logs: Path) -> str:
    """Export `commit`'s backend into `logs`/backend (when given); a description of what runs, either way."""
    git = ["git", "-C", str(ROOT)]
    rev = subprocess.run([*git, "rev-parse", "--short", commit or "HEAD"], capture_output=True, text=True).stdout
    if commit:
        paths = ["backend/src", "backend/migrations", "backend/alembic.ini"]
        archive = subprocess.run([*git, "archive", commit, *paths], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(logs)], input=archive.stdout, check=True)
        return f"commit {rev.strip()} (a clean `git archive` export of backend/)"
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--", "backend/src", "backend/migrations"], capture_output=True, text=True
    ).stdout.splitlines()
    return f"working tree at {rev.strip()}" + (
        f" with {len(dirty)} uncommitted file(s) under backend/" if dirty else ""
    )


def machine() -> str:
    return f"{cpu_model()}, {os.cpu_count()} cores, {memory_gib():.1f} GiB RAM, Python {platform.python_version()}"


def yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2, help="wrk rounds per endpoint (interleaved)")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2, help="seconds of unmeasured wrk before each run")
    parser.add_argument("--organizations", type=int, default=34, help="organizations in the shared scenario")
    parser.add_argument(
        "--wrk-normal-priority", action="store_true", help="run wrk at normal priority (default: nice -n 19)"
    )
    parser.add_argument(
        "--think-ms",
        type=lambda text: [int(x) for x in text.split(",") if x],
        default=[64, 32, 24],
        help="paced cached-read runs: each of the 32 connections waits this long between requests "
        "(comma-separated; 64, 32, 24 ms offer about 500, 1,000 and 1,333 requests/s; empty: none)",
    )
    parser.add_argument("--profile", type=Path, help="record py-spy profiles into this directory")
    parser.add_argument(
        "--commit",
        help="run Water from this commit (git archive of backend/src, migrations, alembic.ini into a temporary "
        "directory, put first on PYTHONPATH) instead of the working tree",
    )
    parser.add_argument(
        "--patch", type=Path, action="append", default=[], help="with --commit: apply this patch to the export (A/B)"
    )
    parser.add_argument("--skip-refresh", action="store_true", help="only the cached reads and market inputs")
    parser.add_argument(
        "--refresh-only", action="store_true", help="only the refresh runs (no wrk, no market inputs; wrk not needed)"
    )
    parser.add_argument(
        "--compare",
        metavar="COMMIT",
        help="A/B: also run the refreshes with the workers on this commit's export, interleaved (A B B A ...); "
        "the API stays on --commit",
    )
    parser.add_argument("--refresh-rounds", type=int, default=2, help="rounds of the refresh scenarios (per backend)")
    parser.add_argument(
        "--skip-as-shipped", action="store_true", help="skip the extra refresh runs with the fake's Nagle left on"
    )
    parser.add_argument("--keep-logs", action="store_true")
    parser.add_argument(
        "--api-workers", type=int, default=1, help="uvicorn processes of the API (`water api --workers N`)"
    )
    args = parser.parse_args()
    global NICE_WRK
    NICE_WRK = not args.wrk_normal_priority
    if args.refresh_only and args.skip_refresh:
        sys.exit("--refresh-only and --skip-refresh exclude each other")
    if shutil.which("wrk") is None and not args.refresh_only:
        sys.exit("wrk is missing: apt-get install -y wrk")

    logs = Path(tempfile.mkdtemp(prefix="water-bench-md-"))
    r = redis.Redis.from_url(REDIS)
    r.flushdb()
    recreate_db()
    fake = AliasingFake().start()
    env = water_env(fake.url, logs / "data-api")
    source = backend_source(args.commit, logs)
    for patch in args.patch:
        if not args.commit:
            sys.exit("--patch needs --commit (the working tree is never patched)")
        subprocess.run(["git", "apply", "--directory", ".", str(patch.resolve())], cwd=logs, check=True)
        source += f" + {patch.name}"
    if args.commit:
        env["PYTHONPATH"] = str(logs / "backend" / "src")
    backends = {"A": env}
    if args.compare:
        (logs / "b").mkdir()
        source_b = backend_source(args.compare, logs / "b")
        backends["B"] = {**env, "PYTHONPATH": str(logs / "b" / "backend" / "src")}
        source = f"A = {source}; B = {source_b} (workers only)"
    lines: list[str] = []
    try:
        print(f"setting up (logs in {logs}) ...", file=sys.stderr)
        migrate = subprocess.run(
            [str(VENV_BIN / "water"), "migrate"], env=env, capture_output=True, text=True, timeout=180
        )
        if migrate.returncode != 0:
            sys.exit(f"water migrate failed:\n{migrate.stdout}\n{migrate.stderr}")
        api, base = start_api(env, logs, args.api_workers)
        worker = start_worker(env, logs, "all", "low_priority,default,high_priority", 2)
        wait_worker_ready(worker, 2, logs / "worker-all.log")

        # --- 1. cached reads ------------------------------------------------------------------
        headers = sign_up(base, 0)
        first = {s: create_from_symbol(base, headers, s) for s in SYMBOLS}
        jobs = enqueue_refreshes(base, [(headers, c) for c in first.values()])
        statuses = wait_jobs(jobs, timeout=120)
        if statuses.get("succeeded") != len(jobs):
            sys.exit(f"set-up refreshes: {statuses}; {failed_jobs(jobs)}")
        company = first["DAQI"]
        urls = {
            "`GET /api/companies/{id}` (baseline, no market data)": f"{base}/api/companies/{company}",
            "`GET /api/companies/{id}/quote`": f"{base}/api/companies/{company}/quote",
            "`GET /api/companies/{id}/financials`": f"{base}/api/companies/{company}/financials",
        }
        sizes = {}
        for name, url in urls.items():
            response = CLIENT.get(url, headers=headers, timeout=30)
            if response.status_code != 200:
                sys.exit(f"{url}: HTTP {response.status_code} {response.text[:300]}")
            sizes[name] = len(response.content)
        reads: dict[str, list[WrkResult]] = {name: [] for name in urls}
        for round_no in range(1, 0 if args.refresh_only else args.rounds + 1):
            for name, url in urls.items():
                if args.warmup:
                    run_wrk(url, headers, args.warmup, api.pid, fake)
                result = run_wrk(url, headers, args.duration, api.pid, fake)
                reads[name].append(result)
                print(
                    f"round {round_no} {name}: {result.rps:,.0f} req/s p50 {result.p50_ms:.2f} "
                    f"p99 {result.p99_ms:.2f} ms, load {result.load}",
                    file=sys.stderr,
                )
        paced: dict[str, list[tuple[int, WrkResult]]] = {name: [] for name in urls}
        for think_ms in [] if args.refresh_only else args.think_ms:  # 32 connections at a set pace
            for name, url in urls.items():
                result = run_wrk(url, headers, args.duration, api.pid, fake, think_ms=think_ms)
                paced[name].append((think_ms, result))
                print(f"paced {think_ms} ms {name}: {result.rps:,.0f} req/s p99 {result.p99_ms:.2f}", file=sys.stderr)
        for name, url in urls.items():  # one connection: the latency of a request that does not queue
            if not args.refresh_only:
                reads[name].append(run_wrk(url, headers, args.duration, api.pid, fake, connections=1))
        if args.profile and not args.refresh_only:
            args.profile.mkdir(parents=True, exist_ok=True)
            for name, url in list(urls.items())[1:]:
                tag = "quote" if "quote" in name else "financials"
                spies = py_spy(tree_pids(api.pid), args.duration, args.profile / f"api-{tag}")
                time.sleep(1)
                run_wrk(url, headers, args.duration, api.pid, fake)
                wait_spies(spies)

        # --- 3. market inputs twice -------------------------------------------------------------
        clear_raw_cache(r)
        inputs = []
        for _ in range(0 if args.refresh_only else 2):
            before, t0 = fake.counts(), time.perf_counter()
            response = CLIENT.get(f"{base}/api/companies/{company}/market-inputs", headers=headers, timeout=60)
            elapsed = time.perf_counter() - t0
            check(response, "market-inputs")
            after = fake.counts()
            delta = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
            inputs.append((elapsed, sum(delta.values()), delta, load_avg()))
        warm_times = []
        for _ in range(0 if args.refresh_only else 10):
            t0 = time.perf_counter()
            check(CLIENT.get(f"{base}/api/companies/{company}/market-inputs", headers=headers, timeout=60), "inputs")
            warm_times.append(time.perf_counter() - t0)

        # --- 2. refresh throughput --------------------------------------------------------------
        refreshes: list[RefreshResult] = []
        stop(worker)
        if not args.skip_refresh:
            numbers = iter(range(1, 1000))  # alias numbers (3 digits): each "first refresh" run takes 34 new ones
            org_numbers = iter(range(1, 1_000_000))
            warm_targets = [(headers, c) for c in first.values()]
            warm_targets += [(headers, create_from_symbol(base, headers, f"{s}999")) for s in SYMBOLS]

            def new_distinct() -> list[tuple[dict[str, str], str]]:
                """100 companies never refreshed, with 100 tickers no company had before."""
                taken = [next(numbers) for _ in range(34)]
                symbols = [f"{SYMBOLS[i % 3]}{taken[i // 3]:03d}" for i in range(100)]
                return [(headers, create_from_symbol(base, headers, symbol)) for symbol in symbols]

            def new_shared() -> list[tuple[dict[str, str], str]]:
                """100 companies never refreshed: DAQI, DBRK, DCSH in each of `--organizations` new organizations."""
                targets: list[tuple[dict[str, str], str]] = []
                for _ in range(args.organizations):
                    org = sign_up(base, next(org_numbers))
                    targets += [(org, create_from_symbol(base, org, s)) for s in SYMBOLS]
                return targets[:100]

            workers: list[subprocess.Popen[bytes]] = []
            workers_backend = ""

            def use_backend(name: str, tag: str = "") -> list[subprocess.Popen[bytes]]:
                """Two fresh low_priority workers on backend `name`, warmed (imports, pools) on six companies."""
                for process in workers:
                    stop(process)
                started = [
                    start_worker(backends[name], logs, f"{tag}{name}{i}-{time.monotonic_ns()}", "low_priority", 1)
                    for i in (1, 2)
                ]
                for process in started:
                    wait_worker_ready(process, 1, logs / "worker.log")
                wait_jobs(enqueue_refreshes(base, warm_targets), timeout=120)
                return started

            def runs(name: str) -> None:
                distinct_targets = new_distinct()
                shared_targets = new_shared()
                for scenario, targets, distinct in (
                    ("distinct, first refresh", distinct_targets, 100),
                    ("distinct, again (statements unchanged)", distinct_targets, 100),
                    ("shared, first refresh", shared_targets, len(SYMBOLS)),
                    ("shared, again (statements unchanged)", shared_targets, len(SYMBOLS)),
                ):
                    res = refresh_run(scenario, name, base, targets, distinct, r, fake, workers, api)
                    refreshes.append(res)
                    print(
                        f"[{name}] {res.scenario}: {res.per_second:.1f} companies/s ({res.wall_s:.2f} s), "
                        f"worker CPU {res.worker_cpu_s * 1000 / res.companies:.0f} ms/company, "
                        f"{res.provider_calls} calls, load {res.load}",
                        file=sys.stderr,
                    )

            order = list(backends)
            for round_no in range(1, args.refresh_rounds + 1):
                for name in order if round_no % 2 else reversed(order):  # A B B A ...: drift cancels out
                    if workers_backend != name:
                        workers = use_backend(name)
                        workers_backend = name
                    runs(name)
            if args.profile:
                args.profile.mkdir(parents=True, exist_ok=True)
                for name in order:
                    if workers_backend != name:
                        workers = use_backend(name)
                        workers_backend = name
                    targets = new_distinct()
                    worker_pids = [p for w in workers for p in tree_pids(w.pid)]
                    spies = py_spy(worker_pids, 15, args.profile / f"workers-{name}-distinct", idle=True)
                    time.sleep(1)
                    profiled = refresh_run(
                        "distinct, first refresh (profiled)", name, base, targets, 100, r, fake, workers, api
                    )
                    wait_spies(spies)
                    print(f"[{name}] profiled run: {profiled.per_second:.1f} companies/s", file=sys.stderr)

            if not args.skip_as_shipped:  # new worker processes, so their connections to the fake are new too
                fake.nodelay = False
                workers = use_backend("A", "nagle")
                workers_backend = "A"
                for scenario, targets, distinct in (
                    ("distinct, first refresh", new_distinct(), 100),
                    ("shared, first refresh", new_shared(), len(SYMBOLS)),
                ):
                    name = f"{scenario}, fake as shipped (Nagle on)"
                    shipped = refresh_run(name, "A", base, targets, distinct, r, fake, workers, api)
                    refreshes.append(shipped)
                    print(f"{shipped.scenario}: {shipped.per_second:.1f} companies/s", file=sys.stderr)
                fake.nodelay = True
        # --- report -----------------------------------------------------------------------------
        lines += [
            f"Machine: {machine()}; {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; "
            f"load (1, 5, 15 min) per row, from /proc/loadavg as each measurement starts.",
        ]
        if not args.refresh_only:
            lines += [
                "",
                "### Cached reads (target: p99 ≤ 10 ms under 32 connections)",
                "",
                f"`{'nice -n 19 ' if NICE_WRK else ''}wrk -t2 -c32 -d{args.duration}s --latency` with a Bearer JWT, "
                + api_processes(args.api_workers)
                + f"{args.rounds} interleaved round(s) after a {args.warmup} s warm-up each; company DAQI refreshed "
                "by a worker first. Provider calls = the fake server's requests during the run. "
                f"Water: {source}.",
                "",
                "| Endpoint | Round | Requests/s | p50 ms | p90 ms | p99 ms | Server CPU µs/request | Response bytes "
                "| Errors | Provider calls | Load | p99 ≤ 10 ms |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---|---|",
            ]
            for name, results in reads.items():
                for i, res in enumerate(results, 1):
                    label = str(i) if i <= args.rounds else "`-t1 -c1`"
                    lines.append(
                        f"| {name} | {label} | {res.rps:,.0f} | {res.p50_ms:.2f} | {res.p90_ms:.2f} | {res.p99_ms:.2f} "
                        f"| {res.cpu_us:,.0f} | {sizes[name]:,} | {res.errors} | {res.provider_calls} | {res.load} "
                        f"| {yes(res.p99_ms <= TARGET_P99_MS)} |"
                    )
        if any(paced.values()):
            lines += [
                "",
                "Paced: the same 32 connections, each waiting a random think time (exponential, of the mean shown) "
                "after every response before its next request (wrk's Lua `delay()`), as independent users do: the "
                "load is a set request rate rather than as many as the server can answer. wrk's latency excludes "
                "the wait.",
                "",
                "| Endpoint | Mean think time per connection | Offered requests/s | Requests/s | p50 ms | p90 ms | p99 ms "
                "| Server CPU µs/request | Errors | Load | p99 ≤ 10 ms |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|",
            ]
            for name, runs in paced.items():
                for think_ms, res in runs:
                    lines.append(
                        f"| {name} | {think_ms} ms | ≤ {32_000 / think_ms:,.0f} | {res.rps:,.0f} | {res.p50_ms:.2f} "
                        f"| {res.p90_ms:.2f} | {res.p99_ms:.2f} | {res.cpu_us:,.0f} | {res.errors} | {res.load} "
                        f"| {yes(res.p99_ms <= TARGET_P99_MS)} |"
                    )
        lines += [
            "",
            "### Refreshing 100 companies (target: ≥ 50 companies/s, unlimited quota)",
            "",
            "Two worker processes, each `water worker -Q low_priority --concurrency 1` (one prefork child each). "
            "The raw cache (`water:md:raw:*`) is emptied before each run; the time runs from the first "
            "`POST /api/companies/{id}/refresh` (8 client threads) until PostgreSQL shows all 100 jobs finished. "
            "distinct = 100 tickers (aliases of DAQI/DBRK/DCSH) in one organization; "
            f"shared = {args.organizations} organizations holding DAQI, DBRK, DCSH (first 100 companies). "
            "first refresh = companies created just before the run (untimed), never refreshed; again = the same "
            "companies right after, cache emptied again, so every call is made again but the bodies are the same. "
            f"Backends: {source}. Each backend's two workers are started fresh and warmed on six other companies.",
            "",
            "| Scenario | Backend | Companies/s | Wall s | Enqueue s | Jobs' first start → last finish s | Succeeded "
            "| Attempts | Provider calls | Calls / company | Cold-cache expectation | Worker CPU s "
            "| Worker CPU ms / company | API CPU s | Driver + fake CPU s | Load | ≥ 50/s |",
            "|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
        ]
        for run in refreshes:
            lines.append(
                f"| {run.scenario} | {run.backend} | {run.per_second:.1f} | {run.wall_s:.2f} | {run.enqueue_s:.2f} "
                f"| {run.span_started_s:.2f} | {run.statuses.get('succeeded', 0)}/{run.companies} | {run.attempts} "
                f"| {run.provider_calls} | {run.provider_calls / run.companies:.2f} "
                f"| {run.distinct_symbols * CALLS_PER_COMPANY} ({run.distinct_symbols} symbols × 9) "
                f"| {run.worker_cpu_s:.1f} | {run.worker_cpu_s * 1000 / run.companies:.0f} "
                f"| {run.api_cpu_s:.2f} | {run.driver_cpu_s:.2f} | {run.load} "
                f"| {yes(run.per_second >= TARGET_COMPANIES_PER_S)} |"
            )
        if inputs:  # not with --refresh-only
            lines += [
                "",
                "### Market inputs twice within the TTL (target: 0 provider calls the second time)",
                "",
                "`GET /api/companies/{id}/market-inputs` for DAQI, after emptying the raw cache (so the first call is "
                "cold); provider calls counted by the fake server around each call.",
                "",
                "| Call | Time ms | Provider calls | Calls by function | Load | Target |",
                "|---|---:|---:|---|---|---|",
            ]
            for i, (elapsed, calls, delta, load) in enumerate(inputs, 1):
                by_function = ", ".join(f"{f} {s}: {n}" for (f, s), n in sorted(delta.items(), key=str)) or "none"
                target = yes(calls == 0) if i == 2 else "—"
                lines.append(f"| {i} | {elapsed * 1000:.1f} | {calls} | {by_function} | {load} | {target} |")
            lines.append(
                f"| 3–12 (warm) | median {statistics.median(warm_times) * 1000:.1f}, "
                f"max {max(warm_times) * 1000:.1f} | — | — | {load_avg()} | — |"
            )
        retries = ", ".join(f"{what}: {n}" for what, n in RACE_RETRIES.items()) or "none"
        lines += ["", f"Requests retried because the previous request's commit was not visible yet: {retries}."]
        print("\n".join(lines))
    finally:
        for process in reversed(STARTED):
            stop(process)
        fake.stop()
        r.flushdb()
        drop_db()
        if not args.keep_logs:
            shutil.rmtree(logs, ignore_errors=True)


if __name__ == "__main__":
    main()

"""API throughput benchmark (issue 2): Water beside the ceiling and the template, in one run.

Starts three servers, each one uvicorn worker on loopback with the same settings
(`--workers 1 --no-access-log`, uvloop + httptools):

* water     - `water api`: authenticated `GET /api/companies/{id}` (Bearer JWT)
* ceiling   - bench/api/ceiling_app.py: bare FastAPI, one row from PostgreSQL, two ways:
              `/rows/{id}` (sync SQLAlchemy on the thread pool) and, as `ceiling-async`,
              `/arows/{id}` (async psycopg pool in the event loop, the stack of Water's hot read)
* template  - tiangolo/full-stack-fastapi-template: authenticated `GET /api/v1/items/{id}`

then runs `wrk -t2 -c32 -d10s --latency` against each, interleaved round by round
(W, C, T, W, C, T, ...) so a noisy neighbour hurts all three alike, and prints a
markdown table of the median round. It also runs `promtool check metrics` on
Water's /metrics after the traffic.

    .venv/bin/python bench/api/bench_api.py [--rounds 3] [--duration 10] [--skip-template] [--baseline REF]

`--baseline REF` adds a fourth server, Water as of commit REF (a `git archive` export of
backend/src put first on PYTHONPATH; same database, signing key and company), interleaved
with the others: an A/B of the working tree against REF in one run.

The template lives outside the repository (see bench/README.md):
WATER_BENCH_TEMPLATE_DIR (default /work/bench-ext/full-stack-fastapi-template) and
WATER_BENCH_TEMPLATE_VENV (default /work/bench-ext/venv).
PostgreSQL: WATER_BENCH_PG (default postgresql://postgres@127.0.0.1:5432), trust auth;
the databases water_bench and water_bench_template are dropped and re-created.
Redis: WATER_BENCH_REDIS (default redis://127.0.0.1:6379/14).
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
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
from procstat import cpu_model, load_avg, memory_gib, tree_cpu_seconds  # noqa: E402  (bench/procstat.py)

VENV_BIN = Path(sys.executable).parent
PG = os.environ.get("WATER_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
REDIS = os.environ.get("WATER_BENCH_REDIS", "redis://127.0.0.1:6379/14")
TEMPLATE_DIR = Path(os.environ.get("WATER_BENCH_TEMPLATE_DIR", "/work/bench-ext/full-stack-fastapi-template"))
TEMPLATE_VENV = Path(os.environ.get("WATER_BENCH_TEMPLATE_VENV", "/work/bench-ext/venv"))
WATER_DB = "water_bench"
TEMPLATE_DB = "water_bench_template"
PORTS = {"water": 18101, "ceiling": 18102, "template": 18103, "baseline": 18104}
HOST = "127.0.0.1"
# Fresh per run: a throwaway signing key and password (mixed case, digit, symbol for the policies).
SECRET = secrets.token_urlsafe(48)
PASSWORD = "Bb9-" + secrets.token_urlsafe(18)
UVICORN_FLAGS = ["--host", HOST, "--workers", "1", "--no-access-log", "--loop", "uvloop", "--http", "httptools"]
TARGET_RPS = 1500.0
TARGET_P99_MS = 50.0
GOAL_CEILING = 0.60
GOAL_TEMPLATE = 1.0

TEMPLATE_HELP = f"""\
The template is not set up at {TEMPLATE_DIR} (venv {TEMPLATE_VENV}).
Set it up as bench/README.md describes (fetch tiangolo/full-stack-fastapi-template
outside this repository, make a venv with its backend dependencies), then point
WATER_BENCH_TEMPLATE_DIR / WATER_BENCH_TEMPLATE_VENV at it, or pass --skip-template."""


@dataclass
class Result:
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    requests: int
    errors: str
    load: str
    cpu_us: float  # server CPU time (user + system, the uvicorn process tree) per request, in microseconds


@dataclass
class Server:
    name: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    results: list[Result] = field(default_factory=list)


def recreate_db(name: str) -> None:
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


STARTED: list[subprocess.Popen[bytes]] = []


def start(cmd: list[str], env: dict[str, str], log: Path, cwd: Path | None = None) -> subprocess.Popen[bytes]:
    """Start a server in its own process group; every one started is stopped at the end, even on failure."""
    with log.open("wb") as out:
        process = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    STARTED.append(process)
    return process


def stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def wait_http(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"{url}: the server exited with {process.returncode}; log:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    sys.exit(f"{url}: not ready after {timeout:.0f} s; log:\n{log.read_text()[-3000:]}")


def check(response: httpx.Response, what: str) -> dict[str, Any]:
    if response.status_code >= 300:
        sys.exit(f"{what}: HTTP {response.status_code} {response.text[:500]}")
    body: dict[str, Any] = response.json()
    return body


def setup_water(logs: Path) -> Server:
    recreate_db(WATER_DB)
    env = {
        **os.environ,
        "WATER_DATABASE_URL": f"{PG}/{WATER_DB}",
        "WATER_REDIS_URL": REDIS,
        "WATER_ENVIRONMENT": "production",
        "WATER_SECRET_KEY": SECRET,
        "WATER_LOG_LEVEL": "WARNING",
        "WATER_HOST": HOST,
        "WATER_PORT": str(PORTS["water"]),
    }
    migrate = subprocess.run([str(VENV_BIN / "water"), "migrate"], env=env, capture_output=True, text=True, timeout=120)
    if migrate.returncode != 0:
        sys.exit(f"water migrate failed:\n{migrate.stdout}\n{migrate.stderr}")
    log = logs / "water.log"
    process = start([str(VENV_BIN / "water"), "api"], env, log)
    base = f"http://{HOST}:{PORTS['water']}"
    wait_http(f"{base}/api/readyz", process, log)
    email = f"bench-{int(time.time())}@water.example"
    check(
        httpx.post(
            f"{base}/api/auth/signup",
            json={"organization_name": "Bench Org", "email": email, "password": PASSWORD},
            timeout=30,
        ),
        "water signup",
    )
    token = check(
        httpx.post(f"{base}/api/auth/token", data={"username": email, "password": PASSWORD}, timeout=30), "water token"
    )["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    company = check(
        httpx.post(
            f"{base}/api/companies", json={"name": "Bench Company", "ticker": "ABC"}, headers=headers, timeout=30
        ),
        "water create company",
    )
    return Server("water", f"{base}/api/companies/{company['id']}", headers, process)


def setup_baseline(logs: Path, water: Server, ref: str) -> Server:
    """Water as of `ref`, exported from git, on the same database and with the same token and company."""
    rev = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", ref], capture_output=True, text=True, check=True
    ).stdout.strip()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "backend/src"], capture_output=True, check=True)
    export = logs / "baseline"
    export.mkdir()
    subprocess.run(["tar", "-x", "-C", str(export)], input=archive.stdout, check=True)
    env = {
        **os.environ,
        "PYTHONPATH": str(export / "backend" / "src"),
        "WATER_DATABASE_URL": f"{PG}/{WATER_DB}",
        "WATER_REDIS_URL": REDIS,
        "WATER_ENVIRONMENT": "production",
        "WATER_SECRET_KEY": SECRET,
        "WATER_LOG_LEVEL": "WARNING",
        "WATER_HOST": HOST,
        "WATER_PORT": str(PORTS["baseline"]),
    }
    log = logs / "baseline.log"
    process = start([str(VENV_BIN / "water"), "api"], env, log)
    base = f"http://{HOST}:{PORTS['baseline']}"
    wait_http(f"{base}/api/readyz", process, log)
    url = water.url.replace(f":{PORTS['water']}/", f":{PORTS['baseline']}/")
    return Server(f"water@{rev}", url, water.headers, process)


def setup_ceilings(logs: Path, row_id: str) -> list[Server]:
    """One bare app, two endpoints measured in turn: the sync ceiling and the async one."""
    env = {**os.environ, "CEILING_DATABASE_URL": f"{PG}/{WATER_DB}"}
    cmd = [sys.executable, "-m", "uvicorn", "ceiling_app:app", "--app-dir", str(ROOT / "bench" / "api")]
    log = logs / "ceiling.log"
    process = start([*cmd, *UVICORN_FLAGS, "--port", str(PORTS["ceiling"])], env, log)
    url = f"http://{HOST}:{PORTS['ceiling']}/rows/{row_id}"
    wait_http(url, process, log)
    async_url = f"http://{HOST}:{PORTS['ceiling']}/arows/{row_id}"
    return [Server("ceiling", url, {}, process), Server("ceiling-async", async_url, {}, process)]


def setup_template(logs: Path) -> Server:
    backend = TEMPLATE_DIR / "backend"
    python = TEMPLATE_VENV / "bin" / "python"
    if not (backend / "app" / "main.py").is_file() or not python.is_file():
        sys.exit(TEMPLATE_HELP)
    recreate_db(TEMPLATE_DB)
    admin = "admin@example.com"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))},
        "PATH": f"{TEMPLATE_VENV / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "VIRTUAL_ENV": str(TEMPLATE_VENV),
        "PYTHONPATH": str(backend),
        "PROJECT_NAME": "Template Bench",
        "ENVIRONMENT": "local",
        "SECRET_KEY": SECRET,
        "FIRST_SUPERUSER": admin,
        "FIRST_SUPERUSER_PASSWORD": PASSWORD,
        "POSTGRES_SERVER": HOST,
        "POSTGRES_PORT": "5432",
        "POSTGRES_USER": "postgres",
        "POSTGRES_PASSWORD": "trust-auth-any",
        "POSTGRES_DB": TEMPLATE_DB,
        "SENTRY_DSN": "",
    }
    prestart = subprocess.run(
        ["bash", "scripts/prestart.sh"], cwd=backend, env=env, capture_output=True, text=True, timeout=180
    )
    if prestart.returncode != 0:
        sys.exit(f"template prestart failed:\n{prestart.stdout[-2000:]}\n{prestart.stderr[-3000:]}")
    log = logs / "template.log"
    cmd = [str(python), "-m", "uvicorn", "app.main:app", *UVICORN_FLAGS, "--port", str(PORTS["template"])]
    process = start(cmd, env, log, cwd=backend)
    base = f"http://{HOST}:{PORTS['template']}/api/v1"
    wait_http(f"{base}/utils/health-check/", process, log)
    token = check(
        httpx.post(f"{base}/login/access-token", data={"username": admin, "password": PASSWORD}, timeout=30),
        "template login",
    )["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    item = check(
        httpx.post(f"{base}/items/", json={"title": "Bench item", "description": "one row"}, headers=headers),
        "template create item",
    )
    return Server("template", f"{base}/items/{item['id']}", headers, process)


UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def to_ms(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", value)
    if not match:
        raise ValueError(f"unparsed wrk latency {value!r}")
    return float(match.group(1)) * UNIT[match.group(2)]


def run_wrk(server: Server, duration: int, connections: int, threads: int) -> Result:
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency"]
    for key, value in server.headers.items():
        cmd += ["-H", f"{key}: {value}"]
    load = load_avg()
    cpu_before = tree_cpu_seconds(server.process.pid) if server.process else 0.0
    out = subprocess.run([*cmd, server.url], capture_output=True, text=True, timeout=duration + 30).stdout
    cpu = (tree_cpu_seconds(server.process.pid) if server.process else 0.0) - cpu_before
    percentiles = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)$", out, re.MULTILINE))
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    if not rps or not total or len(percentiles) != 3:
        sys.exit(f"could not parse wrk output for {server.name}:\n{out}")
    errors = []
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        errors.append(f"{non2xx.group(1)} non-2xx")
    sock = re.search(r"Socket errors: (.*)", out)
    if sock:
        errors.append(f"socket errors: {sock.group(1)}")
    return Result(
        rps=float(rps.group(1)),
        p50_ms=to_ms(percentiles["50"]),
        p90_ms=to_ms(percentiles["90"]),
        p99_ms=to_ms(percentiles["99"]),
        requests=int(total.group(1)),
        errors="; ".join(errors) or "0",
        load=load,
        cpu_us=cpu / max(int(total.group(1)), 1) * 1e6,
    )


def median_result(results: list[Result]) -> Result:
    """The round with the median requests/s (its own latencies, not a mix of rounds)."""
    ordered = sorted(results, key=lambda r: r.rps)
    return ordered[(len(ordered) - 1) // 2]


def promtool(base: str, headers: dict[str, str]) -> str:
    if shutil.which("promtool") is None:
        return "promtool not installed (apt-get install -y prometheus)"
    # A little of everything first, so error statuses and other routes have series too.
    for path, auth in (
        ("/api/healthz", False),
        ("/api/readyz", False),
        ("/api/companies", True),
        ("/api/companies/not-a-uuid", True),
        ("/api/companies", False),
        ("/api/no-such-route", False),
    ):
        httpx.get(f"{base}{path}", headers=headers if auth else {}, timeout=10)
    text = httpx.get(f"{base}/metrics", timeout=10).text
    proc = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    output = (proc.stdout + proc.stderr).strip()
    return f"exit {proc.returncode}" + (f"\n{output}" if output else " (no complaints)")


def machine() -> str:
    return f"{cpu_model()}, {os.cpu_count()} cores, {memory_gib():.0f} GiB RAM, Python {platform.python_version()}"


def report(servers: list[Server], args: argparse.Namespace) -> str:
    by_name = {s.name: s for s in servers}
    medians = {s.name: median_result(s.results) for s in servers}
    lines = [
        f"Machine: {machine()}; date {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC.",
        f"`wrk -t{args.threads} -c{args.connections} -d{args.duration}s --latency`, one uvicorn worker each, "
        f"{args.rounds} interleaved round(s); the row shown is the round with the median requests/s. "
        "Load is /proc/loadavg (1, 5, 15 min) as wrk starts. Server CPU per request is the uvicorn "
        "process's user+system time over the run divided by requests served: it is what one request "
        "costs the server, and it is much less sensitive to other load on the machine than requests/s.",
        "",
        "| Server | Endpoint | Requests/s | p50 ms | p90 ms | p99 ms | Server CPU µs/request | Errors | Load at start |",
        "|---|---|---:|---:|---:|---:|---:|---|---|",
    ]
    endpoints = {
        "water": "`GET /api/companies/{id}` (Bearer JWT)",
        "ceiling": "`GET /rows/{id}` (bare FastAPI, one row, sync SQLAlchemy on the thread pool)",
        "ceiling-async": "`GET /arows/{id}` (bare FastAPI, one row, async psycopg pool in the event loop)",
        "template": "`GET /api/v1/items/{id}` (Bearer JWT)",
    }
    for name, r in medians.items():
        endpoint = endpoints.get(name, endpoints["water"])
        lines.append(
            f"| {name} | {endpoint} | {r.rps:,.0f} | {r.p50_ms:.2f} | {r.p90_ms:.2f} | {r.p99_ms:.2f} "
            f"| {r.cpu_us:,.0f} | {r.errors} | {r.load} |"
        )
    lines += ["", "All rounds (requests/s / p99 ms / server CPU µs per request):", ""]
    for s in servers:
        rounds = ", ".join(f"{r.rps:,.0f} / {r.p99_ms:.1f} / {r.cpu_us:,.0f}" for r in s.results)
        lines.append(f"- {s.name}: {rounds}")
    water = medians["water"]
    lines += [
        "",
        "| Target | Goal | Measured | Met |",
        "|---|---|---:|---|",
        f"| Water requests/s | ≥ {TARGET_RPS:,.0f} | {water.rps:,.0f} | {'yes' if water.rps >= TARGET_RPS else 'no'} |",
        f"| Water p99 | ≤ {TARGET_P99_MS:.0f} ms | {water.p99_ms:.2f} ms "
        f"| {'yes' if water.p99_ms <= TARGET_P99_MS else 'no'} |",
    ]
    for ceiling in ("ceiling", "ceiling-async"):
        if ceiling in by_name:
            ratio = water.rps / medians[ceiling].rps
            by_cpu = medians[ceiling].cpu_us / water.cpu_us
            lines.append(
                f"| Water / {ceiling} | ≥ {GOAL_CEILING:.0%} | {ratio:.0%} (by CPU per request: {by_cpu:.0%}) "
                f"| {'yes' if ratio >= GOAL_CEILING else 'no'} |"
            )
    if "template" in by_name:
        ratio = water.rps / medians["template"].rps
        by_cpu = medians["template"].cpu_us / water.cpu_us
        lines.append(
            f"| Water / template | ≥ {GOAL_TEMPLATE:.1f}× | {ratio:.2f}× (by CPU per request: {by_cpu:.2f}×) "
            f"| {'yes' if ratio >= GOAL_TEMPLATE else 'no'} |"
        )
    for name, baseline in medians.items():
        if name.startswith("water@"):
            lines += [
                "",
                f"A/B: the working tree against {name} in the same run: {water.rps / baseline.rps:.2f}× the "
                f"requests/s, {water.cpu_us / baseline.cpu_us:.2f}× the server CPU per request.",
            ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=2, help="seconds of unmeasured wrk before each run")
    parser.add_argument("--skip-template", action="store_true")
    parser.add_argument("--baseline", metavar="REF", help="also run Water as of this commit (A/B in one run)")
    parser.add_argument("--keep-logs", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install -y wrk")
    if not args.skip_template and not (TEMPLATE_DIR / "backend" / "app" / "main.py").is_file():
        sys.exit(TEMPLATE_HELP)

    logs = Path(tempfile.mkdtemp(prefix="water-bench-api-"))
    servers: list[Server] = []
    try:
        print(f"setting up (logs in {logs}) ...", file=sys.stderr)
        water = setup_water(logs)
        servers.append(water)
        if args.baseline:
            servers.append(setup_baseline(logs, water, args.baseline))
        servers += setup_ceilings(logs, water.url.rsplit("/", 1)[1])
        if not args.skip_template:
            servers.append(setup_template(logs))
        for server in servers:
            response = httpx.get(server.url, headers=server.headers, timeout=10)
            if response.status_code != 200:
                sys.exit(f"{server.name}: {server.url} gave HTTP {response.status_code}: {response.text[:300]}")
        for round_no in range(1, args.rounds + 1):
            for server in servers:
                if args.warmup:
                    run_wrk(server, args.warmup, args.connections, args.threads)
                result = run_wrk(server, args.duration, args.connections, args.threads)
                server.results.append(result)
                print(
                    f"round {round_no} {server.name}: {result.rps:,.0f} req/s, p50 {result.p50_ms:.2f} ms, "
                    f"p99 {result.p99_ms:.2f} ms, errors {result.errors}, load {result.load}",
                    file=sys.stderr,
                )
        print(report(servers, args))
        print("\n`curl -s /metrics | promtool check metrics` on Water after the traffic:\n")
        print("```\n" + promtool(f"http://{HOST}:{PORTS['water']}", servers[0].headers) + "\n```")
    finally:
        for process in STARTED:
            stop(process)
        if not args.keep_logs:
            shutil.rmtree(logs, ignore_errors=True)


if __name__ == "__main__":
    main()

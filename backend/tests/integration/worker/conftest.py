"""A real Celery worker process (all three queues) against the test PostgreSQL and Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from water.redis_client import get_redis
from water.worker.queues import Queue


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill_hard(self) -> None:
        """SIGKILL the worker and its prefork children at once, as a crash or OOM kill would."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)


def start_worker(log_path: Path, queues: str = "default,high_priority,low_priority") -> WorkerProcess:
    env = dict(os.environ, WATER_LOG_FORMAT="json", WATER_WORKER_METRICS_PORT="0")
    log_file = log_path.open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "water.worker.celery_app:celery_app", "worker", "-Q", queues,
         "--concurrency", "1", "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        stdout=log_file, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )  # fmt: skip
    worker = WorkerProcess(process, log_path)
    deadline = time.monotonic() + 30
    while "ready." not in worker.log():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the worker did not start:\n" + worker.log()[-3000:])
        time.sleep(0.1)
    return worker


def purge_queues() -> None:
    redis = get_redis()
    redis.delete(*[q.value for q in Queue], "unacked", "unacked_index")


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerProcess]:
    purge_queues()
    process = start_worker(tmp_path_factory.mktemp("worker") / "worker.log")
    yield process
    process.stop()

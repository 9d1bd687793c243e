"""What the benchmarks read from /proc: load, CPU time of a process tree, the machine.

Shared by the benchmark scripts (each puts bench/ on sys.path to import it).
"""

from __future__ import annotations

import os
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def load_avg() -> str:
    """The 1, 5 and 15 minute load averages, as /proc/loadavg prints them."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def tree_pids(pid: int) -> list[int]:
    """The process and its descendants (a bounded walk of /proc's children lists)."""
    pids, pending = [], [pid]
    for _ in range(1000):
        if not pending:
            break
        current = pending.pop()
        pids.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return pids


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes (those gone are skipped)."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return total


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its descendants."""
    return cpu_seconds(tree_pids(pid))


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def memory_gib() -> float:
    return int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024

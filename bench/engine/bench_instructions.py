"""Instructions per call of `water_engine.run()` and of its parts, counted by callgrind.

    .venv/bin/python bench/engine/bench_instructions.py [--calls 2000] [--case ginzu] [--part run]

Wall-clock medians on a shared 2-core machine move by 20% from run to run; instruction counts
do not (the same binary and inputs give the same count, whatever else the machine is doing).
So this benchmark says where `run()`'s work goes, part by part, and what a change saves:

  * parse    -- validating the request and resolving its inputs (`registry._parse_request`)
  * model    -- the model alone, on inputs parsed once (`spec.compute`)
  * schedule -- the schedule's rows from the model's table, with the finiteness check
  * run      -- `water_engine.run(request)`, all of it
  * FinanceToolkit's `get_intrinsic_value` on the same inputs as the explicit DCF (if installed)

Each part runs in its own process under `valgrind --tool=callgrind`, once with no timed calls
and once with `--calls` of them (both after the same warm-up), so start-up cancels out:
instructions per call = (I refs with calls - I refs without) / calls. Needs valgrind
(`apt-get install -y valgrind`). Takes about four minutes. Run it while no one edits the sources:
a module recompiled between the two children of one part is counted as that part's work.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_cases  # type: ignore[import-not-found]  # noqa: E402

WARMUP = 300
CASES = {"ginzu": bench_cases.GINZU_REQUEST, "explicit_dcf": bench_cases.explicit_dcf_request()}
PARTS = ("parse", "model", "schedule", "run")


def call_of(case: str, part: str) -> Any:
    """The function of no arguments that does `part` of `run()` for `case`."""
    import water_engine
    from water_engine import registry

    if case == "financetoolkit":
        from financetoolkit.models.intrinsic_model import get_intrinsic_value

        return lambda: get_intrinsic_value(**bench_cases.FTK_INPUTS)
    request = CASES[case]
    spec, inputs, conventions = registry._parse_request(request)
    schedule = spec.compute(inputs, conventions).schedule
    calls = {
        "parse": lambda: registry._parse_request(request),
        "model": lambda: spec.compute(inputs, conventions),
        "schedule": lambda: registry._table_rows(schedule) if isinstance(schedule, registry.Table) else schedule,
        "run": lambda: water_engine.run(request),
        "nothing": lambda: None,
    }
    return calls[part]


def child(case: str, part: str, calls: int) -> None:
    call = call_of(case, part)
    for _ in range(WARMUP):
        call()
    for _ in range(calls):
        call()


def instructions(case: str, part: str, calls: int) -> int:
    """Total instructions callgrind counts for one child process."""
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        __file__,
        "--child",
        case,
        part,
        str(calls),
    ]
    # A fixed hash seed: str hashes (and so dict probing) are then the same in every child.
    done = subprocess.run(
        command, capture_output=True, text=True, check=True, env={**os.environ, "PYTHONHASHSEED": "0"}
    )
    match = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if match is None:
        raise RuntimeError(f"no instruction count in valgrind's output:\n{done.stderr[-2000:]}")
    return int(match.group(1).replace(",", ""))


def per_call(case: str, part: str, calls: int) -> float:
    return (instructions(case, part, calls) - instructions(case, part, 0)) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--case", choices=sorted(CASES), action="append", help="only this case (repeatable)")
    parser.add_argument("--part", choices=PARTS, action="append", help="only this part (repeatable)")
    parser.add_argument("--child", nargs=3, metavar=("CASE", "PART", "CALLS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        case, part, calls = args.child
        child(case, part, int(calls))
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed: apt-get install -y valgrind")
    print(f"Instructions per call (callgrind, {args.calls} calls after {WARMUP} of warm-up):\n")
    parts = args.part or PARTS
    whole = set(parts) == set(PARTS)
    print("| Case | " + " | ".join(parts) + (" | run − (parse + model + schedule) |" if whole else " |"))
    print("|---|" + "---:|" * (len(parts) + whole))
    for case in args.case or CASES:
        counts = {part: per_call(case, part, args.calls) for part in parts}
        cells = " | ".join(f"{counts[part]:,.0f}" for part in parts)
        if whole:
            rest = counts["run"] - counts["parse"] - counts["model"] - counts["schedule"]
            cells += f" | {rest:,.0f}"
        print(f"| `{case}` | {cells} |", flush=True)
    if args.case or args.part:
        return
    try:
        ftk = f"{per_call('financetoolkit', 'run', args.calls // 4):,.0f}"
    except subprocess.CalledProcessError:
        ftk = "not installed (pip install -r bench/requirements.txt)"
    print(f"\nFinanceToolkit `get_intrinsic_value` on the explicit DCF's inputs: {ftk} instructions per call.")


if __name__ == "__main__":
    main()

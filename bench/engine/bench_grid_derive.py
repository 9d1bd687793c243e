"""A/B of the 21 x 21 Ginzu sensitivity grid: cells derived from one resolution vs re-resolved.

    flock /tmp/water-bench.lock .venv/bin/python bench/engine/bench_grid_derive.py [rounds]

"old" empties `dcf_ginzu.DERIVABLE` for the duration of its call, so every cell goes through
`prepare_fields` (full `_resolve`) as before the change; "new" is the engine as shipped. Both
run interleaved in one process on `bench_cases.sensitivity_request()` (cost of capital x stable
growth, the worker's default axes); the grids must be identical. Prints the CPU time per grid
(process_time) as medians and the ratio.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_cases  # type: ignore[import-not-found]  # noqa: E402

import water_engine  # noqa: E402
from water_engine.models import dcf_ginzu as G  # noqa: E402


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 41
    request = bench_cases.sensitivity_request()
    derivable = G.DERIVABLE

    def old() -> object:
        G.DERIVABLE = frozenset()  # type: ignore[misc]
        try:
            return water_engine.run(request)
        finally:
            G.DERIVABLE = derivable  # type: ignore[misc]

    def new() -> object:
        return water_engine.run(request)

    if old() != new():
        raise SystemExit("grids differ")
    for _ in range(5):
        old()
        new()
    times: dict[str, list[float]] = {"old": [], "new": []}
    for _ in range(rounds):
        for name, fn in (("old", old), ("new", new)):
            t0 = time.process_time()
            fn()
            times[name].append(time.process_time() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in med.items():
        print(f"{k}: median {v * 1e3:.2f} ms CPU per 21x21 grid ({rounds} interleaved rounds)")
    print(f"new / old = {med['new'] / med['old']:.3f}")


if __name__ == "__main__":
    main()

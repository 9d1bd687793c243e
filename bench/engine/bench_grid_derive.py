"""A/B/C of the 21 x 21 Ginzu sensitivity grid: re-resolved, derived cell by cell, whole grid.

    flock /tmp/water-bench.lock .venv/bin/python bench/engine/bench_grid_derive.py [rounds]

"old" empties `dcf_ginzu.DERIVABLE` for the duration of its call, so every cell goes through
`prepare_fields` (full `_resolve`); "cells" turns `Evaluator.grid` off, so each cell is derived
from the base resolution on its own (the engine before the whole-grid path); "new" is the engine
as shipped (`Evaluator.grid`). All run interleaved in one process on
`bench_cases.sensitivity_request()` (cost of capital x stable growth, the worker's default axes);
the grids must be identical. Prints the CPU time per grid (process_time) as medians and ratios.
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
from water_engine.models import analysis as A  # noqa: E402
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

    whole_grid = A.Evaluator.grid

    def cells() -> object:
        A.Evaluator.grid = lambda *args, **kwargs: None  # type: ignore[method-assign]
        try:
            return water_engine.run(request)
        finally:
            A.Evaluator.grid = whole_grid  # type: ignore[method-assign]

    def new() -> object:
        return water_engine.run(request)

    if not old() == cells() == new():
        raise SystemExit("grids differ")
    variants = (("old", old), ("cells", cells), ("new", new))
    for _ in range(5):
        for _name, fn in variants:
            fn()
    times: dict[str, list[float]] = {name: [] for name, _ in variants}
    for _ in range(rounds):
        for name, fn in variants:
            t0 = time.process_time()
            fn()
            times[name].append(time.process_time() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in med.items():
        print(f"{k}: median {v * 1e3:.2f} ms CPU per 21x21 grid run() ({rounds} interleaved rounds)")
    print(f"new / old = {med['new'] / med['old']:.3f}; new / cells = {med['new'] / med['cells']:.3f}")


if __name__ == "__main__":
    main()

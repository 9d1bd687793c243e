"""IRR and XIRR on long cash-flow series: Water's engine, optionally an older checkout's, and pyxirr.

    .venv/bin/python bench/engine/bench_irr.py [--baseline-src /path/to/other/checkout] [--rounds 3]

Cases: monthly flows of 120, 360 and 1,000 periods, as `irr` (periods) and `xirr` (the first of
each month from 2000-01), seeded, after an outflow of 1,000:
  * random signs -- flows between -100 and 100: their tail sums change sign several times, so the
    rates below 0 are scanned for every root; their running sums never change sign at 120 and 360
    periods (the rates above 0 are skipped) and three times at 1,000 (both sides are scanned);
  * irregular -- flows between -50 and 150: many sign changes, but the running sums change sign
    once and the tail sums never, so one root above 0, found by bisecting that side of the grid;
  * conventional -- inflows between 5 and 150: one sign change, bisected the same way.
Each engine runs in its own process, the processes alternate round by round, and each figure is
the best of `--rounds` (a whole `water_engine.run`). `--baseline-src` is the root of another
checkout (a `git worktree` at the commit to compare with), timed the same way in the same run.
pyxirr (Rust, test-only) is the native reference: it finds one root by Newton's method where Water
looks for all of them.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SIZES = (120, 360, 1000)


def cases() -> list[tuple[str, dict[str, object]]]:
    found = []
    for kind, low, high in (("random signs", -100.0, 100.0), ("irregular", -50.0, 150.0), ("conventional", 5.0, 150.0)):
        for n in SIZES:
            rng = random.Random(n)
            flows = [-1000.0] + [rng.uniform(low, high) for _ in range(n - 1)]
            dates = [f"{2000 + i // 12:04d}-{i % 12 + 1:02d}-01" for i in range(n)]
            found.append((f"irr, {kind}, {n} periods", {"model": "irr", "inputs": {"flows": flows}}))
            found.append(
                (f"xirr, {kind}, {n} dated flows", {"model": "xirr", "inputs": {"flows": flows, "dates": dates}})
            )
    return found


def time_engine(src: Path) -> dict[str, float]:
    """Seconds per run of each case with the engine under `src`, in a fresh process."""
    code = (
        "import json, sys, time\n"
        f"sys.path.insert(0, {str(src / 'engine' / 'src')!r}); sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "import water_engine, bench_irr\n"
        "out = {}\n"
        "for label, request in bench_irr.cases():\n"
        "    start = time.perf_counter(); water_engine.run(request); out[label] = time.perf_counter() - start\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return dict(json.loads(done.stdout))


def time_pyxirr() -> dict[str, float]:
    import pyxirr

    out = {}
    for label, request in cases():
        inputs = request["inputs"]
        assert isinstance(inputs, dict)
        start = time.perf_counter()
        if request["model"] == "irr":
            pyxirr.irr(inputs["flows"])
        else:
            pyxirr.xirr(inputs["dates"], inputs["flows"])
        out[label] = time.perf_counter() - start
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline-src", type=Path, help="root of another checkout to time beside this one")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    engines = {"this checkout": ROOT}
    if args.baseline_src:
        engines["baseline"] = args.baseline_src.resolve()
    best: dict[str, dict[str, float]] = {name: {} for name in engines}
    for _ in range(args.rounds):
        for name, src in engines.items():
            for label, seconds in time_engine(src).items():
                best[name][label] = min(seconds, best[name].get(label, seconds))
    native = time_pyxirr()
    names = list(engines)
    print("| Case | " + " | ".join(names) + " | pyxirr |")
    print("|---|" + "---:|" * (len(names) + 1))
    for label, _ in cases():
        cells = [f"{best[name][label] * 1e3:,.1f} ms" for name in names]
        print(f"| {label} | " + " | ".join(cells) + f" | {native[label] * 1e3:,.3f} ms |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

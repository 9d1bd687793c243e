"""Engine benchmark (issue 3): CPython, Pyodide in Node.js, the numpy fast path and FinanceToolkit.

    .venv/bin/python bench/engine/bench_engine.py [--no-pyodide] [--write-docs]

Times, as the median of single calls after warm-up:
  * one 10-year Ginzu FCFF valuation (`fcff_ginzu`)                      target <= 30 us
  * a 21 x 21 cost-of-capital x growth grid (`sensitivity`)              target <= 5 ms
  * 100,000 Monte Carlo paths, pure engine (`monte_carlo`)               target <= 3 s
  * 100,000 Monte Carlo paths, numpy fast path (`water_engine_fast`)     target <= 150 ms
  * the same pure calls under Pyodide in Node.js                         target <= 3x CPython
  * FinanceToolkit's DCF (`get_intrinsic_value`, 10 periods) beside
    Water's explicit DCF on the same inputs and the Ginzu valuation      target Water >= 10x faster
Prints a markdown table; --write-docs also replaces the "## Engine (issue 3)" section of
docs/benchmarks.md with it (the rest of that file is left alone).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

import bench_cases  # type: ignore[import-not-found]  # noqa: E402  (a sibling file, shared with Pyodide)

DOCS = ROOT / "docs" / "benchmarks.md"
SECTION = "## Engine (issue 3)"
COMMAND = ".venv/bin/python bench/engine/bench_engine.py --write-docs"
INSTALL = "npm ci --prefix engine/tests/pyodide"


def fmt(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1.0:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def machine() -> dict[str, str]:
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    cpu = platform.processor() or "unknown"
    cores = "?"
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        fields = dict(line.split(":", 1) for line in lscpu.splitlines() if ":" in line)
        cpu = fields.get("Model name", cpu).strip()
        cores = fields.get("CPU(s)", cores).strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    node = shutil.which("node")
    node_version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip() if node else "—"
    return {
        "cpu": cpu,
        "load": load,
        "cores": cores,
        "os": platform.platform(),
        "python": platform.python_version(),
        "node": node_version,
        "financetoolkit": _version("financetoolkit"),
        "numpy": _version("numpy"),
    }


def bench_fast_path() -> dict[str, Any]:
    """100,000 Monte Carlo paths through the numpy fast path (`water_engine_fast.monte_carlo_ginzu`)."""
    try:
        from water_engine_fast import monte_carlo_ginzu
    except ImportError:
        sys.path.insert(0, str(ROOT / "engine" / "src"))  # present in the repository but not installed
        try:
            from water_engine_fast import monte_carlo_ginzu
        except ImportError as exc:
            return {"skipped": f"water_engine_fast is not available ({exc})"}
    request = bench_cases.monte_carlo_request()
    seconds, calls = bench_cases.median_call_seconds(
        lambda: monte_carlo_ginzu(request), warmup=1, min_calls=7, min_seconds=0.0
    )
    return {"seconds": seconds, "calls": calls, "headline": monte_carlo_ginzu(request)["mean"]}


def bench_financetoolkit() -> dict[str, Any]:
    """FinanceToolkit's DCF function on FTK_INPUTS (pure computation, no data download)."""
    try:
        from financetoolkit.models.intrinsic_model import get_intrinsic_value
    except ImportError:
        return {"skipped": "financetoolkit is not installed (pip install -r bench/requirements.txt)"}
    inputs = bench_cases.FTK_INPUTS
    seconds, calls = bench_cases.median_call_seconds(
        lambda: get_intrinsic_value(**inputs), warmup=50, min_calls=500, min_seconds=1.0
    )
    frame = get_intrinsic_value(**inputs)
    return {"seconds": seconds, "calls": calls, "headline": float(frame.loc["Intrinsic Value"].iloc[0])}


def bench_pyodide(names: list[str]) -> dict[str, Any]:
    node = shutil.which("node")
    script = HERE / "bench_pyodide.mjs"
    if node is None:
        return {"error": "node is not on PATH"}
    if not (ROOT / "engine/tests/pyodide/node_modules/pyodide").exists():
        return {"error": f"pyodide is not installed; run: {INSTALL}"}
    proc = subprocess.run([node, str(script), *names], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip()[-2000:]}
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def _best(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Per case, the result with the lower median (a result without a time never replaces one)."""
    merged = dict(old)
    for name, result in new.items():
        previous = old.get(name)
        if previous is None or "seconds" not in previous or result.get("seconds", math.inf) < previous["seconds"]:
            merged[name] = result
    return merged


def _best_pyodide(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    if "error" in new or not old:
        return old or new
    merged = {**new, "results": _best(old.get("results", {}), new["results"])}
    merged["boot_seconds"] = min(old["boot_seconds"], new["boot_seconds"])
    return merged


def _seconds(result: dict[str, Any] | None) -> float | None:
    return None if not result or "seconds" not in result else float(result["seconds"])


def _verdict(value: float | None, limit: float, *, at_least: bool = False) -> str:
    if value is None:
        return "—"
    ok = value >= limit if at_least else value <= limit
    return "yes" if ok else "**no**"


def table(cpython: dict[str, Any], pyodide: dict[str, Any], fast: dict[str, Any], ftk: dict[str, Any]) -> str:
    py_results = pyodide.get("results", {})
    rows = [
        ("One 10-year Ginzu FCFF valuation (`fcff_ginzu`), `run()` end to end", "ginzu", 30e-6),
        ("One 10-year Ginzu FCFF valuation, model only (parsed inputs)", "ginzu_compute", 30e-6),
        ("Explicit 10-year FCFF DCF on FinanceToolkit's inputs (`fcff_explicit`), `run()`", "explicit_dcf", None),
        ("Explicit 10-year FCFF DCF, model only (parsed inputs)", "explicit_dcf_compute", None),
        ("21 × 21 cost of capital × growth grid (`sensitivity`)", "sensitivity", 5e-3),
        ("100,000 Monte Carlo paths, pure (`monte_carlo`)", "monte_carlo", 3.0),
    ]
    out = [
        "| Measurement | Target | CPython | Pyodide (Node) | Pyodide ÷ CPython | Target met | Result |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for label, name, limit in rows:
        c, p = _seconds(cpython.get(name)), _seconds(py_results.get(name))
        ratio = p / c if (c and p) else None
        met = [] if limit is None else [_verdict(c, limit)]
        if ratio is not None:
            met.append(f"Pyodide ≤ 3×: {_verdict(ratio, 3.0)}")
        skipped = cpython.get(name, {}).get("skipped")
        target = "—" if limit is None else f"≤ {fmt(limit)}"
        result = skipped or (repr(cpython[name]["headline"]) if name in cpython else "not run")
        ratio_text = "—" if ratio is None else f"{ratio:.2f}×"
        out.append(f"| {label} | {target} | {fmt(c)} | {fmt(p)} | {ratio_text} | {'; '.join(met) or '—'} | {result} |")
    f = _seconds(fast)
    out.append(
        f"| 100,000 Monte Carlo paths, numpy fast path (`water_engine_fast`) | ≤ 150 ms | {fmt(f)} | n/a | — "
        f"| {_verdict(f, 0.150)} | {fast.get('skipped') or repr(fast.get('headline'))} |"
    )
    t = _seconds(ftk)
    out.append(
        f"| FinanceToolkit `get_intrinsic_value` (10-period DCF) | — | {fmt(t)} | n/a | — | — "
        f"| {ftk.get('skipped') or repr(ftk.get('headline'))} |"
    )
    comparisons = (
        ("explicit DCF on the same inputs, `run()`", "explicit_dcf"),
        ("explicit DCF on the same inputs, model only", "explicit_dcf_compute"),
        ("Ginzu valuation, `run()`", "ginzu"),
        ("Ginzu valuation, model only", "ginzu_compute"),
    )
    for label, name in comparisons:
        w = _seconds(cpython.get(name))
        if t and w:
            out.append(
                f"| FinanceToolkit ÷ Water ({label}) | ≥ 10× | {t / w:.1f}× | — | — | {_verdict(t / w, 10.0, at_least=True)} | |"
            )
    return "\n".join(out)


def section(text: str, info: dict[str, str], pyodide: dict[str, Any], started: str, rounds: int) -> str:
    py = f"Pyodide {pyodide.get('pyodide', '—')} (Python {pyodide.get('python', '—')})"
    boot = pyodide.get("boot_seconds")
    return "\n".join(
        [
            SECTION,
            "",
            f"Measured {started} with `{COMMAND}` (after `{INSTALL}` and "
            "`.venv/bin/uv pip install --python .venv/bin/python -r bench/requirements.txt`).",
            "",
            f"- Machine: {info['cpu']}, {info['cores']} CPU(s), {info['os']}; load average at the start "
            f"{info['load']} (the machine is shared: figures are wall-clock medians)",
            f"- CPython {info['python']}; Node.js {info['node']}; {py}; numpy {info['numpy']}; "
            f"FinanceToolkit {info['financetoolkit']}",
            "- Each figure is the median wall time of single calls after warm-up, the best of "
            f"{rounds} rounds that alternate CPython and Pyodide: `run()` is `water_engine.run(request)` (the whole "
            "JSON boundary: validation, model, output conversion and checks); *model only* calls the registered "
            "model on inputs parsed once. The requests are in `bench/engine/bench_cases.py`, and the same Python "
            "timing loop runs inside Pyodide.",
            "- FinanceToolkit: `financetoolkit.models.intrinsic_model.get_intrinsic_value` (the computation "
            "behind `Toolkit.models.get_intrinsic_valuation`, called directly on numbers, no data download), "
            "10 periods; Water's `fcff_explicit` gets the same cash flows, rates and bridge.",
            f"- Pyodide boot (load runtime + engine), not in the figures: {boot:.2f} s"
            if isinstance(boot, float)
            else "- Pyodide: not measured",
            "",
            text,
            "",
        ]
    )


def write_docs(body: str) -> None:
    text = DOCS.read_text(encoding="utf-8") if DOCS.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.DOTALL | re.MULTILINE)
    if pattern.search(text):
        text = pattern.sub(lambda _m: body + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + body
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    DOCS.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-pyodide", action="store_true", help="skip the Pyodide measurements")
    parser.add_argument("--write-docs", action="store_true", help=f"update the {SECTION!r} section of {DOCS}")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds; the best median is kept")
    parser.add_argument("cases", nargs="*", help=f"only these cases, of: {', '.join(bench_cases.CASES)}")
    args = parser.parse_args()
    unknown = set(args.cases) - set(bench_cases.CASES)
    if unknown:
        parser.error(f"unknown cases: {', '.join(sorted(unknown))}")
    started = time.strftime("%Y-%m-%d")
    info = machine()
    names = args.cases or list(bench_cases.CASES)

    # Rounds alternate the runtimes so that both see the same (shared-machine) conditions;
    # each figure is the best round's median.
    cpython: dict[str, Any] = {}
    fast: dict[str, Any] = {"skipped": "not requested"}
    ftk: dict[str, Any] = {}
    pyodide: dict[str, Any] = {}
    for _ in range(args.rounds):
        cpython = _best(cpython, bench_cases.run_all(names))
        if "monte_carlo" in names:
            fast = _best({"x": fast}, {"x": bench_fast_path()})["x"]
        ftk = _best({"x": ftk}, {"x": bench_financetoolkit()})["x"]
        if not args.no_pyodide:
            pyodide = _best_pyodide(pyodide, bench_pyodide(names))
    if "error" in pyodide:
        print(f"Pyodide: {pyodide['error']}", file=sys.stderr)
    text = table(cpython, pyodide, fast, ftk)
    body = section(text, info, pyodide, started, args.rounds)
    print(body)
    explicit, ftk_value = cpython.get("explicit_dcf", {}).get("headline"), ftk.get("headline")
    if isinstance(explicit, float) and isinstance(ftk_value, float):
        print(f"explicit DCF value per share {explicit!r} vs FinanceToolkit {ftk_value!r}")
    if args.write_docs:
        write_docs(body)
        print(f"wrote the {SECTION!r} section of {DOCS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

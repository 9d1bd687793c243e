"""The engine gives bit-identical results in CPython and in Pyodide (WebAssembly, Node.js).

Every golden case (and 40 seeded variants of each), every model's validation errors, inputs at
the edges of the float range (the same NotComputableError, the annuity's small-rate series),
10,000 seeded random Ginzu FCFF requests and seeded sensitivity, tornado, scenario and
Monte Carlo requests over random bases run once in this CPython and once in Pyodide (the
whole batch in two Node.js processes). Both sides serialise each response with the same code
(pyodide/parity_runner.py: floats as their Python repr, errors as type and message) and
the lines must be equal.

Needs Node.js and the pinned npm package pyodide: `npm ci --prefix engine/tests/pyodide`.
Without them this test fails (it is part of `make test`); set WATER_SKIP_PYODIDE=1 to skip.
WATER_PYODIDE_RANDOM_CASES overrides the number of random Ginzu cases (default 10,000);
WATER_PYODIDE_PROCESSES the number of Node.js processes sharing the Pyodide side (default 2).
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import water_engine

pytestmark = pytest.mark.pyodide

TESTS = Path(__file__).resolve().parent
PYODIDE_DIR = TESTS / "pyodide"
GOLDEN_DIR = TESTS / "golden"
INSTALL_COMMAND = "npm ci --prefix engine/tests/pyodide"
RANDOM_GINZU_CASES = int(os.environ.get("WATER_PYODIDE_RANDOM_CASES", "10000"))
GOLDEN_VARIANTS = 40
SENSITIVITY_CASES = 40
TORNADO_CASES = 40
SCENARIO_CASES = 40
MONTE_CARLO_CASES = 12
RANDOM_CASES_ANALYSIS = 20  # of each analysis generator that random_cases.py provides
NODE_TIMEOUT_SECONDS = 900
PYODIDE_PROCESSES = int(os.environ.get("WATER_PYODIDE_PROCESSES", "2"))

Case = tuple[str, Any]


def _load_module(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _random_cases() -> ModuleType | None:
    path = TESTS / "random_cases.py"
    if not path.exists():
        return None
    sys.path.insert(0, str(TESTS))  # random_cases may import its siblings
    try:
        return _load_module("random_cases", path)
    finally:
        sys.path.remove(str(TESTS))


def golden_cases() -> list[Case]:
    """Every request in engine/tests/golden/*.json (a case, a list of cases, or {"cases": [...]})."""
    cases: list[Case] = []
    for path in sorted(GOLDEN_DIR.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        items = data.get("cases", [data]) if isinstance(data, dict) else data
        for i, item in enumerate(items):
            cases.append((f"golden {path.name}[{i}]", item["request"]))
    return cases


def _perturb(value: Any, rng: random.Random, in_list: bool = False) -> Any:
    if isinstance(value, dict):
        return {k: _perturb(v, rng) for k, v in value.items()}
    if isinstance(value, list):
        return [_perturb(v, rng, in_list=True) for v in value]
    if isinstance(value, float) or (in_list and isinstance(value, int) and not isinstance(value, bool)):
        return value * (0.9 + 0.2 * rng.random())
    return value


def golden_variants(golden: list[Case]) -> list[Case]:
    """Seeded variants of every golden request: each float (and each number in a list) scaled by 0.9-1.1.

    Reaches every model that has a golden case, with numbers that are not round.
    """
    cases: list[Case] = []
    for label, request in golden:
        for k in range(GOLDEN_VARIANTS):
            rng = random.Random(f"{label}/{k}")
            variant = dict(request, inputs=_perturb(request.get("inputs", {}), rng))
            cases.append((f"{label} variant {k}", variant))
    return cases


def boundary_cases() -> list[Case]:
    """Validation paths: every registered model with empty inputs, plus malformed requests."""
    cases: list[Case] = [
        (f"empty inputs {name}", {"model": name, "inputs": {}}) for name in sorted(water_engine.MODELS)
    ]
    cases += [
        ("unknown model", {"model": "no-such-model", "inputs": {}}),
        ("not an object", [1, 2]),
        ("unknown field", {"model": "fcff_ginzu", "inputs": {}, "extra": 1}),
    ]
    return cases


def extreme_cases() -> list[Case]:
    """Inputs at the edges of the float range (test_extreme_inputs.py): the same NotComputableError
    in both runtimes, and the annuity's small-rate series to the last bit."""
    module = _load_module("_extreme_inputs_for_parity", TESTS / "test_extreme_inputs.py")
    cases: list[Case] = [(f"not computable: {label}", request) for label, request in module.NOT_COMPUTABLE.items()]
    for rate in (1e-308, 1e-15, 1e-9, 5e-7, -5e-7, 2e-6):
        inputs = {"rate": rate, "periods": 120, "present_value": 10_000, "solve_for": "payment"}
        cases.append((f"annuity payment at rate {rate}", {"model": "annuity", "inputs": inputs}))
    return cases


def irr_cases() -> list[Case]:
    """IRR and XIRR on seeded monthly series whose rate grid is bisected on a side of r = 0, skipped or
    walked (bounds from exact running and tail sums, in Python integers): the same roots in both."""
    cases: list[Case] = []
    for kind, low, high in (("conventional", 5.0, 150.0), ("irregular", -50.0, 150.0), ("random", -100.0, 100.0)):
        rng = random.Random(kind)
        flows = [-1000.0] + [rng.uniform(low, high) for _ in range(239)]
        dates = [f"{2000 + i // 12:04d}-{i % 12 + 1:02d}-{1 + i % 28:02d}" for i in range(240)]
        cases.append((f"irr {kind}", {"model": "irr", "inputs": {"flows": flows}}))
        cases.append((f"xirr {kind}", {"model": "xirr", "inputs": {"flows": flows, "dates": dates}}))
    cases.append(("irr never pays back", {"model": "irr", "inputs": {"flows": [-1000.0] + [2.0] * 359}}))
    same_day = {
        "flows": [-100.0, 60.0, -60.0, 130.0],
        "dates": ["2020-01-01", "2021-06-30", "2021-06-30", "2022-01-01"],
    }
    cases.append(("xirr same-day flows", {"model": "xirr", "inputs": same_day}))
    return cases


# Inputs every random Ginzu request has (so analysis models can vary them around the base).
_GINZU_FIELDS = (
    "initial_cost_of_capital",
    "growth_year_1",
    "sales_to_capital_years_1_5",
    "riskfree_rate",
    "effective_tax_rate",
    "marginal_tax_rate",
    "ebit",
)


def _around(value: float, spread: float, n: int) -> list[float]:
    """n values spread evenly over value * (1 - spread) .. value * (1 + spread)."""
    return [value * (1.0 - spread + 2.0 * spread * i / (n - 1)) for i in range(n)]


def _explicit_base(rng: random.Random) -> dict[str, Any]:
    inputs = {
        "fcff": [100.0 * (1.0 + 0.1 * rng.random()) for _ in range(6)],
        "discount_rate": 0.07 + 0.05 * rng.random(),
        "terminal": {"method": "gordon", "growth": 0.02},
        "shares_outstanding": 10.0,
    }
    return {"model": "fcff_explicit", "inputs": inputs, "conventions": {}}


def _analysis_base(module: ModuleType, rng: random.Random) -> tuple[dict[str, Any], list[str]]:
    """A random base request and the inputs an analysis may vary (mostly Ginzu, its fast path)."""
    if rng.random() < 0.1:  # the generic route: re-validate and re-run the base model
        return _explicit_base(rng), ["discount_rate", "terminal.growth"]
    return module.random_ginzu_request(rng.randrange(10**9)), list(_GINZU_FIELDS)


def _value(base: dict[str, Any], field: str) -> float:
    node: Any = base["inputs"]
    for part in field.split("."):
        node = node[part]
    return float(node)


def random_sensitivity_request(module: ModuleType, seed: int) -> dict[str, Any]:
    rng = random.Random(f"sensitivity/{seed}")
    base, fields = _analysis_base(module, rng)
    row, column = rng.sample(fields, 2)
    axes = {
        name: {"path": f"inputs.{f}", "values": _around(_value(base, f), 0.3 * rng.random(), rng.choice((3, 5, 7)))}
        for name, f in (("rows", row), ("columns", column))
    }
    return {"model": "sensitivity", "inputs": {"base": base, **axes}, "conventions": {}}


def random_tornado_request(module: ModuleType, seed: int) -> dict[str, Any]:
    rng = random.Random(f"tornado/{seed}")
    base, fields = _analysis_base(module, rng)
    variables = []
    for f in rng.sample(fields, 2):
        v, d = _value(base, f), 0.3 * rng.random()
        variables.append({"path": f"inputs.{f}", "low": v * (1 - d), "high": v * (1 + d)})
    return {"model": "tornado", "inputs": {"base": base, "variables": variables}, "conventions": {}}


def random_scenarios_request(module: ModuleType, seed: int) -> dict[str, Any]:
    rng = random.Random(f"scenarios/{seed}")
    base, fields = _analysis_base(module, rng)
    eighths = rng.choice(((2, 4, 2), (1, 6, 1), (3, 5), (8,)))  # probabilities that sum to 1 exactly
    scenarios = [
        {
            "name": f"s{i}",
            "probability": k / 8,
            "overrides": {f"inputs.{f}": _value(base, f) * (0.8 + 0.4 * rng.random()) for f in rng.sample(fields, 2)},
        }
        for i, k in enumerate(eighths)
    ]
    return {"model": "scenarios", "inputs": {"base": base, "scenarios": scenarios}, "conventions": {}}


def _driver(rng: random.Random, path: str, v: float) -> dict[str, Any]:
    kind = rng.choice(("normal", "lognormal", "triangular", "uniform") if v > 0 else ("normal", "uniform"))
    d = abs(v) * (0.02 + 0.2 * rng.random())
    driver: dict[str, Any] = {"path": path, "distribution": kind}
    if kind in ("normal", "lognormal"):
        driver.update(mean=v, stdev=d)
    elif kind == "triangular":
        driver.update(low=v - d, mode=v + d * (rng.random() - 0.5), high=v + d)
    else:
        driver.update(low=v - d, high=v + d)
    if rng.random() < 0.3:
        driver["truncate_low"] = v - 1.5 * d
    return driver


def random_monte_carlo_request(module: ModuleType, seed: int) -> dict[str, Any]:
    rng = random.Random(f"monte_carlo/{seed}")
    base, fields = _analysis_base(module, rng)
    chosen = rng.sample(fields, rng.randint(1, 2) if len(fields) == 2 else rng.randint(1, 3))
    inputs: dict[str, Any] = {
        "base": base,
        "drivers": [_driver(rng, f"inputs.{f}", _value(base, f)) for f in chosen],
        "paths": rng.randint(200, 1_000),
        "seed": seed,
        "bins": rng.randint(5, 30),
    }
    if len(chosen) > 1 and rng.random() < 0.5:
        inputs["correlations"] = [
            {"a": f"inputs.{chosen[0]}", "b": f"inputs.{chosen[1]}", "rho": rng.uniform(-0.8, 0.8)}
        ]
    return {"model": "monte_carlo", "inputs": inputs, "conventions": {}}


ANALYSIS_GENERATORS = {
    "sensitivity": (random_sensitivity_request, SENSITIVITY_CASES),
    "tornado": (random_tornado_request, TORNADO_CASES),
    "scenarios": (random_scenarios_request, SCENARIO_CASES),
    "monte_carlo": (random_monte_carlo_request, MONTE_CARLO_CASES),
}


def random_cases(module: ModuleType | None) -> list[Case]:
    """10,000 seeded random Ginzu requests (random_cases.py) and seeded analysis requests over them."""
    if module is None:
        return []
    cases: list[Case] = [
        (f"random_ginzu_request({seed})", module.random_ginzu_request(seed)) for seed in range(RANDOM_GINZU_CASES)
    ]
    for model, (make, count) in ANALYSIS_GENERATORS.items():
        if model in water_engine.MODELS:
            cases += [(f"random {model} {seed}", make(module, seed)) for seed in range(count)]
    for name in ("random_sensitivity_request", "random_monte_carlo_request"):  # random_cases.py's own, if any
        make_own = getattr(module, name, None)
        if make_own is not None:
            cases += [(f"{name}({seed})", make_own(seed)) for seed in range(RANDOM_CASES_ANALYSIS)]
    return cases


def all_cases() -> list[Case]:
    golden = golden_cases()
    return (
        golden
        + golden_variants(golden)
        + boundary_cases()
        + extreme_cases()
        + irr_cases()
        + random_cases(_random_cases())
    )


def _require_node_and_pyodide() -> str:
    if os.environ.get("WATER_SKIP_PYODIDE") == "1":
        pytest.skip("WATER_SKIP_PYODIDE=1")
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js (node) is not on PATH; the Pyodide parity test needs Node.js 20 or newer")
    if not (PYODIDE_DIR / "node_modules" / "pyodide" / "pyodide.mjs").exists():
        pytest.fail(f"the npm package pyodide is not installed; run: {INSTALL_COMMAND}  (or set WATER_SKIP_PYODIDE=1)")
    return node


def _diff_paths(a: Any, b: Any, path: str = "") -> list[str]:
    """Paths where two decoded results differ, with both values as reprs."""
    if isinstance(a, dict) and isinstance(b, dict):
        if list(a) != list(b):
            return [f"{path or '.'}: keys {list(a)} != {list(b)}"]
        return [d for k in a for d in _diff_paths(a[k], b[k], f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in _diff_paths(x, y, f"{path}[{i}]")]
    if type(a) is type(b) and repr(a) == repr(b):
        return []
    return [f"{path or '.'}: CPython {a!r} != Pyodide {b!r}"]


def _mismatch_report(cases: list[Case], cpython: list[str], pyodide: list[str]) -> str:
    bad = [i for i, (c, p) in enumerate(zip(cpython, pyodide, strict=True)) if c != p]
    if not bad:
        return ""
    by_model = Counter(str(cases[i][1].get("model")) if isinstance(cases[i][1], dict) else "?" for i in bad)
    lines = [f"{len(bad)} of {len(cases)} results differ between CPython and Pyodide; by model: {dict(by_model)}"]
    for i in bad[:5]:
        label, request = cases[i]
        diffs = _diff_paths(json.loads(cpython[i]), json.loads(pyodide[i]))
        lines.append(f"- {label}: {len(diffs)} differing values, first: {diffs[:3]}")
        lines.append(f"  request: {json.dumps(request)[:2000]}")
    return "\n".join(lines)


def _start_pyodide(node: str, lines: list[str], workdir: Path, index: int) -> tuple[subprocess.Popen[str], Path]:
    in_path, out_path = workdir / f"requests-{index}.jsonl", workdir / f"pyodide-{index}.jsonl"
    in_path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    command = [node, str(PYODIDE_DIR / "run_engine.mjs"), str(in_path), str(out_path)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True), out_path


def _finish_pyodide(proc: subprocess.Popen[str], out_path: Path, expected: int) -> list[str]:
    stdout, stderr = proc.communicate(timeout=NODE_TIMEOUT_SECONDS)
    assert proc.returncode == 0, f"run_engine.mjs failed (exit {proc.returncode}):\n{stderr[-4000:]}"
    meta = json.loads(stdout.strip().splitlines()[-1])
    pinned = json.loads((PYODIDE_DIR / "package.json").read_text())["dependencies"]["pyodide"]
    assert meta["pyodide"] == pinned, (
        f"installed Pyodide {meta['pyodide']} is not the pinned {pinned}; run: {INSTALL_COMMAND}"
    )
    lines = out_path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == expected, f"Pyodide returned {len(lines)} results for {expected} requests"
    return lines


def test_engine_results_are_bit_identical_in_cpython_and_pyodide(tmp_path: Path) -> None:
    node = _require_node_and_pyodide()
    runner = _load_module("parity_runner", PYODIDE_DIR / "parity_runner.py")
    cases = all_cases()
    request_lines = [json.dumps(request, allow_nan=False) for _, request in cases]

    # The Pyodide side is the slower one: it runs in PYODIDE_PROCESSES Node.js processes
    # (requests dealt round-robin) while this process computes the CPython side.
    n = PYODIDE_PROCESSES
    started = [_start_pyodide(node, request_lines[k::n], tmp_path, k) for k in range(n)]
    try:
        cpython = runner.run_lines(request_lines)
        parts = [_finish_pyodide(proc, out, len(request_lines[k::n])) for k, (proc, out) in enumerate(started)]
    finally:
        for proc, _ in started:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    pyodide = [parts[i % n][i // n] for i in range(len(request_lines))]
    assert len(pyodide) == len(cases) == len(cpython)
    report = _mismatch_report(cases, cpython, pyodide)
    assert not report, report


def test_mismatch_report_names_a_one_ulp_difference() -> None:
    cpython = json.dumps({"outputs": {"value": 0.1 + 0.2}})
    pyodide = json.dumps({"outputs": {"value": 0.30000000000000004 - 5.551115123125783e-17}})
    report = _mismatch_report([("case", {"model": "m"})], [cpython], [pyodide])
    assert "1 of 1 results differ" in report
    assert "outputs.value: CPython 0.30000000000000004 != Pyodide 0.3" in report


def test_every_model_reaches_pyodide_with_a_valid_request() -> None:
    """Each registered model has a golden request that CPython values without error (analysis models
    with a seeded generator above may rely on it instead), so parity covers results, not only errors."""
    valid: set[str] = set()
    for _, request in golden_cases():
        try:
            water_engine.run(request)
        except water_engine.EngineError:
            continue
        valid.add(request["model"])
    missing = set(water_engine.MODELS) - valid - set(ANALYSIS_GENERATORS)
    assert not missing, f"no valid golden request for: {sorted(missing)}"

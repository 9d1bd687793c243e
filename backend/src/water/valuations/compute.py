"""Running a valuation's engine requests: pure (no I/O), so run, rerun and verify share it exactly."""

from __future__ import annotations

import time
from typing import Any

import water_engine

from .schemas import ANALYSES, VALUE_METHODS

PRIMARY_ORDER = [m.value for m in VALUE_METHODS]
ANALYSIS_NAMES = {a.value for a in ANALYSES}


class RunFailure(Exception):
    """The engine refused or failed a request: carried to the run as a problem-style error."""

    def __init__(self, method: str, code: str, detail: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.problem = {
            "method": method,
            "code": code,
            "title": "Valuation failed",
            "detail": detail,
            "errors": errors or [],
        }


# A run is quick when it finishes within tens of milliseconds: no Monte Carlo, and no grid larger
# than the default 21 x 21 (about 1 ms on the fast path, 30 ms at worst cell by cell).
QUICK_GRID_CELLS = 21 * 21


def quick(requests: dict[str, Any]) -> bool:
    """True when the run's engine requests finish within tens of milliseconds (see QUICK_GRID_CELLS)."""
    if "monte_carlo" in requests:
        return False
    grid = requests.get("sensitivity")
    if grid is None:
        return True
    inputs = grid.get("inputs", {})
    rows = len(inputs.get("rows", {}).get("values", ()))
    columns = len(inputs.get("columns", {}).get("values", ()))
    return rows * columns <= QUICK_GRID_CELLS


def _run(method: str, request: dict[str, Any]) -> dict[str, Any]:
    try:
        return water_engine.run(request)
    except water_engine.ValidationError as exc:
        errors = [{"path": e.path, "message": e.message} for e in exc.errors]
        raise RunFailure(method, "invalid_input", f"{method}: {exc}", errors) from exc
    except water_engine.EngineError as exc:
        raise RunFailure(method, getattr(exc, "code", "engine_error"), f"{method}: {exc}") from exc
    except (ArithmeticError, ValueError) as exc:
        raise RunFailure(method, "engine_error", f"{method}: the model could not be computed ({exc})") from exc


def _per_share_range(method: str, results: dict[str, Any]) -> tuple[float, float] | None:
    """The low–high value per share a method supports, for the football field."""
    out = results[method]["outputs"]
    if method == "comparables":
        ranges = [
            m["range"]
            for m in out["multiples"].values()
            if m.get("range") and m["range"]["low"].get("per_share") is not None
        ]
        if not ranges:
            return None
        return min(r["low"]["per_share"] for r in ranges), max(r["high"]["per_share"] for r in ranges)
    value = out.get("value_per_share")
    if value is None:
        return None
    if method == "fcff_ginzu" and "monte_carlo" in results:
        p = results["monte_carlo"]["outputs"]["percentiles"]
        if "p10" in p and "p90" in p:
            return p["p10"], p["p90"]
    if method == "fcff_ginzu" and "sensitivity" in results:
        grid = [v for row in results["sensitivity"]["outputs"]["grid"] for v in row if v is not None]
        if grid:
            return min(grid), max(grid)
    return value, value


def _football_field(spec: dict[str, Any], results: dict[str, Any]) -> dict[str, Any]:
    weights = spec.get("weights", {})
    ranges = []
    for method in spec.get("methods", []):
        found = _per_share_range(method, results)
        if found is not None:
            ranges.append(
                {"name": method, "low": found[0], "high": found[1], "weight": float(weights.get(method, 1.0))}
            )
    price = next((results[m]["outputs"].get("price") for m in PRIMARY_ORDER if m in results), None)
    return _run("football_field", {"model": "football_field", "inputs": {"methods": ranges, "price": price}})


def compute(methods: list[str], requests: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], float]:
    """Every engine result by method, the summary columns, and the compute time in ms."""
    started = time.perf_counter()
    results: dict[str, Any] = {}
    ordered = [m for m in requests if m not in ANALYSIS_NAMES and m != "football_field"]
    ordered += [m for m in requests if m in ANALYSIS_NAMES]
    for method in ordered:
        results[method] = _run(method, requests[method])
    if "football_field" in requests:
        results["football_field"] = _football_field(requests["football_field"], results)
    elapsed_ms = (time.perf_counter() - started) * 1000
    return results, summarize(methods, results), elapsed_ms


def summarize(methods: list[str], results: dict[str, Any]) -> dict[str, Any]:
    """Summary columns from the primary method: the first valuation method the analyst listed."""
    primary = next((m for m in methods if m in PRIMARY_ORDER and m in results), None)
    if primary is None:
        return {"primary_method": None}
    out = results[primary]["outputs"]
    if primary == "comparables":
        points = [
            m["point"] for m in out["multiples"].values() if m.get("point") and m["point"].get("per_share") is not None
        ]
        per_share = points[0]["per_share"] if points else None
        return {
            "primary_method": primary,
            "value_per_share": per_share,
            "equity_value": points[0]["equity_value"] if points else None,
            "enterprise_value": points[0]["enterprise_value"] if points else None,
            "price": None,
            "upside": points[0].get("upside") if points else None,
        }
    return {
        "primary_method": primary,
        "value_per_share": out.get("value_per_share"),
        "equity_value": out.get("value_of_common_equity", out.get("value_of_equity", out.get("equity_value"))),
        "enterprise_value": out.get("value_of_operating_assets", out.get("enterprise_value")),
        "price": out.get("price"),
        "upside": out.get("upside"),
    }


def differences(then: Any, now: Any, path: str = "") -> list[dict[str, Any]]:
    """Every leaf that differs between two results (floats compared by repr: bit-identical or not)."""
    if isinstance(then, dict) and isinstance(now, dict):
        found = []
        for key in sorted(set(then) | set(now)):
            found += differences(then.get(key), now.get(key), f"{path}.{key}" if path else str(key))
        return found
    if isinstance(then, list) and isinstance(now, list) and len(then) == len(now):
        return [d for i, (a, b) in enumerate(zip(then, now, strict=True)) for d in differences(a, b, f"{path}[{i}]")]
    if repr(then) != repr(now):
        return [{"path": path, "then": then, "now": now}]
    return []

"""reverse_dcf: the revenue growth / margin implied by a price (Rappaport & Mauboussin,
"Expectations Investing", ch. 5), solved with the shared bracket scan + Brent root finder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import water_engine

KO = json.loads((Path(__file__).parent / "golden" / "fcff_ginzu_coca_cola_2024.json").read_text())["request"]


def _rev(**inputs: Any) -> dict[str, Any]:
    return water_engine.run({"model": "reverse_dcf", "inputs": {"base": KO, **inputs}})


def test_growth_that_returns_the_base_value_is_the_base_growth() -> None:
    out = _rev(target=39.940608035934304)["outputs"]
    assert out["solution"] == pytest.approx(0.05, abs=1e-9)


def test_implied_growth_reproduces_the_price() -> None:
    out = _rev()["outputs"]  # target defaults to the base price, 72.28
    assert out["target"] == 72.28
    assert out["value_at_solution"] == pytest.approx(72.28, rel=1e-9)
    base = json.loads(json.dumps(KO))
    base["inputs"]["growth_year_1"] = base["inputs"]["growth_years_2_5"] = out["solution"]
    assert water_engine.run(base)["outputs"]["value_per_share"] == pytest.approx(72.28, rel=1e-9)


def test_implied_target_margin() -> None:
    out = _rev(solve_for="target_margin", low=0.0, high=0.9, target=50.0)["outputs"]
    assert out["value_at_solution"] == pytest.approx(50.0, rel=1e-9)
    assert 0.29732056386527494 < out["solution"] < 0.9


def test_any_path_on_any_model() -> None:
    base = {
        "model": "fcff_explicit",
        "inputs": {"fcff": [100, 110, 121], "discount_rate": 0.1, "terminal": {"growth": 0.0}},
    }
    out = water_engine.run(
        {
            "model": "reverse_dcf",
            "inputs": {
                "base": base,
                "solve_for": "path",
                "path": "inputs.discount_rate",
                "output": "enterprise_value",
                "target": 1181.8181818181818,
                "low": 0.02,
                "high": 0.3,
            },
        }
    )["outputs"]
    assert out["solution"] == pytest.approx(0.1, abs=1e-10)


def test_no_solution_is_a_clear_error() -> None:
    with pytest.raises(water_engine.NoSolutionError) as exc:
        _rev(target=10_000.0, low=-0.2, high=0.2)
    message = str(exc.value)
    assert message.startswith("no revenue growth between -0.2 and 0.2 gives value_per_share = 10000")
    assert "goes from" in message

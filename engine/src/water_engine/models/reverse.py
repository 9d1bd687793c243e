"""Reverse DCF (model `reverse_dcf`): the driver value that justifies a given price.

Solves output(base with driver = x) = target for x, where output defaults to
`value_per_share` and target to the base request's `inputs.price`. Drivers:
  * `revenue_growth` (fcff_ginzu): sets growth_year_1 and growth_years_2_5 to x together;
  * `target_margin` (fcff_ginzu): sets the target pre-tax operating margin to x;
  * `path`: any numeric input of any model, by dotted path (e.g. inputs.discount_rate).
Method: the search range [low, high] is scanned on `steps` equal intervals for sign changes of
output - target (points where the model cannot be evaluated break a bracket rather than make
one); the first bracket (closest to `low`) is refined with Brent's method (shared
`water_engine.rootfind`). No sign change: a NoSolutionError stating the range and the values
reached. Several: the first is returned, every one is listed, and a warning says so.
Units: x in the driver's units (decimals for growth and margins); target in the output's
units (currency per share by default).
Source: A. Rappaport and M. Mauboussin, "Expectations Investing" (2001), ch. 5 (price-implied
expectations); R. P. Brent, "Algorithms for Minimization without Derivatives" (1973), ch. 4.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import FieldError, NoSolutionError, ValidationError
from ..registry import Result, register_model
from ..rootfind import find_root, linear_grid, scan_brackets
from .analysis import Evaluator, _path_errors, paths_under_inputs

__all__ = ["ReverseInputs", "compute"]


def _m(doc: str, **bounds: float) -> dict[str, Any]:
    return {"doc": doc, **bounds}


@dataclass(frozen=True)
class ReverseInputs:
    """Inputs of the reverse DCF."""

    base: dict[str, Any] = field(metadata=_m("the base request: {model, inputs, conventions}"))
    solve_for: Literal["revenue_growth", "target_margin", "path"] = field(
        default="revenue_growth", metadata=_m("which driver to solve for")
    )
    path: str | None = field(default=None, metadata=_m("dotted path of the driver when solve_for is path"))
    target: float | None = field(default=None, metadata=_m("value to reach; default the base inputs.price"))
    output: str = field(default="value_per_share", metadata=_m("output of the base model to match"))
    low: float = field(default=-0.5, metadata=_m("lower end of the search range (driver units)"))
    high: float = field(default=1.0, metadata=_m("upper end of the search range (driver units)"))
    steps: int = field(default=60, metadata=_m("intervals scanned for a sign change", ge=1, le=10_000))

    def validate(self) -> list[FieldError]:
        errors = []
        if not self.low < self.high:
            errors.append(FieldError("high", "must be above low"))
        if self.solve_for == "path" and self.path is None:
            errors.append(FieldError("path", "is required when solve_for is path"))
        elif self.solve_for == "path" and self.path is not None:
            errors.extend(_path_errors(self.base, self.path, "path"))
        if self.solve_for != "path" and self.base.get("model") != "fcff_ginzu":
            errors.append(FieldError("solve_for", f"{self.solve_for} needs an fcff_ginzu base; use solve_for path"))
        return errors


_LABEL = {"revenue_growth": "revenue growth", "target_margin": "target margin"}


@register_model("reverse_dcf", inputs=ReverseInputs, summary="The revenue growth or margin that justifies a price")
@paths_under_inputs
def compute(inputs: ReverseInputs, _conventions: Any) -> Result:
    """Solve for the driver value at which the model's output equals the target."""
    if inputs.solve_for == "revenue_growth":
        paths = ["inputs.growth_year_1", "inputs.growth_years_2_5"]
    elif inputs.solve_for == "target_margin":
        paths = ["inputs.target_margin"]
    else:
        assert inputs.path is not None  # checked by ReverseInputs.validate, with the path itself
        paths = [inputs.path]
    ev = Evaluator(inputs.base, inputs.output, paths)
    target = inputs.target
    if target is None:
        price = (inputs.base.get("inputs") or {}).get("price")
        if not isinstance(price, (int, float)) or isinstance(price, bool):
            raise ValidationError(FieldError("target", "is required when the base request has no inputs.price"))
        target = float(price)
    goal = target

    def gap(x: float) -> float:
        return ev(dict.fromkeys(paths, x)) - goal

    def safe(x: float) -> float | None:
        try:
            return gap(x)
        except (ValidationError, ArithmeticError):
            return None

    grid = linear_grid(inputs.low, inputs.high, inputs.steps)

    def scan_f(x: float) -> float:
        y = safe(x)
        if y is None:
            raise ArithmeticError("not computable")
        return y

    brackets, zeros = scan_brackets(scan_f, grid)
    what = _LABEL.get(inputs.solve_for, paths[0])
    roots = sorted(zeros + [find_root(scan_f, a, b, what=what) for a, b in brackets])
    if not roots:
        reached = [y for y in (safe(x) for x in grid) if y is not None]
        span = (
            f"; over that range {inputs.output} goes from {min(reached) + goal:.6g} to {max(reached) + goal:.6g}"
            if reached
            else "; the model cannot be evaluated anywhere in that range"
        )
        raise NoSolutionError(
            f"no {what} between {inputs.low:.6g} and {inputs.high:.6g} gives {inputs.output} = {goal:.6g}{span}"
        )
    x = roots[0]
    warnings = []
    if len(roots) > 1:
        warnings.append(
            f"{len(roots)} solutions in the range; the lowest is reported: {', '.join(f'{r:.6g}' for r in roots)}"
        )
    return Result(
        outputs={
            "solution": x,
            "solutions": roots,
            "value_at_solution": gap(x) + goal,
            "target": goal,
            "base_value": ev.base_value,
            "driver_paths": paths,
        },
        warnings=warnings,
    )

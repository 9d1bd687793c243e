"""Analysis models over any base request: sensitivity, tornado, scenarios, Monte Carlo, football field.

Every analysis takes a complete `base` request ({"model", "inputs", "conventions"}) and
varies inputs named by dotted paths relative to that request, e.g.
`inputs.initial_cost_of_capital`, `inputs.terminal.growth`, `inputs.fcff[2]`. The value
read is `output` (default `value_per_share`) from the base model's outputs. Every path is
checked with the request, before any computation (`path_problem`): it must name an input of
the base model (a number, where numbers are varied), and an index must fall inside the list
the base gives; otherwise a ValidationError names the field, e.g.
`inputs.rows.path: 'inputs.nope' names no input of model fcff_ginzu; known: ...`.

Evaluation: a varied request is re-validated and re-run through the model, except for
`fcff_ginzu` with top-level numeric inputs, which goes through the model's fast path:
inputs are validated once, each variation only re-checks the bounds of the fields it
changes, and the operating stage (revenues .. FCFF) is cached by its parameters, so a grid
over cost of capital recomputes only the discounting (what does not change is not redone).
Both routes give bit-identical numbers (tested): the centre cell of a grid whose centre
values are the base values equals the base case exactly.

Monte Carlo (`monte_carlo`): each path draws one uniform per driver, in driver order, from
`random.Random(seed).random()` (Mersenne Twister: bit-identical in CPython and Pyodide).
Normals come from the inverse normal CDF (Wichura's AS241, PPND16, ~1e-16 relative), with
the logarithm it needs computed here from +, -, *, / only (frexp argument reduction and an
atanh series), so no libm transcendental function feeds any output; lognormal draws use an
exp likewise built from + - * / and ldexp. Distributions: normal(mean, stdev), lognormal
(mean, stdev of the variable itself), triangular(low, mode, high), uniform(low, high), each
optionally truncated to [truncate_low, truncate_high] by rejecting the whole path's draws.
Correlation: a Gaussian copula, correlated normals z = L e with L the Cholesky factor of
the correlation matrix; uniform and triangular drivers then use u = Phi(z) (Hart's
double-precision algorithm 5666 as given by West, 2005). A driver with zero spread returns
its centre exactly, so zero variance gives the deterministic value on every path. Paths
whose sampled inputs are invalid (e.g. stable growth at or above the cost of capital) are
counted in `invalid_paths` and left out of the statistics.

Statistics: mean = v_0 + sum(v_i - v_0)/n (exact when all values are equal), sample stdev
(n - 1), percentiles by linear interpolation between order statistics (numpy's default),
equal-width histogram between min and max, probability of value above the price.

Sources: M. J. Wichura, "Algorithm AS 241: The Percentage Points of the Normal
Distribution", Applied Statistics 37(3), 1988; G. West, "Better approximations to cumulative
normal functions", Wilmott Magazine, 2005; P. Glasserman, "Monte Carlo Methods in Financial
Engineering" (2003), 2.3 (Cholesky) and 2.2 (inverse transform).
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import functools
import math
import random
import re
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, Union, cast, get_args, get_origin

from ..boundary import _dataclass_info
from ..errors import EngineError, FieldError, ValidationError
from ..registry import MODELS, Result, register_model, run
from . import dcf_ginzu as G

__all__ = [
    "Evaluator",
    "norm_cdf",
    "norm_ppf",
    "path_problem",
    "sample_paths",
    "set_path",
    "stable_exp",
    "stable_log",
]


def _m(doc: str, **bounds: float) -> dict[str, Any]:
    return {"doc": doc, **bounds}


# --- Deterministic elementary functions (+, -, *, / only) ---------------------------------

_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e00
_SQRT_HALF = 0.7071067811865476


def stable_log(x: float) -> float:
    """Natural log from + - * / (frexp reduction, atanh series); the same bits everywhere."""
    if not x > 0:
        raise ValueError("log of a non-positive number")
    m, e = math.frexp(x)
    if m < _SQRT_HALF:
        m *= 2.0
        e -= 1
    s = (m - 1.0) / (m + 1.0)
    s2 = s * s
    p = 1.0 / 25
    for k in (23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3):
        p = p * s2 + 1.0 / k
    p = p * s2 + 1.0
    return e * _LN2_HI + (e * _LN2_LO + 2.0 * s * p)


_EXP_C = tuple(1.0 / math.factorial(n) for n in range(15, -1, -1))  # 1/15!, ..., 1/1!, 1/0!


def stable_exp(x: float) -> float:
    """exp from + - * / and ldexp (exact), Taylor series on |r| <= ln2/2."""
    if x > 709.7:
        raise OverflowError("exp overflow")
    if x < -745.0:
        return 0.0
    k = math.floor(x * _INV_LN2 + 0.5)
    r = (x - k * _LN2_HI) - k * _LN2_LO
    p = _EXP_C[0]
    for c in _EXP_C[1:]:
        p = p * r + c
    return math.ldexp(p, int(k))


_A = (
    3.387132872796366608,
    133.14166789178437745,
    1971.5909503065514427,
    13731.693765509461125,
    45921.953931549871457,
    67265.770927008700853,
    33430.575583588128105,
    2509.0809287301226727,
)
_B = (
    1.0,
    42.313330701600911252,
    687.1870074920579083,
    5394.1960214247511077,
    21213.794301586595867,
    39307.89580009271061,
    28729.085735721942674,
    5226.495278852854561,
)
_C = (
    1.42343711074968357734,
    4.6303378461565452959,
    5.7694972214606914055,
    3.64784832476320460504,
    1.27045825245236838258,
    0.24178072517745061177,
    0.0227238449892691845833,
    7.7454501427834140764e-4,
)
_D = (
    1.0,
    2.05319162663775882187,
    1.6763848301838038494,
    0.68976733498510000455,
    0.14810397642748007459,
    0.0151986665636164571966,
    5.475938084995344946e-4,
    1.05075007164441684324e-9,
)
_E = (
    6.6579046435011037772,
    5.4637849111641143699,
    1.7848265399172913358,
    0.29656057182850489123,
    0.026532189526576123093,
    0.0012426609473880784386,
    2.71155556874348757815e-5,
    2.01033439929228813265e-7,
)
_F = (
    1.0,
    0.59983220655588793769,
    0.13692988092273580531,
    0.0148753612908506148525,
    7.868691311456132591e-4,
    1.8463183175100546818e-5,
    1.4215117583164458887e-7,
    2.04426310338993978564e-15,
)


def _poly(c: tuple[float, ...], x: float) -> float:
    r = c[7]
    for i in range(6, -1, -1):
        r = r * x + c[i]
    return r


def norm_ppf(p: float) -> float:
    """Inverse standard normal CDF, AS241 (PPND16), with the deterministic log."""
    q = p - 0.5
    if -0.425 <= q <= 0.425:
        r = 0.180625 - q * q
        a0, a1, a2, a3, a4, a5, a6, a7 = _A
        b0, b1, b2, b3, b4, b5, b6, b7 = _B
        num = ((((((a7 * r + a6) * r + a5) * r + a4) * r + a3) * r + a2) * r + a1) * r + a0
        den = ((((((b7 * r + b6) * r + b5) * r + b4) * r + b3) * r + b2) * r + b1) * r + b0
        return q * num / den
    r = p if q < 0 else 1.0 - p
    r = math.sqrt(-stable_log(r))
    if r <= 5.0:
        r -= 1.6
        x = _poly(_C, r) / _poly(_D, r)
    else:
        r -= 5.0
        x = _poly(_E, r) / _poly(_F, r)
    return -x if q < 0 else x


def norm_cdf(x: float) -> float:
    """Standard normal CDF, Hart's algorithm 5666 (West 2005), double precision."""
    a = abs(x)
    if a > 37.0:
        c = 0.0
    else:
        e = stable_exp(-a * a / 2.0)
        if a < 7.07106781186547:
            n = 3.52624965998911e-02 * a + 0.700383064443688
            n = n * a + 6.37396220353165
            n = n * a + 33.912866078383
            n = n * a + 112.079291497871
            n = n * a + 221.213596169931
            n = n * a + 220.206867912376
            d = 8.83883476483184e-02 * a + 1.75566716318264
            d = d * a + 16.064177579207
            d = d * a + 86.7807322029461
            d = d * a + 296.564248779674
            d = d * a + 637.333633378831
            d = d * a + 793.826512519948
            d = d * a + 440.413735824752
            c = e * n / d
        else:
            b = a + 0.65
            b = a + 4.0 / b
            b = a + 3.0 / b
            b = a + 2.0 / b
            b = a + 1.0 / b
            c = e / b / 2.506628274631
    return 1.0 - c if x > 0 else c


# --- Paths into requests --------------------------------------------------------------------

_SEGMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)((?:\[\d+\])*)")


def _parse_path(path: str) -> list[str | int]:
    parts: list[str | int] = []
    for piece in path.split("."):
        m = _SEGMENT.fullmatch(piece)
        if m is None:
            raise ValueError(piece)
        parts.append(m.group(1))
        parts.extend(int(i) for i in re.findall(r"\[(\d+)\]", m.group(2)))
    return parts


def set_path(request: dict[str, Any], path: str, value: Any) -> None:
    """Set `value` at dotted `path` (e.g. `inputs.terminal.growth`, `inputs.fcff[2]`) in place."""
    parts = _parse_path(path)
    node: Any = request
    for part in parts[:-1]:
        if isinstance(part, int):
            node = node[part]
        else:
            if part not in node or node[part] is None:
                node[part] = {}
            node = node[part]
    node[parts[-1]] = value


def _syntax_problem(path: str) -> str | None:
    try:
        parts = _parse_path(path)
    except ValueError:
        return f"{path!r} is not a dotted path such as inputs.growth_year_1"
    if len(parts) < 2 or parts[0] not in ("inputs", "conventions"):
        return f"{path!r} must start with inputs. or conventions."
    return None


def _unwrap_optional(tp: Any) -> Any:
    if get_origin(tp) in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def _is_numeric(tp: Any) -> bool:
    if tp is Any or tp is float or tp is int:
        return True
    return get_origin(tp) in (Union, types.UnionType) and any(_is_numeric(a) for a in get_args(tp))


def _known(name: str, names: list[str]) -> str:
    """The known names, or the closest few of a long list."""
    if len(names) <= 8:
        return ", ".join(names) or "none"
    close = difflib.get_close_matches(name, names, n=4, cutoff=0.6) or names[:4]
    return f"{', '.join(close)}, ... ({len(names)} in all)"


def path_problem(base: Any, path: str, numeric: bool = True) -> str | None:
    """Why dotted `path` names no input of the base request's model, or None when it names one.

    The path is walked through the model's input (or conventions) dataclasses: each name must be
    a field, each index must fall inside the list the base request gives there, and with
    `numeric` the field must hold a number. Below a free-form object (a nested request) any
    name is accepted. None as well when the base names no model (the Evaluator reports that).
    """
    problem = _syntax_problem(path)
    if problem:
        return problem
    model = base.get("model") if isinstance(base, dict) else None
    spec = MODELS.get(model) if isinstance(model, str) else None
    if spec is None:
        return None
    parts = _parse_path(path)
    section = cast(str, parts[0])
    tp: Any = spec.inputs if section == "inputs" else spec.conventions
    data: Any = base.get(section)
    where = section
    for part in parts[1:]:
        tp = _unwrap_optional(tp)
        if tp is Any or tp is dict or get_origin(tp) is dict:
            return None
        if isinstance(part, int):
            if get_origin(tp) not in (list, tuple):
                return f"{path!r}: {where} is not a list"
            if not isinstance(data, list):
                return f"{path!r}: the base request gives no list at {where}"
            if part >= len(data):
                return f"{path!r}: index {part} is beyond the {len(data)} values of {where} in the base request"
            args = get_args(tp)
            fixed = get_origin(tp) is tuple and not (len(args) == 2 and args[1] is Ellipsis)
            tp, data, where = (args[part] if fixed else args[0]), data[part], f"{where}[{part}]"
            continue
        if not (isinstance(tp, type) and dataclasses.is_dataclass(tp)):
            return f"{path!r}: {where} has no fields"
        hints = {info.name: info.hint for info in _dataclass_info(tp)}
        if part not in hints:
            owner = f"{'input' if section == 'inputs' else 'convention'} of model {spec.name}"
            if where != section:
                owner = f"field of {where}"
            return f"{path!r} names no {owner}; known: {_known(part, list(hints))}"
        tp, data, where = hints[part], data.get(part) if isinstance(data, dict) else None, f"{where}.{part}"
    if numeric and not _is_numeric(_unwrap_optional(tp)):
        return f"{path!r} does not name a number"
    return None


def _path_errors(base: Any, path: str, where: str, numeric: bool = True) -> list[FieldError]:
    problem = path_problem(base, path, numeric)
    return [FieldError(where, problem)] if problem else []


# --- Evaluation: generic (re-run) and fast (fcff_ginzu) ---------------------------------------

_GINZU_FIELDS = {f.name: f for f in dataclasses.fields(G.GinzuInputs)}
_GINZU_NUMERIC = {
    name
    for name, f in _GINZU_FIELDS.items()
    if f.type in ("float", "float | None", "int") and name not in ("margin_convergence_year", "reinvestment_lag")
}


def _bounds(meta: Any) -> tuple[float, bool, float, bool]:
    lo, lo_open, hi, hi_open = -math.inf, False, math.inf, False
    if "ge" in meta:
        lo = meta["ge"]
    if "gt" in meta:
        lo, lo_open = meta["gt"], True
    if "le" in meta:
        hi = meta["le"]
    if "lt" in meta:
        hi, hi_open = meta["lt"], True
    return float(lo), lo_open, float(hi), hi_open


_GINZU_BOUNDS = {name: _bounds(_GINZU_FIELDS[name].metadata) for name in _GINZU_NUMERIC}


def _bound_message(name: str, value: float) -> str:
    meta = _GINZU_FIELDS[name].metadata
    for key, words in (("ge", "at least"), ("gt", "greater than"), ("le", "at most"), ("lt", "less than")):
        if key in meta:
            ok = {"ge": value >= meta[key], "gt": value > meta[key], "le": value <= meta[key], "lt": value < meta[key]}
            if not ok[key]:
                return f"must be {words} {meta[key]}"
    return "is out of range"


# Ginzu inputs that change only the discounting/terminal/bridge stage, not the cash flows.
_DISCOUNT_ONLY = {
    "initial_cost_of_capital",
    "stable_cost_of_capital",
    "stable_return_on_capital",
    "mature_market_erp",
    "failure_probability",
    "distress_proceeds_fraction",
    "book_equity",
    "book_debt",
    "cash",
    "non_operating_assets",
    "minority_interests",
    "preferred_stock",
    "options_value",
    "shares_outstanding",
    "price",
    "trapped_cash",
    "trapped_cash_foreign_tax_rate",
}

_GINZU_FAST_OUTPUTS = {
    "value_per_share",
    "value_of_operating_assets",
    "value_of_equity",
    "value_of_common_equity",
    "sum_of_pv",
    "terminal_value",
    "pv_terminal_value",
    "pv_cash_flows",
}


def _prefix(exc: ValidationError, prefix: str) -> ValidationError:
    return ValidationError([FieldError(f"{prefix}.{e.path}" if e.path else prefix, e.message) for e in exc.errors])


Compute = TypeVar("Compute", bound=Callable[..., Result])


def paths_under_inputs(compute: Compute) -> Compute:
    """An analysis model finds some invalid inputs only while computing (the base request's own run,
    an output the base does not have): their paths, relative to the model's inputs as `validate()`'s
    are, get the `inputs.` prefix the boundary gives those, so every error names its field the same way."""

    @functools.wraps(compute)
    def with_input_paths(inputs: Any, conventions: Any) -> Result:
        try:
            return compute(inputs, conventions)
        except ValidationError as exc:
            raise _prefix(exc, "inputs") from None

    return cast(Compute, with_input_paths)


class Evaluator:
    """Evaluates `output` of a base request under overrides {path: value}."""

    def __init__(
        self, base: dict[str, Any], output: str, paths: list[str], where: str = "base", cache: bool = True
    ) -> None:
        model = base.get("model") if isinstance(base, dict) else None
        if type(model) is not str or model not in MODELS:  # a list or an object is no model name
            known = ", ".join(sorted(MODELS))
            raise ValidationError(FieldError(f"{where}.model", f"must name a model; known models: {known}"))
        try:
            result = run(base)
        except ValidationError as exc:
            raise _prefix(exc, where) from None
        if output not in result["outputs"]:
            names = ", ".join(sorted(k for k, v in result["outputs"].items() if isinstance(v, (int, float))))
            raise ValidationError(FieldError("output", f"{output!r} is not an output of {base['model']}: {names}"))
        self.base = base
        self.output = output
        self.base_value = float(result["outputs"][output])
        self.base_outputs = result["outputs"]
        self._cache: dict[Any, Any] = {}
        self._derived_ops: dict[float, G.Operating] = {}
        # Discounting of the last (r0, r_stable) seen: grid rows share it (see G.discounting).
        self._disc_key: tuple[float, float] | None = None
        self._disc: G.Discounting = (0.0, (), ())
        self._use_cache = cache
        self._fast = (
            base["model"] == "fcff_ginzu"
            and output in _GINZU_FAST_OUTPUTS
            and all(p.startswith("inputs.") and p[7:] in _GINZU_NUMERIC for p in paths)
        )
        if self._fast:
            from ..boundary import from_dict

            inputs = from_dict(G.GinzuInputs, base.get("inputs", {}), "inputs")
            conventions = from_dict(G.GinzuConventions, base.get("conventions") or {}, "conventions")
            self._fields = {name: getattr(inputs, name) for name in _GINZU_FIELDS}
            self._mid = conventions.timing == "mid_year"
            # The base resolution: cells that vary only G.DERIVABLE fields are derived from it.
            self._prepared = G.prepare_fields(self._fields, self._mid)

    def __call__(self, overrides: dict[str, float]) -> float:
        if self._fast:
            return self._ginzu(overrides)
        request = copy.deepcopy(self.base)
        for path, value in overrides.items():
            set_path(request, path, value)
        return float(run(request)["outputs"][self.output])

    def grid(
        self, row_path: str, row_values: list[float], col_path: str, col_values: list[float]
    ) -> list[list[float | Exception]] | None:
        """Every cell of a two-way grid at once: each the value `self({row_path: r, col_path: c})`
        returns or the ValidationError / ArithmeticError it raises, bit for bit; None when the
        grid must go cell by cell.

        It applies to value per share over two different Ginzu fields that `G.derive` supports,
        one of them copied into a single valuation slot (`G.VAL_SLOT`: the default grid's cost of
        capital is one). Then each axis value is bounds-checked once, the other axis is derived
        once per value (with stage 1 shared by stable growth), and a cell only sets its slot and
        discounts, by `G.per_share_of`: the same operations as the cell-by-cell path.
        """
        if not (self._fast and self._use_cache and self.output == "value_per_share") or row_path == col_path:
            return None
        row_name, col_name = row_path[7:], col_path[7:]
        if col_name in G.VAL_SLOT and row_name in G.DERIVABLE:
            slot_on_rows = False
        elif row_name in G.VAL_SLOT and col_name in G.DERIVABLE:
            slot_on_rows = True
        else:
            return None
        row_errors = [self._bound_error(row_path, v) for v in row_values]
        col_errors = [self._bound_error(col_path, v) for v in col_values]
        slot_name = row_name if slot_on_rows else col_name
        other_name, other_values, other_errors = (
            (col_name, col_values, col_errors) if slot_on_rows else (row_name, row_values, row_errors)
        )
        slot = G.VAL_SLOT[slot_name]
        derived = [
            None if error else self._derive_one(other_name, v)
            for v, error in zip(other_values, other_errors, strict=True)
        ]
        book_capital = self._prepared.info["book_capital"]
        cells: list[list[float | Exception]] = []
        for i, rv in enumerate(row_values):
            line: list[float | Exception] = []
            row_error = row_errors[i]
            for j, cv in enumerate(col_values):
                error = row_error or col_errors[j]
                if error is not None:
                    line.append(error)
                    continue
                found = derived[j if slot_on_rows else i]
                if isinstance(found, Exception):
                    line.append(found)
                    continue
                assert found is not None
                prepared, ops = found
                val = prepared.val
                value = rv if slot_on_rows else cv
                if slot:  # slot 0 (r0) reaches per_share_of only through the discounting
                    val = cast("G.ValParams", (*val[:slot], value, *val[slot + 1 :]))
                try:
                    line.append(
                        G.per_share_of(val, book_capital, ops, self._discounting(val[0] if slot else value, val[1]))
                    )
                except ArithmeticError as exc:
                    line.append(exc)
            cells.append(line)
        return cells

    def _bound_error(self, path: str, value: float) -> ValidationError | None:
        name = path[7:]
        lo, lo_open, hi, hi_open = _GINZU_BOUNDS[name]
        if value < lo or value > hi or (lo_open and value == lo) or (hi_open and value == hi):
            return ValidationError(FieldError(path, _bound_message(name, value)))
        return None

    def _derive_one(self, name: str, value: float) -> tuple[G.Prepared, G.Operating] | Exception:
        """The base resolution with one field changed and its stage 1, or the error a cell would raise."""
        try:
            prepared = G.derive(self._prepared, self._fields, {name: value})
        except ValidationError as exc:
            return _prefix(exc, "inputs")
        try:
            return prepared, self._stage_one(prepared)
        except ArithmeticError as exc:
            return exc

    def _stage_one(self, prepared: G.Prepared) -> G.Operating:
        """Stage 1 of a derived resolution, cached by stable growth (its only op that can differ)."""
        gs = prepared.op[4]
        ops = self._derived_ops.get(gs)
        if ops is None:
            ops = G.operate(prepared.op)
            if len(self._derived_ops) > 4096:
                self._derived_ops.clear()
            self._derived_ops[gs] = ops
        return ops

    def _discounting(self, r0: float, rs: float) -> G.Discounting:
        """Discounting for (r0, r_stable), kept for the next cell (grid rows share it)."""
        key = (r0, rs)
        if key != self._disc_key:
            self._disc = G.discounting(r0, rs, self._mid)
            self._disc_key = key
        return self._disc

    def _ginzu(self, overrides: dict[str, float]) -> float:
        values: dict[str, Any] = {}
        for path, value in overrides.items():
            error = self._bound_error(path, value)
            if error is not None:
                raise error
            values[path[7:]] = value
        derived = self._use_cache and values.keys() <= G.DERIVABLE
        try:
            if derived:
                prepared = G.derive(self._prepared, self._fields, values)
            else:
                prepared = G.prepare_fields({**self._fields, **values}, self._mid)
        except ValidationError as exc:
            raise _prefix(exc, "inputs") from None
        if derived:
            # A derived op is the base op with only gs (slot 4) replaced: equal ops <=> equal gs,
            # so stage 1 is cached by gs alone (no hash of the whole 14-tuple per cell).
            ops = self._stage_one(prepared)
        elif self._use_cache:
            cached: G.Operating | None = self._cache.get(prepared.op)
            if cached is None:
                cached = G.operate(prepared.op)
                if len(self._cache) > 4096:
                    self._cache.clear()
                self._cache[prepared.op] = cached
            ops = cached
        else:
            ops = G.operate(prepared.op)
        if self.output == "value_per_share":
            if derived:
                val = prepared.val
                return G.per_share_discounted(prepared, ops, self._discounting(val[0], val[1]))
            return G.per_share(prepared, ops)
        return G.valuation(prepared.val, ops, prepared.info["book_capital"])[self.output]


# --- sensitivity ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Axis:
    """One input varied over a list of values."""

    path: str = field(metadata=_m("dotted path of the input, e.g. inputs.initial_cost_of_capital"))
    values: list[float] = field(metadata=_m("values to try (units of that input)"))


@dataclass(frozen=True)
class SensitivityInputs:
    """Two-way sensitivity grid."""

    base: dict[str, Any] = field(metadata=_m("the base request: {model, inputs, conventions}"))
    rows: Axis = field(metadata=_m("input varied down the rows"))
    columns: Axis = field(metadata=_m("input varied across the columns"))
    output: str = field(default="value_per_share", metadata=_m("output of the base model to tabulate"))

    def validate(self) -> list[FieldError]:
        errors: list[FieldError] = []
        for where, axis in (("rows", self.rows), ("columns", self.columns)):
            errors.extend(_path_errors(self.base, axis.path, f"{where}.path"))
            if not axis.values:
                errors.append(FieldError(f"{where}.values", "needs at least one value"))
            elif len(axis.values) > 201:
                errors.append(FieldError(f"{where}.values", "at most 201 values"))
        return errors


def _cell(ev: Evaluator, overrides: dict[str, float]) -> float | Exception:
    """One cell's value, or the error that leaves it empty."""
    try:
        return ev(overrides)
    except (ValidationError, ArithmeticError) as exc:
        return exc


@register_model("sensitivity", inputs=SensitivityInputs, summary="Two-way sensitivity grid over any two inputs")
@paths_under_inputs
def sensitivity(inputs: SensitivityInputs, _conventions: Any) -> Result:
    """grid[i][j] = output with rows.path = rows.values[i] and columns.path = columns.values[j].

    Both paths must name numeric inputs of the base model (checked with the request, before any
    computation); a cell whose values the model rejects is null, with a warning.
    """
    rows, columns = inputs.rows, inputs.columns
    ev = Evaluator(inputs.base, inputs.output, [rows.path, columns.path])
    cells = ev.grid(rows.path, rows.values, columns.path, columns.values)
    if cells is None:
        cells = [[_cell(ev, {rows.path: rv, columns.path: cv}) for cv in columns.values] for rv in rows.values]
    grid: list[list[float | None]] = []
    errors: list[str] = []
    for rv, line in zip(rows.values, cells, strict=True):
        for cv, cell in zip(columns.values, line, strict=True):
            if isinstance(cell, Exception) and len(errors) < 5:
                errors.append(f"{rows.path}={rv}, {columns.path}={cv}: {cell}")
        grid.append([None if isinstance(cell, Exception) else cell for cell in line])
    warnings = [f"cell not computed: {e}" for e in errors]
    return Result(
        outputs={
            "base_value": ev.base_value,
            "row_path": inputs.rows.path,
            "row_values": list(inputs.rows.values),
            "column_path": inputs.columns.path,
            "column_values": list(inputs.columns.values),
            "grid": grid,
        },
        warnings=warnings,
    )


# --- tornado ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TornadoVariable:
    """One input swung between a low and a high value."""

    path: str = field(metadata=_m("dotted path of the input"))
    low: float = field(metadata=_m("low value (units of that input)"))
    high: float = field(metadata=_m("high value (units of that input)"))


@dataclass(frozen=True)
class TornadoInputs:
    """One-way sensitivity (tornado chart)."""

    base: dict[str, Any] = field(metadata=_m("the base request: {model, inputs, conventions}"))
    variables: list[TornadoVariable] = field(metadata=_m("inputs to swing one at a time"))
    output: str = field(default="value_per_share", metadata=_m("output of the base model"))

    def validate(self) -> list[FieldError]:
        if not self.variables:
            return [FieldError("variables", "needs at least one variable")]
        errors: list[FieldError] = []
        for i, v in enumerate(self.variables):
            errors.extend(_path_errors(self.base, v.path, f"variables[{i}].path"))
        return errors


@register_model("tornado", inputs=TornadoInputs, summary="One-way sensitivity of an output to each input (tornado)")
@paths_under_inputs
def tornado(inputs: TornadoInputs, _conventions: Any) -> Result:
    """Each variable alone at its low and high value; bars sorted by swing |high - low|, widest first."""
    ev = Evaluator(inputs.base, inputs.output, [v.path for v in inputs.variables])
    bars: list[dict[str, Any]] = []
    for i, v in enumerate(inputs.variables):
        try:
            lo, hi = ev({v.path: v.low}), ev({v.path: v.high})
        except ValidationError as exc:
            raise _prefix(exc, f"variables[{i}]") from None
        bars.append(
            {
                "path": v.path,
                "low": v.low,
                "high": v.high,
                "value_at_low": lo,
                "value_at_high": hi,
                "swing": abs(hi - lo),
            }
        )
    bars.sort(key=lambda b: -abs(b["value_at_high"] - b["value_at_low"]))
    return Result(outputs={"base_value": ev.base_value, "bars": bars})


# --- scenarios --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """A named set of overrides of the base request, with its probability."""

    name: str = field(metadata=_m("scenario name"))
    probability: float = field(metadata=_m("probability of the scenario (decimal)", ge=0, le=1))
    overrides: dict[str, Any] = field(
        default_factory=dict, metadata=_m("{dotted path: value} applied to the base request")
    )


@dataclass(frozen=True)
class ScenariosInputs:
    """Probability-weighted scenarios."""

    base: dict[str, Any] = field(metadata=_m("the base request: {model, inputs, conventions}"))
    scenarios: list[Scenario] = field(metadata=_m("scenarios; probabilities must sum to 1"))
    output: str = field(default="value_per_share", metadata=_m("output of the base model"))

    def validate(self) -> list[FieldError]:
        if not self.scenarios:
            return [FieldError("scenarios", "needs at least one scenario")]
        total = 0.0
        for s in self.scenarios:
            total += s.probability
        if abs(total - 1.0) > 1e-9:
            return [FieldError("scenarios", f"probabilities must sum to 1 (they sum to {total:.6g})")]
        errors: list[FieldError] = []
        for i, s in enumerate(self.scenarios):
            for path in s.overrides:
                errors.extend(_path_errors(self.base, path, f"scenarios[{i}].overrides", numeric=False))
        return errors


@register_model("scenarios", inputs=ScenariosInputs, summary="Named scenarios with probabilities -> weighted value")
@paths_under_inputs
def scenarios(inputs: ScenariosInputs, _conventions: Any) -> Result:
    """weighted value = sum over scenarios of probability * output(base + overrides)."""
    ev = Evaluator(inputs.base, inputs.output, [])
    rows = []
    weighted = 0.0
    for i, s in enumerate(inputs.scenarios):
        request = copy.deepcopy(inputs.base)
        for path, value in s.overrides.items():
            set_path(request, path, value)
        try:
            value = float(run(request)["outputs"][inputs.output])
        except ValidationError as exc:
            raise _prefix(exc, f"scenarios[{i}]") from None
        weighted += s.probability * value
        rows.append({"name": s.name, "probability": s.probability, "value": value})
    return Result(outputs={"base_value": ev.base_value, "weighted_value": weighted, "scenarios": rows})


# --- Monte Carlo ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Driver:
    """A random input: its path and distribution."""

    path: str = field(metadata=_m("dotted path of the input"))
    distribution: Literal["normal", "lognormal", "triangular", "uniform"] = field(metadata=_m("distribution family"))
    mean: float | None = field(default=None, metadata=_m("mean (normal, lognormal; units of the input)"))
    stdev: float | None = field(default=None, metadata=_m("standard deviation (normal, lognormal)", ge=0))
    low: float | None = field(default=None, metadata=_m("lower end (triangular, uniform)"))
    mode: float | None = field(default=None, metadata=_m("most likely value (triangular)"))
    high: float | None = field(default=None, metadata=_m("upper end (triangular, uniform)"))
    truncate_low: float | None = field(default=None, metadata=_m("reject draws below this value"))
    truncate_high: float | None = field(default=None, metadata=_m("reject draws above this value"))

    def validate(self) -> list[FieldError]:
        d = self.distribution
        need = {"normal": ("mean", "stdev"), "lognormal": ("mean", "stdev"), "triangular": ("low", "mode", "high")}
        errors = [
            FieldError(n, f"is required for a {d} distribution")
            for n in need.get(d, ("low", "high"))
            if getattr(self, n) is None
        ]
        if errors:
            return errors
        if d == "lognormal" and self.mean is not None and not self.mean > 0:
            errors.append(FieldError("mean", "must be positive for a lognormal distribution"))
        if d in ("triangular", "uniform") and self.low is not None and self.high is not None:
            if self.low > self.high:
                errors.append(FieldError("high", "must not be below low"))
            if d == "triangular" and self.mode is not None and not self.low <= self.mode <= self.high:
                errors.append(FieldError("mode", "must lie between low and high"))
        if self.truncate_low is not None and self.truncate_high is not None and self.truncate_low > self.truncate_high:
            errors.append(FieldError("truncate_high", "must not be below truncate_low"))
        return errors


@dataclass(frozen=True)
class Correlation:
    """Correlation between two drivers (Gaussian copula)."""

    a: str = field(metadata=_m("path of the first driver"))
    b: str = field(metadata=_m("path of the second driver"))
    rho: float = field(metadata=_m("correlation coefficient", ge=-1, le=1))


@dataclass(frozen=True)
class MonteCarloInputs:
    """Monte Carlo simulation over chosen drivers."""

    base: dict[str, Any] = field(metadata=_m("the base request: {model, inputs, conventions}"))
    drivers: list[Driver] = field(metadata=_m("random inputs"))
    correlations: list[Correlation] = field(default_factory=list, metadata=_m("pairwise correlations"))
    paths: int = field(default=10_000, metadata=_m("number of simulated paths", ge=1, le=1_000_000))
    seed: int = field(default=0, metadata=_m("seed of random.Random"))
    output: str = field(default="value_per_share", metadata=_m("output of the base model"))
    price: float | None = field(default=None, metadata=_m("price to compare with; default base inputs.price"))
    percentiles: list[float] = field(
        default_factory=lambda: [5.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0],
        metadata=_m("percentiles to report (0-100)"),
    )
    bins: int = field(default=20, metadata=_m("histogram bins", ge=1, le=1000))

    def validate(self) -> list[FieldError]:
        if not self.drivers:
            return [FieldError("drivers", "needs at least one driver")]
        errors: list[FieldError] = []
        seen: set[str] = set()
        for i, d in enumerate(self.drivers):
            if d.path in seen:
                errors.append(FieldError(f"drivers[{i}].path", f"{d.path!r} appears twice"))
            else:
                errors.extend(_path_errors(self.base, d.path, f"drivers[{i}].path"))
            seen.add(d.path)
        for k, c in enumerate(self.correlations):
            errors.extend(
                FieldError(f"correlations[{k}].{name}", f"{p!r} is not a driver path")
                for name, p in (("a", c.a), ("b", c.b))
                if p not in seen
            )
        if any(not 0.0 <= q <= 100.0 for q in self.percentiles):
            errors.append(FieldError("percentiles", "must lie between 0 and 100"))
        return errors


def _cholesky(matrix: list[list[float]]) -> list[list[float]]:
    n = len(matrix)
    low = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1):
            s = matrix[i][j]
            for k in range(j):
                s -= low[i][k] * low[j][k]
            if i == j:
                if s <= 0.0:
                    raise ValidationError(FieldError("correlations", "the correlation matrix is not positive definite"))
                low[i][i] = math.sqrt(s)
            else:
                low[i][j] = s / low[j][j]
    return low


def _marginal(d: Driver) -> Callable[[float, float], float]:
    """f(u, z) -> draw, from a uniform u (independent case) or a normal z (correlated case)."""
    if d.distribution == "normal":
        mean, sd = float(d.mean or 0.0), float(d.stdev or 0.0)
        return lambda u, z: mean + sd * z
    if d.distribution == "lognormal":
        mean, sd = float(d.mean or 0.0), float(d.stdev or 0.0)
        if sd == 0.0:
            return lambda u, z: mean
        ratio = sd / mean
        sigma2 = stable_log(1.0 + ratio * ratio)
        sigma = math.sqrt(sigma2)
        mu = stable_log(mean) - sigma2 / 2.0
        return lambda u, z: stable_exp(mu + sigma * z)
    lo, hi = float(d.low or 0.0), float(d.high or 0.0)
    if d.distribution == "uniform":
        return lambda u, z: lo + (hi - lo) * u
    mode = float(d.mode if d.mode is not None else lo)
    width = hi - lo
    if width == 0.0:
        return lambda u, z: lo
    cut = (mode - lo) / width

    def triangular(u: float, z: float) -> float:
        if u < cut:
            return lo + math.sqrt(u * width * (mode - lo))
        return hi - math.sqrt((1.0 - u) * width * (hi - mode))

    return triangular


def sample_paths(
    drivers: list[Driver], correlations: list[Correlation], paths: int, seed: int
) -> tuple[list[list[float]], int]:
    """Draw `paths` vectors of driver values (see the module docstring); returns (draws, rejected)."""
    n = len(drivers)
    index = {d.path: i for i, d in enumerate(drivers)}
    chol: list[list[float]] | None = None
    if correlations:
        matrix = [[1.0 if i == j else 0.0 for j in range(n)] for i in range(n)]
        for k, c in enumerate(correlations):
            for name, p in (("a", c.a), ("b", c.b)):
                if p not in index:
                    raise ValidationError(FieldError(f"correlations[{k}].{name}", f"{p!r} is not a driver path"))
            i, j = index[c.a], index[c.b]
            if i == j:
                raise ValidationError(FieldError(f"correlations[{k}]", "a driver cannot be correlated with itself"))
            matrix[i][j] = matrix[j][i] = c.rho
        chol = _cholesky(matrix)
    marginals = [_marginal(d) for d in drivers]
    needs_normal = [d.distribution in ("normal", "lognormal") for d in drivers]
    bounds = [
        (
            d.truncate_low if d.truncate_low is not None else -math.inf,
            d.truncate_high if d.truncate_high is not None else math.inf,
        )
        for d in drivers
    ]
    truncated = any(d.truncate_low is not None or d.truncate_high is not None for d in drivers)
    rng = random.Random(seed)  # noqa: S311 -- a seeded simulation, not cryptography
    uniform = rng.random
    out: list[list[float]] = []
    rejected = 0
    tries = 0
    while len(out) < paths:
        us = []
        for _ in range(n):
            u = uniform()
            while u == 0.0:
                u = uniform()
            us.append(u)
        if chol is None:
            row = [marginals[i](us[i], norm_ppf(us[i]) if needs_normal[i] else 0.0) for i in range(n)]
        else:
            e = [norm_ppf(u) for u in us]
            row = []
            for i in range(n):
                z = 0.0
                li = chol[i]
                for k in range(i + 1):
                    z += li[k] * e[k]
                u = us[i] if needs_normal[i] else norm_cdf(z)
                row.append(marginals[i](u, z))
        if truncated and any(not (bounds[i][0] <= row[i] <= bounds[i][1]) for i in range(n)):
            rejected += 1
            tries += 1
            if tries > 1000 and rejected > 100 * (len(out) + 1):
                raise ValidationError(FieldError("drivers", "the truncation ranges reject almost every draw"))
            continue
        out.append(row)
    return out, rejected


def _percentile(ordered: list[float], q: float) -> float:
    pos = q / 100.0 * (len(ordered) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    frac = pos - lo
    a, b = ordered[lo], ordered[hi]
    return a if a == b else a + (b - a) * frac


def summarize(values: list[float], percentiles: list[float], bins: int, price: float | None) -> dict[str, Any]:
    """Mean, stdev, percentiles, histogram and P(value > price) of `values` (left-to-right sums)."""
    n = len(values)
    v0 = values[0]
    acc = 0.0
    for v in values:
        acc += v - v0
    mean = v0 + acc / n
    ss = 0.0
    for v in values:
        d = v - mean
        ss += d * d
    stdev = math.sqrt(ss / (n - 1)) if n > 1 else 0.0
    ordered = sorted(values)
    lo, hi = ordered[0], ordered[-1]
    counts = [0] * bins
    width = (hi - lo) / bins
    for v in values:
        k = int((v - lo) / width) if width > 0 else 0
        counts[min(k, bins - 1)] += 1
    edges = [lo + width * i for i in range(bins)] + [hi]
    histogram = [{"low": edges[i], "high": edges[i + 1], "count": counts[i]} for i in range(bins)]
    out: dict[str, Any] = {
        "mean": mean,
        "stdev": stdev,
        "min": lo,
        "max": hi,
        "percentiles": {f"p{q:g}": _percentile(ordered, q) for q in percentiles},
        "histogram": histogram,
    }
    if price is not None:
        above = 0
        for v in values:
            if v > price:
                above += 1
        out["price"] = price
        out["probability_above_price"] = above / n
    return out


@register_model(
    "monte_carlo",
    inputs=MonteCarloInputs,
    summary="Monte Carlo simulation of a model output over random drivers (seeded, reproducible)",
)
@paths_under_inputs
def monte_carlo(inputs: MonteCarloInputs, _conventions: Any) -> Result:
    """Simulate `paths` draws of the drivers and summarise the output's distribution.

    Driver and correlation paths are checked with the request, before any draw: each driver
    path must name a numeric input of the base model, each correlation a driver path.
    """
    paths = [d.path for d in inputs.drivers]
    ev = Evaluator(inputs.base, inputs.output, paths, cache=all(p[7:] in _DISCOUNT_ONLY for p in paths))
    draws, rejected = sample_paths(inputs.drivers, inputs.correlations, inputs.paths, inputs.seed)
    values: list[float] = []
    invalid = 0
    first_error = ""
    for row in draws:
        try:
            v = ev(dict(zip(paths, row, strict=True)))
        except (ValidationError, ArithmeticError) as exc:
            invalid += 1
            first_error = first_error or str(exc)
            continue
        if math.isfinite(v):
            values.append(v)
        else:
            invalid += 1
    if not values:
        raise EngineError(f"no simulated path could be valued; the first failure: {first_error}")
    price = inputs.price
    if price is None:
        base_price = (inputs.base.get("inputs") or {}).get("price")
        price = float(base_price) if isinstance(base_price, (int, float)) and not isinstance(base_price, bool) else None
    outputs = summarize(values, inputs.percentiles, inputs.bins, price)
    outputs.update(
        deterministic_value=ev.base_value, paths=inputs.paths, valid_paths=len(values), invalid_paths=invalid
    )
    outputs["rejected_draws"] = rejected
    warnings = []
    if invalid:
        warnings.append(f"{invalid} of {inputs.paths} paths could not be valued and were left out ({first_error})")
    return Result(outputs=outputs, warnings=warnings)


# --- football field ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MethodRange:
    """A valuation method's range of value."""

    name: str = field(metadata=_m("method name, e.g. DCF, trading comparables"))
    low: float = field(metadata=_m("low end of the range (currency per share)"))
    high: float = field(metadata=_m("high end of the range (currency per share)"))
    weight: float = field(default=1.0, metadata=_m("weight of the method (normalised to sum to 1)", ge=0))


@dataclass(frozen=True)
class FootballFieldInputs:
    """Ranges of value from several methods."""

    methods: list[MethodRange] = field(metadata=_m("one range per method"))
    price: float | None = field(default=None, metadata=_m("current price, for comparison"))

    def validate(self) -> list[FieldError]:
        if not self.methods:
            return [FieldError("methods", "needs at least one method")]
        errors = [
            FieldError(f"methods[{i}].high", "must not be below low")
            for i, m in enumerate(self.methods)
            if m.high < m.low
        ]
        total = 0.0
        for m in self.methods:
            total += m.weight
        if not total > 0:
            errors.append(FieldError("methods", "weights must not all be zero"))
        return errors


@register_model("football_field", inputs=FootballFieldInputs, summary="Range of value per method and a weighted range")
def football_field(inputs: FootballFieldInputs, _conventions: Any) -> Result:
    """weighted low/high/mid = sum of w_i * low_i / high_i / mid_i with weights normalised to 1."""
    total = 0.0
    for m in inputs.methods:
        total += m.weight
    lo = hi = 0.0
    rows = []
    for m in inputs.methods:
        w = m.weight / total
        lo += w * m.low
        hi += w * m.high
        rows.append({"name": m.name, "low": m.low, "high": m.high, "mid": (m.low + m.high) / 2, "weight": w})
    outputs: dict[str, Any] = {
        "methods": rows,
        "weighted_low": lo,
        "weighted_high": hi,
        "weighted_mid": (lo + hi) / 2,
        "overall_low": min(m.low for m in inputs.methods),
        "overall_high": max(m.high for m in inputs.methods),
    }
    if inputs.price is not None:
        outputs["price"] = inputs.price
        outputs["price_in_weighted_range"] = lo <= inputs.price <= hi
    return Result(outputs=outputs)

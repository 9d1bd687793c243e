"""The model registry behind `water_engine.run`.

Each model module registers its entry points with `@register_model`, naming the
inputs dataclass (and optionally a conventions dataclass). `run` looks the model
up, validates the request through the JSON boundary, computes, and checks that
no output is NaN or infinite.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import chain, repeat
from typing import Any

from ._version import __version__
from .boundary import from_dict, json_schema, to_dict
from .errors import EngineError, FieldError, NotComputableError, UnknownModelError, ValidationError


# Not frozen: a frozen dataclass's __init__ sets each field through object.__setattr__, which
# costs a Ginzu run() about half a microsecond; models build a table and hand it over untouched.
@dataclass(slots=True)
class Table:
    """A schedule given column by column: row i is {keys[0]: columns[0][i], keys[1]: columns[1][i], ...}.

    Every column has one entry per row, each a JSON scalar (float, int, str, bool or None).
    `run` checks the columns of numbers in one pass of C code (`sum`) and builds the rows itself,
    which is faster than checking the same values row by row in Python.
    """

    keys: tuple[str, ...]
    columns: tuple[Sequence[Any], ...]
    # Optional: builds the rows from the columns, the same dicts (keys in `keys` order) as the
    # generic builder. A model with a fixed schedule can spell its row as a dict display, which
    # CPython builds about twice as fast as dict(zip(keys, values)). It must zip the columns with
    # strict=True: the equal-length check is then its own.
    build_rows: Callable[[tuple[Sequence[Any], ...]], list[dict[str, Any]]] | None = None
    # Keys of the columns that hold text (str or None): checked by type, so that the one `sum`
    # over every other column is not refused.
    text_columns: frozenset[str] = frozenset()
    # Optional: sequences of plain numbers (no None) that hold every number of the columns other
    # than `text_columns`, as the model computed them (say, a column's list before the None of its
    # base year was put in front). `run` then checks these with one `sum` and no filtering; when
    # the sum is refused or not finite, it checks the columns themselves.
    numbers: tuple[Sequence[Any], ...] | None = None


@dataclass
class Result:
    """What a model returns: named outputs, an optional year-by-year schedule, warnings.

    Models build their outputs and schedule afresh on every call: when they are already plain
    JSON (as every model here returns them), `run` puts them in the response as they are.
    """

    outputs: dict[str, Any]
    schedule: list[dict[str, Any]] | Table | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class NoConventions:
    """A model without conventions accepts an empty object."""


@dataclass(frozen=True)
class ModelSpec:
    name: str
    summary: str
    inputs: type
    conventions: type
    compute: Callable[[Any, Any], Result]


MODELS: dict[str, ModelSpec] = {}


def register_model(
    name: str, *, inputs: type, conventions: type = NoConventions, summary: str = ""
) -> Callable[[Callable[[Any, Any], Result]], Callable[[Any, Any], Result]]:
    """Register `compute(inputs, conventions) -> Result` under `name`."""

    def decorator(compute: Callable[[Any, Any], Result]) -> Callable[[Any, Any], Result]:
        if name in MODELS:
            raise RuntimeError(f"model {name!r} registered twice")
        doc = summary or (compute.__doc__ or "").strip().splitlines()[0:1]
        MODELS[name] = ModelSpec(name, doc if isinstance(doc, str) else "".join(doc), inputs, conventions, compute)
        return compute

    return decorator


_REQUEST_FIELDS = frozenset({"model", "inputs", "conventions"})


def _parse_request(request: Any) -> tuple[ModelSpec, Any, Any]:
    if not isinstance(request, dict):
        raise ValidationError("request must be an object")
    if not _REQUEST_FIELDS.issuperset(request):
        unknown = sorted(set(request) - _REQUEST_FIELDS)
        raise ValidationError([FieldError(k, "unknown field") for k in unknown])
    name = request.get("model")
    spec = MODELS.get(name) if type(name) is str else None
    if spec is None:
        known = ", ".join(sorted(MODELS))
        raise UnknownModelError(FieldError("model", f"unknown model {name!r}; known models: {known}"))
    errors: list[FieldError] = []
    inputs = conventions = None
    try:
        inputs = from_dict(spec.inputs, request.get("inputs", {}), "inputs")
    except ValidationError as exc:
        errors.extend(exc.errors)
    try:
        given = request.get("conventions")
        conventions = from_dict(spec.conventions, given, "conventions") if given else _default_conventions(spec)
    except ValidationError as exc:
        errors.extend(exc.errors)
    if errors:
        raise ValidationError(errors)
    return spec, inputs, conventions


_DEFAULT_CONVENTIONS: dict[str, Any] = {}


def _default_conventions(spec: ModelSpec) -> Any:
    """The model's conventions when the request gives none (most requests): parsed from `{}` once
    and shared, which is safe because conventions classes are frozen (checked here)."""
    conventions = _DEFAULT_CONVENTIONS.get(spec.name)
    if conventions is None:
        conventions = from_dict(spec.conventions, {}, "conventions")
        params = getattr(spec.conventions, "__dataclass_params__", None)
        if params is not None and params.frozen:
            _DEFAULT_CONVENTIONS[spec.name] = conventions
    return conventions


def _json_ready(value: Any) -> bool:
    """True when `value` is already plain JSON with finite numbers: dicts with str keys, lists,
    str, int, bool, None and finite floats. Then `run` returns it as it is (models build their
    results afresh on every call); anything else goes through `to_dict` and the checks below."""
    kind = type(value)
    if kind is dict:
        for key, item in value.items():
            item_kind = type(item)
            if item_kind is float:
                if item - item != 0.0:  # NaN exactly when item is NaN or infinite
                    return False
            elif not (item_kind is str or item_kind is int or item is None or item_kind is bool) and not (
                (item_kind is dict or item_kind is list) and _json_ready(item)
            ):
                return False
            if type(key) is not str:
                return False
        return True
    if kind is list:
        for item in value:
            item_kind = type(item)
            if item_kind is float:
                if item - item != 0.0:
                    return False
            elif not (item_kind is str or item_kind is int or item is None or item_kind is bool) and not (
                (item_kind is dict or item_kind is list) and _json_ready(item)
            ):
                return False
        return True
    return False


def _flat_json_ready(value: dict[str, Any]) -> bool:
    """`_json_ready` for the common shape of outputs, a flat dict of numbers, in a few C calls.

    `sum` adds ints, floats and bools and refuses anything else the engine makes (it has no other
    number types: no Fraction, no Decimal), so a float total means every value is a JSON number,
    and a finite total that none is NaN or infinite; `str.join` refuses a key that is not text.
    Outputs holding None or text are checked type by type instead.
    False means "not shown here" (nested values, or a total that is not finite): the caller then
    runs `_json_ready`, which decides.
    """
    try:
        total = sum(value.values(), 0.0)
        "".join(value)
    except TypeError:  # None or text among the values (or containers, or a key that is not text)
        return _flat_json_ready_by_type(value)
    except OverflowError:  # an int too large for a float: valid JSON, left to `_json_ready`
        return False
    return type(total) is float and total - total == 0.0


_SCALAR_TYPES = frozenset({float, int, bool, type(None)})
_STR = frozenset({str})
_TEXT_TYPES = frozenset({str, type(None)})


def _flat_json_ready_by_type(value: dict[str, Any]) -> bool:
    """`_flat_json_ready` for outputs that may hold None: the types, then the numbers' sum."""
    values = value.values()
    if not (_SCALAR_TYPES.issuperset(map(type, values)) and _STR.issuperset(map(type, value))):
        return False
    try:
        total = sum(filter(None, values), 0.0)
    except OverflowError:
        return False
    return total - total == 0.0


def _table_rows(table: Table) -> tuple[list[dict[str, Any]], bool]:
    """(the table's rows, True when every value is a JSON scalar and every float is finite)."""
    keys, columns, text = table.keys, table.columns, table.text_columns
    if table.build_rows is not None:
        rows = table.build_rows(columns)  # a model's builder zips its columns strictly
    elif len(keys) != len(columns) or len(set(map(len, columns))) > 1:
        raise EngineError(f"a schedule table needs {len(keys)} columns of equal length")
    else:
        rows = list(map(dict, map(zip, repeat(keys), zip(*columns, strict=True))))
    for key in text:
        if not _is_text(columns[keys.index(key)]):
            return rows, False
    if _plain_numbers_finite(table.numbers):
        return rows, True
    numeric = [column for key, column in zip(keys, columns, strict=True) if key not in text] if text else columns
    return rows, _plain_numbers_finite(numeric) or _numbers_finite(numeric)


def _is_text(column: Sequence[Any]) -> bool:
    """True when every value of the column is a str or None."""
    return _TEXT_TYPES.issuperset(map(type, column))


def _plain_numbers_finite(numbers: Sequence[Sequence[Any]] | None) -> bool:
    """True when `numbers` is given, holds only numbers and bools, and every float is finite:
    `_numbers_finite` without filtering out None. False means "not shown here"."""
    if numbers is None:
        return False
    try:
        total = sum(chain.from_iterable(numbers), 0.0)
    except (TypeError, OverflowError):  # None, text or containers; an int too large for a float
        return False
    return type(total) is float and total - total == 0.0


def _numbers_finite(columns: Sequence[Sequence[Any]]) -> bool:
    """True when every value of these columns is a JSON number, bool or None, and every float is finite.

    One `sum` over all of them runs in C: None and zeros are left out, NaN and infinity carry
    through to the total. A column that `sum` refuses (text, containers) or a total that is not
    finite (a bad value, or finite values that overflow together) is checked value by value.
    """
    try:
        total = sum(filter(None, chain.from_iterable(columns)), 0.0)
    except (TypeError, OverflowError):  # text or containers; an int too large for a float
        total = math.nan
    if type(total) is float and total - total == 0.0:
        return True
    return all(_json_ready(list(column)) for column in columns)


def _all_finite(value: Any) -> bool:
    """True when no float inside `value` is NaN or infinite (the fast check; paths only on failure)."""
    kind = type(value)
    if kind is float:
        return math.isfinite(value)
    if kind is dict:
        values = value.values()
    elif kind is list or kind is tuple:
        values = value
    else:
        return True
    for item in values:
        item_kind = type(item)
        if item_kind is float:
            if not math.isfinite(item):
                return False
        elif (item_kind is dict or item_kind is list or item_kind is tuple) and not _all_finite(item):
            return False
    return True


def _non_finite_paths(value: Any, path: str) -> list[str]:
    if isinstance(value, float):
        return [] if math.isfinite(value) else [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _non_finite_paths(v, f"{path}.{k}")]
    if isinstance(value, (list, tuple)):
        return [p for i, v in enumerate(value) for p in _non_finite_paths(v, f"{path}[{i}]")]
    return []


def validate(request: dict[str, Any]) -> None:
    """Check a request without running it; raises ValidationError naming every bad field (or
    NotComputableError when resolving valid inputs already fails, as a model's run would)."""
    try:
        _parse_request(request)
    except EngineError:
        raise
    except (ArithmeticError, ValueError) as exc:
        raise _not_computable(exc) from exc


def run(request: dict[str, Any]) -> dict[str, Any]:
    """Run one model: `{"model", "inputs", "conventions"}` in, a plain dict out.

    Raises ValidationError (a bad field), NoSolutionError (a root finder found nothing) or
    NotComputableError (valid inputs whose arithmetic fails); never a bare Python exception.
    """
    try:
        return _run(request)
    except EngineError:
        raise
    except (ArithmeticError, ValueError) as exc:
        # Models are arithmetic on validated inputs, so what reaches here is an input beyond what
        # floats can carry (1e308 revenues, a price of 5e-324) or a derived rate out of range.
        raise _not_computable(exc) from exc


def _not_computable(exc: BaseException) -> NotComputableError:
    if isinstance(exc, ZeroDivisionError):
        reason = "a division by zero (an input, or a value derived from the inputs, is zero or too close to it)"
    elif isinstance(exc, OverflowError):
        reason = "a result too large for floating-point numbers"
    else:
        reason = str(exc) or type(exc).__name__
    return NotComputableError(
        f"the model cannot be computed for these inputs: {reason}. "
        "Check for a value far outside a plausible range (too large, too small, or in the wrong unit)."
    )


def _run(request: dict[str, Any]) -> dict[str, Any]:
    spec, inputs, conventions = _parse_request(request)
    result = spec.compute(inputs, conventions)
    outputs, schedule = result.outputs, result.schedule
    if isinstance(schedule, Table):
        schedule, ready = _table_rows(schedule)
        ready = ready and (_flat_json_ready(outputs) or _json_ready(outputs))
    else:
        ready = (_flat_json_ready(outputs) or _json_ready(outputs)) and (schedule is None or _json_ready(schedule))
    response: dict[str, Any] = {
        "model": spec.name,
        "engine_version": __version__,
        "outputs": outputs if ready else to_dict(outputs),
        "warnings": list(result.warnings),
    }
    if schedule is not None:
        response["schedule"] = schedule if ready else to_dict(schedule)
    if not ready and not (_all_finite(response["outputs"]) and _all_finite(response.get("schedule", []))):
        bad = _non_finite_paths(response["outputs"], "outputs") + _non_finite_paths(
            response.get("schedule", []), "schedule"
        )
        raise NotComputableError(
            f"model {spec.name} produced a number beyond the float range at {', '.join(bad[:5])}: "
            "check for a value far outside a plausible range (too large, too small, or in the wrong unit)"
        )
    return response


def request_schema(name: str) -> dict[str, Any]:
    """JSON Schema of the request for model `name`."""
    spec = MODELS[name]
    inputs = json_schema(spec.inputs)
    conventions = json_schema(spec.conventions)
    defs = {**inputs.pop("$defs", {}), **conventions.pop("$defs", {})}
    inputs.pop("$schema", None)
    conventions.pop("$schema", None)
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"water_engine request: {name}",
        "description": spec.summary,
        "type": "object",
        "properties": {
            "model": {"const": name},
            "inputs": inputs,
            "conventions": conventions,
        },
        "required": ["model", "inputs"],
        "additionalProperties": False,
    }
    if defs:
        schema["$defs"] = defs
    return schema

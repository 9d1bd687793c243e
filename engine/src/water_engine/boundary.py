"""The JSON boundary: dataclasses to and from plain dicts, and JSON Schema.

Every model's inputs are frozen dataclasses. `from_dict` validates types
(rejecting unknown fields, wrong types, NaN and infinity) and reports each
problem with its field path; each dataclass may add a `validate()` method
returning a list of `FieldError` for rules that span fields.
`json_schema` derives a JSON Schema (draft 2020-12) from the same types, so the
API and the browser validate against exactly what the engine accepts.

Field metadata understood here (pass via `dataclasses.field(metadata=...)`):
  doc   -- a description, with units ("decimal", "currency", "years" ...)
  ge/gt/le/lt -- numeric bounds, checked and written to the schema

Speed: `from_dict` first tries a conversion plan compiled once per type (`_fast`), which
accepts valid data only and gives up (`_BAIL`) on anything else; the general converter
(`_convert`) then runs from the start and reports every problem with its path. So errors
come from one place, and a valid request costs a few dict lookups and type tests per field.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from .errors import FieldError, ValidationError

T = TypeVar("T")

_NONE = type(None)


_SCALARS = (float, int, str, bool, type(None))


def to_dict(obj: Any) -> Any:
    """Convert a dataclass (recursively) into JSON-compatible values."""
    if type(obj) in _SCALARS:  # the common case first: schedules are mostly numbers
        return obj
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [v if type(v) in _SCALARS else to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): v if type(v) in _SCALARS else to_dict(v) for k, v in obj.items()}
    return obj


def from_dict(cls: type[T], data: Any, path: str = "") -> T:
    """Build `cls` from `data`, raising ValidationError listing every bad field."""
    value = _fast(typing.cast(Any, cls))(data)
    if value is not _BAIL:
        return typing.cast(T, value)
    errors: list[FieldError] = []
    value = _convert(cls, data, path, errors)
    if errors:
        raise ValidationError(errors)
    return typing.cast(T, value)


def _join(path: str, name: str | int) -> str:
    if isinstance(name, int):
        return f"{path}[{name}]"
    return f"{path}.{name}" if path else name


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _convert(tp: Any, data: Any, path: str, errors: list[FieldError]) -> Any:
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        return _convert_union(tp, data, path, errors)
    if origin is Literal:
        if data not in get_args(tp):
            allowed = ", ".join(repr(a) for a in get_args(tp))
            errors.append(FieldError(path, f"must be one of {allowed}"))
        return data
    if origin in (list, tuple):
        return _convert_list(tp, data, path, errors)
    if origin is dict:
        return _convert_mapping(tp, data, path, errors)
    if dataclasses.is_dataclass(tp):
        return _convert_dataclass(tp, data, path, errors)
    return _convert_scalar(tp, data, path, errors)


def _convert_union(tp: Any, data: Any, path: str, errors: list[FieldError]) -> Any:
    args = get_args(tp)
    if data is None:
        if _NONE in args:
            return None
        errors.append(FieldError(path, "must not be null"))
        return None
    candidates = [a for a in args if a is not _NONE]
    if len(candidates) == 1:
        return _convert(candidates[0], data, path, errors)
    for candidate in candidates:
        attempt: list[FieldError] = []
        value = _convert(candidate, data, path, attempt)
        if not attempt:
            return value
    names = " or ".join(_type_name(c) for c in candidates)
    errors.append(FieldError(path, f"must be {names}"))
    return None


def _convert_list(tp: Any, data: Any, path: str, errors: list[FieldError]) -> Any:
    if not isinstance(data, (list, tuple)):
        errors.append(FieldError(path, "must be a list"))
        return None
    args = get_args(tp)
    if get_origin(tp) is tuple and args and args[-1] is not Ellipsis:
        # A fixed-length tuple such as tuple[str, float]: one type per position.
        if len(data) != len(args):
            errors.append(FieldError(path, f"must be a list of {len(args)} items"))
            return None
        return tuple(_convert(a, v, _join(path, i), errors) for i, (a, v) in enumerate(zip(args, data, strict=True)))
    (item_type, *_rest) = get_args(tp) or (Any,)
    items = [_convert(item_type, v, _join(path, i), errors) for i, v in enumerate(data)]
    return tuple(items) if get_origin(tp) is tuple else items


def _convert_mapping(tp: Any, data: Any, path: str, errors: list[FieldError]) -> Any:
    if not isinstance(data, dict):
        errors.append(FieldError(path, "must be an object"))
        return None
    _key_type, value_type = get_args(tp) or (str, Any)
    return {str(k): _convert(value_type, v, _join(path, str(k)), errors) for k, v in data.items()}


def _convert_scalar(tp: Any, data: Any, path: str, errors: list[FieldError]) -> Any:
    if tp is Any:
        return data
    if tp is float:
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            errors.append(FieldError(path, "must be a number"))
            return None
        try:
            number = float(data)
        except OverflowError:  # an integer beyond the float range (JSON allows any number of digits)
            number = math.inf
        if not math.isfinite(number):
            errors.append(FieldError(path, "must be a finite number"))
            return None
        return number
    if tp is int:
        if isinstance(data, bool) or not isinstance(data, int):
            if isinstance(data, float) and data.is_integer():
                return int(data)
            errors.append(FieldError(path, "must be an integer"))
            return None
        return data
    if tp is bool:
        if not isinstance(data, bool):
            errors.append(FieldError(path, "must be true or false"))
            return None
        return data
    if tp is str:
        if not isinstance(data, str):
            errors.append(FieldError(path, "must be a string"))
            return None
        return data
    errors.append(FieldError(path, f"unsupported type {_type_name(tp)}"))
    return None


_BOUND_CHECKS: tuple[tuple[str, typing.Callable[[Any, Any], bool], str], ...] = (
    ("ge", lambda v, b: bool(v >= b), "must be at least"),
    ("gt", lambda v, b: bool(v > b), "must be greater than"),
    ("le", lambda v, b: bool(v <= b), "must be at most"),
    ("lt", lambda v, b: bool(v < b), "must be less than"),
)


def _check_bounds(
    value: Any,
    bounds: tuple[tuple[Any, typing.Callable[[Any, Any], bool], str], ...],
    path: str,
    errors: list[FieldError],
) -> None:
    if not bounds or not isinstance(value, (int, float)) or isinstance(value, bool):
        return
    for bound, ok, words in bounds:
        if not ok(value, bound):
            errors.append(FieldError(path, f"{words} {bound}"))


@dataclasses.dataclass(frozen=True)
class _FieldInfo:
    name: str
    hint: Any
    required: bool
    plain_float: bool  # the hint is exactly `float`: finite floats pass straight through
    bounds: tuple[tuple[Any, typing.Callable[[Any, Any], bool], str], ...]


@functools.cache
def _dataclass_info(cls: Any) -> tuple[_FieldInfo, ...]:
    """What conversion needs to know about each field, worked out once per class (hints are slow)."""
    hints = get_type_hints(cls)
    infos = []
    for f in dataclasses.fields(cls):
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        bounds = tuple((f.metadata[key], ok, words) for key, ok, words in _BOUND_CHECKS if key in f.metadata)
        infos.append(_FieldInfo(f.name, hints[f.name], required, hints[f.name] is float, bounds))
    return tuple(infos)


@functools.cache
def _field_names(cls: Any) -> frozenset[str]:
    return frozenset(info.name for info in _dataclass_info(cls))


def _convert_dataclass(cls: Any, data: Any, path: str, errors: list[FieldError]) -> Any:
    if isinstance(data, cls):
        return data
    if not isinstance(data, dict):
        errors.append(FieldError(path, "must be an object"))
        return None
    names = _field_names(cls)
    if not names.issuperset(data):
        for unknown in sorted(set(data) - names):
            errors.append(FieldError(_join(path, unknown), "unknown field"))
    kwargs: dict[str, Any] = {}
    before = len(errors)
    for info in _dataclass_info(cls):
        name = info.name
        if name not in data:
            if info.required:
                errors.append(FieldError(_join(path, name), "is required"))
            continue
        raw = data[name]
        if info.plain_float and type(raw) is float and math.isfinite(raw):
            value = raw  # the common case, without the generic dispatch
        else:
            value = _convert(info.hint, raw, _join(path, name), errors)
        if info.bounds:
            _check_bounds(value, info.bounds, _join(path, name), errors)
        kwargs[name] = value
    if len(errors) > before:
        return None
    obj = cls(**kwargs)
    validate = getattr(obj, "validate", None)
    if callable(validate):
        for err in validate():
            errors.append(FieldError(_join(path, err.path) if err.path else path, err.message))
    return obj


# --- Compiled conversion plans (valid data only) -------------------------------------
#
# `_fast(tp)` returns a function of the data alone that returns exactly what `_convert` returns
# when `_convert` records no error, or `_BAIL` when it cannot tell cheaply (invalid data, and
# rare valid forms such as 2.0 for an int or a tuple for a list). `from_dict` then runs
# `_convert` on the whole input, so every error message and path comes from `_convert`.


class _Bail:
    """The fast plan gives up: run the general converter."""


_BAIL: Any = _Bail()
_INT_AS_FLOAT = 2**1023  # ints below this convert to a finite float without OverflowError

FastConvert = typing.Callable[[Any], Any]


def _always_bail(data: Any) -> Any:
    return _BAIL


def _fast_any(data: Any) -> Any:
    return data


def _fast_float(data: Any) -> Any:
    if type(data) is float:
        return data if data - data == 0.0 else _BAIL  # x - x is NaN exactly when x is NaN or infinite
    if type(data) is int and -_INT_AS_FLOAT < data < _INT_AS_FLOAT:
        return float(data)
    return _BAIL


def _fast_int(data: Any) -> Any:
    return data if type(data) is int else _BAIL


def _fast_bool(data: Any) -> Any:
    return data if type(data) is bool else _BAIL


def _fast_str(data: Any) -> Any:
    return data if type(data) is str else _BAIL


_FAST_SCALARS: dict[Any, FastConvert] = {
    Any: _fast_any,
    float: _fast_float,
    int: _fast_int,
    bool: _fast_bool,
    str: _fast_str,
}


@functools.cache
def _fast(tp: Any) -> FastConvert:
    """The compiled plan for `tp` (same dispatch order as `_convert`)."""
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        return _fast_union(get_args(tp))
    if origin is Literal:
        allowed = get_args(tp)
        return lambda data: data if data in allowed else _BAIL
    if origin in (list, tuple):
        args = get_args(tp)
        if origin is tuple and args and args[-1] is not Ellipsis:
            return _fast_fixed_tuple(tuple(_fast(a) for a in args))
        (item_type, *_rest) = args or (Any,)
        return _fast_sequence(item_type, origin is tuple)
    if origin is dict:
        _key_type, value_type = get_args(tp) or (str, Any)
        return _fast_mapping(_fast(value_type))
    if dataclasses.is_dataclass(tp):
        return _DataclassPlan(tp).convert
    return _FAST_SCALARS.get(tp, _always_bail)


def _fast_union(args: tuple[Any, ...]) -> FastConvert:
    candidates = [a for a in args if a is not _NONE]
    if len(candidates) != 1:
        return _always_bail  # several alternatives: `_convert` tries them in order
    inner = _fast(candidates[0])
    if _NONE in args:
        return lambda data: None if data is None else inner(data)
    return lambda data: _BAIL if data is None else inner(data)


def _fast_sequence(item_type: Any, as_tuple: bool) -> FastConvert:
    item = _fast(item_type)
    plain_floats = item_type is float

    def convert(data: Any) -> Any:
        if type(data) is not list:
            return _BAIL
        if plain_floats and _finite_floats(data):
            return tuple(data) if as_tuple else list(data)
        items = []
        for v in data:
            value = item(v)
            if value is _BAIL:
                return _BAIL
            items.append(value)
        return tuple(items) if as_tuple else items

    return convert


_FLOAT = frozenset({float})


def _finite_floats(values: list[Any]) -> bool:
    """True when every value is a float and none is NaN or infinite, in two passes of C code.

    The sum is only a test: NaN and infinity carry through to it. Finite values whose sum
    overflows give False too, and the caller's slower path then accepts them one by one.
    """
    return _FLOAT.issuperset(map(type, values)) and (total := sum(values, 0.0)) - total == 0.0


def _fast_fixed_tuple(items: tuple[FastConvert, ...]) -> FastConvert:
    def convert(data: Any) -> Any:
        if (type(data) is not list and type(data) is not tuple) or len(data) != len(items):
            return _BAIL
        values = tuple(item(v) for item, v in zip(items, data, strict=True))
        return _BAIL if _BAIL in values else values

    return convert


def _fast_mapping(value: FastConvert) -> FastConvert:
    def convert(data: Any) -> Any:
        if type(data) is not dict:
            return _BAIL
        out = {}
        for k, v in data.items():
            converted = value(v)
            if converted is _BAIL:
                return _BAIL
            out[str(k)] = converted
        return out

    return convert


_LARGEST = 1.7976931348623157e308  # the largest finite float


def _closed_interval(meta: Any) -> tuple[float, float] | None:
    """[low, high] with `low <= x <= high` exactly when x is finite and within ge/gt/le/lt.

    An open bound becomes the next float inward (x > 0 is x >= 5e-324 for floats and ints alike),
    and a missing side becomes the largest finite float, so one chained comparison also refuses
    NaN (which fails every comparison) and both infinities. None if two bounds share a side.
    """
    lows = [k for k in ("ge", "gt") if k in meta]
    highs = [k for k in ("le", "lt") if k in meta]
    if len(lows) > 1 or len(highs) > 1:
        return None
    low, high = -_LARGEST, _LARGEST
    if lows:
        low = meta[lows[0]] if lows[0] == "ge" else math.nextafter(meta[lows[0]], math.inf)
    if highs:
        high = meta[highs[0]] if highs[0] == "le" else math.nextafter(meta[highs[0]], -math.inf)
    return low, high


def _can_skip_init(cls: Any) -> bool:
    """True when filling the instance dict in field order is all that `cls.__init__` does.

    That holds for the `__init__` that @dataclass generates (compiled from source text, so its
    code comes from "<string>") when there is no __post_init__, no __slots__ and no init=False
    field; any other class is built by calling it.
    """
    init = cls.__dict__.get("__init__")
    code = getattr(init, "__code__", None)
    return (
        code is not None
        and code.co_filename == "<string>"
        and not hasattr(cls, "__post_init__")
        and "__slots__" not in cls.__dict__
        and all(f.init for f in dataclasses.fields(cls))
    )


class _DataclassPlan:
    """What a valid object of one dataclass needs, worked out on its first use."""

    def __init__(self, cls: Any) -> None:
        self.cls = cls
        self.ready = False

    def _compile(self) -> None:
        cls = self.cls
        infos = _dataclass_info(cls)
        fields = dataclasses.fields(cls)
        self.names = _field_names(cls)
        self.required = frozenset(i.name for i in infos if i.required)
        # Defaults in field order (required fields hold a placeholder until they are set).
        self.template = {f.name: None if f.default is dataclasses.MISSING else f.default for f in fields}
        self.factories = tuple(
            (f.name, f.default_factory) for f in fields if f.default_factory is not dataclasses.MISSING
        )
        self.skip_init = _can_skip_init(cls)
        validate = getattr(cls, "validate", None)
        self.validate = validate if callable(validate) else None  # looked up once, called unbound
        self.usable = "validate" not in self.names
        # name -> (plain float, converter, low, high)
        self.fields: dict[str, tuple[bool, FastConvert, float, float]] = {}
        for f, info in zip(fields, infos, strict=True):
            interval = _closed_interval(f.metadata)
            if interval is None:
                self.usable = False
                interval = (-_LARGEST, _LARGEST)
            plain_float = info.hint is float or info.hint == (float | None)
            self.fields[f.name] = (plain_float, _fast(info.hint), *interval)
        self.ready = True

    def convert(self, data: Any) -> Any:
        if not self.ready:
            self._compile()
        if type(data) is not dict or not self.usable or not data.keys() >= self.required:
            return _BAIL
        values = self.template.copy()
        plan = self.fields
        for name, raw in data.items():
            field = plan.get(name)
            if field is None:
                return _BAIL  # an unknown field: `_convert` names it
            plain_float, convert, low, high = field
            if plain_float and type(raw) is float and low <= raw <= high:
                values[name] = raw  # the common case: a finite float within its bounds
                continue
            value = convert(raw)
            if value is _BAIL or ((type(value) is float or type(value) is int) and not low <= value <= high):
                return _BAIL  # an int beyond the float range is left to `_convert` too
            values[name] = value
        for name, factory in self.factories:
            if name not in data:
                values[name] = factory()
        if self.skip_init:
            obj = object.__new__(self.cls)
            object.__setattr__(obj, "__dict__", values)
        else:
            obj = self.cls(**values)
        if self.validate is not None and self.validate(obj):
            return _BAIL
        return obj


# --- JSON Schema -----------------------------------------------------------------


def json_schema(cls: type, title: str | None = None) -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) for the dataclass `cls`."""
    defs: dict[str, Any] = {}
    root = _schema_for(cls, defs)
    schema: dict[str, Any] = {"$schema": "https://json-schema.org/draft/2020-12/schema"}
    if title:
        schema["title"] = title
    schema.update(root)
    if defs:
        schema["$defs"] = defs
    return schema


def _schema_for(tp: Any, defs: dict[str, Any]) -> dict[str, Any]:
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        options = [_schema_for(a, defs) for a in get_args(tp)]
        return {"anyOf": options}
    if origin is Literal:
        return {"enum": list(get_args(tp))}
    if origin in (list, tuple):
        args = get_args(tp)
        if origin is tuple and args and args[-1] is not Ellipsis:
            return {
                "type": "array",
                "prefixItems": [_schema_for(a, defs) for a in args],
                "items": False,
                "minItems": len(args),
                "maxItems": len(args),
            }
        (item_type, *_rest) = args or (Any,)
        return {"type": "array", "items": _schema_for(item_type, defs)}
    if origin is dict:
        _k, value_type = get_args(tp) or (str, Any)
        return {"type": "object", "additionalProperties": _schema_for(value_type, defs)}
    if dataclasses.is_dataclass(tp):
        name = str(getattr(tp, "__name__", tp))
        if name not in defs:
            defs[name] = {}
            defs[name] = _dataclass_schema(tp, defs)
        return {"$ref": f"#/$defs/{name}"}
    simple = {float: "number", int: "integer", bool: "boolean", str: "string", _NONE: "null"}
    if tp in simple:
        return {"type": simple[tp]}
    return {}


def _dataclass_schema(cls: Any, defs: dict[str, Any]) -> dict[str, Any]:
    hints = get_type_hints(cls)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for f in dataclasses.fields(cls):
        prop = dict(_schema_for(hints[f.name], defs))
        meta = f.metadata
        if "doc" in meta:
            prop["description"] = meta["doc"]
        for key, schema_key in (
            ("ge", "minimum"),
            ("gt", "exclusiveMinimum"),
            ("le", "maximum"),
            ("lt", "exclusiveMaximum"),
        ):
            if key in meta:
                prop[schema_key] = meta[key]
        if f.default is not dataclasses.MISSING:
            prop["default"] = to_dict(f.default)
        elif f.default_factory is not dataclasses.MISSING:
            prop["default"] = to_dict(f.default_factory())
        else:
            required.append(f.name)
        properties[f.name] = prop
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if cls.__doc__:
        schema["description"] = cls.__doc__.strip().splitlines()[0]
    if required:
        schema["required"] = required
    return schema

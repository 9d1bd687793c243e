"""The model registry behind `water_engine.run`.

Each model module registers its entry points with `@register_model`, naming the
inputs dataclass (and optionally a conventions dataclass). `run` looks the model
up, validates the request through the JSON boundary, computes, and checks that
no output is NaN or infinite.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._version import __version__
from .boundary import from_dict, json_schema, to_dict
from .errors import EngineError, FieldError, UnknownModelError, ValidationError


@dataclass
class Result:
    """What a model returns: named outputs, an optional year-by-year schedule, warnings."""

    outputs: dict[str, Any]
    schedule: list[dict[str, Any]] | None = None
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


def _parse_request(request: Any) -> tuple[ModelSpec, Any, Any]:
    if not isinstance(request, dict):
        raise ValidationError("request must be an object")
    unknown = sorted(set(request) - {"model", "inputs", "conventions"})
    if unknown:
        raise ValidationError([FieldError(k, "unknown field") for k in unknown])
    name = request.get("model")
    if not isinstance(name, str) or name not in MODELS:
        known = ", ".join(sorted(MODELS))
        raise UnknownModelError(FieldError("model", f"unknown model {name!r}; known models: {known}"))
    spec = MODELS[name]
    errors: list[FieldError] = []
    inputs = conventions = None
    try:
        inputs = from_dict(spec.inputs, request.get("inputs", {}), "inputs")
    except ValidationError as exc:
        errors.extend(exc.errors)
    try:
        conventions = from_dict(spec.conventions, request.get("conventions") or {}, "conventions")
    except ValidationError as exc:
        errors.extend(exc.errors)
    if errors:
        raise ValidationError(errors)
    return spec, inputs, conventions


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
    """Check a request without running it; raises ValidationError naming every bad field."""
    _parse_request(request)


def run(request: dict[str, Any]) -> dict[str, Any]:
    """Run one model: `{"model", "inputs", "conventions"}` in, a plain dict out."""
    spec, inputs, conventions = _parse_request(request)
    result = spec.compute(inputs, conventions)
    response: dict[str, Any] = {
        "model": spec.name,
        "engine_version": __version__,
        "outputs": to_dict(result.outputs),
        "warnings": list(result.warnings),
    }
    if result.schedule is not None:
        response["schedule"] = to_dict(result.schedule)
    if not (_all_finite(response["outputs"]) and _all_finite(response.get("schedule", []))):
        bad = _non_finite_paths(response["outputs"], "outputs") + _non_finite_paths(
            response.get("schedule", []), "schedule"
        )
        raise EngineError(f"model {spec.name} produced a non-finite number at {', '.join(bad[:5])}")
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

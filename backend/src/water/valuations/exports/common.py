"""Helpers shared by the PDF report and the workbook: number formatting, input labels and units.

Everything here is pure (no I/O). Labels and units come from the engine's own dataclass
metadata (`water_engine.MODELS[name].inputs`), whose field docs end in a unit such as
"(decimal)", "(currency)", "(ratio)" or "(years)", so every model gets readable rows.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from collections.abc import Iterator, Mapping
from typing import Any, Literal

import water_engine

__all__ = [
    "METHOD_TITLES",
    "FieldInfo",
    "Unit",
    "defaults_by_path",
    "field_info",
    "flatten",
    "fmt_date",
    "fmt_money",
    "fmt_number",
    "fmt_pct",
    "fmt_value",
    "get_path",
    "lookup_field",
    "method_title",
]

Unit = Literal["pct", "money", "per_share", "ratio", "years", "shares", "count", "text", "flag", "number"]

METHOD_TITLES: dict[str, str] = {
    "fcff_ginzu": "FCFF DCF (Ginzu)",
    "fcff_explicit": "Explicit-forecast FCFF DCF",
    "fcfe": "FCFE DCF",
    "ddm": "Dividend discount model",
    "comparables": "Trading comparables",
    "reverse_dcf": "Reverse DCF",
    "sensitivity": "Sensitivity grid",
    "tornado": "Tornado (one-way sensitivity)",
    "scenarios": "Scenarios",
    "monte_carlo": "Monte Carlo simulation",
    "football_field": "Football field",
}


def method_title(method: str) -> str:
    return METHOD_TITLES.get(method, method.replace("_", " ").capitalize())


# --- Number formatting --------------------------------------------------------------------


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def fmt_number(x: Any, decimals: int = 0) -> str:
    """Thousands separators, a real minus sign-free hyphen for negatives; '-' for missing values."""
    if not _finite(x):
        return "n/a" if x is not None else "-"
    return f"{float(x):,.{decimals}f}"


def fmt_money(x: Any, currency: str | None = None, decimals: int | None = None) -> str:
    """'USD 172,344' for totals, 'USD 39.94' for per-share amounts (2 decimals below 1,000)."""
    if not _finite(x):
        return "n/a" if x is not None else "-"
    if decimals is None:
        decimals = 2 if abs(float(x)) < 1000 else 0
    text = fmt_number(x, decimals)
    return f"{currency} {text}" if currency else text


def fmt_pct(x: Any, decimals: int = 2) -> str:
    """0.0731766 -> '7.32%'."""
    if not _finite(x):
        return "n/a" if x is not None else "-"
    return f"{float(x) * 100:,.{decimals}f}%"


def fmt_date(iso: Any) -> str:
    """'2024-09-01T12:30:00+00:00' -> '2024-09-01 12:30 UTC' (other offsets kept as given)."""
    if not isinstance(iso, str) or not iso:
        return "-"
    m = re.match(r"(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}))?(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$", iso)
    if not m:
        return iso
    date, time, zone = m.groups()
    if not time:
        return date
    if zone in (None, "Z", "+00:00", "+0000"):
        return f"{date} {time} UTC"
    return f"{date} {time} {zone}"


def fmt_value(x: Any, unit: Unit, currency: str | None = None) -> str:
    """Format a value by its unit (booleans, strings and lists too)."""
    if isinstance(x, bool):
        return "yes" if x else "no"
    if x is None:
        return "-"
    if isinstance(x, str):
        return x
    if isinstance(x, (list, tuple)):
        return ", ".join(fmt_value(v, unit, currency) for v in x)
    if isinstance(x, Mapping):
        return ", ".join(f"{k}: {fmt_value(v, 'number')}" for k, v in x.items())
    if not _finite(x):
        return "n/a"
    if unit == "pct":
        return fmt_pct(x)
    if unit == "money":
        return fmt_money(x, currency)
    if unit == "per_share":
        return fmt_money(x, currency, 2)
    if unit in ("years", "count"):
        return fmt_number(x, 0) if float(x).is_integer() else fmt_number(x, 2)
    if unit == "shares":
        return fmt_number(x, 0) if abs(float(x)) >= 1000 else fmt_number(x, 2)
    if unit == "ratio":
        return fmt_number(x, 2)
    a = abs(float(x))
    if a == 0 or a >= 1000:
        return fmt_number(x, 0)
    if a >= 1:
        return fmt_number(x, 2)
    return f"{float(x):.4g}"


# --- Input labels and units from the engine's dataclasses ------------------------------------


@dataclasses.dataclass(frozen=True)
class FieldInfo:
    label: str
    unit: Unit
    doc: str


_UNIT_WORDS: tuple[tuple[str, Unit], ...] = (
    ("currency per share", "per_share"),
    ("decimal", "pct"),
    ("currency", "money"),
    ("ratio", "ratio"),
    ("shares", "shares"),
    ("years", "years"),
    ("year", "years"),
)


def _unit_of(doc: str, annotation: Any) -> Unit:
    if annotation is bool:
        return "flag"
    for m in re.finditer(r"\(([^()]*)\)", doc):
        words = m.group(1).lower()
        for word, unit in _UNIT_WORDS:
            if words.startswith(word):
                return unit
    if re.search(r"(^|, )currency$", doc.strip().lower()):
        return "money"
    if annotation is int:
        return "count"
    if annotation is str:
        return "text"
    return "number"


_ACRONYMS = {"ebitda", "ebit", "fcf", "fcff", "fcfe", "roe", "roc", "erp", "nol", "eps", "dps", "ev", "iqr"}


def _label_of(name: str, doc: str) -> str:
    text = doc.split(";")[0]
    for m in re.finditer(r"\s*\(([^()]*)\)", text):
        if any(m.group(1).lower().startswith(word) for word, _ in _UNIT_WORDS):
            text = text[: m.start()]
            break
    text = re.sub(r"(^|,\s*)currency$", "", text.strip(), flags=re.IGNORECASE).strip().rstrip(",")
    if len(text) < 3 or text.lower().startswith("e.g."):
        text = " ".join(w.upper() if w in _ACRONYMS else w for w in name.split("_"))
    return text[0].upper() + text[1:]


def _dataclass_in(annotation: Any) -> type | None:
    """The dataclass inside `X`, `X | None` or `list[X]`, if any."""
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list):
        for arg in typing.get_args(annotation):
            found = _dataclass_in(arg)
            if found is not None:
                return found
    return None


def _plain(annotation: Any) -> Any:
    """`float | None` -> float; anything else unchanged."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _walk(cls: type, prefix: str, out: dict[str, FieldInfo]) -> None:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        doc = str(f.metadata.get("doc", ""))
        annotation = hints.get(f.name)
        path = f"{prefix}{f.name}"
        unit = _unit_of(doc, _plain(annotation))
        if f.name == "price" and unit in ("money", "number"):
            unit = "per_share"
        out[path] = FieldInfo(_label_of(f.name, doc), unit, doc)
        inner = _dataclass_in(annotation)
        if inner is not None:
            _walk(inner, f"{path}.", out)


_FIELD_CACHE: dict[str, dict[str, FieldInfo]] = {}


def field_info(model: str) -> dict[str, FieldInfo]:
    """{dotted input path (list indices dropped): FieldInfo} for an engine model; {} if unknown."""
    if model not in _FIELD_CACHE:
        out: dict[str, FieldInfo] = {}
        spec = water_engine.MODELS.get(model)
        if spec is not None:
            _walk(spec.inputs, "", out)
        _FIELD_CACHE[model] = out
    return _FIELD_CACHE[model]


def lookup_field(model: str, path: str) -> FieldInfo:
    """FieldInfo for `path` (e.g. 'rnd.past_expenses[2]'), falling back on the name."""
    key = re.sub(r"\[\d+\]", "", path)
    info = field_info(model).get(key)
    if info is not None:
        return info
    name = key.rsplit(".", 1)[-1]
    return FieldInfo(_label_of(name, ""), "number", "")


# --- Plain data helpers -------------------------------------------------------------------------


def flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Leaves of nested dicts as (dotted path, value); lists of scalars stay whole."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield from flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(value, list) and any(isinstance(v, (Mapping, list)) for v in value):
        for i, v in enumerate(value):
            yield from flatten(v, f"{prefix}[{i}]")
    else:
        yield prefix, value


def get_path(obj: Any, path: str) -> Any:
    """Read 'inputs.rnd.past_expenses[1]' from nested dicts and lists; None if absent."""
    cur = obj
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        if part.startswith("["):
            idx = int(part[1:-1])
            if not isinstance(cur, list) or idx >= len(cur):
                return None
            cur = cur[idx]
        else:
            if not isinstance(cur, Mapping) or part not in cur:
                return None
            cur = cur[part]
    return cur


def defaults_by_path(run: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """{path: defaults_applied entry}, paths as 'method.inputs.field'."""
    out: dict[str, Mapping[str, Any]] = {}
    for entry in run.get("defaults_applied") or []:
        path = entry.get("path")
        if isinstance(path, str):
            out[path] = entry
    return out

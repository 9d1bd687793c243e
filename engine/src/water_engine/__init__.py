"""Water's analysis engine: valuation models in pure Python.

Standard library only; no I/O, no clock, randomness only from an explicit seed.
Results are bit-identical in CPython and Pyodide (see docs/engine.md).

    >>> import water_engine
    >>> water_engine.run({"model": "npv", "inputs": {...}})
"""

from __future__ import annotations

from . import models as _models  # noqa: F401  (registers every model)
from ._version import __version__
from .errors import EngineError, FieldError, NoSolutionError, NotComputableError, ValidationError
from .registry import MODELS, request_schema, run, validate

__all__ = [
    "MODELS",
    "EngineError",
    "FieldError",
    "NoSolutionError",
    "NotComputableError",
    "ValidationError",
    "__version__",
    "request_schema",
    "run",
    "validate",
]

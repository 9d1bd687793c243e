"""Errors raised by the engine.

Every validation error names the field path (dotted, with list indices) and the
reason, so the API can turn it into a 422 problem with a field list.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class EngineError(Exception):
    """Base class of every error the engine raises on purpose."""

    code = "engine_error"


class ValidationError(EngineError, ValueError):
    """The request is not valid; `errors` lists each bad field."""

    code = "invalid_input"

    def __init__(self, errors: list[FieldError] | FieldError | str, path: str = "") -> None:
        if isinstance(errors, str):
            errors = [FieldError(path, errors)]
        elif isinstance(errors, FieldError):
            errors = [errors]
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors))

    def to_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "errors": [{"path": e.path, "message": e.message} for e in self.errors],
        }


class NoSolutionError(EngineError):
    """A root finder found no solution in the searched range."""

    code = "no_solution"


class NotComputableError(EngineError, ArithmeticError):
    """Every input is valid, but the arithmetic they lead to is not: a result beyond the float
    range, a division by a value that underflowed to zero, infinity minus infinity, or a rate the
    model derives at or below -100%. An ArithmeticError too, so a grid cell, a scenario or a root
    finder's trial point with such inputs is left empty, as for an overflow."""

    code = "not_computable"


class UnknownModelError(ValidationError):
    code = "unknown_model"

"""Domain errors and their rendering as RFC 9457 problem details.

Every error the API returns is `application/problem+json` with `type`, `title`,
`status`, `detail`, a stable `code`, the `request_id`, and for 422 an `errors`
list of `{loc, msg, type}`.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

PROBLEM_BASE = "https://water.example/problems/"


class WaterError(Exception):
    """Base of every error meant for the user. Subclasses set status, code and title."""

    status = 400
    code = "bad_request"
    title = "Bad request"

    def __init__(
        self, detail: str | None = None, *, code: str | None = None, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        self.detail = detail or self.title
        if code is not None:
            self.code = code
        self.headers = headers or {}
        self.extra = extra
        super().__init__(self.detail)


class NotFound(WaterError):
    status, code, title = 404, "not_found", "Not found"


class Unauthenticated(WaterError):
    status, code, title = 401, "unauthenticated", "Authentication required"

    def __init__(self, detail: str | None = None, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail, code=code, headers={"WWW-Authenticate": "Bearer"}, **extra)


class Forbidden(WaterError):
    status, code, title = 403, "forbidden", "Not allowed"


class Conflict(WaterError):
    status, code, title = 409, "conflict", "Conflict"


class InvalidInput(WaterError):
    status, code, title = 422, "invalid_input", "Invalid input"

    def __init__(self, detail: str | None = None, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail, errors=errors or [])


class TooManyRequests(WaterError):
    status, code, title = 429, "rate_limited", "Too many requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after))}, retry_after=max(1, retry_after))


class PayloadTooLarge(WaterError):
    status, code, title = 413, "payload_too_large", "Request body too large"


class ServiceUnavailable(WaterError):
    status, code, title = 503, "service_unavailable", "Service unavailable"


def problem(
    status: int,
    *,
    code: str,
    title: str | None = None,
    detail: str | None = None,
    request_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Build a problem-details body."""
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + code.replace("_", "-"),
        "title": title or phrase,
        "status": status,
        "detail": detail or title or phrase,
        "code": code,
        "request_id": request_id,
    }
    body.update(extra)
    return body

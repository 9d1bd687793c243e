"""create_app(): settings, logging, middleware, exception handlers, routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import __version__
from .audit.endpoints import router as audit_router
from .auth.dependencies import current_principal
from .auth.endpoints import public_router as auth_public_router
from .auth.endpoints import router as auth_router
from .companies.endpoints import router as companies_router
from .config import Settings, get_settings
from .db.session import dispose_engine
from .errors import WaterError, problem
from .events.endpoints import router as events_router
from .jobs.endpoints import router as jobs_router
from .logging import configure_logging
from .market_data.endpoints import router as market_data_router
from .middleware import (
    AllowlistCORSMiddleware,
    BodySizeLimitMiddleware,
    ConcurrencyLimitMiddleware,
    MetricsMiddleware,
    RequestIdMiddleware,
    UnhandledErrorMiddleware,
)
from .ops.endpoints import metrics_router
from .ops.endpoints import public_router as ops_public_router
from .users.endpoints import router as users_router
from .valuations.endpoints import router as valuations_router

log = structlog.get_logger("water.api")

# Routes reachable without authentication. A test walks the route table against this list.
PUBLIC_ROUTES = {
    ("POST", "/api/auth/signup"),
    ("POST", "/api/auth/token"),
    ("POST", "/api/auth/refresh"),
    ("POST", "/api/auth/logout"),
    ("GET", "/api/healthz"),
    ("GET", "/api/readyz"),
    ("GET", "/metrics"),
    ("GET", "/api/openapi.json"),
    ("GET", "/api/docs"),
    ("GET", "/api/docs/oauth2-redirect"),
    ("GET", "/api/redoc"),
}

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details, with Water's stable `code` and the request id.",
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "Stable machine-readable code, e.g. ticker_taken"},
        "request_id": {"type": ["string", "null"]},
        "errors": {
            "type": "array",
            "description": "Field errors (422): where (loc), what (msg) and the error type.",
            "items": {
                "type": "object",
                "properties": {"loc": {"type": "array"}, "msg": {"type": "string"}, "type": {"type": "string"}},
            },
        },
        "retry_after": {"type": "integer"},
    },
}
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": description, "content": {"application/problem+json": {"schema": PROBLEM_REF}}}
    for status, description in (
        (401, "Not authenticated"),
        (403, "Not allowed for this role"),
        (404, "Not found (also for another organization's objects)"),
        (409, "Conflict"),
        (413, "Body too large"),
        (422, "Invalid input, with a field list"),
        (429, "Rate limited"),
        (400, "Malformed request"),
        (405, "Method not allowed"),
    )
}


def _install_openapi(app: FastAPI) -> None:
    """Add the Problem schema that every error response refers to."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _request_id(request: Request) -> str | None:
    value = getattr(request.state, "request_id", None) or request.scope.get("state", {}).get("request_id")
    return str(value) if value else None


def _problem_response(
    request: Request, status: int, headers: dict[str, str] | None = None, **fields: Any
) -> JSONResponse:
    body = problem(status, request_id=_request_id(request), **fields)
    return JSONResponse(body, status_code=status, headers=headers, media_type="application/problem+json")


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    errors = []
    for error in exc.errors():
        item = {"loc": list(error.get("loc", ())), "msg": str(error.get("msg", "")), "type": str(error.get("type", ""))}
        errors.append(item)
    return errors


def install_exception_handlers(app: FastAPI) -> None:
    """The one exception layer: everything becomes an RFC 9457 problem."""

    @app.exception_handler(WaterError)
    async def water_error(request: Request, exc: WaterError) -> JSONResponse:
        return _problem_response(
            request, exc.status, exc.headers, code=exc.code, title=exc.title, detail=exc.detail, **exc.extra
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _validation_errors(exc)
        detail = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors[:5])
        return _problem_response(
            request, 422, code="invalid_input", title="Invalid input", detail=detail, errors=errors
        )

    @app.exception_handler(DataError)
    async def data_error(request: Request, exc: DataError) -> JSONResponse:
        # Input the database cannot store (e.g. a NUL character in a query parameter): the caller's fault.
        log.warning("database_rejected_input", error=str(exc.orig)[:200])
        detail = "The request contains a value the database cannot store (for example a NUL character)."
        return _problem_response(request, 422, code="invalid_input", title="Invalid input", detail=detail, errors=[])

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large", 400: "bad_request"}
        code = codes.get(exc.status_code, f"http_{exc.status_code}")
        detail = exc.detail if isinstance(exc.detail, str) else None
        if exc.status_code == 400 and detail == "There was an error parsing the body":
            detail = "The request body could not be parsed."
        return _problem_response(request, exc.status_code, dict(exc.headers or {}), code=code, detail=detail)


def api_router() -> APIRouter:
    api = APIRouter(prefix="/api", responses=PROBLEM_RESPONSES)
    api.include_router(ops_public_router)
    api.include_router(auth_public_router)
    # Every router below requires authentication; role checks sit on each handler. Included
    # directly, not through an intermediate router: with FastAPI's lazy included routers every
    # nesting level is walked again on each request (route matching ~40 µs -> see docs/benchmarks.md).
    for router in (
        auth_router, users_router, companies_router, audit_router, jobs_router,
        market_data_router, valuations_router, events_router,
    ):  # fmt: skip
        api.include_router(router, dependencies=[Depends(current_principal)])
    return api


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    yield
    dispose_engine()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(json_logs=settings.json_logs, level=settings.log_level)
    app = FastAPI(
        title="Water API",
        version=__version__,
        description="Value companies and keep the valuations compliant. Errors are RFC 9457 problem details.",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url="/api/redoc",
        swagger_ui_oauth2_redirect_url="/api/docs/oauth2-redirect",
        lifespan=lifespan,
    )
    install_exception_handlers(app)
    _install_openapi(app)
    app.include_router(api_router())
    app.include_router(metrics_router)
    # Added innermost first. Outermost first they run: request id, metrics, CORS, body limit,
    # then the exception layer (unexpected errors here, the handlers above for everything else).
    app.add_middleware(ConcurrencyLimitMiddleware, limit=2 * settings.db_pool_size)  # the pool's size with overflow
    app.add_middleware(UnhandledErrorMiddleware)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(
        AllowlistCORSMiddleware,
        allow_origins=[o for o in settings.cors_origins if o != "*"],
        allow_credentials=True,
        allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS"],
        allow_headers=[
            "Authorization",
            "Content-Type",
            "X-Request-ID",
            "X-API-Key",
            "Idempotency-Key",
            "If-None-Match",
        ],
        expose_headers=["X-Request-ID", "Location", "ETag", "Retry-After"],
    )
    app.add_middleware(MetricsMiddleware, fastapi_app=app)
    app.add_middleware(RequestIdMiddleware)
    return app

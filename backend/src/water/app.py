"""create_app(): settings, logging, middleware, exception handlers, routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import __version__
from .audit.endpoints import router as audit_router
from .auth.dependencies import SECURITY_SCHEMES, current_principal
from .auth.endpoints import public_router as auth_public_router
from .auth.endpoints import router as auth_router
from .companies.endpoints import router as companies_router
from .config import Settings, get_settings
from .db.reads import close_reads
from .db.session import dispose_engine
from .errors import WaterError, problem
from .events.endpoints import router as events_router
from .jobs.endpoints import router as jobs_router
from .logging import configure_logging
from .market_data.endpoints import IMPORT_BODY_LIMIT
from .market_data.endpoints import router as market_data_router
from .middleware import (
    AllowlistCORSMiddleware,
    BodySizeLimitMiddleware,
    ConcurrencyLimitMiddleware,
    RequestMiddleware,
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


def _declare_security(schema: dict[str, Any]) -> None:
    """Every non-public operation accepts a Bearer token or an API key (see auth.dependencies)."""
    schema.setdefault("components", {})["securitySchemes"] = {
        name: scheme.model.model_dump(mode="json", by_alias=True, exclude_none=True)
        for name, scheme in SECURITY_SCHEMES.items()
    }
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if (method.upper(), path) not in PUBLIC_ROUTES:
                operation["security"] = [{name: []} for name in SECURITY_SCHEMES]


def _install_openapi(app: FastAPI) -> None:
    """Add the Problem schema that every error response refers to, and the security schemes."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
            _declare_security(schema)
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


def _database_unavailable(request: Request) -> JSONResponse:
    detail = "The connection to the database was lost; retry the request."
    return _problem_response(
        request, 503, {"Retry-After": "1"}, code="database_unavailable", title="Database unavailable", detail=detail
    )


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

    @app.exception_handler(DBAPIError)
    async def database_connection_lost(request: Request, exc: DBAPIError) -> JSONResponse:
        # Without pool pre-ping, the statement that meets a connection killed by a PostgreSQL restart
        # fails; SQLAlchemy has then invalidated the whole pool, so a retry gets a fresh connection.
        if not exc.connection_invalidated:
            raise exc  # any other database error stays an unhandled 500
        log.warning("database_connection_lost", error=str(exc.orig)[:200])
        return _database_unavailable(request)

    @app.exception_handler(psycopg.OperationalError)
    async def read_connection_lost(request: Request, exc: psycopg.OperationalError) -> JSONResponse:
        # A hot read (water.db.reads) on a connection the server closed; the pool drops that
        # connection when it is returned in a broken state, so a retry gets a new one.
        log.warning("database_connection_lost", error=str(exc)[:200])
        return _database_unavailable(request)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        route_error = getattr(exc, "route_error", None)  # a streamed body over a route's own limit
        if isinstance(route_error, WaterError):
            return await water_error(request, route_error)
        codes = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large", 400: "bad_request"}
        code = codes.get(exc.status_code, f"http_{exc.status_code}")
        detail = exc.detail if isinstance(exc.detail, str) else None
        if exc.status_code == 400 and detail == "There was an error parsing the body":
            detail = "The request body could not be parsed."
        return _problem_response(request, exc.status_code, dict(exc.headers or {}), code=code, detail=detail)


def include_api_routers(app: FastAPI) -> None:
    """Every router under /api, included directly on the app.

    FastAPI (0.165) matches included routers lazily, walking each nesting level twice per request
    (match, then handle), and tries routes in order: so there is no intermediate /api router, and
    the routers carrying the busiest reads come first (docs/benchmarks.md, issue 2).
    """
    # Every router below requires authentication; role checks sit on each handler.
    for router in (
        companies_router, market_data_router, valuations_router, events_router, jobs_router,
        audit_router, users_router, auth_router,
    ):  # fmt: skip
        app.include_router(
            router, prefix="/api", responses=PROBLEM_RESPONSES, dependencies=[Depends(current_principal)]
        )
    for router in (ops_public_router, auth_public_router):
        app.include_router(router, prefix="/api", responses=PROBLEM_RESPONSES)


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    yield
    await close_reads()
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
    include_api_routers(app)
    app.include_router(metrics_router)
    # Added innermost first. Outermost first they run: request id and metrics (one layer), CORS,
    # body limit, then the exception layer (unexpected errors here, the handlers above for the rest).
    app.add_middleware(ConcurrencyLimitMiddleware, limit=2 * settings.db_pool_size)  # the pool's size with overflow
    app.add_middleware(UnhandledErrorMiddleware)
    # One route has a larger allowance of its own: the statements import (2 MB files, docs/market-data.md).
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes, routes=[IMPORT_BODY_LIMIT])
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
    app.add_middleware(RequestMiddleware, fastapi_app=app)
    return app

"""Authentication as annotated dependencies.

Every router except the explicitly public one depends on `current_principal`.
Bearer JWT access tokens are verified without a database round trip (they live
`access_token_minutes`); API keys (`wk_...`, as Bearer or X-API-Key) are looked
up by their hash.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy import update
from sqlalchemy.orm import Session

from ..db.session import new_session, request_session
from ..errors import Forbidden, Unauthenticated
from ..models import ApiKey
from ..models.user import Role
from .principal import Permission, Principal
from .repository import ApiKeyRepository
from .security import API_KEY_PREFIX, decode_access_token, sha256

# The two ways to authenticate, as OpenAPI security schemes. `current_principal` reads the headers
# itself (each FastAPI dependency costs its resolver on every request); `app._install_openapi`
# declares these schemes on every non-public operation, as depending on them would.
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False)
SECURITY_SCHEMES = {"OAuth2PasswordBearer": oauth2_scheme, "APIKeyHeader": api_key_scheme}
LAST_USED_RESOLUTION = timedelta(minutes=1)
VERIFIED_TOKENS_MAX = 10_000
# Access token -> (principal, expiry as a Unix time). Verifying the HS256 signature costs ~40 µs on every
# request; a token already verified (the same exact string, signature included) only needs its expiry
# checked again. Used only in the event loop, so no lock.
_verified_tokens: dict[str, tuple[Principal, float]] = {}
PRINCIPAL_KEY = "water.principal"


def _principal_from_api_key(key: str) -> Principal:
    """Look the key up, and record its use, in a short transaction of its own."""
    with new_session() as session, session.begin():
        api_key = ApiKeyRepository(session).get_active_by_hash(sha256(key))
        if api_key is None:
            raise Unauthenticated("The API key is not valid or has been revoked.")
        now = datetime.now(UTC)
        # Record use at one-minute resolution so scripts do not write on every call.
        if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
            session.execute(update(ApiKey).where(ApiKey.id == api_key.id).values(last_used_at=now))
        return Principal(organization_id=api_key.organization_id, role=api_key.role, api_key_id=api_key.id)


def _credential(request: Request) -> str | None:
    """The X-API-Key header, else the Bearer token: what the two security schemes would return."""
    api_key = request.headers.get("x-api-key")
    if api_key:
        return api_key
    scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
    return token if scheme.lower() == "bearer" else None


async def current_principal(request: Request) -> Principal:
    """The caller, from a Bearer access token or an API key; 401 otherwise.

    Async on purpose: a Bearer token is verified in the event loop (no I/O, ~40 µs), which saves
    a thread-pool hop on every request; only the API-key lookup goes to the thread pool. It takes
    no Session, so a handler that reads through `water.db.reads` needs none at all. The caller is
    found once per request and kept in the request's scope: the routers' dependency and the role
    check on each handler both ask.
    """
    principal: Principal | None = request.scope.get(PRINCIPAL_KEY)
    if principal is not None:
        return principal
    credential = _credential(request)
    if not credential:
        raise Unauthenticated("Sign in, or send an API key.")
    if credential.startswith(API_KEY_PREFIX):
        principal = await run_in_threadpool(_principal_from_api_key, credential)
    else:
        principal = principal_from_access_token(credential)
    request.scope[PRINCIPAL_KEY] = principal
    return principal


def principal_from_access_token(token: str) -> Principal:
    """The principal of a valid, unexpired access token; 401 otherwise (each token verified only once)."""
    known = _verified_tokens.get(token)
    if known is not None:
        if time.time() < known[1]:
            return known[0]
        del _verified_tokens[token]
    claims = decode_access_token(token)  # raises for a bad signature, a wrong type or an expired token
    try:
        role = Role(claims.role)
    except ValueError as exc:
        raise Unauthenticated("The access token is not valid.") from exc
    principal = Principal(organization_id=claims.organization_id, role=role, user_id=claims.user_id)
    if len(_verified_tokens) >= VERIFIED_TOKENS_MAX:
        _verified_tokens.clear()
    _verified_tokens[token] = (principal, claims.expires_at.timestamp())
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require(permission: Permission) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency that lets the call through only when the caller's role has `permission`."""

    # A flat dependency (the request only): FastAPI resolves each nested dependency level per request.
    async def check(request: Request) -> Principal:  # async: no I/O, no thread-pool hop
        principal = await current_principal(request)
        if not principal.can(permission):
            raise Forbidden(f"Your role ({principal.role.value}) may not {permission.value} here.")
        return principal

    check.__name__ = f"require_{permission.value}"
    return check


Reader = Annotated[Principal, Depends(require(Permission.read))]
Writer = Annotated[Principal, Depends(require(Permission.write))]
Reviewer = Annotated[Principal, Depends(require(Permission.review))]
Admin = Annotated[Principal, Depends(require(Permission.manage))]
# scope="function": commit before the response is sent, so the client's next request sees the write
# (with FastAPI's default "request" scope the code after `yield` runs after the response has gone out).
DbSession = Annotated[Session, Depends(request_session, scope="function")]

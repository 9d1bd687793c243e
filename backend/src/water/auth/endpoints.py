"""Sign-up, tokens, refresh, logout (public) and API keys, me (authenticated)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Cookie, Depends, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from ..config import get_settings
from ..errors import NotFound, Unauthenticated
from . import service
from .dependencies import Admin, CurrentPrincipal, DbSession
from .repository import ApiKeyRepository, UserLookup
from .schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead, Me, OrganizationRead, SignUp, SignUpRead, Token, UserRead

REFRESH_COOKIE = "water_refresh"
REFRESH_COOKIE_PATH = "/api/auth"

# Public: no authentication dependency. Every route here must be listed in PUBLIC_ROUTES (app.py).
public_router = APIRouter(prefix="/auth", tags=["auth"])
router = APIRouter(tags=["auth"])


def _client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _set_refresh_cookie(response: Response, token: str) -> None:
    settings = get_settings()
    response.set_cookie(
        REFRESH_COOKIE,
        token,
        max_age=settings.refresh_token_days * 86400,
        path=REFRESH_COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=not settings.is_development,
    )


@public_router.post("/signup", status_code=status.HTTP_201_CREATED, response_model=SignUpRead)
def sign_up(data: SignUp, session: DbSession) -> SignUpRead:
    """Create an organization and its first admin."""
    organization, user = service.sign_up(session, data)
    return SignUpRead(organization=OrganizationRead.model_validate(organization), user=UserRead.model_validate(user))


@public_router.post("/token", response_model=Token)
def create_token(
    request: Request,
    response: Response,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: DbSession,
) -> Token:
    """Sign in (OAuth2 password flow): an access token, and a refresh token as an httpOnly cookie."""
    user = service.authenticate(session, form.username, form.password, _client_address(request))
    access, expires_in, refresh = service.issue_tokens(session, user)
    _set_refresh_cookie(response, refresh)
    return Token(access_token=access, expires_in=expires_in)


@public_router.post("/refresh", response_model=Token)
def refresh_token(
    response: Response,
    session: DbSession,
    water_refresh: Annotated[str | None, Cookie(max_length=256)] = None,
) -> Token:
    """Exchange the refresh cookie for a new access token; the refresh token rotates."""
    if not water_refresh:
        raise Unauthenticated("No refresh token; sign in again.")
    access, expires_in, refresh = service.rotate_refresh_token(session, water_refresh)
    _set_refresh_cookie(response, refresh)
    return Token(access_token=access, expires_in=expires_in)


@public_router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(
    response: Response,
    session: DbSession,
    water_refresh: Annotated[str | None, Cookie(max_length=256)] = None,
) -> Response:
    """Sign out: revoke the refresh token's whole family and clear the cookie."""
    service.logout(session, water_refresh)
    response.status_code = status.HTTP_204_NO_CONTENT
    settings = get_settings()
    response.delete_cookie(
        REFRESH_COOKIE, path=REFRESH_COOKIE_PATH, httponly=True, samesite="strict", secure=not settings.is_development
    )
    return response


@router.get("/auth/me", response_model=Me)
def read_me(principal: CurrentPrincipal, session: DbSession) -> Me:
    """Who am I: organization, role, and the user (or API key)."""
    user = UserLookup(session).by_id(principal.user_id) if principal.user_id else None
    return Me(
        organization_id=principal.organization_id,
        role=principal.role,
        user=UserRead.model_validate(user) if user else None,
        api_key_id=principal.api_key_id,
    )


@router.post("/api-keys", status_code=status.HTTP_201_CREATED, response_model=ApiKeyCreated)
def create_api_key(data: ApiKeyCreate, principal: Admin, session: DbSession) -> ApiKeyCreated:
    """Create an API key for scripts. The key is in this response only."""
    api_key, key = service.create_api_key(session, principal, data)
    return ApiKeyCreated(**ApiKeyRead.model_validate(api_key).model_dump(), key=key)


@router.get("/api-keys", response_model=list[ApiKeyRead])
def list_api_keys(principal: Admin, session: DbSession) -> list[ApiKeyRead]:
    """List the organization's API keys (never the keys themselves)."""
    return [ApiKeyRead.model_validate(k) for k in ApiKeyRepository(session).list(principal.organization_id)]


@router.get("/api-keys/{key_id}", response_model=ApiKeyRead)
def get_api_key(key_id: uuid.UUID, principal: Admin, session: DbSession) -> ApiKeyRead:
    """One API key's metadata."""
    api_key = ApiKeyRepository(session).get(principal.organization_id, key_id)
    if api_key is None:
        raise NotFound("No such API key.")
    return ApiKeyRead.model_validate(api_key)


@router.delete("/api-keys/{key_id}", response_model=ApiKeyRead)
def revoke_api_key(key_id: uuid.UUID, principal: Admin, session: DbSession) -> ApiKeyRead:
    """Revoke an API key; it stops working at once."""
    return ApiKeyRead.model_validate(service.revoke_api_key(session, principal, key_id))

"""Password hashing (argon2id), JWT access tokens, opaque refresh tokens and API keys."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..config import get_settings
from ..errors import InvalidInput, Unauthenticated

JWT_ALGORITHM = "HS256"
API_KEY_PREFIX = "wk_"


@lru_cache
def _hasher() -> PasswordHasher:
    # argon2id with the library's RFC 9106 "low memory" defaults; lighter only under test.
    if get_settings().environment == "testing":
        return PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    return PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher().hash(password)


# Verified against when the account does not exist, so timing does not reveal which emails exist.
_DUMMY_HASH: str | None = None


def verify_password(password: str, password_hash: str | None) -> bool:
    global _DUMMY_HASH
    if password_hash is None:
        _DUMMY_HASH = _DUMMY_HASH or hash_password("dummy-password-for-timing")
        password_hash = _DUMMY_HASH
        password = password + "x"
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def check_password_policy(password: str, *, email: str = "") -> None:
    """At least N characters, not all one character class, not containing the email's name part."""
    min_length = get_settings().password_min_length
    problems = []
    if len(password) < min_length:
        problems.append(f"must be at least {min_length} characters long")
    if len(password) > 256:
        problems.append("must be at most 256 characters long")
    classes = [any(c.islower() for c in password), any(c.isupper() for c in password)]
    classes += [any(c.isdigit() for c in password), any(not c.isalnum() for c in password)]
    if sum(classes) < 2:
        problems.append("must mix at least two of: lower case, upper case, digits, symbols")
    local = email.split("@")[0].lower()
    if len(local) >= 4 and local in password.lower():
        problems.append("must not contain your email address")
    if problems:
        errors = [{"loc": ["body", "password"], "msg": f"password {p}", "type": "password_policy"} for p in problems]
        raise InvalidInput("The password does not meet the password policy.", errors=errors)


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    organization_id: uuid.UUID
    role: str
    expires_at: datetime


def create_access_token(user_id: uuid.UUID, organization_id: uuid.UUID, role: str) -> tuple[str, int]:
    settings = get_settings()
    now = datetime.now(UTC)
    lifetime = timedelta(minutes=settings.access_token_minutes)
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "org": str(organization_id),
        "role": role,
        "typ": "access",
        "iat": now,
        "exp": now + lifetime,
        "jti": uuid.uuid4().hex,
    }
    token = jwt.encode(claims, settings.secret_key.get_secret_value(), algorithm=JWT_ALGORITHM)
    return token, int(lifetime.total_seconds())


def decode_access_token(token: str) -> AccessClaims:
    """Verify signature, expiry and type; only HS256 is accepted (never `none`)."""
    try:
        claims = jwt.decode(
            token,
            get_settings().secret_key.get_secret_value(),
            algorithms=[JWT_ALGORITHM],
            options={"require": ["exp", "iat", "sub", "org", "role", "typ"]},
        )
        if claims["typ"] != "access":
            raise Unauthenticated("This token is not an access token.")
        return AccessClaims(
            user_id=uuid.UUID(claims["sub"]),
            organization_id=uuid.UUID(claims["org"]),
            role=str(claims["role"]),
            expires_at=datetime.fromtimestamp(claims["exp"], UTC),
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthenticated("The access token has expired; refresh it or sign in again.") from exc
    except (jwt.InvalidTokenError, ValueError, KeyError) as exc:
        raise Unauthenticated("The access token is not valid.") from exc


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def new_api_key() -> tuple[str, str]:
    """A new API key and its display prefix."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return key, key[:10]

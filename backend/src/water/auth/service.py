"""Sign-up, sign-in, refresh-token rotation, logout and API keys."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..audit import service as audit
from ..config import get_settings
from ..db.session import side_session
from ..errors import Conflict, NotFound, Unauthenticated
from ..models import ApiKey, Organization, RefreshToken, User
from ..models.user import Role
from ..users.service import user_snapshot
from . import ratelimit
from .principal import Principal
from .repository import ApiKeyRepository, RefreshTokenRepository, UserLookup
from .schemas import ApiKeyCreate, SignUp
from .security import (
    check_password_policy,
    create_access_token,
    hash_password,
    new_api_key,
    new_refresh_token,
    sha256,
    verify_password,
)


def sign_up(session: Session, data: SignUp) -> tuple[Organization, User]:
    check_password_policy(data.password, email=data.email)
    if UserLookup(session).by_email(data.email) is not None:
        raise Conflict("An account with this email already exists.", code="email_taken")
    organization = Organization(id=uuid.uuid4(), name=data.organization_name)
    user = User(
        id=uuid.uuid4(),
        organization_id=organization.id,
        email=data.email.lower(),
        full_name=data.full_name,
        password_hash=hash_password(data.password),
        role=Role.admin,
    )
    session.add(organization)
    session.flush()
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent sign-up with the same email
        raise Conflict("An account with this email already exists.", code="email_taken") from exc
    principal = Principal(organization_id=organization.id, role=Role.admin, user_id=user.id)
    audit.record(
        session,
        principal,
        action="organization.create",
        object_type="organization",
        object_id=organization.id,
        after={"name": organization.name},
    )
    audit.record(
        session, principal, action="user.create", object_type="user", object_id=user.id, after=user_snapshot(user)
    )
    return organization, user


def authenticate(session: Session, email: str, password: str, address: str) -> User:
    """Check the password, within the rate limits; the same error whatever was wrong."""
    ratelimit.check_login_allowed(email, address)
    user = UserLookup(session).by_email(email)
    if not verify_password(password, user.password_hash if user else None) or user is None or not user.is_active:
        ratelimit.record_login_failure(email)
        raise Unauthenticated("Incorrect email or password, or the account is deactivated.")
    ratelimit.clear_login_failures(email)
    user.last_login_at = datetime.now(UTC)
    return user


def issue_tokens(session: Session, user: User, family_id: uuid.UUID | None = None) -> tuple[str, int, str]:
    """A new access token and a new refresh token (in `family_id`, or a new family)."""
    access, expires_in = create_access_token(user.id, user.organization_id, user.role.value)
    refresh = new_refresh_token()
    RefreshTokenRepository(session).add(
        RefreshToken(
            user_id=user.id,
            family_id=family_id or uuid.uuid4(),
            token_hash=sha256(refresh),
            expires_at=datetime.now(UTC) + timedelta(days=get_settings().refresh_token_days),
        )
    )
    return access, expires_in, refresh


def _revoke_family_now(family_id: uuid.UUID) -> None:
    """Revoke in a transaction of its own: the revocation must survive the failing request."""
    with side_session() as own:
        RefreshTokenRepository(own).revoke_family(family_id)
        own.commit()


class RefreshReuse(Unauthenticated):
    code = "refresh_token_reused"


def rotate_refresh_token(session: Session, presented: str) -> tuple[str, int, str]:
    """Exchange a refresh token for new tokens. Presenting a rotated token revokes its whole family."""
    repo = RefreshTokenRepository(session)
    token = repo.by_hash(sha256(presented))
    if token is None:
        raise Unauthenticated("The refresh token is not valid; sign in again.")
    if token.rotated_at is not None:
        _revoke_family_now(token.family_id)
        raise RefreshReuse("This refresh token was already used; every session of this sign-in is now revoked.")
    if token.revoked_at is not None:
        raise Unauthenticated(
            "This sign-in has ended (signed out or revoked); sign in again.", code="refresh_token_revoked"
        )
    if token.expires_at <= datetime.now(UTC):
        raise Unauthenticated("The refresh token has expired; sign in again.")
    user = UserLookup(session).by_id(token.user_id)
    if user is None or not user.is_active:
        _revoke_family_now(token.family_id)
        raise Unauthenticated("The account is deactivated.")
    if not repo.claim_for_rotation(token.id):
        raise Unauthenticated("This refresh token is being used by another request; sign in again.")
    return issue_tokens(session, user, family_id=token.family_id)


def logout(session: Session, presented: str | None) -> None:
    if not presented:
        return
    repo = RefreshTokenRepository(session)
    token = repo.by_hash(sha256(presented))
    if token is not None:
        repo.revoke_family(token.family_id)


def create_api_key(session: Session, principal: Principal, data: ApiKeyCreate) -> tuple[ApiKey, str]:
    key, prefix = new_api_key()
    api_key = ApiKey(
        id=uuid.uuid4(),
        organization_id=principal.organization_id,
        created_by_id=principal.user_id,
        name=data.name,
        prefix=prefix,
        key_hash=sha256(key),
        role=data.role,
    )
    ApiKeyRepository(session).add(api_key)
    session.flush()
    audit.record(
        session,
        principal,
        action="api_key.create",
        object_type="api_key",
        object_id=api_key.id,
        after={"name": data.name, "role": data.role.value, "prefix": prefix},
    )
    return api_key, key


def revoke_api_key(session: Session, principal: Principal, key_id: uuid.UUID) -> ApiKey:
    api_key = ApiKeyRepository(session).get(principal.organization_id, key_id)
    if api_key is None:
        raise NotFound("No such API key.")
    if api_key.revoked_at is None:
        api_key.revoked_at = datetime.now(UTC)
        audit.record(
            session,
            principal,
            action="api_key.revoke",
            object_type="api_key",
            object_id=api_key.id,
            before={"revoked": False},
            after={"revoked": True},
        )
    return api_key

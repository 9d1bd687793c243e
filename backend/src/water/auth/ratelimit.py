"""Login attempt limits in Redis, shared by every API process.

Failures are counted per account and attempts per client address in fixed
windows; past the limit the caller gets 429 with Retry-After.
"""

from __future__ import annotations

from ..config import get_settings
from ..errors import TooManyRequests
from ..redis_client import get_redis
from .security import sha256


def _account_key(email: str) -> str:
    return f"water:login:account:{sha256(email.strip().lower())}"


def _address_key(address: str) -> str:
    return f"water:login:address:{address}"


def _retry_after(key: str) -> int:
    ttl = int(get_redis().ttl(key))
    return ttl if ttl > 0 else get_settings().login_window_seconds


def check_login_allowed(email: str, address: str) -> None:
    """Count this attempt for the address and refuse if the account or address is over its limit."""
    settings = get_settings()
    r = get_redis()
    address_key = _address_key(address)
    pipe = r.pipeline()
    # SET NX EX starts the window once; INCR counts (EXPIRE NX would need Redis 7; the embedded one is 6.2).
    pipe.set(address_key, 0, ex=settings.login_window_seconds, nx=True)
    pipe.incr(address_key)
    pipe.get(_account_key(email))
    _, attempts, failures = pipe.execute()
    if int(attempts) > settings.login_max_attempts_per_address:
        raise TooManyRequests("Too many sign-in attempts from this address.", retry_after=_retry_after(address_key))
    if failures is not None and int(failures) >= settings.login_max_failures_per_account:
        raise TooManyRequests(
            "Too many failed sign-ins for this account; try again later.",
            retry_after=_retry_after(_account_key(email)),
        )


def record_login_failure(email: str) -> None:
    key = _account_key(email)
    pipe = get_redis().pipeline()
    pipe.set(key, 0, ex=get_settings().login_window_seconds, nx=True)
    pipe.incr(key)
    pipe.execute()


def clear_login_failures(email: str) -> None:
    get_redis().delete(_account_key(email))

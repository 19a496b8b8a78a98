"""Passwords (argon2id), user access tokens (JWT HS256) and device tokens.

Nothing here logs or returns a secret; callers show a device token exactly once (when it is issued).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

JWT_ALGORITHM = "HS256"
MAX_USER_ID = 2**31 - 1
DEVICE_TOKEN_PREFIX = "hbd_"
DEVICE_TOKEN_DISPLAY_CHARS = 8  # "hbd_" + the first 8 characters: enough to tell tokens apart in a list

# argon2id; the parameters come from the settings (configure_password_hashing, called by the app factory and the
# CLI); until then the library's defaults (RFC 9106 low-memory profile: t=3, 64 MiB, p=4). Verifying reads the
# parameters stored in each hash, so hashes made with other parameters keep working (and are redone at login).
_hasher = PasswordHasher()
_dummy_hash: str | None = None


def configure_password_hashing(time_cost: int, memory_kib: int, parallelism: int) -> None:
    global _hasher, _dummy_hash
    if (_hasher.time_cost, _hasher.memory_cost, _hasher.parallelism) != (time_cost, memory_kib, parallelism):
        _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)
        _dummy_hash = None


def _dummy() -> str:
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash(secrets.token_urlsafe(16))
    return _dummy_hash


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    """True if the password matches. With no hash (unknown user) a dummy hash is checked, so the answer takes as
    long as for a real user and the timing does not tell which emails exist."""
    try:
        return _hasher.verify(password_hash or _dummy(), password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def password_needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


class TokenError(Exception):
    """An access token that cannot be used; the message says why (expired, bad signature, malformed)."""


def create_access_token(user_id: int, role: str, secret_key: str, minutes: int, *, version: int,
                        now: datetime | None = None) -> tuple[str, int]:
    """A signed JWT (sub = user id, role, ver = the user's token version, iat, exp, jti) and its lifetime in
    seconds."""
    now = now or datetime.now(UTC)
    expires = now + timedelta(minutes=minutes)
    claims = {"sub": str(user_id), "role": role, "ver": version, "iat": int(now.timestamp()),
              "exp": int(expires.timestamp()), "jti": uuid.uuid4().hex}
    return jwt.encode(claims, secret_key, algorithm=JWT_ALGORITHM), int((expires - now).total_seconds())


def decode_access_token(token: str, secret_key: str) -> dict[str, Any]:
    try:
        claims = jwt.decode(token, secret_key, algorithms=[JWT_ALGORITHM], options={"require": ["sub", "exp", "iat"]})
    except jwt.ExpiredSignatureError:
        raise TokenError("access token expired; log in again (POST /api/v1/auth/token)") from None
    except jwt.InvalidSignatureError:
        raise TokenError("access token signature is invalid") from None
    except jwt.PyJWTError as exc:
        raise TokenError(f"access token is malformed ({exc.__class__.__name__})") from None
    subject = claims["sub"]
    if not isinstance(subject, str) or not subject.isascii() or not subject.isdigit() or len(subject) > 10 \
            or not 1 <= int(subject) <= MAX_USER_ID:  # a user id fits the database's 32-bit INTEGER
        raise TokenError("access token subject is not a user id")
    claims["sub"] = int(subject)
    version = claims.get("ver")
    if type(version) is not int:  # tokens from before token versions, or made by hand
        raise TokenError(STALE_TOKEN)
    return claims


STALE_TOKEN = ("access token is no longer valid: the password was changed or the user was disabled after it was "
               "issued; log in again (POST /api/v1/auth/token)")


def generate_device_token() -> tuple[str, str, str]:
    """(token shown once, its sha256 hex stored in the database, display prefix)."""
    token = DEVICE_TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, hash_device_token(token), token[: len(DEVICE_TOKEN_PREFIX) + DEVICE_TOKEN_DISPLAY_CHARS]


def hash_device_token(token: str) -> str:
    # A device token carries 256 random bits, so a fast unsalted hash is right here: nothing can be guessed or
    # looked up in a table, and the lookup by hash stays one indexed query on every ingest request. Passwords,
    # which people choose, get argon2 instead.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def same_hash(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())

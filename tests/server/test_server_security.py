"""Password hashing, access tokens and device tokens, below the HTTP layer."""
from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from server.core import security

KEY = "k" * 64


@pytest.fixture()
def light_hashing():
    security.configure_password_hashing(1, 1024, 1)
    yield
    security.configure_password_hashing(1, 1024, 1)


def test_password_hash_verifies_only_the_password(light_hashing):
    h = security.hash_password("correct horse battery")
    assert h.startswith("$argon2id$") and "correct horse" not in h
    assert security.verify_password("correct horse battery", h)
    assert not security.verify_password("correct horse batterY", h)
    assert not security.verify_password("anything", None)  # unknown user: the dummy hash is checked, never True
    assert not security.verify_password("anything", "not a hash")


def test_hashes_made_with_other_parameters_still_verify_and_ask_for_a_rehash(light_hashing):
    old = security.hash_password("a long passphrase")
    security.configure_password_hashing(2, 2048, 1)
    assert security.verify_password("a long passphrase", old)
    assert security.password_needs_rehash(old)
    assert not security.password_needs_rehash(security.hash_password("a long passphrase"))


def test_access_token_round_trip_and_expiry():
    token, seconds = security.create_access_token(7, "engineer", KEY, 30, version=2)
    assert seconds == 1800
    claims = security.decode_access_token(token, KEY)
    assert claims["sub"] == 7 and claims["role"] == "engineer" and claims["jti"] and claims["ver"] == 2
    old, _ = security.create_access_token(7, "engineer", KEY, 30, version=2,
                                          now=datetime.now(UTC) - timedelta(minutes=31))
    with pytest.raises(security.TokenError, match="expired"):
        security.decode_access_token(old, KEY)
    with pytest.raises(security.TokenError, match="signature"):
        security.decode_access_token(token, "j" * 64)


def test_device_tokens_are_random_prefixed_and_stored_as_sha256():
    token, digest, prefix = security.generate_device_token()
    other, *_ = security.generate_device_token()
    assert token.startswith("hbd_") and len(token) >= 4 + 43 and token != other
    assert digest == hashlib.sha256(token.encode()).hexdigest() == security.hash_device_token(token)
    assert token.startswith(prefix) and len(prefix) == 12

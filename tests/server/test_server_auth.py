"""Auth over HTTP: the OAuth2 password flow gives a JWT; bad, expired, forged or orphaned tokens are 401 with a
message saying why; a disabled user is locked out at once."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt

TOKEN_URL = "/api/v1/auth/token"


def test_password_flow_gives_a_bearer_token_for_me(live_server, clinician):
    c = live_server.client()
    r = c.post(TOKEN_URL, data={"username": clinician.email.upper(), "password": clinician.password})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == live_server.settings.access_token_minutes * 60
    claims = jwt.decode(body["access_token"], live_server.settings.secret_key.get_secret_value(),
                        algorithms=["HS256"])
    assert claims["sub"] == str(clinician.id) and claims["role"] == "clinician" and claims["jti"]
    me = c.get("/api/v1/users/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["email"] == clinician.email and me.json()["role"] == "clinician"


def test_wrong_password_and_unknown_user_get_the_same_401(live_server, clinician):
    c = live_server.client()
    wrong = c.post(TOKEN_URL, data={"username": clinician.email, "password": "not the password"})
    unknown = c.post(TOKEN_URL, data={"username": "nobody@test.example", "password": "whatever it is"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert "incorrect email or password" in wrong.json()["detail"]
    assert wrong.headers["www-authenticate"] == "Bearer"


def test_token_route_needs_its_form_fields(live_server):
    r = live_server.client().post(TOKEN_URL, data={"username": "a@b.example"})
    assert r.status_code == 422
    assert "password" in r.json()["detail"]["message"]


def test_missing_token_is_401_naming_the_token_route(live_server):
    r = live_server.client().get("/api/v1/users/me")
    assert r.status_code == 401
    assert TOKEN_URL in r.json()["detail"]
    assert r.headers["www-authenticate"] == "Bearer"


def _token(live_server, **claims) -> str:
    now = datetime.now(UTC)
    base = {"sub": "1", "role": "admin", "ver": 0, "iat": int(now.timestamp()),
            "exp": int((now + timedelta(minutes=5)).timestamp())}
    base.update(claims)
    return jwt.encode(base, live_server.settings.secret_key.get_secret_value(), algorithm="HS256")


def test_expired_forged_malformed_and_orphaned_tokens_are_401_with_reasons(live_server, admin):
    c = live_server.client()
    past = datetime.now(UTC) - timedelta(hours=2)
    cases = {
        "expired": _token(live_server, sub=str(admin.id), iat=int(past.timestamp()),
                          exp=int((past + timedelta(minutes=30)).timestamp())),
        "signature": jwt.encode({"sub": str(admin.id), "role": "admin", "iat": 1, "exp": 4_000_000_000},
                                "another-secret-key-of-enough-length!!", algorithm="HS256"),
        "malformed": "not-a-jwt",
        "no longer exists": _token(live_server, sub="987654321"),
        "subject": _token(live_server, sub="admin"),
    }
    for expected, token in cases.items():
        r = c.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401, (expected, r.text)
        assert expected in r.json()["detail"], (expected, r.json())
        assert r.headers["www-authenticate"] == "Bearer"


def test_none_algorithm_token_is_refused(live_server, admin):
    unsigned = jwt.encode({"sub": str(admin.id), "role": "admin", "iat": 1, "exp": 4_000_000_000}, None,
                          algorithm="none")
    r = live_server.client().get("/api/v1/users/me", headers={"Authorization": f"Bearer {unsigned}"})
    assert r.status_code == 401


def test_role_comes_from_the_database_not_the_token(live_server, clinician):
    # a token claiming "admin" for a clinician does not make them one
    token = _token(live_server, sub=str(clinician.id), role="admin")
    r = live_server.client(token).get("/api/v1/users")
    assert r.status_code == 403
    assert "clinician" in r.json()["detail"]


def test_disabled_user_cannot_log_in_and_their_token_stops_working(live_server, admin):
    user = live_server.make_user("engineer")
    c = live_server.client()
    assert c.get("/api/v1/users/me", headers=user.headers).status_code == 200
    r = live_server.client(admin.token).post(f"/api/v1/users/{user.id}/disable")
    assert r.status_code == 200 and r.json()["is_active"] is False
    r = c.get("/api/v1/users/me", headers=user.headers)
    assert r.status_code == 401 and "disabled" in r.json()["detail"]
    r = c.post(TOKEN_URL, data={"username": user.email, "password": user.password})
    assert r.status_code == 401


def test_change_own_password(live_server):
    user = live_server.make_user("clinician")
    c = live_server.client(user.token)
    r = c.post("/api/v1/users/me/password", json={"current_password": "wrong-password",
                                                   "new_password": "another fine passphrase 9"})
    assert r.status_code == 422 and "current password is wrong" in r.json()["detail"]["message"]
    r = c.post("/api/v1/users/me/password", json={"current_password": user.password, "new_password": "short"})
    assert r.status_code == 422 and "new_password" in r.json()["detail"]["message"]
    r = c.post("/api/v1/users/me/password", json={"current_password": user.password,
                                                   "new_password": "a brand new passphrase"})
    assert r.status_code == 200
    assert live_server.client().post(TOKEN_URL, data={"username": user.email, "password": user.password}) \
        .status_code == 401
    assert live_server.login(user.email, "a brand new passphrase")

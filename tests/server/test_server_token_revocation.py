"""Issue 14 finding 7: access tokens issued before a password change, an administrator's password reset or a
disabling stop working, also after the user is enabled again; tokens issued afterwards work."""
from __future__ import annotations

ME = "/api/v1/users/me"


def _status(live_server, token: str) -> int:
    return live_server.client(token).get(ME).status_code


def test_own_password_change_ends_the_older_tokens(live_server):
    user = live_server.make_user("clinician")
    other_session = live_server.login(user.email, user.password)
    r = live_server.client(user.token).post("/api/v1/users/me/password", json={
        "current_password": user.password, "new_password": "a brand new passphrase 7"})
    assert r.status_code == 200, r.text
    for old in (user.token, other_session):
        r = live_server.client(old).get(ME)
        assert r.status_code == 401 and "password" in r.json()["detail"], r.text
    assert _status(live_server, live_server.login(user.email, "a brand new passphrase 7")) == 200


def test_an_administrators_password_reset_ends_the_older_tokens(live_server, admin):
    user = live_server.make_user("engineer")
    r = live_server.client(admin.token).patch(f"/api/v1/users/{user.id}", json={"password": "reset by the admin 7"})
    assert r.status_code == 200, r.text
    assert _status(live_server, user.token) == 401
    assert _status(live_server, live_server.login(user.email, "reset by the admin 7")) == 200
    # other changes (name, role) leave the tokens alone
    r = live_server.client(admin.token).patch(f"/api/v1/users/{user.id}", json={"full_name": "Renamed"})
    assert r.status_code == 200
    assert _status(live_server, live_server.login(user.email, "reset by the admin 7")) == 200


def test_a_disabled_users_tokens_stay_dead_after_re_enabling(live_server, admin):
    user = live_server.make_user("clinician")
    c = live_server.client(admin.token)
    assert c.post(f"/api/v1/users/{user.id}/disable").status_code == 200
    assert _status(live_server, user.token) == 401
    assert c.patch(f"/api/v1/users/{user.id}", json={"is_active": True}).status_code == 200
    r = live_server.client(user.token).get(ME)
    assert r.status_code == 401, r.text
    assert _status(live_server, live_server.login(user.email, user.password)) == 200


def test_a_signed_token_whose_subject_does_not_fit_a_user_id_is_401(live_server):
    """Finding 14: a correctly signed JWT with sub 2**70 gave a 500 (integer overflow binding the query)."""
    from datetime import UTC, datetime, timedelta

    import jwt

    now = datetime.now(UTC)
    for sub in (str(2**70), str(2**31), "-1", "0"):
        token = jwt.encode({"sub": sub, "role": "admin", "ver": 0, "iat": int(now.timestamp()),
                            "exp": int((now + timedelta(minutes=5)).timestamp())},
                           live_server.settings.secret_key.get_secret_value(), algorithm="HS256")
        r = live_server.client(token).get(ME)
        assert r.status_code == 401, (sub, r.text)
        assert "subject" in r.json()["detail"] or "no longer exists" in r.json()["detail"]

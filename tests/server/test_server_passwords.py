"""Issue 14 finding 10: blank, control-character and trivial passwords (twelve spaces, `aaaaaaaaaaaa`, twelve NULs,
the user's own e-mail) are refused wherever a password is set, with a message saying why (zxcvbn estimates the
strength)."""
from __future__ import annotations

import json
import uuid

import pytest
from test_server_cli import _env, _run

WEAK = {"spaces": " " * 12, "repeated": "a" * 12, "nuls": "\x00" * 12, "common": "password1234"}


def _send(client, method: str, url: str, body: dict):
    return client.request(method, url, content=json.dumps(body).encode(),
                          headers={"Content-Type": "application/json"})


def _fields(r) -> list[str]:
    return [e["field"] for e in r.json()["detail"]["errors"]]


@pytest.mark.parametrize("kind", sorted(WEAK))
def test_weak_passwords_are_refused_when_a_user_is_made(live_server, admin, kind):
    r = _send(live_server.client(admin.token), "POST", "/api/v1/users", {
        "email": f"w-{uuid.uuid4().hex[:8]}@test.example", "role": "clinician", "password": WEAK[kind]})
    assert r.status_code == 422, r.text
    assert _fields(r) == ["password"], r.text
    message = r.json()["detail"]["errors"][0]["message"]
    assert any(word in message for word in ("blank", "control", "guess")), message
    assert WEAK[kind] not in r.text or kind == "spaces"  # the password is not echoed


def test_ones_own_email_is_refused_as_a_password_everywhere(live_server, admin):
    email = f"chief.surgeon-{uuid.uuid4().hex[:6]}@hospital.example"
    c = live_server.client(admin.token)
    r = _send(c, "POST", "/api/v1/users", {"email": email, "role": "clinician", "password": email})
    assert r.status_code == 422 and _fields(r) == ["password"], r.text
    user = live_server.make_user("clinician")
    r = _send(c, "PATCH", f"/api/v1/users/{user.id}", {"password": user.email})
    assert r.status_code == 422 and _fields(r) == ["password"], r.text
    mine = live_server.client(user.token)
    r = _send(mine, "POST", "/api/v1/users/me/password", {"current_password": user.password,
                                                          "new_password": user.email})
    assert r.status_code == 422 and _fields(r) == ["new_password"], r.text
    r = _send(mine, "POST", "/api/v1/users/me/password", {"current_password": user.password,
                                                          "new_password": "aaaaaaaaaaaa"})
    assert r.status_code == 422 and _fields(r) == ["new_password"], r.text
    assert live_server.login(user.email, user.password)  # nothing changed


def test_create_admin_refuses_a_weak_password_saying_why(tmp_path):
    env = _env(tmp_path)
    for weak in ("            ", "aaaaaaaaaaaa", "admin@hospital.example"):
        r = _run(["server", "create-admin", "--email", "admin@hospital.example", "--password-stdin"], env,
                 weak + "\n")
        assert r.returncode == 1, r.out
        assert "error:" in r.out and "password" in r.out and any(
            word in r.out for word in ("blank", "guess", "e-mail")), r.out

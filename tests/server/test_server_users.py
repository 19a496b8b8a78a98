"""Users over HTTP: administrators create, list, update and disable; no answer ever carries a password hash."""
from __future__ import annotations

import uuid

from sqlalchemy import select


def _email() -> str:
    return f"u-{uuid.uuid4().hex[:10]}@test.example"


def test_admin_creates_a_user_who_can_log_in(live_server, admin, db_session):
    from server.models.identity import User

    email = _email()
    r = live_server.client(admin.token).post("/api/v1/users", json={
        "email": email.upper(), "full_name": "Dr. Test", "role": "clinician", "password": "long enough pass"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["email"] == email and body["role"] == "clinician" and body["is_active"] is True
    assert set(body) == {"id", "email", "full_name", "role", "is_active", "created_at"}
    assert body["created_at"].endswith("Z") or body["created_at"].endswith("+00:00")
    stored = db_session.scalar(select(User).where(User.email == email))
    assert stored.password_hash.startswith("$argon2id$") and "long enough pass" not in stored.password_hash
    assert live_server.login(email, "long enough pass")


def test_duplicate_email_is_409(live_server, admin):
    c = live_server.client(admin.token)
    email = _email()
    payload = {"email": email, "role": "engineer", "password": "long enough pass"}
    assert c.post("/api/v1/users", json=payload).status_code == 201
    r = c.post("/api/v1/users", json=payload)
    assert r.status_code == 409 and email in r.json()["detail"]


def test_invalid_user_fields_are_named(live_server, admin):
    c = live_server.client(admin.token)
    r = c.post("/api/v1/users", json={"email": "not-an-email", "role": "boss", "password": "Xq7shrt",
                                      "is_admin": True})
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["detail"]["errors"]}
    assert fields == {"email", "role", "password", "is_admin"}
    assert "Xq7shrt" not in r.text  # the values sent (passwords) are not echoed back


def test_list_filter_and_read(live_server, admin):
    c = live_server.client(admin.token)
    created = c.post("/api/v1/users", json={"email": _email(), "role": "engineer", "password": "long enough pass"})
    uid = created.json()["id"]
    all_users = c.get("/api/v1/users", params={"limit": 500}).json()
    assert all_users["count"] >= 2 and uid in [u["id"] for u in all_users["data"]]
    engineers = c.get("/api/v1/users", params={"role": "engineer", "limit": 500}).json()
    assert {u["role"] for u in engineers["data"]} == {"engineer"}
    page = c.get("/api/v1/users", params={"limit": 1}).json()
    assert len(page["data"]) == 1 and page["count"] == all_users["count"]
    assert c.get(f"/api/v1/users/{uid}").json() == created.json()
    r = c.get("/api/v1/users/999999")
    assert r.status_code == 404 and "999999" in r.json()["detail"]
    assert c.get("/api/v1/users", params={"limit": 0}).status_code == 422


def test_update_role_name_and_password(live_server, admin):
    user = live_server.make_user("clinician")
    c = live_server.client(admin.token)
    r = c.patch(f"/api/v1/users/{user.id}", json={"role": "engineer", "full_name": "Renamed"})
    assert r.status_code == 200 and r.json()["role"] == "engineer" and r.json()["full_name"] == "Renamed"
    # the role change applies to the user's existing token at once
    assert live_server.client(user.token).get("/api/v1/users/me").json()["role"] == "engineer"
    assert c.patch(f"/api/v1/users/{user.id}", json={"password": "a fresh long password"}).status_code == 200
    assert live_server.login(user.email, "a fresh long password")
    assert c.patch(f"/api/v1/users/{user.id}", json={"email": admin.email}).status_code == 409
    assert c.patch("/api/v1/users/999999", json={"full_name": "x"}).status_code == 404
    assert c.patch(f"/api/v1/users/{user.id}", json={"password_hash": "x"}).status_code == 422


def test_admins_cannot_lock_themselves_or_everyone_out(live_server, admin):
    c = live_server.client(admin.token)
    r = c.post(f"/api/v1/users/{admin.id}/disable")
    assert r.status_code == 409
    other = live_server.make_user("admin")
    # with a second admin, demoting one is fine; the remaining last one cannot be demoted
    assert live_server.client(other.token).patch(f"/api/v1/users/{other.id}", json={"role": "engineer"}) \
        .status_code == 200
    admins = c.get("/api/v1/users", params={"role": "admin", "is_active": True, "limit": 500}).json()
    if admins["count"] == 1:
        r = c.patch(f"/api/v1/users/{admin.id}", json={"role": "clinician"})
        assert r.status_code == 409 and "last active administrator" in r.json()["detail"]


def test_disable_is_idempotent_and_keeps_the_user(live_server, admin):
    user = live_server.make_user("clinician")
    c = live_server.client(admin.token)
    assert c.post(f"/api/v1/users/{user.id}/disable").json()["is_active"] is False
    assert c.post(f"/api/v1/users/{user.id}/disable").json()["is_active"] is False
    assert c.get(f"/api/v1/users/{user.id}").json()["email"] == user.email
    assert c.post("/api/v1/users/999999/disable").status_code == 404


def test_concurrent_creates_of_one_email_make_one_user(live_server, admin):
    """Two administrators' clicks racing: one 201, the other 409, never a 500 (SQLite and PostgreSQL)."""
    from concurrent.futures import ThreadPoolExecutor

    email = _email()
    payload = {"email": email, "role": "clinician", "password": "long enough pass"}
    clients = [live_server.client(admin.token) for _ in range(4)]
    with ThreadPoolExecutor(4) as pool:
        statuses = sorted(pool.map(lambda c: c.post("/api/v1/users", json=payload).status_code, clients))
    assert statuses == [201, 409, 409, 409]
    listed = clients[0].get("/api/v1/users", params={"limit": 500}).json()["data"]
    assert [u["email"] for u in listed].count(email) == 1

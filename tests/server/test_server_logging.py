"""app.log: one line per request with its request id, readable 4xx reasons, and every unexpected error logged
with its context while the client gets a 500 naming the request id (no internals, no secrets)."""
from __future__ import annotations

import uuid


def test_requests_are_logged_with_their_request_id(live_server):
    rid = "test-" + uuid.uuid4().hex[:12]
    r = live_server.client().get("/api/v1/users/me", headers={"X-Request-ID": rid})
    assert r.status_code == 401 and r.headers["x-request-id"] == rid
    lines = [line for line in live_server.log_path.read_text().splitlines() if f"[{rid}]" in line]
    assert any("GET /api/v1/users/me 401" in line for line in lines), lines


def test_validation_errors_are_logged_readably(live_server, admin):
    rid = "test-" + uuid.uuid4().hex[:12]
    r = live_server.client(admin.token).post("/api/v1/users", content=b'{"email": ', headers={
        "X-Request-ID": rid, "Content-Type": "application/json"})
    assert r.status_code == 422
    assert r.json()["detail"]["message"].startswith("request is invalid: body: malformed JSON")
    log = live_server.log_path.read_text()
    assert any(f"[{rid}]" in line and "malformed JSON" in line for line in log.splitlines())


def test_unexpected_errors_are_500_with_the_request_id_and_logged_with_context(make_settings, tmp_path):
    """A real fault: the server pointed at a database that was never migrated (no tables)."""
    from live_server import start_live_server, stop_live_server

    settings = make_settings(database_url=f"sqlite:///{tmp_path / 'unmigrated.db'}")
    live = start_live_server(settings)
    try:
        rid = "test-" + uuid.uuid4().hex[:12]
        r = live.client().post("/api/v1/auth/token", data={"username": "a@b.example", "password": "secret pass 1"},
                               headers={"X-Request-ID": rid})
        assert r.status_code == 500
        assert rid in r.json()["detail"] and "OperationalError" in r.json()["detail"]
        assert "secret pass 1" not in r.text and "users" not in r.text  # no SQL or internals to the client
        log = live.log_path.read_text()
        error_lines = [line for line in log.splitlines() if f"[{rid}]" in line and " ERROR " in line]
        assert error_lines and "POST /api/v1/auth/token" in error_lines[0]
        assert "no such table" in log  # the traceback with the cause is in the log
        assert "secret pass 1" not in log
    finally:
        stop_live_server(live)


def test_app_log_rotates(make_settings):
    from live_server import start_live_server, stop_live_server

    settings = make_settings(log_max_bytes=4096, log_backup_count=2)
    live = start_live_server(settings)
    try:
        c = live.client()
        for _ in range(120):
            c.get("/api/v1/users/me")  # 401s: one access line each
        logs = sorted(p.name for p in live.log_path.parent.iterdir())
        assert logs == ["app.log", "app.log.1", "app.log.2"]
        assert all(p.stat().st_size <= 4096 for p in live.log_path.parent.iterdir())
    finally:
        stop_live_server(live)


def test_nothing_a_client_sends_can_forge_or_cut_a_log_line(live_server, admin):
    """Issue 14 finding 3: the URL path (percent-decoded), the login name and JSON key names in 422 answers
    reached app.log raw: a CR/LF wrote a forged line, NUL bytes got in."""
    forged = "2026-12-04 00:00:00,000 INFO [forged] heartbeat.server: forged"
    c = live_server.client()
    c.get("/api/v1/x%0A" + forged.replace(" ", "%20") + "%00%0D%1B%E2%80%AE")
    c.post("/api/v1/auth/token", data={"username": f"evil\r\n{forged}\x00@x.example", "password": "whatever 123"})
    live_server.client(admin.token).post("/api/v1/users", content=('{"email": "a@b.example", "role": "clinician", '
                                                                  '"password": "long enough passphrase", '
                                                                  f'"x\\n{forged}\\u0000": 1}}').encode(),
                                         headers={"Content-Type": "application/json"})
    raw = live_server.log_path.read_bytes()
    assert b"\x00" not in raw and b"\r" not in raw and b"\x1b" not in raw
    text = raw.decode("utf-8")
    assert "\u202e" not in text
    lines = text.splitlines()
    assert not [line for line in lines if line.startswith("2026-12-04 00:00:00,000")], "a forged line got in"
    escaped = [line for line in lines if "\\n" + forged.lower() in line.lower()]
    assert len(escaped) >= 3, escaped  # path, login name and JSON key, each escaped on its own line

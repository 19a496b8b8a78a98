"""GET /api/v1/health: no authentication, checks the database, carries a request id."""
from __future__ import annotations


def test_health_answers_without_auth_and_checks_the_database(live_server):
    r = live_server.client().get("/api/v1/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok" and r.json()["database"] == "ok"
    assert r.headers["x-request-id"]


def test_request_id_is_echoed_when_sane_and_replaced_when_not(live_server):
    c = live_server.client()
    assert c.get("/api/v1/health", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
    replaced = c.get("/api/v1/health", headers={"X-Request-ID": "bad id\twith spaces"}).headers["x-request-id"]
    assert replaced != "bad id\twith spaces" and len(replaced) == 32


def test_health_reports_an_unreachable_database(make_settings, tmp_path):
    from fastapi.testclient import TestClient

    from server.main import create_app

    # a SQLite path inside a regular file cannot be opened
    (tmp_path / "file").write_text("x")
    app = create_app(make_settings(database_url=f"sqlite:///{tmp_path / 'file' / 'db.sqlite'}"))
    with TestClient(app) as client:
        r = client.get("/api/v1/health")
    assert r.status_code == 503
    assert r.json() == {"status": "unavailable", "database": "unreachable", "version": app.version}

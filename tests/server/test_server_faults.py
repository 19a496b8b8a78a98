"""Issue 14 finding 9: a database that cannot be written (locked past the busy timeout, a full disk) answers
503 with Retry-After and stores nothing, health says the database cannot be written, and app.log fails safe:
a full disk loses log lines (counted, reported once space is back) but never cuts one or takes a request down."""
from __future__ import annotations

import os
import re
import secrets
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from telemetry_items import beat, new_boot, post, status

from server.core.settings import Settings

LINE_START = re.compile(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3} [A-Z]+ \[|  \| )")


def _items(n: int = 50) -> list[dict]:
    boot = new_boot()
    return [beat(boot, seq) for seq in range(1, n)] + [status(boot, n)]


def _stored_beats(url: str, device_id: int) -> int:
    from server.core.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.exec_driver_sql(f"SELECT count(*) FROM beats WHERE device_id = {int(device_id)}").scalar_one()
    finally:
        engine.dispose()


class _Locker:
    """Holds the database's write lock (SQLite) or an exclusive lock on the tables ingest writes (PostgreSQL)."""

    def __init__(self, url: str):
        self.url = url
        self.conn = None

    def __enter__(self):
        parsed = make_url(self.url)
        if parsed.get_backend_name() == "sqlite":
            self.conn = sqlite3.connect(parsed.database, timeout=30, isolation_level=None)
            self.conn.execute("BEGIN IMMEDIATE")
        else:
            import psycopg

            self.conn = psycopg.connect(host=parsed.host, port=parsed.port, user=parsed.username,
                                        password=parsed.password, dbname=parsed.database)
            self.conn.execute("LOCK TABLE device_tokens, ingest_batches, beats, health_checks "
                              "IN ACCESS EXCLUSIVE MODE")
        return self

    def __exit__(self, *exc):
        self.conn.rollback() if hasattr(self.conn, "rollback") else None
        self.conn.close()


@pytest.fixture(scope="module")
def locked_server(make_settings):
    from live_server import start_live_server, stop_live_server

    live = start_live_server(make_settings(db_busy_timeout_seconds=1))
    yield live
    stop_live_server(live)


def test_a_locked_database_is_503_with_retry_after_and_health_says_so(locked_server):
    device = locked_server.make_device()
    c = locked_server.client(device.token)
    assert locked_server.client().get("/api/v1/health").json()["database"] == "ok"
    with _Locker(locked_server.settings.db_url):
        r = post(c, device.device_uid, _items())
        assert r.status_code == 503, r.text
        assert int(r.headers["retry-after"]) >= 1
        assert "locked" in r.json()["detail"] or "busy" in r.json()["detail"]
        h = locked_server.client().get("/api/v1/health")
        assert h.status_code == 503 and h.json()["database"] == "not writable", h.text
        assert "retry-after" in h.headers
    assert _stored_beats(locked_server.settings.db_url, device.id) == 0
    r = post(c, device.device_uid, _items())
    assert r.status_code == 200, r.text
    assert locked_server.client().get("/api/v1/health").json() == {
        "status": "ok", "database": "ok", "version": locked_server.app.version}


@pytest.fixture()
def tiny_disk(tmp_path):
    """A 3 MiB tmpfs (root may mount one here; elsewhere the test is skipped)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m,mode=0700", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def _fill(disk: Path) -> Path:
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 4096, 512, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)
    return filler


def test_a_full_disk_is_503_logging_fails_safe_and_all_recovers(tiny_disk, session_cache):
    from live_server import start_live_server, stop_live_server

    from server.core.db import upgrade

    settings = Settings(secret_key=secrets.token_hex(32), state_dir=tiny_disk / "state",
                        mlflow_tracking_uri=f"sqlite:///{tiny_disk / 'mlflow.db'}", models_dir=tiny_disk / "models",
                        data_dir=tiny_disk / "data", cache_dir=session_cache,
                        password_hash_time_cost=1, password_hash_memory_kib=1024, password_hash_parallelism=1)
    upgrade(settings.db_url)
    live = start_live_server(settings)
    try:
        user = live.make_user("clinician")
        device = live.make_device()
        c = live.client(device.token)
        assert post(c, device.device_uid, _items()).status_code == 200
        filler = _fill(tiny_disk)
        answers = [post(c, device.device_uid, _items(400)) for _ in range(3)]
        assert [a.status_code for a in answers] == [503] * 3, [a.text for a in answers]
        assert all(int(a.headers["retry-after"]) >= 1 for a in answers)
        assert "full" in answers[0].json()["detail"], answers[0].text
        h = live.client().get("/api/v1/health")
        assert h.status_code == 503 and h.json()["database"] == "not writable", h.text
        # requests that only read still work while app.log cannot grow (one access line each: more than the
        # slack of its last page)
        reader = live.client(user.token)
        assert [reader.get("/api/v1/users/me").status_code for _ in range(80)] == [200] * 80
        filler.unlink()
        r = post(c, device.device_uid, _items(400))
        assert r.status_code == 200, r.text
        assert live.client().get("/api/v1/health").status_code == 200
        assert _stored_beats(settings.db_url, device.id) == 49 + 399
        lines = live.log_path.read_text().splitlines()
        assert all(LINE_START.match(line) for line in lines), [line for line in lines if not LINE_START.match(line)]
        assert any("log lines were lost" in line for line in lines), lines[-30:]
    finally:
        stop_live_server(live)


"""Issue 14 finding 1: a login never holds a database transaction while the password is checked (argon2 takes a
good part of a second with the production profile), so a crowd of logins cannot queue ingest behind it.

The password check is held open with a barrier while the test looks at the database: on SQLite another
connection must get the write lock at once (BEGIN IMMEDIATE with no busy wait), on PostgreSQL no connection of the
server may sit in an open transaction."""
from __future__ import annotations

import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy.engine import make_url

from server.core import security


def _sqlite_path(url: str) -> str | None:
    parsed = make_url(url)
    return parsed.database if parsed.get_backend_name() == "sqlite" else None


def _open_transactions(url: str) -> int:
    import psycopg

    parsed = make_url(url)
    with psycopg.connect(host=parsed.host, port=parsed.port, user=parsed.username, password=parsed.password,
                         dbname=parsed.database, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND state LIKE 'idle in transaction%%' AND pid <> pg_backend_pid()").fetchone()
        assert row is not None
        return int(row[0])


@pytest.mark.parametrize("good_password", [True, False], ids=["right-password", "wrong-password"])
def test_the_password_is_checked_outside_any_transaction(live_server, monkeypatch, good_password):
    user = live_server.make_user("clinician")
    entered, release = threading.Event(), threading.Event()
    real_verify = security.verify_password

    def held_verify(password: str, password_hash: str | None) -> bool:
        entered.set()
        assert release.wait(60), "the test never released the password check"
        return real_verify(password, password_hash)

    monkeypatch.setattr(security, "verify_password", held_verify)
    password = user.password if good_password else "not the password at all"
    with ThreadPoolExecutor(1) as pool:
        login = pool.submit(live_server.client().post, "/api/v1/auth/token",
                            data={"username": user.email, "password": password})
        try:
            assert entered.wait(60), "the login never reached the password check"
            path = _sqlite_path(live_server.settings.db_url)
            if path is not None:
                conn = sqlite3.connect(path, timeout=0, isolation_level=None)
                try:
                    conn.execute("BEGIN IMMEDIATE")  # "database is locked" while a login holds the write lock
                    conn.execute("ROLLBACK")
                finally:
                    conn.close()
            else:
                assert _open_transactions(live_server.settings.db_url) == 0
        finally:
            release.set()
        r = login.result(60)
    assert r.status_code == (200 if good_password else 401), r.text

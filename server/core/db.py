"""Engines, sessions and migrations.

- SQLite (the embedded default): WAL journal, foreign keys on, a busy timeout, and every transaction opened with
  `BEGIN IMMEDIATE`, so two writers queue for the lock instead of failing half-way with "database is locked"
  when a read transaction tries to become a write one. The price: a transaction holds the write lock from its
  start to its end, so keep them short. Work that only reads, and may take a while, asks for a plain deferred
  transaction with `read_only(session)` first (or `.execution_options(sqlite_begin="DEFERRED")` on a
  connection, as the health check does).
- PostgreSQL: any `postgresql://` URL is driven by psycopg 3 (`postgresql+psycopg://`).
- The schema exists only through Alembic migrations (`upgrade(url)`), in tests too.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from server.core.files import private_sqlite, sqlite_file

if TYPE_CHECKING:
    from alembic.config import Config

SQLITE_BUSY_TIMEOUT_MS = 30_000
ALEMBIC_DIR = Path(__file__).resolve().parent.parent / "alembic"
ALEMBIC_INI = Path(__file__).resolve().parent.parent / "alembic.ini"


def normalize_url(url: str) -> str:
    """postgresql:// and postgres:// become postgresql+psycopg:// (psycopg 3); anything else is kept."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def is_sqlite(url: str) -> bool:
    return make_url(normalize_url(url)).get_backend_name() == "sqlite"


def make_engine(url: str, busy_timeout_s: float = SQLITE_BUSY_TIMEOUT_MS / 1000, **kwargs: Any) -> Engine:
    """`busy_timeout_s`: how long a statement waits for a lock (SQLite's busy timeout, PostgreSQL's
    lock_timeout) before it fails with an OperationalError, which the app answers 503 (server/core/errors.py
    unavailable_reason)."""
    url = normalize_url(url)
    if not is_sqlite(url):
        kwargs.setdefault("pool_pre_ping", True)
        connect_args = kwargs.pop("connect_args", {})
        connect_args.setdefault("options", f"-c lock_timeout={int(busy_timeout_s * 1000)}")
        kwargs["connect_args"] = connect_args
        # as many connections as the server has worker threads for its sync routes (anyio's 40), so a crowd of
        # requests waits for the database, not for the pool (which would end in 503s after pool_timeout)
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 30)
        return create_engine(url, **kwargs)

    database = sqlite_file(url)
    if database is not None:
        try:
            private_sqlite(database)  # 0600 (and so its -wal/-shm), its folder 0700 when made here
        except OSError:
            pass  # the first connection reports the unusable path (the health check says so; no crash here)
    connect_args = kwargs.pop("connect_args", {})
    connect_args.setdefault("check_same_thread", False)  # sessions move between the server's worker threads
    connect_args.setdefault("timeout", busy_timeout_s)
    busy_ms = int(connect_args["timeout"] * 1000)
    engine = create_engine(url, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (below)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL: a crash loses no committed transaction's
        cursor.close()                               # integrity, at most the last commits before a power cut

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def read_only(session: Session) -> Session:
    """Open the session's next transaction as a reader (SQLite: BEGIN DEFERRED; no effect on PostgreSQL): it does
    not hold the write lock, so it does not make writers wait. Call before the transaction's first statement;
    do not write in it."""
    if session.in_transaction():
        return session
    session.connection(execution_options={"sqlite_begin": "DEFERRED"})
    return session


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    # expire_on_commit=False: a route may still read the object it just committed to build its response
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)


def alembic_config(url: str | None = None) -> Config:
    from alembic.config import Config

    cfg = Config(str(ALEMBIC_INI))
    cfg.set_main_option("script_location", str(ALEMBIC_DIR))
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Run the Alembic migrations on `url` up to `revision`."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()

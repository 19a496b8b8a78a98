"""Server test fixtures: real databases (SQLite file and a real PostgreSQL 15 cluster), real HTTP.

- `db_url` (module scope) is parametrized over `sqlite` and `postgresql`; the database is migrated to head with
  Alembic (the only way the schema is made). `blank_db_url` is the same without migrations.
- The PostgreSQL cluster is started once per session: initdb into a temporary folder, a random password, loopback
  only, on a free port; one fresh database per test module. Without PostgreSQL binaries the PostgreSQL cases are
  skipped on a workstation and fail in CI (env CI set).
- `settings` (module scope): server Settings with a temporary state folder, a random secret key and a real MLflow
  store (SQLite) in that folder. `make_settings(**overrides)` builds more.
- `live_server` (module scope): the app served by uvicorn in a thread on a free loopback port; tests speak HTTP
  through httpx. Helpers: `live_server.make_user(role)`, `live_server.make_device()`, `live_server.client(token)`;
  fixtures `admin`, `engineer`, `clinician`, `device` (one of each per module).
"""
from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from live_server import Actor, start_live_server, stop_live_server

from heartbeat_system.ports import free_port

PG_USER = "heartbeat"


# ------------------------------------------------------------------------------------------ PostgreSQL
def _pg_bindir() -> Path | None:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if candidates:
        return candidates[-1].parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


@dataclass
class PgCluster:
    host: str
    port: int
    user: str
    password: str

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{self.user}:{self.password}@{self.host}:{self.port}/{database}"

    def admin_execute(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(host=self.host, port=self.port, user=self.user, password=self.password,
                             dbname="postgres", autocommit=True) as conn:
            conn.execute(sql)

    def create_database(self) -> str:
        name = "hb_" + uuid.uuid4().hex[:12]
        self.admin_execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        self.admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_cluster():
    bindir = _pg_bindir()
    if bindir is None:
        message = ("PostgreSQL server binaries (initdb, pg_ctl) not found: install Debian's `postgresql` package "
                   "(scripts/setup.sh does)")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    root = Path(tempfile.mkdtemp(prefix="heartbeat-pg-"))
    data, pwfile, logfile = root / "data", root / "pwfile", root / "postgres.log"
    password = secrets.token_urlsafe(24)
    pwfile.write_text(password + "\n")
    prefix: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: run it as the `postgres` system user
        import pwd

        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail("running as root and there is no `postgres` user to run PostgreSQL as")
        os.chown(root, pw.pw_uid, pw.pw_gid)
        os.chown(pwfile, pw.pw_uid, pw.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    port = free_port()

    def run(*args: str) -> None:
        proc = subprocess.run([*prefix, *args], capture_output=True, text=True)
        if proc.returncode != 0:
            log = logfile.read_text() if logfile.exists() else ""
            pytest.fail(f"{args[0]} failed: {proc.stdout}{proc.stderr}{log[-2000:]}")

    run(str(bindir / "initdb"), "-D", str(data), "-U", PG_USER, "--pwfile", str(pwfile), "-A", "scram-sha-256",
        "-E", "UTF8", "--no-sync", "--no-instructions")
    options = (f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={root} -c fsync=off "
               "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
    run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(logfile), "-o", options, "-w", "-t", "60", "start")
    try:
        yield PgCluster("127.0.0.1", port, PG_USER, password)
    finally:
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def _new_database(request, kind: str, tmp_factory) -> tuple[str, callable]:
    if kind == "sqlite":
        path = tmp_factory.mktemp("db") / "server.db"
        return f"sqlite:///{path}", lambda: None
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    name = cluster.create_database()
    return cluster.url(name), lambda: cluster.drop_database(name)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def db_url(request, tmp_path_factory):
    """A migrated database (Alembic head), fresh for each test module, on SQLite and on PostgreSQL."""
    from server.core.db import upgrade

    url, drop = _new_database(request, request.param, tmp_path_factory)
    upgrade(url)
    yield url
    drop()


@pytest.fixture(params=["sqlite", "postgresql"])
def blank_db_url(request, tmp_path_factory):
    """An empty database (no tables), fresh for each test, on SQLite and on PostgreSQL."""
    url, drop = _new_database(request, request.param, tmp_path_factory)
    yield url
    drop()


# ------------------------------------------------------------------------------------------ settings
@pytest.fixture(scope="module")
def make_settings(tmp_path_factory, db_url, session_cache):
    """Build server Settings for this module's database with every piece of state in a temporary folder."""
    from server.core.settings import Settings

    def make(**overrides):
        state = tmp_path_factory.mktemp("server-state")
        values = dict(
            secret_key=secrets.token_hex(32),
            state_dir=state,
            database_url=db_url,
            mlflow_tracking_uri=f"sqlite:///{state / 'mlflow' / 'mlflow.db'}",
            models_dir=state / "models",
            data_dir=Path(os.environ.get("HEARTBEAT_DATA_DIR",
                                         Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mitdb")),
            cache_dir=session_cache,  # built beat sets are shared by the session (tests/conftest.py)
            # a light argon2id profile keeps the many logins of the suite fast; production keeps the default
            password_hash_time_cost=1, password_hash_memory_kib=1024, password_hash_parallelism=1,
        )
        values.update(overrides)
        (state / "mlflow").mkdir(parents=True, exist_ok=True)
        return Settings(**values)

    return make


@pytest.fixture(scope="module")
def settings(make_settings):
    """Server settings (overrides the toolchain's `settings` fixture for tests/server)."""
    return make_settings()


@pytest.fixture(scope="module")
def sessionmaker_(settings):
    from server.core.db import make_engine, make_sessionmaker

    engine = make_engine(settings.db_url)
    # the tests' own look behind the API reads in deferred transactions, so it never blocks the server (SQLite)
    yield make_sessionmaker(engine.execution_options(sqlite_begin="DEFERRED"))
    engine.dispose()


@pytest.fixture()
def db_session(sessionmaker_):
    """A session on this module's database, to look behind the API. It reads in deferred transactions (SQLite),
    so it never blocks the server; call `db_session.rollback()` before reading again after more HTTP calls
    (a transaction keeps seeing the snapshot it started with)."""
    with sessionmaker_() as session:
        yield session


# ------------------------------------------------------------------------------------------ live server
@pytest.fixture(scope="module")
def live_server(settings):
    live = start_live_server(settings)
    yield live
    stop_live_server(live)


@pytest.fixture(scope="module")
def admin(live_server) -> Actor:
    return live_server.make_user("admin")


@pytest.fixture(scope="module")
def engineer(live_server) -> Actor:
    return live_server.make_user("engineer")


@pytest.fixture(scope="module")
def clinician(live_server) -> Actor:
    return live_server.make_user("clinician")


@pytest.fixture(scope="module")
def device(live_server) -> Actor:
    return live_server.make_device()

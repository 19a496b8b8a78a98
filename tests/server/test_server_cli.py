"""`heartbeat server ...` as a user runs it: migrate, create-admin (no default account), run; one `error:` line
for what is wrong."""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import httpx

HEARTBEAT = [sys.executable, "-c", "import sys; from heartbeat_core.cli import main; sys.exit(main())"]


def _env(state: Path, **extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEARTBEAT_")}
    env.update({"HEARTBEAT_STATE_DIR": str(state), "HEARTBEAT_SECRET_KEY": secrets.token_hex(32),
                "HEARTBEAT_MLFLOW_TRACKING_URI": f"sqlite:///{state / 'mlflow.db'}"})
    env.update(extra)
    return env


def _run(args, env, stdin: str | None = None) -> subprocess.CompletedProcess:
    """The command's result; `.out` is stdout and stderr together (errors go to stderr)."""
    r = subprocess.run([*HEARTBEAT, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120)
    r.out = r.stdout + r.stderr
    return r


def test_missing_secret_key_is_one_error_line(tmp_path):
    env = _env(tmp_path)
    del env["HEARTBEAT_SECRET_KEY"]
    r = _run(["server", "migrate"], env)
    assert r.returncode == 1
    assert "error:" in r.out and "HEARTBEAT_SECRET_KEY is not set" in r.out
    assert "Traceback" not in r.out + r.stderr


def test_create_admin_then_log_in(tmp_path):
    from server.core.db import make_engine, make_sessionmaker
    from server.services.users import authenticate

    env = _env(tmp_path)
    r = _run(["server", "create-admin", "--email", "Chief@Hospital.example", "--password-stdin"], env,
             "a long admin passphrase\n")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "administrator chief@hospital.example created" in r.out
    engine = make_engine(f"sqlite:///{tmp_path / 'server' / 'server.db'}")
    try:
        user = authenticate(make_sessionmaker(engine), "chief@hospital.example", "a long admin passphrase")
        assert user is not None and user.role.value == "admin"
    finally:
        engine.dispose()

    again = _run(["server", "create-admin", "--email", "chief@hospital.example", "--password-stdin"], env,
                 "another long passphrase\n")
    assert again.returncode == 1 and "error:" in again.out and "already exists" in again.out

    short = _run(["server", "create-admin", "--email", "b@hospital.example", "--password-stdin"], env, "short\n")
    assert short.returncode == 1 and "too short" in short.out

    bad = _run(["server", "create-admin", "--email", "not an email", "--password-stdin"], env,
               "a long admin passphrase\n")
    assert bad.returncode == 1 and "email" in bad.out


def test_migrate_reports_the_revision(tmp_path):
    from alembic.script import ScriptDirectory

    from server.core.db import alembic_config

    r = _run(["server", "migrate"], _env(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert f"at revision {head}" in r.out


def test_unreachable_database_is_one_error_line(tmp_path, pg_cluster):
    # a real PostgreSQL server, the wrong password; the password does not appear in the message
    url = f"postgresql://{pg_cluster.user}:wrong-password-123@{pg_cluster.host}:{pg_cluster.port}/postgres"
    r = _run(["server", "migrate"], _env(tmp_path, HEARTBEAT_DATABASE_URL=url))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "error: cannot reach the database" in r.out
    assert "wrong-password-123" not in r.out + r.stderr


def test_run_serves_the_api_until_stopped(tmp_path):
    from heartbeat_system.ports import free_port

    port = free_port()
    env = _env(tmp_path)
    proc = subprocess.Popen([*HEARTBEAT, "server", "run", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read()
                assert time.monotonic() < deadline, "the server did not come up"
                time.sleep(0.2)
        assert r.status_code == 200 and r.json()["database"] == "ok"
        assert (tmp_path / "server" / "logs" / "app.log").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=30)

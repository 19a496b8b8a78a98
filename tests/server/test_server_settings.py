"""Server settings: the secret key is required (a clear error names it), paths derive from the state dir, and the
MLflow store is the toolchain's."""
from __future__ import annotations

import pytest

from heartbeat_core.errors import HeartbeatError


def _env(monkeypatch, **values):
    for key in ("HEARTBEAT_SECRET_KEY", "HEARTBEAT_DATABASE_URL", "HEARTBEAT_MLFLOW_TRACKING_URI",
                "HEARTBEAT_LOG_DIR", "HEARTBEAT_JOBS_DIR"):
        monkeypatch.delenv(key, raising=False)
    for key, value in values.items():
        monkeypatch.setenv(key, str(value))


def test_missing_secret_key_is_a_clear_error(monkeypatch, tmp_path):
    from server.core.settings import load_settings

    _env(monkeypatch, HEARTBEAT_STATE_DIR=tmp_path)
    with pytest.raises(HeartbeatError, match="HEARTBEAT_SECRET_KEY is not set"):
        load_settings()


def test_short_secret_key_is_refused(monkeypatch, tmp_path):
    from server.core.settings import load_settings

    _env(monkeypatch, HEARTBEAT_STATE_DIR=tmp_path, HEARTBEAT_SECRET_KEY="short")
    with pytest.raises(HeartbeatError, match="at least 32 characters"):
        load_settings()


def test_defaults_live_in_the_state_dir_and_share_the_toolchain_mlflow_store(monkeypatch, tmp_path):
    from heartbeat_core.settings import HeartbeatSettings
    from server.core.settings import load_settings

    _env(monkeypatch, HEARTBEAT_STATE_DIR=tmp_path, HEARTBEAT_SECRET_KEY="k" * 40)
    s = load_settings()
    assert s.db_url == f"sqlite:///{(tmp_path / 'server' / 'server.db').resolve()}"
    assert s.log_dir == tmp_path / "server" / "logs"
    assert s.jobs_dir == tmp_path / "server" / "jobs"
    assert s.tracking_uri == HeartbeatSettings().tracking_uri == f"sqlite:///{tmp_path.resolve()}/mlflow/mlflow.db"
    assert (s.access_token_minutes, s.ingest_max_items, s.monitoring_window_days) == (30, 1000, 30)
    assert s.base_settings().tracking_uri == s.tracking_uri
    assert "k" * 40 not in repr(s)  # the secret never shows in a repr or log line


def test_environment_overrides(monkeypatch, tmp_path):
    from server.core.settings import load_settings

    _env(monkeypatch, HEARTBEAT_STATE_DIR=tmp_path, HEARTBEAT_SECRET_KEY="k" * 40,
         HEARTBEAT_DATABASE_URL="postgresql://u@db/hb", HEARTBEAT_ACCESS_TOKEN_MINUTES=5)
    s = load_settings()
    assert s.db_url == "postgresql://u@db/hb" and s.access_token_minutes == 5
    monkeypatch.setenv("HEARTBEAT_DATABASE_URL", "postgresql://u:db-password-9@db/hb")
    assert "db-password-9" not in repr(load_settings())


def test_postgresql_urls_use_psycopg3():
    from server.core.db import normalize_url

    assert normalize_url("postgresql://u:p@h/db") == "postgresql+psycopg://u:p@h/db"
    assert normalize_url("postgres://u:p@h/db") == "postgresql+psycopg://u:p@h/db"
    assert normalize_url("sqlite:///x.db") == "sqlite:///x.db"


def test_the_api_starts_without_tensorflow():
    """The design's rule: training (TensorFlow) runs only in the worker; building the app never imports it."""
    import subprocess
    import sys

    code = ("import secrets, sys, tempfile\n"
            "from server.core.settings import Settings\n"
            "from server.main import create_app\n"
            "app = create_app(Settings(secret_key=secrets.token_hex(32), state_dir=tempfile.mkdtemp()))\n"
            "app.openapi()\n"
            "print(sorted(m for m in ('tensorflow', 'keras', 'mlflow') if m in sys.modules))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"

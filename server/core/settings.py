"""The server's one Settings object (environment prefix HEARTBEAT_).

It extends the shared settings base (heartbeat_core.settings), so the MLflow store, data folder and models folder
are found the same way by the CLI, the server and its worker (the tracking URI logic lives once, in
heartbeat_core/settings.py). Nothing else in the server reads the environment.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator

from heartbeat_core.errors import ConfigError
from heartbeat_core.settings import HeartbeatSettings, describe_validation_error

MIN_SECRET_KEY_CHARS = 32


class Settings(HeartbeatSettings):
    """Environment: HEARTBEAT_SECRET_KEY (required), HEARTBEAT_STATE_DIR, HEARTBEAT_DATABASE_URL, ..."""

    secret_key: SecretStr = Field(
        description="Signs the users' access tokens (JWT HS256). Required, no default; at least 32 characters, "
                    "e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`.")
    database_url: str | None = Field(
        default=None, repr=False,  # may hold a password
        description="SQLAlchemy URL (sqlite:///... or postgresql://...); "
                                  "default: SQLite file <state_dir>/server/server.db.")
    log_dir: Path | None = Field(default=None, description="app.log folder (default <state_dir>/server/logs).")
    jobs_dir: Path | None = Field(default=None,
                                  description="Per-job params and logs (default <state_dir>/server/jobs).")
    access_token_minutes: int = Field(default=30, ge=1, le=24 * 60, description="Lifetime of a user access token.")
    ingest_max_items: int = Field(default=1000, ge=1, description="Largest ingest batch (items).")
    clock_skew_seconds: int = Field(
        default=900, ge=0, le=7 * 24 * 3600,
        description="Ingest refuses times (received_at, created_at) more than this far ahead of the server's clock.")
    ingest_max_age_days: int = Field(
        default=365, ge=1, le=36500,
        description="Ingest refuses times older than this many days (a bridge may hold messages while the server "
                    "is away, not for years).")
    max_request_bytes: int = Field(default=16 * 1024 * 1024, ge=1024,
                                   description="Largest request body (bytes); larger ones get 413 unread.")
    monitoring_window_days: int = Field(default=30, ge=1, description="Rolling window of the monitoring metrics.")
    password_hash_time_cost: int = Field(default=3, ge=1, le=20, description="argon2id passes.")
    password_hash_memory_kib: int = Field(default=64 * 1024, ge=1024, le=4 * 1024 * 1024,
                                          description="argon2id memory per hash (KiB).")
    password_hash_parallelism: int = Field(default=4, ge=1, le=16, description="argon2id lanes.")
    db_busy_timeout_seconds: float = Field(
        default=30.0, ge=0.1, le=600.0,
        description="How long a request waits for a database lock (SQLite busy timeout, PostgreSQL lock_timeout) "
                    "before it is answered 503 with Retry-After.")
    log_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, description="app.log size before it rotates.")
    log_backup_count: int = Field(default=5, ge=0, description="Rotated app.log files kept.")

    @field_validator("secret_key")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < MIN_SECRET_KEY_CHARS:
            raise ValueError(f"HEARTBEAT_SECRET_KEY must be at least {MIN_SECRET_KEY_CHARS} characters")
        return value

    @model_validator(mode="after")
    def _derive_server_paths(self) -> Settings:
        server_dir = self.state_dir / "server"
        if self.database_url is None:
            self.database_url = f"sqlite:///{(server_dir / 'server.db').resolve()}"
        if self.log_dir is None:
            self.log_dir = server_dir / "logs"
        if self.jobs_dir is None:
            self.jobs_dir = server_dir / "jobs"
        return self

    @property
    def db_url(self) -> str:
        assert self.database_url is not None  # filled by the validator
        return self.database_url

    @property
    def log_folder(self) -> Path:
        assert self.log_dir is not None  # filled by the validator
        return self.log_dir

    @property
    def jobs_folder(self) -> Path:
        assert self.jobs_dir is not None  # filled by the validator
        return self.jobs_dir


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment (and overrides), or a HeartbeatError naming what is missing or wrong."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = describe_validation_error(exc, prefix="HEARTBEAT_", upper=True)
        raise ConfigError("server settings are invalid: " + problems, None,
                             "set HEARTBEAT_SECRET_KEY to a random string of 32+ characters, e.g. "
                             "`python -c 'import secrets; print(secrets.token_hex(32))'`") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()

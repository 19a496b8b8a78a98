"""GET /health: is the API up, can it reach its database, and can it write to it? No authentication.

Two probes: a read (a deferred transaction on SQLite, so it never queues behind writers) and a write (the one
row of `health_checks` updated and committed, waiting at most WRITE_PROBE_WAIT_S for the lock): a database
locked past that, on a full or read-only disk, answers "not writable". Either failure is a 503 with
Retry-After, the answer every writing route gives in that state.
"""
from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine, insert, text, update

from server.core.errors import RETRY_AFTER_BUSY_S, unavailable_reason
from server.core.logging import get_logger
from server.models.base import utcnow
from server.models.ml import HealthCheck

router = APIRouter(prefix="/health", tags=["health"])
log = get_logger("health")
WRITE_PROBE_WAIT_S = 2.0


class Health(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok", "database": "ok",
                                                               "version": "0.1.0"}]})
    status: Literal["ok", "unavailable"]
    database: Literal["ok", "not writable", "unreachable"]
    version: str


def _write_probe(engine: Engine, wait_s: float) -> None:
    """Update and commit the health row, waiting at most `wait_s` for a lock; raises what the database says."""
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        previous: Any = None
        raw: Any = None
        if sqlite:  # on the DBAPI connection itself: through SQLAlchemy it would first BEGIN IMMEDIATE (and wait)
            raw = conn.connection.dbapi_connection
            previous = raw.execute("PRAGMA busy_timeout").fetchone()[0]
            raw.execute(f"PRAGMA busy_timeout={int(wait_s * 1000)}")
        try:
            with conn.begin():
                if not sqlite:
                    conn.execute(text(f"SET LOCAL lock_timeout = {int(wait_s * 1000)}"))
                done = conn.execute(update(HealthCheck).where(HealthCheck.id == 1).values(checked_at=utcnow()))
                if done.rowcount == 0:
                    conn.execute(insert(HealthCheck).values(id=1, checked_at=utcnow()))
        finally:
            if raw is not None:
                raw.execute(f"PRAGMA busy_timeout={int(previous)}")


@router.get("", response_model=Health, summary="Liveness, database read and write check (no authentication)",
            responses={503: {"model": Health, "description": "The database cannot be reached or written; "
                                                             "Retry-After says when to ask again"}})
def health(request: Request) -> Health | JSONResponse:
    version = request.app.version
    engine: Engine = request.app.state.engine
    try:
        with engine.connect() as conn:
            conn.execution_options(sqlite_begin="DEFERRED").execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "unreachable"
        log.error("health: database unreachable: %s", exc.__class__.__name__)
        return JSONResponse(status_code=503, headers={"Retry-After": str(RETRY_AFTER_BUSY_S)}, content=Health(
            status="unavailable", database="unreachable", version=version).model_dump())
    settings = request.app.state.settings
    try:
        _write_probe(engine, min(WRITE_PROBE_WAIT_S, settings.db_busy_timeout_seconds))
    except Exception as exc:
        reason = unavailable_reason(exc)
        what, seconds = reason if reason else (f"{exc.__class__.__name__}", RETRY_AFTER_BUSY_S)
        log.error("health: the database cannot be written: %s", what)
        return JSONResponse(status_code=503, headers={"Retry-After": str(seconds)}, content=Health(
            status="unavailable", database="not writable", version=version).model_dump())
    return Health(status="ok", database="ok", version=version)

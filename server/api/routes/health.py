"""GET /health: is the API up and can it reach its database? No authentication; one trivial query."""
from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy import text

from server.core.logging import get_logger

router = APIRouter(prefix="/health", tags=["health"])
log = get_logger("health")


class Health(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok", "database": "ok",
                                                               "version": "0.1.0"}]})
    status: Literal["ok", "unavailable"]
    database: Literal["ok", "unreachable"]
    version: str


@router.get("", response_model=Health, summary="Liveness and database check (no authentication)",
            responses={503: {"model": Health, "description": "The database cannot be reached"}})
def health(request: Request) -> Health | JSONResponse:
    # a plain (deferred) read transaction on SQLite: health never queues behind writers for the write lock
    version = request.app.version
    try:
        with request.app.state.engine.connect() as conn:
            conn.execution_options(sqlite_begin="DEFERRED").execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "unreachable"
        log.error("health: database unreachable: %s", exc.__class__.__name__)
        return JSONResponse(status_code=503, content=Health(status="unavailable", database="unreachable",
                                                            version=version).model_dump())
    return Health(status="ok", database="ok", version=version)

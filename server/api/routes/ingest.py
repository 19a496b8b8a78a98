"""POST /api/v1/ingest: a bedside bridge uploads its device's messages (contract: docs/ingest.md).

Only device tokens may call it (server/api/permissions.py, policy "device"). The envelope is checked by FastAPI,
the batch size next (413 before any item is validated), then every item (server/services/ingest.py). Every 422
of this route, including a malformed body or a missing Idempotency-Key, has the contract's shape:
`{"detail": {"message": ..., "errors": [{"index", "field", "message"}, ...]}}`.
"""
from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from server.api.deps import CurrentDevice, SessionDep, SettingsDep
from server.core.errors import InvalidError, TooLargeError, body_parse_problem
from server.core.logging import get_logger
from server.schemas.common import ErrorMessage
from server.schemas.ingest import (
    IDEMPOTENCY_KEY_PATTERN,
    IngestRejected,
    IngestRequest,
    IngestResponse,
    ItemError,
    error_field,
    error_message,
)
from server.services import ingest as ingest_service

log = get_logger("ingest")


def _request_errors(exc: RequestValidationError) -> list[ItemError]:
    out = []
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        where, rest = (loc[0], loc[1:]) if loc else ("body", ())
        if err.get("type") == "json_invalid":
            ctx = err.get("ctx") or {}
            out.append(ItemError(index=None, field="body",
                                 message=f"malformed JSON: {ctx.get('error', 'cannot be parsed')}"))
            continue
        if where == "header":
            field = "Idempotency-Key" if rest and str(rest[0]).lower() == "idempotency-key" else error_field(rest)
            message = str(err.get("msg", "invalid"))
            if err.get("type") == "string_pattern_mismatch":
                message = "must be 8..128 characters of A-Z a-z 0-9 . _ : -"
            out.append(ItemError(index=None, field=field, message=message))
            continue
        out.append(ItemError(index=None, field=error_field(rest) or "body", message=error_message(err)))
    return out


class IngestRoute(APIRoute):
    """This route's request-validation 422s in the ingest contract's shape rather than the app's generic one."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except StarletteHTTPException as exc:
                problem = body_parse_problem(exc)
                if problem is None:
                    raise
                errors = [ItemError(index=None, field="body", message=problem)]
                log.info("422 ingest: body: %s", problem)
                return JSONResponse(status_code=422, content={"detail": {
                    "message": "batch rejected: the request is invalid; nothing was stored",
                    "errors": [e.model_dump() for e in errors]}})
            except RequestValidationError as exc:
                errors = _request_errors(exc)
                message = "batch rejected: the request is invalid; nothing was stored"
                log.info("422 ingest: %s", "; ".join(f"{e.field}: {e.message}" for e in errors)[:500])
                return JSONResponse(status_code=422, content={"detail": {
                    "message": message, "errors": [e.model_dump() for e in errors]}})

        return route_handler


router = APIRouter(prefix="/ingest", tags=["ingest"], route_class=IngestRoute)

IdempotencyKey = Annotated[str, Header(
    alias="Idempotency-Key", pattern=IDEMPOTENCY_KEY_PATTERN, examples=["hb-qemu-0001:305419896:2-101"],
    description="8..128 characters of [A-Za-z0-9._:-], unique per batch of this device; a repeated key answers "
                "what the first request answered and stores nothing")]


async def sqlite_turn(request: Request) -> AsyncIterator[None]:
    """SQLite has one writer at a time. On SQLite, the ingest requests of this process take turns here, on a
    lock that hands over the moment the last one is done, instead of in SQLite's busy handler, which polls with
    sleeps of up to 100 ms (and made the 99th percentile latency of four concurrent uploaders about a second).

    The lock is an anyio lock awaited on the event loop, and this dependency comes first, so a waiting request
    holds no worker thread: with a thread lock, 40 waiting requests filled the thread pool and the holder could
    never get a thread to finish (a deadlock of the whole server)."""
    state = request.app.state
    if state.engine.dialect.name != "sqlite":
        yield
        return
    lock = getattr(state, "sqlite_ingest_turn", None)
    if lock is None:  # made on the event loop's thread; no await between the check and the assignment
        lock = state.sqlite_ingest_turn = anyio.Lock()
    async with lock:
        yield


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorMessage, "description": description}


@router.post(
    "", response_model=IngestResponse, summary="Upload a batch of device messages (device token)",
    responses={
        401: _error("Missing, unknown or revoked device token"),
        403: _error("The token belongs to another device, or is a user's token"),
        404: _error("The batch's device_id is not registered"),
        409: _error("The Idempotency-Key was already used for a different batch of this device"),
        413: _error("More items than the server takes in one batch (ingest_max_items, 1000 by default)"),
        422: {"model": IngestRejected, "description": "Invalid items, each named; nothing of the batch was stored"},
        503: _error("The database cannot be written now (locked past the busy timeout, a full disk, no "
                    "connection free); nothing was stored; retry the same batch after Retry-After seconds"),
    })
def ingest(_turn: Annotated[None, Depends(sqlite_turn)], session: SessionDep, settings: SettingsDep,
           device: CurrentDevice, idempotency_key: IdempotencyKey, body: IngestRequest) -> IngestResponse:
    """Stores the batch in one transaction: every item, or (if any is invalid) none. Messages already stored
    (same device, boot_id and seq; feedback with the same feedback_id) are counted as duplicates and skipped."""
    if len(body.items) > settings.ingest_max_items:
        raise TooLargeError(f"batch of {len(body.items)} items; at most {settings.ingest_max_items} per request")
    # End the token check's transaction (it recorded the token's last use) before the CPU-bound item checks:
    # on SQLite every transaction holds the database's write lock, which other requests are waiting for.
    session.commit()
    target = ingest_service.check_device(session, device, body.device_id)
    try:
        window = ingest_service.plausible_window(settings.clock_skew_seconds, settings.ingest_max_age_days)
        result = ingest_service.ingest_batch(session, target, idempotency_key, body, window)
    except ingest_service.BatchRejected as exc:
        log.info("device %s batch key=%s rejected: %s", target.device_uid, idempotency_key, exc.message)
        raise InvalidError(exc.detail()) from None
    log.info("device %s batch %s key=%s stored=%s duplicates=%s replayed=%s", target.device_uid, result.batch_id,
             idempotency_key, result.stored, result.duplicates, result.replayed)
    return result

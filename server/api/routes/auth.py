"""POST /auth/token: the OAuth2 password flow (also what /docs "Authorize" uses).

A login checks the password (argon2) outside any database transaction (services/users.authenticate), on a
worker thread, and at most PASSWORD_CHECKS_AT_ONCE at a time: the others wait on the event loop without a
thread, so a crowd of logins can neither hold the database's write lock nor take every CPU core from ingest.
"""
from __future__ import annotations

import os
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, status
from fastapi.security import OAuth2PasswordRequestForm

from server.api.deps import SettingsDep
from server.core import security
from server.core.logging import get_logger
from server.schemas.auth import Token
from server.schemas.common import error_responses
from server.services import users as user_service

router = APIRouter(prefix="/auth", tags=["auth"])
log = get_logger("auth")

# argon2 uses every core it is given: one check at a time on a small machine leaves a core to the rest
PASSWORD_CHECKS_AT_ONCE = max(1, (os.cpu_count() or 2) // 2)


def password_check_slots(app: FastAPI) -> anyio.Semaphore:
    slots: anyio.Semaphore | None = getattr(app.state, "password_check_slots", None)
    if slots is None:  # made on the event loop's thread; no await between the check and the assignment
        slots = app.state.password_check_slots = anyio.Semaphore(PASSWORD_CHECKS_AT_ONCE)
    return slots


@router.post("/token", response_model=Token, summary="Log in: email and password for an access token",
             responses=error_responses(401, 422))
async def login(request: Request, settings: SettingsDep,
                form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> Token:
    """OAuth2 password flow: `username` is the user's email. The answer is a short-lived JWT
    (HEARTBEAT_ACCESS_TOKEN_MINUTES) to send as `Authorization: Bearer <token>`."""
    async with password_check_slots(request.app):
        user = await anyio.to_thread.run_sync(user_service.authenticate, request.app.state.sessionmaker,
                                              form.username, form.password)
    if user is None:
        log.info("login refused for %s", form.username.strip().lower()[:254])
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "incorrect email or password, or the user is disabled",
                            headers={"WWW-Authenticate": "Bearer"})
    token, seconds = security.create_access_token(user.id, user.role.value, settings.secret_key.get_secret_value(),
                                                  settings.access_token_minutes, version=user.token_version)
    log.info("login user_id=%s role=%s", user.id, user.role.value)
    return Token(access_token=token, expires_in=seconds)

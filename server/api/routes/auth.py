"""POST /auth/token: the OAuth2 password flow (also what /docs "Authorize" uses).

A login is first asked of the throttle (server/services/login_throttle.py): a held account or address is
answered 429 with Retry-After at once, before any password is checked. Otherwise the password is checked
(argon2) outside any database transaction (services/users.authenticate), on a worker thread, at most
PASSWORD_CHECKS_AT_ONCE at a time: the others wait on the event loop without a thread (and ask the throttle
again when their turn comes), so a crowd of logins can neither hold the database's write lock nor take every CPU
core from ingest. Each checked attempt is recorded in `login_attempts`.
"""
from __future__ import annotations

import asyncio
import os
import threading
from concurrent.futures import ThreadPoolExecutor
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
from server.services.login_throttle import LoginThrottle

router = APIRouter(prefix="/auth", tags=["auth"])
log = get_logger("auth")

# argon2 uses every core it is given: one check at a time on a small machine leaves a core to the rest
PASSWORD_CHECKS_AT_ONCE = max(1, (os.cpu_count() or 2) // 2)
# ... and it runs at a lower CPU priority (Linux nice, per thread; argon2's lane threads inherit it), so a burst of
# logins yields the CPU to ingest instead of sharing it: a login may take a little longer on a busy server
PASSWORD_CHECK_NICE = 10


def _lower_priority() -> None:
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), PASSWORD_CHECK_NICE)  # this thread only
    except (OSError, AttributeError):  # not Linux, or not allowed: the check runs at normal priority
        pass


def password_checker(app: FastAPI) -> ThreadPoolExecutor:
    """The threads that check passwords (made on first use; shut down with the app)."""
    checker: ThreadPoolExecutor | None = getattr(app.state, "password_checker", None)
    if checker is None:
        checker = app.state.password_checker = ThreadPoolExecutor(
            max_workers=PASSWORD_CHECKS_AT_ONCE, thread_name_prefix="password-check", initializer=_lower_priority)
    return checker


def password_check_slots(app: FastAPI) -> anyio.Semaphore:
    slots: anyio.Semaphore | None = getattr(app.state, "password_check_slots", None)
    if slots is None:  # made on the event loop's thread; no await between the check and the assignment
        slots = app.state.password_check_slots = anyio.Semaphore(PASSWORD_CHECKS_AT_ONCE)
    return slots


# A held login is answered after min(Retry-After, this) seconds, waited on the event loop (no thread, no CPU): a
# client hammering the route gets one answer per pause instead of thousands a second, so a flood of refusals
# cannot take the CPU (and the GIL) from ingest either.
HELD_ANSWER_PAUSE_S = 2.0


async def _held(request: Request, seconds: int, account: str, address: str) -> HTTPException:
    throttle: LoginThrottle = request.app.state.login_throttle
    if throttle.first_refusal(account, address):  # one app.log line per held key and hold, not per request
        log.info("login held for %s from %s: retry in %d s", account, address, seconds)
    await anyio.sleep(min(seconds, HELD_ANSWER_PAUSE_S))
    return HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                         f"too many failed logins for this account or from this address; retry in {seconds} s",
                         headers={"Retry-After": str(seconds)})


def _record(request: Request, account: str, address: str, user_id: int | None) -> None:
    try:
        user_service.record_login(request.app.state.sessionmaker, account, address, user_id)
    except Exception as exc:  # the login's answer does not depend on its record (app.log has the line)
        log.warning("login attempt of %s from %s not recorded: %s", account, address, exc.__class__.__name__)


@router.post("/token", response_model=Token, summary="Log in: email and password for an access token",
             responses={**error_responses(401, 422), 429: {
                 **error_responses(429)[429], "description": "Too many failed logins for this account or from this "
                                                             "address: retry after Retry-After seconds"}})
async def login(request: Request, settings: SettingsDep,
                form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> Token:
    """OAuth2 password flow: `username` is the user's email. The answer is a short-lived JWT
    (HEARTBEAT_ACCESS_TOKEN_MINUTES) to send as `Authorization: Bearer <token>`. Repeated failures are answered
    429 with growing delays (per account, per address, per both)."""
    throttle: LoginThrottle = request.app.state.login_throttle
    account = form.username.strip().lower()[:254]
    address = request.client.host if request.client else "unknown"
    if wait := throttle.wait(account, address):
        raise await _held(request, wait, account, address)
    user: user_service.LoginUser | None = None
    async with password_check_slots(request.app):
        wait = throttle.wait(account, address)  # failures recorded while this login waited its turn
        if not wait:
            user = await asyncio.wrap_future(password_checker(request.app).submit(
                user_service.authenticate, request.app.state.sessionmaker, form.username, form.password))
    if wait:  # (answered after the slot is given back)
        raise await _held(request, wait, account, address)
    await anyio.to_thread.run_sync(_record, request, account, address, user.id if user else None)
    if user is None:
        throttle.failed(account, address)
        log.info("login refused for %s from %s", account, address)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "incorrect email or password, or the user is disabled",
                            headers={"WWW-Authenticate": "Bearer"})
    throttle.succeeded(account, address)
    token, seconds = security.create_access_token(user.id, user.role.value, settings.secret_key.get_secret_value(),
                                                  settings.access_token_minutes, version=user.token_version)
    log.info("login user_id=%s role=%s from %s", user.id, user.role.value, address)
    return Token(access_token=token, expires_in=seconds)

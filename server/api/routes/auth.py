"""POST /auth/token: the OAuth2 password flow (also what /docs "Authorize" uses)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.security import OAuth2PasswordRequestForm

from server.api.deps import SessionDep, SettingsDep
from server.core import security
from server.core.logging import get_logger
from server.schemas.auth import Token
from server.schemas.common import error_responses
from server.services import users as user_service

router = APIRouter(prefix="/auth", tags=["auth"])
log = get_logger("auth")


@router.post("/token", response_model=Token, summary="Log in: email and password for an access token",
             responses=error_responses(401, 422))
def login(session: SessionDep, settings: SettingsDep,
          form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> Token:
    """OAuth2 password flow: `username` is the user's email. The answer is a short-lived JWT
    (HEARTBEAT_ACCESS_TOKEN_MINUTES) to send as `Authorization: Bearer <token>`."""
    user = user_service.authenticate(session, form.username, form.password)
    if user is None:
        log.info("login refused for %s", form.username.strip().lower()[:254])
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "incorrect email or password, or the user is disabled",
                            headers={"WWW-Authenticate": "Bearer"})
    token, seconds = security.create_access_token(user.id, user.role.value, settings.secret_key.get_secret_value(),
                                                  settings.access_token_minutes)
    log.info("login user_id=%s role=%s", user.id, user.role.value)
    return Token(access_token=token, expires_in=seconds)

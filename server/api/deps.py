"""FastAPI dependencies as `Annotated` aliases: the database session, the settings, and who is calling.

Users send `Authorization: Bearer <JWT>` (from POST /api/v1/auth/token); devices send
`Authorization: Bearer hbd_...`. Missing, expired or invalid credentials are 401 (with WWW-Authenticate);
valid credentials of the wrong kind or role are 403. The role rules are data in server/api/permissions.py.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, OAuth2PasswordBearer
from sqlalchemy.orm import Session

from server.api.permissions import DEPENDENCY_POLICIES, POLICIES
from server.core import security
from server.core.db import read_only
from server.core.settings import Settings
from server.models.base import utcnow
from server.models.identity import Device, DeviceToken, User
from server.services import devices as device_service

TOKEN_URL = "/api/v1/auth/token"
oauth2_scheme = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False, scheme_name="UserToken",
                                     description="A user's access token (log in with email and password).")
device_scheme = HTTPBearer(auto_error=False, scheme_name="DeviceToken",
                           description="A device token `hbd_...` issued by POST /api/v1/devices/{uid}/tokens.")


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_db(request: Request) -> Iterator[Session]:
    with request.app.state.sessionmaker() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
SessionDep = Annotated[Session, Depends(get_db)]


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status_code=status.HTTP_401_UNAUTHORIZED, detail=detail,
                         headers={"WWW-Authenticate": "Bearer"})


def get_current_user(session: SessionDep, settings: SettingsDep,
                     token: Annotated[str | None, Depends(oauth2_scheme)]) -> User:
    if not token:
        raise _unauthorized("not authenticated: send `Authorization: Bearer <access token>` "
                            f"(get one from POST {TOKEN_URL})")
    if token.startswith(security.DEVICE_TOKEN_PREFIX):
        if device_service.authenticate_token(session, token) is None:
            raise _unauthorized("device token is unknown or revoked (and this route needs a user's access token)")
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            "a device token cannot be used here; this route needs a user's access token")
    try:
        claims = security.decode_access_token(token, settings.secret_key.get_secret_value())
    except security.TokenError as exc:
        raise _unauthorized(str(exc)) from None
    user = read_only(session).get(User, claims["sub"])
    session.commit()  # ends the read: the route's own transaction (a writer's, on SQLite) starts when it needs one
    if user is None:
        raise _unauthorized("access token's user no longer exists")
    if not user.is_active:
        raise _unauthorized("user is disabled")
    if claims["ver"] != user.token_version:
        raise _unauthorized(security.STALE_TOKEN)
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require(policy: str) -> Callable[[User], User]:
    """A dependency admitting the users whose role the policy allows (403 for the others)."""
    allowed = POLICIES[policy]

    def dependency(user: CurrentUser) -> User:
        if user.role.value not in allowed:
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"role {user.role.value!r} may not do this (allowed: {', '.join(sorted(allowed))})")
        return user

    dependency.__name__ = f"require_{policy}"
    DEPENDENCY_POLICIES[dependency] = policy  # read by the role-matrix test
    return dependency


DEPENDENCY_POLICIES[get_current_user] = "user"

AdminUser = Annotated[User, Depends(require("admin"))]
EngineerUser = Annotated[User, Depends(require("engineer"))]
ClinicianUser = Annotated[User, Depends(require("clinician"))]


@dataclass
class DevicePrincipal:
    device: Device
    token: DeviceToken


def get_current_device(session: SessionDep,
                       credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(device_scheme)]) -> Device:
    """The device whose live token is presented. The route must still check the body's device id against it
    (a device token writes only its own device's data)."""
    if credentials is None or not credentials.credentials:
        raise _unauthorized("not authenticated: send `Authorization: Bearer <device token hbd_...>`")
    token = credentials.credentials
    if not token.startswith(security.DEVICE_TOKEN_PREFIX):
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            "this route needs a device token (hbd_...), not a user's access token")
    found = device_service.authenticate_token(session, token)
    if found is None:
        raise _unauthorized("device token is unknown or revoked")
    device, row = found
    row.last_used_at = utcnow()  # stored with the route's own commit
    return device


DEPENDENCY_POLICIES[get_current_device] = "device"

CurrentDevice = Annotated[Device, Depends(get_current_device)]

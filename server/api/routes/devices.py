"""Devices: register, list with what they last reported, issue and revoke their tokens."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from server.api.deps import CurrentUser, EngineerUser, SessionDep
from server.core.logging import get_logger
from server.models.identity import Device
from server.schemas.common import AUTH_ERRORS, MAX_ID, error_responses
from server.schemas.device import (
    DEVICE_UID_PATTERN,
    DeviceCreate,
    DevicePublic,
    DevicesPublic,
    DeviceTokenIssued,
    DeviceTokenPublic,
    DeviceUpdate,
)
from server.services import devices as device_service

router = APIRouter(prefix="/devices", tags=["devices"])
log = get_logger("devices")
DeviceUid = Annotated[str, Path(pattern=DEVICE_UID_PATTERN, description="The device's id (HELLO device_id).",
                                examples=["hb-qemu-0001"])]
TokenId = Annotated[int, Path(ge=1, le=MAX_ID, description="The token's id (from the token list).")]


def _public(device: Device, active_tokens: int) -> DevicePublic:
    return DevicePublic.model_validate({**{k: getattr(device, k) for k in DevicePublic.model_fields
                                           if k != "active_tokens"}, "active_tokens": active_tokens})


@router.get("", response_model=DevicesPublic, summary="List devices with last seen, versions and counters",
            responses={**AUTH_ERRORS, **error_responses(422)})
def list_devices(session: SessionDep, _user: CurrentUser,
                 offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
                 limit: Annotated[int, Query(ge=1, le=500)] = 100) -> DevicesPublic:
    devices, count = device_service.list_devices(session, offset, limit)
    tokens = device_service.active_token_counts(session, [d.id for d in devices])
    return DevicesPublic(data=[_public(d, tokens.get(d.id, 0)) for d in devices], count=count)


@router.post("", response_model=DevicePublic, status_code=status.HTTP_201_CREATED,
             summary="Register a device (engineer or admin)", responses={**AUTH_ERRORS, **error_responses(409, 422)})
def register_device(session: SessionDep, user: EngineerUser, body: DeviceCreate) -> DevicePublic:
    device = device_service.register_device(session, body, created_by=user)
    log.info("user_id=%s registered device %s", user.id, device.device_uid)
    return _public(device, 0)


@router.get("/{device_uid}", response_model=DevicePublic, summary="Read a device",
            responses={**AUTH_ERRORS, **error_responses(404, 422)})
def read_device(session: SessionDep, _user: CurrentUser, device_uid: DeviceUid) -> DevicePublic:
    device = device_service.get_device(session, device_uid)
    return _public(device, device_service.active_token_counts(session, [device.id]).get(device.id, 0))


@router.patch("/{device_uid}", response_model=DevicePublic, summary="Rename a device (engineer or admin)",
              responses={**AUTH_ERRORS, **error_responses(404, 422)})
def update_device(session: SessionDep, _user: EngineerUser, device_uid: DeviceUid, body: DeviceUpdate) \
        -> DevicePublic:
    device = device_service.update_device(session, device_service.get_device(session, device_uid), body)
    return _public(device, device_service.active_token_counts(session, [device.id]).get(device.id, 0))


@router.post("/{device_uid}/tokens", response_model=DeviceTokenIssued, status_code=status.HTTP_201_CREATED,
             summary="Issue a device token (shown once; engineer or admin)",
             responses={**AUTH_ERRORS, **error_responses(404, 422)})
def issue_token(session: SessionDep, user: EngineerUser, device_uid: DeviceUid) -> DeviceTokenIssued:
    """The answer carries the token itself, the only time it is shown: the server keeps only its sha256.
    A device may hold several live tokens (e.g. while a bridge is switched to a new one)."""
    device = device_service.get_device(session, device_uid)
    row, token = device_service.issue_token(session, device, created_by=user)
    log.info("user_id=%s issued token id=%s prefix=%s for device %s", user.id, row.id, row.prefix,
             device.device_uid)
    return DeviceTokenIssued(**DeviceTokenPublic.model_validate(row).model_dump(), device_uid=device.device_uid,
                             token=token)


@router.get("/{device_uid}/tokens", response_model=list[DeviceTokenPublic],
            summary="List a device's tokens (prefixes only; engineer or admin)",
            responses={**AUTH_ERRORS, **error_responses(404, 422)})
def list_tokens(session: SessionDep, _user: EngineerUser, device_uid: DeviceUid) -> list[DeviceTokenPublic]:
    device = device_service.get_device(session, device_uid)
    return [DeviceTokenPublic.model_validate(t) for t in device_service.list_tokens(session, device)]


@router.post("/{device_uid}/tokens/{token_id}/revoke", response_model=DeviceTokenPublic,
             summary="Revoke a device token (engineer or admin)",
             responses={**AUTH_ERRORS, **error_responses(404, 422)})
def revoke_token(session: SessionDep, user: EngineerUser, device_uid: DeviceUid, token_id: TokenId) \
        -> DeviceTokenPublic:
    """The token stops working at once. Revoking an already revoked token changes nothing."""
    device = device_service.get_device(session, device_uid)
    row = device_service.revoke_token(session, device, token_id)
    log.info("user_id=%s revoked token id=%s prefix=%s of device %s", user.id, row.id, row.prefix,
             device.device_uid)
    return DeviceTokenPublic.model_validate(row)

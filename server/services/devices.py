"""Devices and device tokens: register, list, issue/revoke tokens, authenticate a token, touch on ingest."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.core import security
from server.core.errors import ConflictError, NotFoundError
from server.models.base import utcnow
from server.models.identity import Device, DeviceToken, User
from server.schemas.device import DeviceCreate, DeviceUpdate

STATUS_COUNTERS = ("uptime_ms", "samples", "beats", "alerts", "corrupt_frames", "oversize_frames", "unknown_frames",
                   "overruns", "lost", "last_seq", "ring_oldest_seq")


def get_device(session: Session, device_uid: str) -> Device:
    device = session.scalar(select(Device).where(Device.device_uid == device_uid))
    if device is None:
        raise NotFoundError(f"device {device_uid!r} is not registered")
    return device


def find_device(session: Session, device_uid: str) -> Device | None:
    return session.scalar(select(Device).where(Device.device_uid == device_uid))


def list_devices(session: Session, offset: int = 0, limit: int = 100) -> tuple[list[Device], int]:
    count = session.scalar(select(func.count()).select_from(Device)) or 0
    devices = list(session.scalars(select(Device).order_by(Device.id).offset(offset).limit(limit)))
    return devices, count


def active_token_counts(session: Session, device_ids: list[int]) -> dict[int, int]:
    if not device_ids:
        return {}
    rows = session.execute(select(DeviceToken.device_id, func.count()).where(
        DeviceToken.device_id.in_(device_ids), DeviceToken.revoked_at.is_(None)).group_by(DeviceToken.device_id))
    return {device_id: n for device_id, n in rows}


def register_device(session: Session, data: DeviceCreate, created_by: User | None = None) -> Device:
    if find_device(session, data.device_uid) is not None:
        raise ConflictError(f"device {data.device_uid!r} is already registered")
    device = Device(device_uid=data.device_uid, name=data.name, created_by=created_by.id if created_by else None)
    session.add(device)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise ConflictError(f"device {data.device_uid!r} is already registered") from None
    return device


def update_device(session: Session, device: Device, data: DeviceUpdate) -> Device:
    if data.name is not None:
        device.name = data.name
    session.commit()
    return device


def issue_token(session: Session, device: Device, created_by: User | None = None) -> tuple[DeviceToken, str]:
    """A new token for the device: (its row, the token itself, which only the caller ever sees)."""
    token, token_hash, prefix = security.generate_device_token()
    row = DeviceToken(device_id=device.id, token_hash=token_hash, prefix=prefix,
                      created_by=created_by.id if created_by else None)
    session.add(row)
    session.commit()
    return row, token


def list_tokens(session: Session, device: Device) -> list[DeviceToken]:
    return list(session.scalars(select(DeviceToken).where(DeviceToken.device_id == device.id)
                                .order_by(DeviceToken.id)))


def revoke_token(session: Session, device: Device, token_id: int) -> DeviceToken:
    row = session.get(DeviceToken, token_id)
    if row is None or row.device_id != device.id:
        raise NotFoundError(f"device {device.device_uid!r} has no token {token_id}")
    if row.revoked_at is None:  # revoking twice is not an error; the first time stays on record
        row.revoked_at = utcnow()
        session.commit()
    return row


def authenticate_token(session: Session, token: str) -> tuple[Device, DeviceToken] | None:
    """The device a live (not revoked) token belongs to, or None."""
    if not token.startswith(security.DEVICE_TOKEN_PREFIX):
        return None
    row = session.scalar(select(DeviceToken).where(DeviceToken.token_hash == security.hash_device_token(token)))
    if row is None or row.revoked_at is not None:
        return None
    return row.device, row


def _field(source: Any, name: str) -> Any:
    if isinstance(source, Mapping):
        return source.get(name)
    return getattr(source, name, None)


def touch_device(session: Session, device: Device, hello: Any = None, status: Any = None,
                 seen_at: datetime | None = None) -> Device:
    """Record that the device was heard from (ingest calls this; it does not commit: the caller's transaction
    does). `hello` and `status` are a HELLO / STATUS item (a mapping or an object with the ingest field names):
    a HELLO sets firmware/model version, model sha256 and boot id; a STATUS replaces the counters."""
    now = seen_at or utcnow()
    if device.last_seen_at is None or now >= device.last_seen_at:
        device.last_seen_at = now
    if hello is not None:
        for name in ("firmware_version", "model_version", "model_sha256", "boot_id"):
            value = _field(hello, name)
            if value is not None:
                setattr(device, name, value)
    if status is not None:
        counters = {name: _field(status, name) for name in STATUS_COUNTERS if _field(status, name) is not None}
        boot_id = _field(status, "boot_id")
        if boot_id is not None:
            counters["boot_id"] = boot_id
        device.counters = counters
        device.counters_at = now
    return device

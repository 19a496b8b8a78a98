"""Devices and their tokens. A token's secret appears only in DeviceTokenIssued, the answer that issues it."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from server.schemas.common import PlainText

# 1..64 of [A-Za-z0-9._:-], but not "." or "..": URLs resolve those as path steps (no look-around: the same
# pattern is checked by pydantic's regex engine and by clients reading the schema)
DEVICE_UID_PATTERN = (r"^(?:[A-Za-z0-9_:-][A-Za-z0-9._:-]{0,63}|\.[A-Za-z0-9_:-][A-Za-z0-9._:-]{0,62}"
                      r"|\.\.[A-Za-z0-9._:-]{1,62})$")


class DeviceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "device_uid": "hb-qemu-0001", "name": "Ward 3, bed 12"}]})
    device_uid: str = Field(pattern=DEVICE_UID_PATTERN, description="The device's own id (HELLO `device_id`).")
    name: PlainText = Field(default="", max_length=200, description="Where it is or who wears it.")


class DeviceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"name": "Ward 4, bed 2"}]})
    name: PlainText | None = Field(default=None, max_length=200)


class DevicePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [{
        "id": 1, "device_uid": "hb-qemu-0001", "name": "Ward 3, bed 12", "created_at": "2026-11-24T20:00:00Z",
        "last_seen_at": "2026-11-24T21:13:05Z", "firmware_version": "0.1.0", "model_version": "20261120-1",
        "model_sha256": "3f" * 32, "boot_id": 2882400001,
        "counters": {"uptime_ms": 600000, "samples": 216000, "beats": 712, "alerts": 3, "corrupt_frames": 0,
                     "oversize_frames": 0, "unknown_frames": 0, "overruns": 0, "lost": 0, "last_seq": 718,
                     "ring_oldest_seq": 1},
        "counters_at": "2026-11-24T21:13:05Z", "active_tokens": 1}]})
    id: int
    device_uid: str
    name: str
    created_at: datetime
    last_seen_at: datetime | None = Field(description="Last time anything from this device was ingested.")
    firmware_version: str | None = Field(description="From the device's last HELLO.")
    model_version: str | None = Field(description="From the device's last HELLO.")
    model_sha256: str | None = Field(description="From the device's last HELLO.")
    boot_id: int | None = Field(description="The boot of the last HELLO.")
    counters: dict[str, Any] | None = Field(description="The last STATUS counters the device sent.")
    counters_at: datetime | None
    active_tokens: int = Field(description="Tokens issued and not revoked.")


class DevicesPublic(BaseModel):
    data: list[DevicePublic]
    count: int


class DeviceTokenPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [{
        "id": 4, "prefix": "hbd_Xk3v9QaZ", "created_at": "2026-11-24T20:01:00Z", "revoked_at": None,
        "last_used_at": "2026-11-24T21:13:05Z"}]})
    id: int
    prefix: str = Field(description="The token's first characters, to tell tokens apart; not usable to log in.")
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class DeviceTokenIssued(DeviceTokenPublic):
    """The only answer that carries a token: store it on the bridge now, it cannot be shown again."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": 4, "prefix": "hbd_Xk3v9QaZ", "created_at": "2026-11-24T20:01:00Z", "revoked_at": None,
        "last_used_at": None, "device_uid": "hb-qemu-0001",
        "token": "hbd_Xk3v9QaZ..."}]})
    device_uid: str
    token: str = Field(description="Send as `Authorization: Bearer <token>` from the bridge. Shown once.")

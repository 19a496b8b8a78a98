"""Alerts as the API shows them: a page of a filtered list, and one alert with its ECG window and feedback."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from heartbeat_core.domain import ClassName
from server.schemas.feedback import FeedbackPublic

AlertStatusName = Literal["open", "confirmed", "rejected", "relabelled"]

_ALERT_EXAMPLE: JsonDict = {
    "id": 4, "device_id": "hb-qemu-0001", "boot_id": 305419896, "seq": 4, "beat_seq": 3, "r_sample": 612,
    "label": "V", "score": 119, "rule": 1, "threshold": 200, "status": "open", "true_label": None,
    "received_at": "2026-11-24T20:15:03.120000Z", "has_ecg": True,
}


class AlertPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_ALERT_EXAMPLE]})

    id: int
    device_id: str = Field(description="the device's own id (HELLO device_id)")
    boot_id: int
    seq: int
    beat_seq: int = Field(description="seq of the beat the alert is about")
    r_sample: int
    label: ClassName = Field(description="the class the device gave the beat")
    score: int = Field(description="the beat's int8 score for that class")
    rule: int = Field(description="1 THRESHOLD (one beat), 2 RUN (k of the last window beats)")
    threshold: int
    status: AlertStatusName = Field(description="follows the latest clinician feedback")
    true_label: ClassName | None = Field(description="the class the latest feedback says the beat is")
    received_at: datetime = Field(description="when the bridge received the alert")
    has_ecg: bool = Field(description="whether the bridge sent the ECG window around the beat")


class AlertPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"items": [_ALERT_EXAMPLE], "total": 1, "limit": 50, "offset": 0}]})

    items: list[AlertPublic]
    total: int = Field(description="alerts matching the filters")
    limit: int
    offset: int


class BeatPublic(BaseModel):
    seq: int
    r_sample: int
    label: ClassName
    scores: list[int] = Field(description="the device's int8 softmax outputs in N, S, V, F, Q order")
    probabilities: list[float] = Field(description="the scores as probabilities, (score + 128) / 256")
    cost: int
    flags: int
    received_at: datetime


class EcgPublic(BaseModel):
    start_sample: int = Field(description="device sample index of samples[0]")
    sample_rate_hz: int
    r_sample: int = Field(description="the beat's R peak, a device sample index")
    samples: list[int] = Field(description="raw ADC codes")


class AlertDetail(AlertPublic):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        **_ALERT_EXAMPLE,
        "beat": {"seq": 3, "r_sample": 612, "label": "V", "scores": [-120, -128, 119, -128, -128],
                 "probabilities": [0.03125, 0.0, 0.96484375, 0.0, 0.0], "cost": 41250, "flags": 1,
                 "received_at": "2026-11-24T20:15:03.120000Z"},
        "ecg": {"start_sample": 432, "sample_rate_hz": 360, "r_sample": 612, "samples": [1024, 1030, 1041]},
        "feedback": []}]})

    beat: BeatPublic | None = Field(description="the beat the alert is about, when it is stored")
    ecg: EcgPublic | None = Field(description="the ECG window around the beat, when the bridge sent it")
    feedback: list[FeedbackPublic] = Field(description="every feedback on the alert, oldest first")

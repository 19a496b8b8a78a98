"""Reading alerts: a filtered, paged list, and one alert with its beat, ECG window and feedback."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.core.errors import NotFoundError
from server.models.base import as_utc
from server.models.identity import Device
from server.models.telemetry import Alert, AlertStatus, Beat, Hello
from server.services import feedback as feedback_service

DEFAULT_SAMPLE_RATE_HZ = 360  # docs/protocol.md: the device's rate when no HELLO of that boot is stored


@dataclass
class AlertFilter:
    device_uid: str | None = None
    status: str | None = None
    label: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _public(alert: Alert, device_uid: str) -> dict[str, Any]:
    return {"id": alert.id, "device_id": device_uid, "boot_id": alert.boot_id, "seq": alert.seq,
            "beat_seq": alert.beat_seq, "r_sample": alert.r_sample, "label": alert.label, "score": alert.score,
            "rule": alert.rule, "threshold": alert.threshold, "status": AlertStatus(alert.status).value,
            "true_label": alert.true_label, "received_at": alert.received_at,
            "has_ecg": alert.ecg_samples is not None}


def list_alerts(session: Session, flt: AlertFilter, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    """A page of the alerts matching every given filter, newest first, and how many match in all."""
    flt.since, flt.until = as_utc(flt.since), as_utc(flt.until)  # SQLite compares wall times: all UTC
    conditions = []
    if flt.device_uid is not None:
        device_id = session.scalar(select(Device.id).where(Device.device_uid == flt.device_uid))
        if device_id is None:
            raise NotFoundError(f"device {flt.device_uid!r} is not registered")
        conditions.append(Alert.device_id == device_id)
    if flt.status is not None:
        conditions.append(Alert.status == AlertStatus(flt.status))
    if flt.label is not None:
        conditions.append(Alert.label == flt.label)
    if flt.since is not None:
        conditions.append(Alert.received_at >= flt.since)
    if flt.until is not None:
        conditions.append(Alert.received_at < flt.until)
    total = session.scalar(select(func.count()).select_from(Alert).where(*conditions)) or 0
    rows = session.execute(select(Alert, Device.device_uid).join(Device, Device.id == Alert.device_id)
                           .where(*conditions).order_by(Alert.received_at.desc(), Alert.id.desc())
                           .limit(limit).offset(offset)).all()
    return [_public(alert, uid) for alert, uid in rows], total


def alert_detail(session: Session, alert_id: int) -> dict[str, Any]:
    row = session.execute(select(Alert, Device.device_uid).join(Device, Device.id == Alert.device_id)
                          .where(Alert.id == alert_id)).first()
    if row is None:
        raise NotFoundError(f"alert {alert_id} not found")
    alert, device_uid = row
    out = _public(alert, device_uid)

    beat = session.get(Beat, alert.beat_id) if alert.beat_id is not None else session.scalar(
        select(Beat).where(Beat.device_id == alert.device_id, Beat.boot_id == alert.boot_id,
                           Beat.seq == alert.beat_seq))
    out["beat"] = None if beat is None else {
        "seq": beat.seq, "r_sample": beat.r_sample, "label": beat.label, "scores": list(beat.scores),
        "probabilities": [(s + 128) / 256 for s in beat.scores], "cost": beat.cost, "flags": beat.flags,
        "received_at": beat.received_at}

    out["ecg"] = None
    if alert.ecg_samples is not None:
        rate = session.scalar(select(Hello.sample_rate_hz).where(
            Hello.device_id == alert.device_id, Hello.boot_id == alert.boot_id).order_by(Hello.seq.desc()).limit(1))
        out["ecg"] = {"start_sample": alert.ecg_start or 0, "sample_rate_hz": rate or DEFAULT_SAMPLE_RATE_HZ,
                      "r_sample": alert.r_sample, "samples": list(alert.ecg_samples)}
    out["feedback"] = [feedback_service.public(f) for f in feedback_service.feedback_of(session, alert.id)]
    return out

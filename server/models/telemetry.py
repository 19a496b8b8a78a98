"""Tables of what devices report (through their bridge) and what clinicians say about it.

Every device message is identified by its device key `(device, boot_id, seq)` (docs/protocol.md 1.2): each
message table has that as a UNIQUE constraint, which is what makes the bridge's at-least-once upload
exactly-once here. Device integers are u32 on the wire, so they are BIGINT columns (PostgreSQL's INTEGER is
signed 32-bit).

- IngestBatch: one accepted POST /ingest per (device, Idempotency-Key), with the sha256 of the request and the
  answer given, so a repeated key answers the same (docs/ingest.md).
- Hello, Beat, Alert, DeviceStatus, Gap: the device's messages, as sent.
- Feedback: a clinician's verdict on an alert, from the API (a logged-in clinician) or from the bedside (the
  bridge, through ingest). An alert's `status` and `true_label` follow its latest feedback.
"""
from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from heartbeat_core.domain import AAMI_CLASSES
from server.models.base import Base, enum_column, utcnow

# Row ids of the high-volume tables: 64-bit on PostgreSQL, SQLite's INTEGER PRIMARY KEY (its rowid, also 64-bit).
BigId = BigInteger().with_variant(Integer, "sqlite")


class AlertStatus(enum.StrEnum):
    open = "open"
    confirmed = "confirmed"
    rejected = "rejected"
    relabelled = "relabelled"


class FeedbackAction(enum.StrEnum):
    confirm = "confirm"
    reject = "reject"
    relabel = "relabel"


class FeedbackSource(enum.StrEnum):
    api = "api"
    bedside = "bedside"


# the alert status each feedback action leads to
STATUS_AFTER: dict[FeedbackAction, AlertStatus] = {
    FeedbackAction.confirm: AlertStatus.confirmed,
    FeedbackAction.reject: AlertStatus.rejected,
    FeedbackAction.relabel: AlertStatus.relabelled,
}


def _label_check(column: str, name: str, nullable: bool = False) -> CheckConstraint:
    allowed = ", ".join(f"'{c}'" for c in AAMI_CLASSES)
    sql = f"{column} IN ({allowed})"
    if nullable:
        sql = f"{column} IS NULL OR {sql}"
    return CheckConstraint(sql, name=name)


def _device_fk() -> Any:
    return ForeignKey("devices.id", ondelete="CASCADE")


class IngestBatch(Base):
    __tablename__ = "ingest_batches"
    __table_args__ = (UniqueConstraint("device_id", "idempotency_key", name="uq_ingest_batches_device_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(_device_fk())
    idempotency_key: Mapped[str] = mapped_column(String(128))
    request_sha256: Mapped[str] = mapped_column(String(64))
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Hello(Base):
    """A HELLO: which firmware and model a device ran in one boot (seq 1, and again on HELLO_REQUEST)."""

    __tablename__ = "hellos"
    __table_args__ = (UniqueConstraint("device_id", "boot_id", "seq", name="uq_hellos_device_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(_device_fk())
    boot_id: Mapped[int] = mapped_column(BigInteger)
    seq: Mapped[int] = mapped_column(BigInteger)
    firmware_version: Mapped[str] = mapped_column(String(64))
    model_version: Mapped[str] = mapped_column(String(64))
    model_sha256: Mapped[str] = mapped_column(String(64))
    protocol_version: Mapped[int] = mapped_column(SmallInteger)
    sample_rate_hz: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    stored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Beat(Base):
    __tablename__ = "beats"
    __table_args__ = (
        UniqueConstraint("device_id", "boot_id", "seq", name="uq_beats_device_key"),
        _label_check("label", "label"),
        Index("ix_beats_received_at", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    device_id: Mapped[int] = mapped_column(_device_fk())
    boot_id: Mapped[int] = mapped_column(BigInteger)
    seq: Mapped[int] = mapped_column(BigInteger)
    r_sample: Mapped[int] = mapped_column(BigInteger)
    label: Mapped[str] = mapped_column(String(1))
    scores: Mapped[list[int]] = mapped_column(JSON)  # 5 int8 scores in N, S, V, F, Q order
    cost: Mapped[int] = mapped_column(BigInteger)
    flags: Mapped[int] = mapped_column(SmallInteger)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    stored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("device_id", "boot_id", "seq", name="uq_alerts_device_key"),
        _label_check("label", "label"),
        _label_check("true_label", "true_label", nullable=True),
        Index("ix_alerts_received_at", "received_at"),
        Index("ix_alerts_status", "status"),
        Index("ix_alerts_device_beat", "device_id", "boot_id", "beat_seq"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(_device_fk())
    boot_id: Mapped[int] = mapped_column(BigInteger)
    seq: Mapped[int] = mapped_column(BigInteger)
    beat_seq: Mapped[int] = mapped_column(BigInteger)
    beat_id: Mapped[int | None] = mapped_column(ForeignKey("beats.id", ondelete="SET NULL"), nullable=True)
    r_sample: Mapped[int] = mapped_column(BigInteger)
    label: Mapped[str] = mapped_column(String(1))
    score: Mapped[int] = mapped_column(SmallInteger)
    rule: Mapped[int] = mapped_column(SmallInteger)
    threshold: Mapped[int] = mapped_column(SmallInteger)
    ecg_start: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    ecg_samples: Mapped[list[int] | None] = mapped_column(JSON, nullable=True)
    status: Mapped[AlertStatus] = mapped_column(enum_column(AlertStatus, "alert_status"), default=AlertStatus.open)
    # the class the latest feedback says the beat is (confirm: the alert's label; relabel: the given one)
    true_label: Mapped[str | None] = mapped_column(String(1), nullable=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    stored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DeviceStatus(Base):
    """A STATUS: the device's counters since boot."""

    __tablename__ = "device_statuses"
    __table_args__ = (UniqueConstraint("device_id", "boot_id", "seq", name="uq_device_statuses_device_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(_device_fk())
    boot_id: Mapped[int] = mapped_column(BigInteger)
    seq: Mapped[int] = mapped_column(BigInteger)
    uptime_ms: Mapped[int] = mapped_column(BigInteger)
    samples: Mapped[int] = mapped_column(BigInteger)
    beats: Mapped[int] = mapped_column(BigInteger)
    alerts: Mapped[int] = mapped_column(BigInteger)
    corrupt_frames: Mapped[int] = mapped_column(BigInteger)
    oversize_frames: Mapped[int] = mapped_column(BigInteger)
    unknown_frames: Mapped[int] = mapped_column(BigInteger)
    overruns: Mapped[int] = mapped_column(BigInteger)
    lost: Mapped[int] = mapped_column(BigInteger)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    ring_oldest_seq: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    stored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


STATUS_COUNTERS = ("uptime_ms", "samples", "beats", "alerts", "corrupt_frames", "oversize_frames",
                   "unknown_frames", "overruns", "lost", "last_seq", "ring_oldest_seq")


class Gap(Base):
    """A GAP: device seqs first..last (BEAT/ALERT) that will never arrive."""

    __tablename__ = "gaps"
    __table_args__ = (UniqueConstraint("device_id", "boot_id", "seq", name="uq_gaps_device_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(_device_fk())
    boot_id: Mapped[int] = mapped_column(BigInteger)
    seq: Mapped[int] = mapped_column(BigInteger)
    first: Mapped[int] = mapped_column(BigInteger)
    last: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    stored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Feedback(Base):
    __tablename__ = "feedback"
    __table_args__ = (
        _label_check("true_label", "true_label", nullable=True),
        Index("ix_feedback_alert_created", "alert_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feedback_uid: Mapped[str] = mapped_column(String(36), unique=True)  # the bridge's UUID, or one made here
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    action: Mapped[FeedbackAction] = mapped_column(enum_column(FeedbackAction, "feedback_action"))
    true_label: Mapped[str | None] = mapped_column(String(1), nullable=True)  # relabel: the class given
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    clinician_name: Mapped[str | None] = mapped_column(String(128), nullable=True)
    source: Mapped[FeedbackSource] = mapped_column(enum_column(FeedbackSource, "feedback_source"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # when the clinician gave it
    stored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# the device-message tables, by ingest item type
MESSAGE_TABLES: dict[str, type[Base]] = {
    "hello": Hello,
    "beat": Beat,
    "alert": Alert,
    "status": DeviceStatus,
    "gap": Gap,
}

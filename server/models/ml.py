"""Tables of the model side of the server: retraining jobs, logged predictions, promotions.

- Job: one background job (kind "retrain"). A request only inserts it `queued`; the worker process
  (server/worker/runner.py) claims it (`running`, with its worker id and a heartbeat), runs it and ends it
  `succeeded`, `failed` or `cancelled`. Parameters are kept here and in <jobs_dir>/<id>/params.json.
- PredictionLog: every answer of /predict and /predict/random (source), with the true label when known.
- Promotion: every attempt to move the `champion` alias through the gate, passed or not, with who and why.
"""
from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, enum_column, utcnow


class JobKind(enum.StrEnum):
    retrain = "retrain"


class JobStatus(enum.StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


FINISHED_STATUSES = (JobStatus.succeeded, JobStatus.failed, JobStatus.cancelled)


class PredictionSource(enum.StrEnum):
    predict = "predict"
    random = "random"


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[JobKind] = mapped_column(enum_column(JobKind, "job_kind"), default=JobKind.retrain)
    status: Mapped[JobStatus] = mapped_column(enum_column(JobStatus, "job_status"), default=JobStatus.queued)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    params_path: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    worker: Mapped[str | None] = mapped_column(String(128), nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    log_path: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    mlflow_run_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    model_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class PredictionLog(Base):
    __tablename__ = "prediction_logs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    source: Mapped[PredictionSource] = mapped_column(enum_column(PredictionSource, "prediction_source"))
    model_version: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(1))
    scores: Mapped[list[int]] = mapped_column(JSON)
    true_label: Mapped[str | None] = mapped_column(String(1), nullable=True)
    correct: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    record: Mapped[str | None] = mapped_column(String(32), nullable=True)
    sample: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Promotion(Base):
    __tablename__ = "promotions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_version: Mapped[int] = mapped_column(Integer, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    passed: Mapped[bool] = mapped_column(Boolean)
    forced: Mapped[bool] = mapped_column(Boolean, default=False)
    changed: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    reasons: Mapped[list[str]] = mapped_column(JSON)
    previous_champion: Mapped[int | None] = mapped_column(Integer, nullable=True)
    production_path: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class HealthCheck(Base):
    """The row GET /health updates to learn whether the database can be written (a lock, a full disk)."""

    __tablename__ = "health_checks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

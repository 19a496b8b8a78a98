"""People and devices: users with a role, devices (the HELLO `device_id`), and per-device tokens (hash only)."""
from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.models.base import Base, enum_column, utcnow


class Role(enum.StrEnum):
    admin = "admin"
    engineer = "engineer"
    clinician = "clinician"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True, index=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[Role] = mapped_column(enum_column(Role, "user_role"))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # in every access token ("ver"); a password change, an administrator's reset or a disabling moves it on, so
    # the tokens issued before stop working (also after the user is enabled again)
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    def __repr__(self) -> str:  # never the hash
        return f"User(id={self.id!r}, email={self.email!r}, role={self.role!r}, active={self.is_active!r})"


class Device(Base):
    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_uid: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    firmware_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    model_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    model_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    boot_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # u32 does not fit a signed int32
    counters: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # the last STATUS counters
    counters_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    tokens: Mapped[list[DeviceToken]] = relationship(back_populates="device", cascade="all, delete-orphan",
                                                       order_by="DeviceToken.id")

    def __repr__(self) -> str:
        return f"Device(id={self.id!r}, device_uid={self.device_uid!r})"


class DeviceToken(Base):
    __tablename__ = "device_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex; the token itself is never kept
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    device: Mapped[Device] = relationship(back_populates="tokens")

    def __repr__(self) -> str:  # never the hash
        return f"DeviceToken(id={self.id!r}, device_id={self.device_id!r}, prefix={self.prefix!r})"


class LoginOutcome(enum.StrEnum):
    success = "success"
    failure = "failure"


class LoginAttempt(Base):
    """A login whose password was checked (server/services/login_throttle.py); logins refused by the throttle
    (429) are not checked and appear in app.log instead."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_email_at", "email", "at"),
                      Index("ix_login_attempts_address_at", "address", "at"))

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    email: Mapped[str] = mapped_column(String(254))  # as typed (normalised), known user or not
    address: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[LoginOutcome] = mapped_column(enum_column(LoginOutcome, "login_outcome"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)

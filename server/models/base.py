"""Declarative base for every table, and UTC time.

Every timestamp column is `DateTime(timezone=True)` holding UTC. PostgreSQL keeps the zone; SQLite stores the
wall time only, so objects loaded from SQLite get their UTC zone back (the load/refresh hook below): code always
sees timezone-aware datetimes, whatever the database.
"""
from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlalchemy import DateTime, Enum, MetaData, event
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names, so migrations (and SQLite batch rebuilds) can refer to them on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """Aware UTC datetime (naive values are taken as UTC, as SQLite returns them)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def enum_column(cls: type[enum.Enum], name: str) -> Enum:
    """A column type for an enum's values: VARCHAR + CHECK on every database (no native PostgreSQL enum type to
    migrate later)."""
    return Enum(cls, name=name, native_enum=False, create_constraint=True, length=16,
                values_callable=lambda e: [m.value for m in e])


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: DateTime(timezone=True)}


def _restore_utc(target: Base, *_args: object) -> None:
    for column in target.__mapper__.columns:
        if isinstance(column.type, DateTime):
            key = target.__mapper__.get_property_by_column(column).key
            value = target.__dict__.get(key)
            if isinstance(value, datetime) and value.tzinfo is None:
                target.__dict__[key] = value.replace(tzinfo=UTC)


event.listen(Base, "load", _restore_utc, propagate=True)
event.listen(Base, "refresh", _restore_utc, propagate=True)

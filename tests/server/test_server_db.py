"""The database layer on both engines: foreign keys enforced, timestamps come back timezone-aware UTC, and on
SQLite the write-lock discipline (writers queue; read_only() sessions never wait for them)."""
from __future__ import annotations

from datetime import UTC

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError


@pytest.fixture()
def sm(db_url):
    from server.core.db import make_engine, make_sessionmaker

    engine = make_engine(db_url)
    yield make_sessionmaker(engine)
    engine.dispose()


def test_foreign_keys_are_enforced(sm):
    from server.models.identity import DeviceToken

    with sm() as session:
        session.add(DeviceToken(device_id=987654, token_hash="0" * 64, prefix="hbd_x"))
        with pytest.raises(IntegrityError):
            session.commit()


def test_timestamps_come_back_aware_utc(sm):
    from server.models.identity import Device

    with sm() as session:
        device = Device(device_uid="hb-tz-check", name="")
        session.add(device)
        session.commit()
        device_id = device.id
    with sm() as session:
        loaded = session.get(Device, device_id)
        assert loaded.created_at.tzinfo is not None
        assert loaded.created_at.utcoffset() == UTC.utcoffset(None)


def test_sqlite_pragmas_and_lock_discipline(sm, db_url):
    from server.core.db import is_sqlite, read_only

    if not is_sqlite(db_url):
        pytest.skip("SQLite only")
    with sm() as writer, sm() as reader:
        assert writer.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert writer.execute(text("PRAGMA foreign_keys")).scalar() == 1
        # the writer's transaction (BEGIN IMMEDIATE) holds the write lock ...
        writer.execute(text("UPDATE devices SET name = 'locked' WHERE 1 = 0"))
        # ... and a read-only session still reads at once (no busy wait: it would take the 30 s timeout)
        read_only(reader)
        assert reader.execute(text("SELECT count(*) FROM users")).scalar() >= 0
        writer.commit()

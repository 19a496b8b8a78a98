"""Ingest items as a bridge sends them (docs/ingest.md), and a poster, for the ingest/alerts/feedback tests."""
from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta

from heartbeat_core.domain import AAMI_CLASSES

# a day ago, on a whole minute: ingest refuses times far from the server's clock (HEARTBEAT_CLOCK_SKEW_SECONDS,
# HEARTBEAT_INGEST_MAX_AGE_DAYS), so test data is dated relative to now
T0 = (datetime.now(UTC) - timedelta(days=1)).replace(second=0, microsecond=0)
_keys = itertools.count(1)
_boots = itertools.count(1000)


def new_key() -> str:
    return f"test-key-{uuid.uuid4().hex}-{next(_keys)}"


def new_boot() -> int:
    """A boot id no other test of the module uses."""
    return next(_boots)


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def hello(boot: int, seq: int = 1, **kw) -> dict:
    return {"type": "hello", "boot_id": boot, "seq": seq, "received_at": at(seq), "firmware_version": "1.2.3",
            "model_version": "v7", "model_sha256": "0f" * 32, "protocol_version": 1, "sample_rate_hz": 360, **kw}


def beat(boot: int, seq: int, label: str = "N", flags: int = 0, **kw) -> dict:
    scores = [-128] * 5
    scores[AAMI_CLASSES.index(label)] = 120
    return {"type": "beat", "boot_id": boot, "seq": seq, "received_at": at(seq), "r_sample": 300 * seq,
            "label": label, "scores": scores, "cost": 41_000 + seq, "flags": flags, **kw}


def alert(boot: int, seq: int, beat_seq: int, label: str = "V", ecg: dict | None = None, **kw) -> dict:
    item = {"type": "alert", "boot_id": boot, "seq": seq, "received_at": at(seq), "beat_seq": beat_seq,
            "r_sample": 300 * beat_seq, "label": label, "score": 120, "rule": 1, "threshold": 200, **kw}
    if ecg is not None:
        item["ecg"] = ecg
    return item


def status(boot: int, seq: int, **kw) -> dict:
    counters = {name: 0 for name in ("uptime_ms", "samples", "beats", "alerts", "corrupt_frames", "oversize_frames",
                                     "unknown_frames", "overruns", "lost", "last_seq", "ring_oldest_seq")}
    counters.update(uptime_ms=1000 * seq, samples=360 * seq, beats=seq - 1, last_seq=seq - 1)
    return {"type": "status", "boot_id": boot, "seq": seq, "received_at": at(seq), **counters, **kw}


def gap(boot: int, seq: int, first: int, last: int) -> dict:
    return {"type": "gap", "boot_id": boot, "seq": seq, "received_at": at(seq), "first": first, "last": last}


def feedback(boot: int, alert_seq: int, action: str = "confirm", label: str | None = None,
             created: float = 100.0, feedback_id: str | None = None, clinician: str = "Dr. Bedside") -> dict:
    item = {"type": "feedback", "feedback_id": feedback_id or str(uuid.uuid4()),
            "alert": {"boot_id": boot, "seq": alert_seq}, "action": action, "clinician": clinician,
            "created_at": at(created)}
    if label is not None:
        item["label"] = label
    return item


def post(client, device_uid: str, items: list[dict], key: str | None = None):
    return client.post("/api/v1/ingest", json={"device_id": device_uid, "items": items},
                       headers={"Idempotency-Key": key or new_key()})


class Peek:
    """Looks behind the API, each look in a short transaction of its own: a test must not hold a transaction
    open (on SQLite every transaction takes the write lock; on both it would read an old snapshot)."""

    def __init__(self, sessionmaker_):
        self.sessionmaker = sessionmaker_

    def count(self, table, **where) -> int:
        from sqlalchemy import func, select

        stmt = select(func.count()).select_from(table).where(*(getattr(table, k) == v for k, v in where.items()))
        with self.sessionmaker() as s:
            return s.scalar(stmt)

    def all(self, stmt) -> list:
        with self.sessionmaker() as s:
            return list(s.scalars(stmt))

    def one(self, stmt):
        with self.sessionmaker() as s:
            return s.scalars(stmt).one()

    def get(self, model, ident):
        with self.sessionmaker() as s:
            return s.get(model, ident)

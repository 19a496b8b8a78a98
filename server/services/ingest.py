"""Storing a bridge's batch (docs/ingest.md): one transaction, all or nothing, exactly once.

    ingest_batch(session, device, key, request, window) -> IngestResponse

1. The batch's (device, Idempotency-Key) row is inserted first. Its UNIQUE constraint is the lock that makes two
   concurrent posts of the same batch store it once: on SQLite the second waits for the write lock (every
   transaction is BEGIN IMMEDIATE), on PostgreSQL for the first transaction's index entry; either way its insert
   then fails, it rolls back and answers the stored response (`replayed: true`), or 409 if its body differs.
2. Every item is validated (schema, then against the database: device keys already used by another message
   type, feedback on an alert that does not exist); any problem rolls everything back and is reported item by
   item (BatchRejected -> 422).
3. Device keys (boot_id, seq) already stored, or repeated inside the batch, are duplicates: counted, skipped.
   The existing keys are read with one query over the batch's seq ranges; new rows go in with one executemany
   INSERT per table.
4. The answer is stored on the batch row and committed with the items.
"""
from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Table, and_, insert, literal, or_, select, tuple_, union_all, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.core.errors import ConflictError, ForbiddenError, NotFoundError
from server.core.logging import get_logger
from server.models.base import Base, utcnow
from server.models.identity import Device
from server.models.telemetry import (
    MESSAGE_TABLES,
    STATUS_COUNTERS,
    Alert,
    Beat,
    DeviceStatus,
    Feedback,
    FeedbackSource,
    Gap,
    Hello,
    IngestBatch,
)
from server.schemas.ingest import (
    AlertItem,
    BeatItem,
    FeedbackItem,
    GapItem,
    HelloItem,
    IngestCounts,
    IngestRequest,
    IngestResponse,
    ItemError,
    StatusItem,
    contradicts,
    validate_items,
)
from server.services import devices as device_service
from server.services import feedback as feedback_service

log = get_logger("ingest")
BEAT_FLAG_ALERTED = 0x01
_ATTEMPTS = 3  # a concurrent batch (another key) holding some of our items makes ours retry once or twice


class BatchRejected(Exception):
    """Invalid items: nothing of the batch was stored. `errors` names every one."""

    def __init__(self, errors: list[ItemError], total: int):
        self.errors = sorted(errors, key=lambda e: (-1 if e.index is None else e.index, e.field))
        self.total = total
        bad = len({e.index for e in errors})
        self.message = f"batch rejected: {bad} of {total} items are invalid; nothing was stored"
        super().__init__(self.message)

    def detail(self) -> dict[str, Any]:
        return {"message": self.message, "errors": [e.model_dump() for e in self.errors]}


def request_sha256(request: IngestRequest) -> str:
    """The batch's fingerprint: the same JSON content (whatever its spacing or key order) gives the same hash."""
    canonical = json.dumps({"device_id": request.device_id, "items": request.items}, sort_keys=True,
                           separators=(",", ":"), ensure_ascii=False, default=str)
    # surrogatepass: a lone surrogate (refused item by item later) must not stop the hash; other text is UTF-8
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def check_device(session: Session, token_device: Device, device_uid: str) -> Device:
    """The batch's device: 404 if unknown, 403 if the token belongs to another device."""
    if token_device.device_uid == device_uid:
        return token_device
    if device_service.find_device(session, device_uid) is None:
        raise NotFoundError(f"device {device_uid!r} is not registered")
    raise ForbiddenError(f"this token belongs to device {token_device.device_uid!r}; "
                         f"it may not write device {device_uid!r}")


def plausible_window(clock_skew_seconds: float, max_age_days: float,
                     now: datetime | None = None) -> tuple[datetime, datetime]:
    """(earliest, latest) time an item may carry: a bridge's clock may run a little ahead, and it may hold
    messages while the server is away, but an alert 'received' in 9999 would stay first in every list."""
    now = now or utcnow()
    return now - timedelta(days=max_age_days), now + timedelta(seconds=clock_skew_seconds)


def ingest_batch(session: Session, device: Device, key: str, request: IngestRequest,
                 window: tuple[datetime, datetime] | None = None) -> IngestResponse:
    fingerprint = request_sha256(request)
    valid, errors = validate_items(request.items, request.device_id, window)
    for attempt in range(_ATTEMPTS):
        try:
            return _store(session, device, key, fingerprint, valid, errors, len(request.items))
        except IntegrityError as exc:
            session.rollback()
            stored = _stored_batch(session, device.id, key)
            if stored is not None:
                return _replay(stored, fingerprint, key)
            if attempt == _ATTEMPTS - 1:
                raise
            log.info("device %s batch key=%s met a concurrent batch storing the same messages (%s); retrying",
                     device.device_uid, key, type(exc.orig).__name__)
        except BaseException:
            session.rollback()
            raise
    raise AssertionError("unreachable")


def _stored_batch(session: Session, device_id: int, key: str) -> IngestBatch | None:
    return session.scalar(select(IngestBatch).where(IngestBatch.device_id == device_id,
                                                    IngestBatch.idempotency_key == key))


def _replay(stored: IngestBatch, fingerprint: str, key: str) -> IngestResponse:
    if stored.request_sha256 != fingerprint or stored.response is None:
        raise ConflictError(f"Idempotency-Key {key!r} was already used for a different batch of this device "
                            f"(batch {stored.id}); use a new key for new content")
    return IngestResponse.model_validate({**stored.response, "replayed": True})


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _store(session: Session, device: Device, key: str, fingerprint: str, valid: list[tuple[int, Any]],
           errors: list[ItemError], total: int) -> IngestResponse:
    batch = IngestBatch(device_id=device.id, idempotency_key=key, request_sha256=fingerprint, response=None)
    session.add(batch)
    session.flush()  # IntegrityError here: the key is taken (the caller replays the stored answer)

    errors = list(errors)
    existing = _existing_keys(session, device.id, [item for _, item in valid if not isinstance(item, FeedbackItem)])
    known_alerts = _known_alerts(session, device.id, valid)  # device key -> class, stored before
    known_feedback = _known_feedback(session, [item.feedback_id for _, item in valid
                                               if isinstance(item, FeedbackItem)])

    counts: dict[str, int] = defaultdict(int)
    duplicates = 0
    seen: dict[tuple[int, int], str] = {}  # device key -> item type, earlier in this batch
    batch_alerts: dict[tuple[int, int], str] = {}  # device key -> class of the alerts earlier in this batch
    seen_feedback: set[str] = set()
    new: dict[str, list[tuple[int, Any]]] = defaultdict(list)
    for index, item in valid:
        if isinstance(item, FeedbackItem):
            ref = (item.alert.boot_id, item.alert.seq)
            alert_label = known_alerts.get(ref) or batch_alerts.get(ref)
            if alert_label is None:
                errors.append(ItemError(index=index, field="alert", message=(
                    f"no alert (boot_id {ref[0]}, seq {ref[1]}) is stored for device {device.device_uid!r} "
                    "or earlier in this batch")))
                continue
            problem = contradicts(item.action, item.label, alert_label)
            if problem:
                errors.append(ItemError(index=index, field="label", message=problem))
                continue
            owner = known_feedback.get(item.feedback_id)
            if owner is not None and owner != device.id:
                # not a duplicate: another device's verdict (or one given through the API on another device's
                # alert) has this id, and dropping this one silently would lose a clinician's verdict
                errors.append(ItemError(index=index, field="feedback_id", message=(
                    f"feedback_id {item.feedback_id} is already used by another device's feedback; "
                    "make a new UUID for each verdict")))
                continue
            if owner is not None or item.feedback_id in seen_feedback:
                duplicates += 1
                continue
            seen_feedback.add(item.feedback_id)
            new["feedback"].append((index, item))
            continue
        dkey = (item.boot_id, item.seq)
        if isinstance(item, AlertItem):
            batch_alerts.setdefault(dkey, item.label)
        other = existing.get(dkey) or seen.get(dkey)
        if other is not None:
            if other == item.type:
                duplicates += 1
            else:
                errors.append(ItemError(index=index, field="seq", message=(
                    f"device key (boot_id {dkey[0]}, seq {dkey[1]}) is already used by a {other} message; "
                    f"a device sends one message per seq")))
            continue
        seen[dkey] = item.type
        new[item.type].append((index, item))

    if errors:
        raise BatchRejected(errors, total)

    now = utcnow()
    _insert_hellos(session, device, new["hello"], now)
    _insert_beats(session, device, new["beat"], now)
    _insert_alerts(session, device, new["alert"], now)
    _insert_statuses(session, device, new["status"], now)
    _insert_gaps(session, device, new["gap"], now)
    if new["feedback"]:
        alert_ids = _alert_ids(session, device.id, {(i.alert.boot_id, i.alert.seq) for _, i in new["feedback"]})
        feedback_service.add_feedback_rows(session, [
            dict(feedback_uid=item.feedback_id, alert_id=alert_ids[(item.alert.boot_id, item.alert.seq)],
                 action=item.action, label=item.label, user_id=None, clinician_name=item.clinician,
                 source=FeedbackSource.bedside, created_at=_utc(item.created_at))
            for _, item in new["feedback"]], now)

    for name, rows in new.items():
        counts[name] = len(rows)
    device_items = [item for _, item in valid if not isinstance(item, FeedbackItem)]
    last_received = max((_utc(item.received_at) for item in device_items), default=None)
    device_service.touch_device(session, device, seen_at=last_received or now)

    stored = sum(counts.values())
    response = IngestResponse(batch_id=batch.id, stored=stored, duplicates=duplicates, replayed=False,
                              counts=IngestCounts(**counts))
    batch.response = response.model_dump(mode="json")
    session.commit()
    return response


def _existing_keys(session: Session, device_id: int, items: list[Any]) -> dict[tuple[int, int], str]:
    """Device keys of this batch's items that are already stored (in any message table) -> that message's type.

    One query: per table and boot, the seqs between the batch's lowest and highest (an index range scan on the
    UNIQUE (device_id, boot_id, seq) constraint)."""
    ranges: dict[int, tuple[int, int]] = {}
    for item in items:
        low, high = ranges.get(item.boot_id, (item.seq, item.seq))
        ranges[item.boot_id] = (min(low, item.seq), max(high, item.seq))
    if not ranges:
        return {}
    selects = []
    for name, model in MESSAGE_TABLES.items():
        c = model.__table__.c  # Core columns: this runs for every batch, the ORM layer costs here
        in_range = or_(*(and_(c.boot_id == boot, c.seq.between(low, high)) for boot, (low, high) in ranges.items()))
        selects.append(select(literal(name).label("type"), c.boot_id, c.seq).where(c.device_id == device_id, in_range))
    return {(boot, seq): name for name, boot, seq in session.connection().execute(union_all(*selects))}


def _known_alerts(session: Session, device_id: int, valid: list[tuple[int, Any]]) -> dict[tuple[int, int], str]:
    refs = {(item.alert.boot_id, item.alert.seq) for _, item in valid if isinstance(item, FeedbackItem)}
    if not refs:
        return {}
    rows = session.execute(select(Alert.boot_id, Alert.seq, Alert.label).where(
        Alert.device_id == device_id, tuple_(Alert.boot_id, Alert.seq).in_(sorted(refs))))
    return {(boot, seq): label for boot, seq, label in rows}


def _alert_ids(session: Session, device_id: int, refs: set[tuple[int, int]]) -> dict[tuple[int, int], int]:
    if not refs:
        return {}
    rows = session.execute(select(Alert.boot_id, Alert.seq, Alert.id).where(
        Alert.device_id == device_id, tuple_(Alert.boot_id, Alert.seq).in_(sorted(refs))))
    return {(boot, seq): alert_id for boot, seq, alert_id in rows}


def _known_feedback(session: Session, uids: list[str]) -> dict[str, int]:
    """The feedback ids already stored -> the device whose alert each is about."""
    if not uids:
        return {}
    rows = session.execute(select(Feedback.feedback_uid, Alert.device_id).join(Alert, Alert.id == Feedback.alert_id)
                           .where(Feedback.feedback_uid.in_(set(uids))))
    return {uid: device_id for uid, device_id in rows}


def _bulk_insert(session: Session, model: type[Base], rows: list[dict[str, Any]]) -> None:
    """One Core executemany (SQLite: in-process; psycopg 3: pipelined). Measured on PostgreSQL 15, it was as
    fast as INSERT .. RETURNING batches and much faster than a multi-row VALUES (compiled anew every time)."""
    table = model.__table__
    assert isinstance(table, Table)  # every model here is declared with __tablename__: it maps a Table
    session.connection().execute(insert(table), rows)


def _base(device: Device, item: Any, now: datetime) -> dict[str, Any]:
    return {"device_id": device.id, "boot_id": item.boot_id, "seq": item.seq,
            "received_at": _utc(item.received_at), "stored_at": now}


def _insert_hellos(session: Session, device: Device, rows: list[tuple[int, HelloItem]], now: datetime) -> None:
    if not rows:
        return
    _bulk_insert(session, Hello, [
        {**_base(device, item, now), "firmware_version": item.firmware_version, "model_version": item.model_version,
         "model_sha256": item.model_sha256, "protocol_version": item.protocol_version,
         "sample_rate_hz": item.sample_rate_hz} for _, item in rows])
    newest = max((item for _, item in rows), key=lambda i: (_utc(i.received_at), i.seq))
    device_service.touch_device(session, device, hello=newest, seen_at=_utc(newest.received_at))


def _insert_beats(session: Session, device: Device, rows: list[tuple[int, BeatItem]], now: datetime) -> None:
    if not rows:
        return
    _bulk_insert(session, Beat, [
        {**_base(device, item, now), "r_sample": item.r_sample, "label": item.label, "scores": item.scores,
         "cost": item.cost, "flags": item.flags} for _, item in rows])
    alerted = [item for _, item in rows if item.flags & BEAT_FLAG_ALERTED]
    if alerted:  # alerts that arrived before their beat (a resend out of order) get their beat now
        _link_alerts_to_beats(session, device.id, {(item.boot_id, item.seq) for item in alerted})


def _link_alerts_to_beats(session: Session, device_id: int, beat_keys: set[tuple[int, int]]) -> None:
    beat_ids = {(boot, seq): beat_id for boot, seq, beat_id in session.execute(
        select(Beat.boot_id, Beat.seq, Beat.id).where(
            Beat.device_id == device_id, tuple_(Beat.boot_id, Beat.seq).in_(sorted(beat_keys))))}
    waiting = session.execute(select(Alert.id, Alert.boot_id, Alert.beat_seq).where(
        Alert.device_id == device_id, Alert.beat_id.is_(None),
        tuple_(Alert.boot_id, Alert.beat_seq).in_(sorted(beat_keys)))).all()
    for alert_id, boot, beat_seq in waiting:
        beat_id = beat_ids.get((boot, beat_seq))
        if beat_id is not None:
            session.execute(update(Alert).where(Alert.id == alert_id).values(beat_id=beat_id))


def _insert_alerts(session: Session, device: Device, rows: list[tuple[int, AlertItem]], now: datetime) -> None:
    if not rows:
        return
    beat_ids = {(boot, seq): beat_id for boot, seq, beat_id in session.execute(
        select(Beat.boot_id, Beat.seq, Beat.id).where(
            Beat.device_id == device.id,
            tuple_(Beat.boot_id, Beat.seq).in_(sorted({(i.boot_id, i.beat_seq) for _, i in rows}))))}
    _bulk_insert(session, Alert, [
        {**_base(device, item, now), "beat_seq": item.beat_seq, "beat_id": beat_ids.get((item.boot_id, item.beat_seq)),
         "r_sample": item.r_sample, "label": item.label, "score": item.score, "rule": item.rule,
         "threshold": item.threshold, "ecg_start": item.ecg.start_sample if item.ecg else None,
         "ecg_samples": item.ecg.samples if item.ecg else None, "status": "open", "true_label": None}
        for _, item in rows])


def _insert_statuses(session: Session, device: Device, rows: list[tuple[int, StatusItem]], now: datetime) -> None:
    if not rows:
        return
    _bulk_insert(session, DeviceStatus, [
        {**_base(device, item, now), **{name: getattr(item, name) for name in STATUS_COUNTERS}} for _, item in rows])
    newest = max((item for _, item in rows), key=lambda i: (_utc(i.received_at), i.seq))
    if device.counters_at is None or _utc(newest.received_at) >= device.counters_at:
        device_service.touch_device(session, device, status=newest, seen_at=_utc(newest.received_at))


def _insert_gaps(session: Session, device: Device, rows: list[tuple[int, GapItem]], now: datetime) -> None:
    if not rows:
        return
    _bulk_insert(session, Gap, [
        {**_base(device, item, now), "first": item.first, "last": item.last} for _, item in rows])

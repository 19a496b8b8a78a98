"""Issue 14, ingest: input that gave a 500 (which the bridge retries for ever) or was taken silently is a 422
naming the item and field, and nothing of the batch is stored."""
from __future__ import annotations

import json

from telemetry_items import Peek, alert, beat, feedback, hello, new_boot, new_key

from server.models.telemetry import Beat


def _post_raw(live_server, token: str, device_uid: str, items: list[dict]):
    # json.dumps escapes a lone surrogate as \\ud800 (valid JSON text; httpx cannot encode it)
    body = json.dumps({"device_id": device_uid, "items": items})
    return live_server.client(token).post("/api/v1/ingest", content=body.encode("ascii"), headers={
        "Idempotency-Key": new_key(), "Content-Type": "application/json"})


def _beats(live_server, device_id: int) -> int:
    from server.core.db import make_engine, make_sessionmaker

    engine = make_engine(live_server.settings.db_url)
    try:
        return Peek(make_sessionmaker(engine)).count(Beat, device_id=device_id)
    finally:
        engine.dispose()


def test_a_lone_surrogate_anywhere_in_an_item_is_a_422_naming_the_item(live_server):
    """Finding 4: a lone surrogate gave a 500 (UnicodeEncodeError hashing the request) before validation."""
    device = live_server.make_device()
    boot = new_boot()
    items = [
        hello(boot, 1),
        beat(boot, 2),
        beat(boot, 3, flags=1),
        alert(boot, 4, 3),
        {**beat(boot, 5), "label": "\ud800"},
        {**feedback(boot, 4), "clinician": "Dr. \udfff Bedside"},
        {**beat(boot, 6), "\ud800extra": 1},
        {**hello(boot, 7), "firmware_version": "1.\ud800"},
    ]
    r = _post_raw(live_server, device.token, device.device_uid, items)
    assert r.status_code == 422, r.text
    errors = r.json()["detail"]["errors"]
    assert {e["index"] for e in errors} == {4, 5, 6, 7}, errors
    by_index = {e["index"]: e for e in errors}
    assert by_index[5]["field"] == "clinician" and "surrogate" in by_index[5]["message"]
    assert "\\ud800" in by_index[6]["field"]  # named, escaped
    assert _beats(live_server, device.id) == 0


def test_a_lone_surrogate_in_the_envelope_is_a_422(live_server):
    device = live_server.make_device()
    r = _post_raw(live_server, device.token, "hb-\ud800", [beat(new_boot(), 1)])
    assert r.status_code == 422, r.text
    assert r.json()["detail"]["errors"][0]["index"] is None
    body = json.dumps({"device_id": device.device_uid, "items": [beat(new_boot(), 1)], "\udc00": 1})
    r = live_server.client(device.token).post("/api/v1/ingest", content=body.encode("ascii"), headers={
        "Idempotency-Key": new_key(), "Content-Type": "application/json"})
    assert r.status_code == 422, r.text


EDGE_TIMES = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"]


def test_times_at_the_edge_of_the_datetime_range_are_a_422_naming_the_item(live_server):
    """Finding 5: an offset that moves a time outside years 1..9999 in UTC gave a 500 OverflowError."""
    device = live_server.make_device()
    boot = new_boot()
    items = [beat(boot, 1, flags=1), alert(boot, 2, 1),
             {**beat(boot, 3), "received_at": EDGE_TIMES[0]}, {**beat(boot, 4), "received_at": EDGE_TIMES[1]},
             {**feedback(boot, 2), "created_at": EDGE_TIMES[1]}]
    r = _post_raw(live_server, device.token, device.device_uid, items)
    assert r.status_code == 422, r.text
    errors = r.json()["detail"]["errors"]
    assert [(e["index"], e["field"]) for e in errors] == [(2, "received_at"), (3, "received_at"), (4, "created_at")]
    assert _beats(live_server, device.id) == 0


def test_alert_filters_at_the_edge_of_the_datetime_range_are_a_422(live_server, clinician):
    c = live_server.client(clinician.token)
    for name in ("since", "until"):
        for value in EDGE_TIMES:
            r = c.get("/api/v1/alerts", params={name: value})
            assert r.status_code == 422, (name, value, r.text)
            assert [e["field"] for e in r.json()["detail"]["errors"]] == [name]


def test_a_feedback_id_of_another_device_is_refused_not_dropped_as_a_duplicate(live_server):
    """Finding 12: the duplicate check was global, so device B's verdict reusing device A's feedback_id was
    silently dropped. The same device sending it again is still a duplicate."""
    import uuid

    a, b = live_server.make_device(), live_server.make_device()
    shared = str(uuid.uuid4())
    boot_a, boot_b = new_boot(), new_boot()
    first = _post_raw(live_server, a.token, a.device_uid, [beat(boot_a, 1, flags=1), alert(boot_a, 2, 1),
                                                           feedback(boot_a, 2, feedback_id=shared)])
    assert first.status_code == 200 and first.json()["counts"]["feedback"] == 1, first.text
    again = _post_raw(live_server, a.token, a.device_uid, [feedback(boot_a, 2, feedback_id=shared)])
    assert again.status_code == 200 and again.json()["duplicates"] == 1, again.text
    other = _post_raw(live_server, b.token, b.device_uid, [beat(boot_b, 1, flags=1), alert(boot_b, 2, 1),
                                                           feedback(boot_b, 2, "reject", feedback_id=shared)])
    assert other.status_code == 422, other.text
    errors = other.json()["detail"]["errors"]
    assert [(e["index"], e["field"]) for e in errors] == [(2, "feedback_id")], errors
    assert "another device" in errors[0]["message"]


def test_implausible_times_are_refused_naming_the_item(live_server):
    """Finding 6: an alert received 9999-12-31 stayed first in every clinician's list for good and pinned the
    device's last-seen; times outside [now - ingest_max_age_days, now + clock_skew_seconds] are refused."""
    from datetime import UTC, datetime, timedelta

    def iso(t: datetime) -> str:
        return t.isoformat().replace("+00:00", "Z")

    now = datetime.now(UTC)
    skew = timedelta(seconds=live_server.settings.clock_skew_seconds)
    age = timedelta(days=live_server.settings.ingest_max_age_days)
    device = live_server.make_device()
    boot = new_boot()
    items = [{**beat(boot, 1, flags=1), "received_at": iso(now)}, {**alert(boot, 2, 1), "received_at": iso(now)},
             {**alert(boot, 3, 1), "received_at": "9999-12-31T00:00:00Z"},
             {**beat(boot, 4), "received_at": iso(now + skew + timedelta(hours=2))},
             {**beat(boot, 5), "received_at": iso(now - age - timedelta(days=2))},
             {**feedback(boot, 2), "created_at": iso(now + skew + timedelta(days=1))},
             {**beat(boot, 6), "received_at": "0001-01-01T00:00:00Z"}]
    r = _post_raw(live_server, device.token, device.device_uid, items)
    assert r.status_code == 422, r.text
    errors = r.json()["detail"]["errors"]
    assert [(e["index"], e["field"]) for e in errors] == [
        (2, "received_at"), (3, "received_at"), (4, "received_at"), (5, "created_at"), (6, "received_at")], errors
    assert "future" in errors[0]["message"] and "old" in errors[2]["message"]
    assert _beats(live_server, device.id) == 0
    # a bridge clock a little ahead (within the skew) is fine
    ok = _post_raw(live_server, device.token, device.device_uid, [
        {**beat(boot, 1, flags=1), "received_at": iso(now + skew / 2)},
        {**alert(boot, 2, 1), "received_at": iso(now - age + timedelta(days=1))}])
    assert ok.status_code == 200, ok.text

"""Devices over HTTP: register, list with what they last reported, tokens shown once, stored hashed, revocable."""
from __future__ import annotations

import hashlib
import uuid

from sqlalchemy import select
from telemetry_items import at


def _uid() -> str:
    return f"hb-{uuid.uuid4().hex[:10]}"


def test_engineer_registers_a_device_and_everyone_signed_in_can_list_it(live_server, engineer, clinician):
    uid = _uid()
    r = live_server.client(engineer.token).post("/api/v1/devices", json={"device_uid": uid, "name": "Ward 3"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["device_uid"] == uid and body["name"] == "Ward 3" and body["active_tokens"] == 0
    assert body["last_seen_at"] is None and body["counters"] is None
    listed = live_server.client(clinician.token).get("/api/v1/devices", params={"limit": 500}).json()
    assert uid in [d["device_uid"] for d in listed["data"]]
    assert live_server.client(clinician.token).get(f"/api/v1/devices/{uid}").json()["id"] == body["id"]
    again = live_server.client(engineer.token).post("/api/v1/devices", json={"device_uid": uid})
    assert again.status_code == 409 and uid in again.json()["detail"]


def test_bad_device_ids_are_named(live_server, engineer):
    c = live_server.client(engineer.token)
    r = c.post("/api/v1/devices", json={"device_uid": "has spaces/and slashes"})
    assert r.status_code == 422 and r.json()["detail"]["errors"][0]["field"] == "device_uid"
    r = c.get("/api/v1/devices/nope-" + uuid.uuid4().hex[:6])
    assert r.status_code == 404 and "is not registered" in r.json()["detail"]


def test_token_is_shown_once_stored_as_sha256_and_revocable(live_server, engineer, db_session):
    from server.models.identity import DeviceToken
    from server.services.devices import authenticate_token

    uid = _uid()
    c = live_server.client(engineer.token)
    c.post("/api/v1/devices", json={"device_uid": uid})
    issued = c.post(f"/api/v1/devices/{uid}/tokens")
    assert issued.status_code == 201
    token = issued.json()["token"]
    assert token.startswith("hbd_") and len(token) > 40 and token.startswith(issued.json()["prefix"])

    listed = c.get(f"/api/v1/devices/{uid}/tokens")
    assert listed.status_code == 200 and token not in listed.text
    assert [t["id"] for t in listed.json()] == [issued.json()["id"]]
    assert c.get(f"/api/v1/devices/{uid}").json()["active_tokens"] == 1

    row = db_session.scalar(select(DeviceToken).where(DeviceToken.id == issued.json()["id"]))
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    found = authenticate_token(db_session, token)
    assert found is not None and found[0].device_uid == uid
    assert authenticate_token(db_session, token + "x") is None
    db_session.rollback()

    revoked = c.post(f"/api/v1/devices/{uid}/tokens/{row.id}/revoke")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert c.post(f"/api/v1/devices/{uid}/tokens/{row.id}/revoke").json()["revoked_at"] == \
        revoked.json()["revoked_at"]
    db_session.rollback()  # a fresh snapshot
    assert authenticate_token(db_session, token) is None
    assert c.get(f"/api/v1/devices/{uid}").json()["active_tokens"] == 0


def test_revoking_another_devices_token_or_an_unknown_one_is_404(live_server, engineer, device):
    c = live_server.client(engineer.token)
    other = _uid()
    c.post("/api/v1/devices", json={"device_uid": other})
    r = c.post(f"/api/v1/devices/{other}/tokens/{device.token_id}/revoke")
    assert r.status_code == 404 and other in r.json()["detail"]
    assert c.post(f"/api/v1/devices/{other}/tokens/99999999/revoke").status_code == 404
    assert c.post(f"/api/v1/devices/nope-{uuid.uuid4().hex[:6]}/tokens").status_code == 404


def test_rename(live_server, engineer, device):
    c = live_server.client(engineer.token)
    r = c.patch(f"/api/v1/devices/{device.device_uid}", json={"name": "Ward 9, bed 1"})
    assert r.status_code == 200 and r.json()["name"] == "Ward 9, bed 1"


def test_touch_device_records_hello_and_status_for_the_list(live_server, engineer, sessionmaker_):
    """What ingest calls: HELLO sets versions and boot id, STATUS the counters, both the last-seen time."""
    from server.core.db import make_engine, make_sessionmaker
    from server.services.devices import get_device, touch_device

    uid = _uid()
    live_server.client(engineer.token).post("/api/v1/devices", json={"device_uid": uid})
    engine = make_engine(live_server.settings.db_url)
    try:
        with make_sessionmaker(engine)() as session:
            dev = get_device(session, uid)
            touch_device(session, dev, hello={"boot_id": 4_000_000_000, "firmware_version": "0.1.0",
                                              "model_version": "v7", "model_sha256": "ab" * 32, "seq": 1})
            touch_device(session, dev, status={"boot_id": 4_000_000_000, "uptime_ms": 1000, "samples": 360,
                                               "beats": 2, "alerts": 0, "corrupt_frames": 1, "oversize_frames": 0,
                                               "unknown_frames": 0, "overruns": 0, "lost": 0, "last_seq": 3,
                                               "ring_oldest_seq": 1, "seq": 4})
            session.commit()
    finally:
        engine.dispose()
    body = live_server.client(engineer.token).get(f"/api/v1/devices/{uid}").json()
    assert body["firmware_version"] == "0.1.0" and body["model_version"] == "v7"
    assert body["model_sha256"] == "ab" * 32 and body["boot_id"] == 4_000_000_000
    assert body["counters"]["corrupt_frames"] == 1 and body["counters"]["samples"] == 360
    assert "seq" not in body["counters"]
    assert body["last_seen_at"] is not None and body["counters_at"] is not None


def test_device_list_shows_what_the_device_last_reported_through_ingest(live_server, engineer):
    """The device's own HELLO and STATUS, posted by its bridge, are what the device list shows."""
    dev = live_server.make_device()
    now = at(0).replace("Z", "+00:00")
    hello = {"type": "hello", "boot_id": 77, "seq": 1, "received_at": now, "firmware_version": "1.2.3",
             "model_version": "20261124-1", "model_sha256": "cd" * 32, "protocol_version": 1,
             "sample_rate_hz": 360}
    status = {"type": "status", "boot_id": 77, "seq": 2, "received_at": at(5),
              "uptime_ms": 5000, "samples": 1800, "beats": 6, "alerts": 0, "corrupt_frames": 2,
              "oversize_frames": 0, "unknown_frames": 0, "overruns": 0, "lost": 0, "last_seq": 1,
              "ring_oldest_seq": 1}
    r = live_server.client(dev.token).post("/api/v1/ingest", json={"device_id": dev.device_uid,
                                                                   "items": [hello, status]},
                                           headers={"Idempotency-Key": f"dev-{uuid.uuid4().hex}"})
    assert r.status_code == 200, r.text
    body = live_server.client(engineer.token).get(f"/api/v1/devices/{dev.device_uid}").json()
    assert (body["firmware_version"], body["model_version"], body["model_sha256"], body["boot_id"]) == \
        ("1.2.3", "20261124-1", "cd" * 32, 77)
    assert body["counters"]["corrupt_frames"] == 2 and body["counters"]["samples"] == 1800
    assert body["last_seen_at"].startswith(at(5)[:19])
    token_row = live_server.client(engineer.token).get(f"/api/v1/devices/{dev.device_uid}/tokens").json()[0]
    assert token_row["last_used_at"] is not None  # the token's use is recorded with the batch


def test_a_revoked_token_is_refused_at_once_and_a_second_token_keeps_working(live_server, engineer):
    dev = live_server.make_device()
    c = live_server.client(engineer.token)
    second = c.post(f"/api/v1/devices/{dev.device_uid}/tokens").json()["token"]
    gap = {"type": "gap", "boot_id": 5, "seq": 1, "received_at": at(0), "first": 1, "last": 1}

    def post(token):
        return live_server.client(token).post("/api/v1/ingest", json={"device_id": dev.device_uid, "items": [gap]},
                                              headers={"Idempotency-Key": f"rv-{uuid.uuid4().hex}"})

    assert post(dev.token).status_code == 200
    assert c.post(f"/api/v1/devices/{dev.device_uid}/tokens/{dev.token_id}/revoke").status_code == 200
    r = post(dev.token)
    assert r.status_code == 401 and "revoked" in r.json()["detail"]
    assert post(second).status_code == 200

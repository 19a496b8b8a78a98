"""Issue 14 finding 15, one by one: the contract mismatches schemathesis reported with `--checks all` (the whole
run is test_server_schemathesis.py)."""
from __future__ import annotations

import json
import uuid

import pytest
from telemetry_items import beat, new_boot, new_key

BAD_BODIES = {
    "not UTF-8": b'{"email": "\xff\xfe\xfa"}',
    "nested too deeply": b"[" * 1000 + b"]" * 1000,
    "a number of 5000 digits": b'{"n": ' + b"9" * 5000 + b"}",
}


@pytest.mark.parametrize("kind", sorted(BAD_BODIES))
def test_unparseable_bodies_are_a_documented_422_not_a_400(live_server, admin, device, kind):
    body = BAD_BODIES[kind]
    r = live_server.client(admin.token).post("/api/v1/users", content=body,
                                             headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json()["detail"]["message"].startswith("request is invalid: body")
    r = live_server.client(device.token).post("/api/v1/ingest", content=body, headers={
        "Content-Type": "application/json", "Idempotency-Key": new_key()})
    assert r.status_code == 422, r.text
    assert [(e["index"], e["field"]) for e in r.json()["detail"]["errors"]] == [(None, "body")], r.text


def test_unix_times_are_not_iso_8601(live_server, device):
    item = {**beat(new_boot(), 1), "received_at": "1700000000"}
    r = live_server.client(device.token).post("/api/v1/ingest", content=json.dumps(
        {"device_id": device.device_uid, "items": [item]}).encode(), headers={
        "Content-Type": "application/json", "Idempotency-Key": new_key()})
    assert r.status_code == 422 and r.json()["detail"]["errors"][0]["field"] == "received_at", r.text


def test_undocumented_methods_are_405_naming_exactly_the_documented_ones(live_server, admin):
    c = live_server.client(admin.token)
    for method, path, allow in (("OPTIONS", "/api/v1/users", "GET, POST"), ("OPTIONS", "/api/v1/users/1", "GET, PATCH"),
                                ("PATCH", "/api/v1/users/me", "GET"), ("DELETE", "/api/v1/retrain", "GET, POST"),
                                ("PUT", "/api/v1/devices/hb-x/tokens", "GET, POST")):
        r = c.request(method, path)
        assert r.status_code == 405 and r.headers["allow"] == allow, (method, path, r.status_code, r.headers)


def test_an_unknown_device_token_on_a_user_route_is_401(live_server, device):
    r = live_server.client("hbd_" + "x" * 43).get("/api/v1/users/me")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", r.text
    r = live_server.client(device.token).get("/api/v1/users/me")  # a real one: the wrong kind, 403
    assert r.status_code == 403


def test_dot_and_dot_dot_are_not_device_ids(live_server, admin):
    c = live_server.client(admin.token)
    for uid in (".", ".."):
        r = c.post("/api/v1/devices", json={"device_uid": uid})
        assert r.status_code == 422 and r.json()["detail"]["errors"][0]["field"] == "device_uid", r.text
    for uid in ("...", ".a", f"hb-{uuid.uuid4().hex[:6]}"):
        assert c.post("/api/v1/devices", json={"device_uid": uid}).status_code in (201, 409), uid


def test_the_schema_states_what_the_validators_refuse(live_server):
    schema = live_server.client().get("/openapi.json").json()["components"]["schemas"]
    relabel = [b for b in schema["FeedbackCreate"]["anyOf"] if b["properties"]["action"].get("const") == "relabel"]
    assert relabel and "label" in relabel[0]["required"]
    retrain = schema["RetrainParams"]
    full = [b for b in retrain["anyOf"] if b["properties"]["data"].get("const") == "full"]
    assert full and full[0]["properties"]["sample_size"] == {"type": "null"}
    assert retrain["properties"]["train_records"]["anyOf"][0]["items"]["enum"]


def test_every_422_body_is_the_documented_object(live_server, clinician):
    user = live_server.make_user("clinician")
    r = live_server.client(user.token).post("/api/v1/users/me/password", json={
        "current_password": "not my password", "new_password": "a perfectly fine passphrase 8"})
    assert r.status_code == 422 and isinstance(r.json()["detail"], dict) and r.json()["detail"]["errors"]

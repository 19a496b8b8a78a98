"""Issue 14 finding 11: e-mail addresses and names refuse control and invisible formatting characters
(bidirectional overrides, ESC, NUL, zero-width), with a 422 naming the field."""
from __future__ import annotations

import json
import uuid

import pytest
from telemetry_items import alert, beat, feedback, new_boot, new_key

BAD = {"rlo": "\u202e", "esc": "\x1b", "nul": "\x00", "zero-width": "\u200b", "newline": "\n"}


def _send(client, method: str, url: str, body: dict):
    return client.request(method, url, content=json.dumps(body).encode(), headers={
        "Content-Type": "application/json", "Idempotency-Key": new_key()})


@pytest.mark.parametrize("kind", sorted(BAD))
def test_users_emails_and_names_refuse_invisible_characters(live_server, admin, kind):
    c = live_server.client(admin.token)
    ch = BAD[kind]
    good = {"email": f"u-{uuid.uuid4().hex[:8]}@test.example", "full_name": "Dr. Ana Lopez", "role": "clinician",
            "password": "a long unusual passphrase 42"}
    for field, value in (("email", f"a{ch}evil-{uuid.uuid4().hex[:6]}@test.example"), ("full_name", f"Dr.{ch} X")):
        r = _send(c, "POST", "/api/v1/users", {**good, field: value})
        assert r.status_code == 422, (field, r.text)
        assert [e["field"] for e in r.json()["detail"]["errors"]] == [field], r.text
    user = live_server.make_user("engineer")
    for field, value in (("email", f"b{ch}x@test.example"), ("full_name", f"Eve{ch}")):
        r = _send(c, "PATCH", f"/api/v1/users/{user.id}", {field: value})
        assert r.status_code == 422 and [e["field"] for e in r.json()["detail"]["errors"]] == [field], r.text


@pytest.mark.parametrize("kind", sorted(BAD))
def test_device_and_bedside_clinician_names_refuse_invisible_characters(live_server, admin, kind):
    c = live_server.client(admin.token)
    ch = BAD[kind]
    r = _send(c, "POST", "/api/v1/devices", {"device_uid": f"hb-{uuid.uuid4().hex[:8]}", "name": f"Ward 3{ch}"})
    assert r.status_code == 422 and [e["field"] for e in r.json()["detail"]["errors"]] == ["name"], r.text
    device = live_server.make_device()
    r = _send(c, "PATCH", f"/api/v1/devices/{device.device_uid}", {"name": f"bed{ch}2"})
    assert r.status_code == 422 and [e["field"] for e in r.json()["detail"]["errors"]] == ["name"], r.text
    boot = new_boot()
    r = _send(live_server.client(device.token), "POST", "/api/v1/ingest", {"device_id": device.device_uid, "items": [
        beat(boot, 1, flags=1), alert(boot, 2, 1), feedback(boot, 2, clinician=f"Dr.{ch} Bedside")]})
    assert r.status_code == 422, r.text
    assert [(e["index"], e["field"]) for e in r.json()["detail"]["errors"]] == [(2, "clinician")], r.text


def test_ordinary_names_in_any_script_are_kept(live_server, admin):
    c = live_server.client(admin.token)
    r = _send(c, "POST", "/api/v1/users", {"email": f"jose-{uuid.uuid4().hex[:6]}@hôpital.example",
                                           "full_name": "Dr. José Müller-Łukasz 李小龙", "role": "clinician",
                                           "password": "a long unusual passphrase 42"})
    assert r.status_code == 201, r.text

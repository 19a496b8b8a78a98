"""Bad input anywhere gets a 4xx whose message says what was wrong: malformed JSON, a body of the wrong type,
wrong parameter types, unknown devices, another device's data, oversize batches. Walks every operation that
takes a JSON body, as a principal allowed to call it."""
from __future__ import annotations

import uuid

import pytest
from telemetry_items import at

from server.api.permissions import route_policies


@pytest.fixture(scope="module")
def body_operations(live_server):
    schema = live_server.client().get("/openapi.json").json()
    ops = []
    for path, item in schema["paths"].items():
        for method, op in item.items():
            if "application/json" in op.get("requestBody", {}).get("content", {}):
                ops.append((method.upper(), path, op))
    assert len(ops) >= 8
    return ops


def _client_for(live_server, policy, admin, device):
    return live_server.client(device.token if policy == "device" else admin.token)


def _url(path: str, op: dict, device) -> tuple[str, dict]:
    headers = {}
    for param in op.get("parameters", []):
        if param["in"] == "path":
            value = device.device_uid if param["name"] == "device_uid" else "1"
            path = path.replace("{" + param["name"] + "}", value)
        elif param["in"] == "header" and param.get("required"):
            headers[param["name"]] = f"bad-input-{uuid.uuid4().hex}"
    return path, headers


def test_malformed_json_is_named_everywhere(live_server, admin, device, body_operations):
    policies = route_policies(live_server.app)
    for method, path, op in body_operations:
        url, headers = _url(path, op, device)
        c = _client_for(live_server, policies[(method, path)], admin, device)
        r = c.request(method, url, content=b'{"a": 1,', headers={**headers, "Content-Type": "application/json"})
        assert r.status_code == 422, (method, path, r.status_code, r.text)
        # the message, or for ingest's item-by-item report one of its errors, names the problem
        assert "malformed JSON" in r.text, (method, path, r.text)


def test_a_body_of_the_wrong_type_is_named_everywhere(live_server, admin, device, body_operations):
    policies = route_policies(live_server.app)
    for method, path, op in body_operations:
        url, headers = _url(path, op, device)
        c = _client_for(live_server, policies[(method, path)], admin, device)
        r = c.request(method, url, json=["not", "an", "object"], headers=headers)
        assert r.status_code == 422, (method, path, r.status_code, r.text)
        detail = r.json()["detail"]
        assert detail["message"].startswith("request is invalid") or detail.get("errors"), (method, path, detail)


@pytest.mark.parametrize("url, field", [
    ("/api/v1/users?limit=many", "limit"),
    ("/api/v1/users?role=boss", "role"),
    ("/api/v1/users/abc", "user_id"),
    ("/api/v1/users/0", "user_id"),
    ("/api/v1/users/99999999999999999999", "user_id"),
    ("/api/v1/devices?offset=-1", "offset"),
    ("/api/v1/devices/has%20space", "device_uid"),
])
def test_wrong_parameter_types_are_named(live_server, admin, url, field):
    r = live_server.client(admin.token).get(url)
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["detail"]["errors"]] == [field]
    assert field in r.json()["detail"]["message"]


def test_form_instead_of_json_is_422(live_server, admin):
    r = live_server.client(admin.token).post("/api/v1/users", data={"email": "a@b.example"})
    assert r.status_code == 422


def _ingest(live_server, token, device_uid, items):
    return live_server.client(token).post("/api/v1/ingest", json={"device_id": device_uid, "items": items},
                                          headers={"Idempotency-Key": f"bad-{uuid.uuid4().hex}"})


GAP = {"type": "gap", "boot_id": 1, "seq": 1, "received_at": at(0), "first": 1, "last": 1}


def test_unknown_device_and_another_devices_data(live_server, device):
    unknown = f"hb-unknown-{uuid.uuid4().hex[:6]}"
    r = _ingest(live_server, device.token, unknown, [GAP])
    assert r.status_code in (403, 404), r.text
    assert unknown in r.json()["detail"] or device.device_uid in r.json()["detail"], r.text
    other = live_server.make_device()
    r = _ingest(live_server, device.token, other.device_uid, [GAP])
    assert r.status_code == 403 and device.device_uid in r.json()["detail"], r.text
    r = _ingest(live_server, "hbd_" + "x" * 43, device.device_uid, [GAP])
    assert r.status_code == 401 and "unknown or revoked" in r.json()["detail"]


def test_oversize_batch_is_413_naming_the_limit(live_server, device):
    limit = live_server.settings.ingest_max_items
    r = _ingest(live_server, device.token, device.device_uid, [GAP] * (limit + 1))
    assert r.status_code == 413, r.text
    assert str(limit) in r.json()["detail"]

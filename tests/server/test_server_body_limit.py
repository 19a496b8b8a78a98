"""A request body over HEARTBEAT_MAX_REQUEST_BYTES is refused with 413 before it is read: by its Content-Length,
or by counting when it comes chunked; a body under the limit is served as usual."""
from __future__ import annotations

import json

import pytest
from live_server import start_live_server, stop_live_server

LIMIT = 4096


@pytest.fixture(scope="module")
def small_server(make_settings):
    live = start_live_server(make_settings(max_request_bytes=LIMIT))
    yield live
    stop_live_server(live)


def test_declared_oversize_body_is_413(small_server):
    c = small_server.client()
    r = c.post("/api/v1/ingest", content=b"x" * (LIMIT + 1), headers={"Content-Type": "application/json"})
    assert r.status_code == 413, r.text
    assert str(LIMIT) in r.json()["detail"] and str(LIMIT + 1) in r.json()["detail"]
    assert r.headers.get("x-request-id")


def test_chunked_oversize_body_is_413(small_server):
    c = small_server.client()

    def chunks():
        for _ in range(8):
            yield b"y" * 1024

    r = c.post("/api/v1/auth/token", content=chunks(), headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413, r.text
    assert f"over {LIMIT} bytes" in r.json()["detail"]


def test_body_under_the_limit_is_served(small_server):
    c = small_server.client()
    r = c.post("/api/v1/auth/token", data={"username": "nobody@example.org", "password": "not-a-password"})
    assert r.status_code == 401, r.text  # read, parsed and refused for what it says, not for its size
    body = json.dumps({"device_id": "x", "items": []}).encode()
    r = c.post("/api/v1/ingest", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code in (401, 422), r.text

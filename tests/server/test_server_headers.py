"""Issue 14 finding 13: hardening headers on every answer, `Cache-Control: no-store` on the token answer and the
API's data, no `server: uvicorn`, and /docs served from a pinned, installed package (no CDN): the docs page works
on a network without internet access."""
from __future__ import annotations

import re
import subprocess
import time

import httpx
from test_server_cli import HEARTBEAT, _env


def test_every_answer_has_the_hardening_headers(live_server, clinician):
    c = live_server.client()
    for r in (c.get("/api/v1/health"), c.get("/api/v1/users/me"), c.get("/openapi.json"),
              c.get("/api/v1/nowhere"), live_server.client(clinician.token).get("/api/v1/alerts")):
        assert r.headers.get("x-content-type-options") == "nosniff", (r.url, r.headers)
        assert r.headers.get("x-frame-options") == "DENY", (r.url, r.headers)
        assert "frame-ancestors 'none'" in r.headers.get("content-security-policy", ""), (r.url, r.headers)
        assert r.headers.get("referrer-policy") == "no-referrer", (r.url, r.headers)
    assert live_server.client(clinician.token).get("/api/v1/alerts").headers.get("cache-control") == "no-store"


def test_the_token_answer_is_not_cached(live_server, clinician):
    r = live_server.client().post("/api/v1/auth/token", data={"username": clinician.email,
                                                               "password": clinician.password})
    assert r.status_code == 200
    assert r.headers.get("cache-control") == "no-store" and r.headers.get("pragma") == "no-cache"


def test_docs_are_served_from_local_pinned_assets(live_server):
    c = live_server.client()
    for page in ("/docs", "/redoc"):
        r = c.get(page)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        sources = re.findall(r'(?:src|href)="([^"]+)"', r.text)
        assert sources, r.text
        assert not [s for s in sources if "://" in s or s.startswith("//")], sources  # nothing from outside
        for source in sources:
            asset = c.get(source)
            assert asset.status_code == 200 and len(asset.content) > 100, (source, asset.status_code)
        assert "'unsafe-inline'" not in r.headers["content-security-policy"].split("script-src")[1].split(";")[0]
    bundle = c.get("/docs/assets/swagger-ui-bundle.js")
    assert bundle.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert "SwaggerUIBundle" in bundle.text[:2000]
    assert c.get("/docs/oauth2-redirect").status_code == 200


def test_the_server_command_does_not_announce_uvicorn(tmp_path):
    from heartbeat_system.ports import free_port

    port = free_port()
    proc = subprocess.Popen([*HEARTBEAT, "server", "run", "--port", str(port)], env=_env(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read()
                assert time.monotonic() < deadline, "the server did not come up"
                time.sleep(0.2)
        assert r.status_code == 200
        assert "server" not in r.headers, r.headers
        assert r.headers.get("x-content-type-options") == "nosniff"
    finally:
        proc.terminate()
        proc.wait(timeout=30)

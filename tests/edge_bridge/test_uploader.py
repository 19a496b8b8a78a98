"""The uploader against the real server: `heartbeat server run` (uvicorn) in a subprocess on a free port, a temporary
state folder (SQLite), an administrator made with `heartbeat server create-admin`, a device and its token made
through the API.

* everything queued reaches the server once; a batch the server already has (the bridge died after posting)
  is resent with the same key and answered as a replay; nothing is stored twice;
* the server stopped for a while: the uploader backs off, keeps the batch, and delivers it once it is back;
* 422: the item the server names is kept as rejected with its message, the rest goes under a new key;
* an unknown device (404) and a revoked token (401): the uploader stops with a clear message, the queue intact.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from procs import Server

from edge_bridge import wire
from edge_bridge.queue import DurableQueue
from edge_bridge.uploader import Uploader, UploadStopped

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not (REPO / "server" / "api" / "routes" / "ingest.py").exists(),
                                reason="the server's ingest route is not in this tree")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("server-state"))
    srv.bootstrap_admin("admin@bridge.example")
    srv.start()
    srv.login_admin()
    yield srv
    srv.stop()


def new_device(server: Server, uid: str) -> tuple[str, int]:
    return server.new_device(uid, "bridge test")


def fill(q: DurableQueue, uid: str, boot: int, n_beats: int) -> int:
    frames = [(1, wire.Hello(uid, "0.1.0", "cnn4-ds1-v1", bytes(32), 1, boot, 360))]
    for s in range(2, n_beats + 2):
        frames.append((s, wire.Beat(300 * s, 0, (100, -100, -120, -128, -128), 40000, 0)))
    frames.append((n_beats + 2, wire.Beat(300 * (n_beats + 2), 2, (-100, -120, 100, -128, -128), 40000, 1)))
    frames.append((n_beats + 3, wire.Alert(n_beats + 2, 300 * (n_beats + 2), 2, 100, 1, 204)))
    frames.append((n_beats + 4, wire.Status(1000, 360 * n_beats, n_beats + 1, 1, 0, 0, 0, 0, 0, n_beats + 3, 2)))
    q.store(uid, boot, frames)
    return len(frames)


def drain(up: Uploader, q: DurableQueue, limit_s: float = 120.0) -> None:
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        c = q.counts()
        if c["ready"] == 0 and c["in_flight"] == 0 or up.fatal is not None:
            return
        time.sleep(0.05)
    raise AssertionError(f"the queue did not drain: {q.counts()}, {up.counters}")


def test_everything_arrives_once_and_a_repeated_batch_is_a_replay(server, tmp_path):
    uid = "hb-bridge-once"
    token, _ = new_device(server, uid)
    with DurableQueue(tmp_path / "queue.db") as q:
        n = fill(q, uid, 77, 250)
        q.add_feedback(f"77:{250 + 3}", "relabel", "F", "Dr. Bedside")
        # the bridge posted a batch and died before it could mark it: the server has it ...
        b = q.next_batch(100)
        r = httpx.post(server.url + "/api/v1/ingest", content=b.body.encode(),
                       headers={"Authorization": f"Bearer {token}", "Idempotency-Key": b.idem_key,
                                "Content-Type": "application/json"})
        assert r.status_code == 200 and r.json()["stored"] == 100, r.text
    with DurableQueue(tmp_path / "queue.db") as q:  # ... and the restarted bridge sends it again, same key
        up = Uploader(q, server.url, token, batch_size=100, backoff_initial_s=0.05).start()
        try:
            drain(up, q)
        finally:
            up.stop()
        assert up.fatal is None
        assert q.counts() == {"ready": 0, "in_flight": 0, "acked": n + 1, "rejected": 0, "local": 0}
        assert up.counters.replayed == 1 and up.counters.batches == 3
    assert server.db_count("beats", uid) == 251
    assert server.db_count("alerts", uid) == 1
    assert server.db_count("device_statuses", uid) == 1
    dev = httpx.get(server.url + f"/api/v1/devices/{uid}", headers=server.admin).json()
    assert dev["counters"]["beats"] == 251 and dev["boot_id"] == 77


def test_the_server_away_for_a_while_gets_the_same_batch_later(server, tmp_path):
    uid = "hb-bridge-away"
    token, _ = new_device(server, uid)
    with DurableQueue(tmp_path / "queue.db") as q:
        n = fill(q, uid, 5, 120)
        server.stop()
        up = Uploader(q, server.url, token, batch_size=50, backoff_initial_s=0.05, backoff_max_s=0.4).start()
        try:
            end = time.monotonic() + 60
            while up.counters.retries < 3 and time.monotonic() < end:
                time.sleep(0.05)
            assert up.counters.retries >= 3 and up.counters.server_up is False
            assert "unreachable" in up.counters.last_error
            assert q.counts()["acked"] == 0 and q.counts()["in_flight"] == 50  # one batch, held
            server.start()
            drain(up, q)
        finally:
            up.stop()
        assert up.fatal is None and q.counts()["acked"] == n
    assert server.db_count("beats", uid) == 121


def test_a_rejected_item_is_kept_with_the_servers_message_and_the_rest_goes_on(server, tmp_path):
    uid = "hb-bridge-422"
    token, _ = new_device(server, uid)
    with DurableQueue(tmp_path / "queue.db") as q:
        q.store(uid, 9, [(1, wire.Hello(uid, "0.1.0", "m", bytes(32), 1, 9, 360)),
                         (2, wire.Beat(300, 2, (-100, -120, 100, -128, -128), 1, 1)),
                         (3, wire.Alert(2, 300, 2, 100, 1, 204))])
        q.add_feedback("9:3", "confirm", None, "Dr. Early")
        # the alert never reached the server (held back locally): its feedback refers to nothing there
        q._db.execute("UPDATE messages SET state='local' WHERE kind='alert'")
        q.store(uid, 9, [(4, wire.Beat(600, 0, (100, -100, -120, -128, -128), 1, 0))])
        up = Uploader(q, server.url, token, batch_size=100, backoff_initial_s=0.05).start()
        try:
            drain(up, q)
        finally:
            up.stop()
        assert up.fatal is None
        rejected = q.rejected()
        assert [r["kind"] for r in rejected] == ["feedback"]
        assert rejected[0]["error"]  # the server's words, kept
        assert q.counts()["acked"] == 3 and up.counters.rejected == 1
    assert server.db_count("beats", uid) == 2


def test_unknown_device_and_revoked_token_stop_with_a_clear_message_and_keep_the_queue(server, tmp_path):
    uid = "hb-bridge-revoked"
    token, token_id = new_device(server, uid)
    for case, device, expect in (("unknown", "hb-not-registered", "404"), ("revoked", uid, "401")):
        if case == "revoked":
            r = httpx.post(server.url + f"/api/v1/devices/{uid}/tokens/{token_id}/revoke", headers=server.admin)
            assert r.status_code == 200, r.text
        with DurableQueue(tmp_path / f"{case}.db") as q:
            n = fill(q, device, 3, 20)
            up = Uploader(q, server.url, token, backoff_initial_s=0.05).start()
            try:
                end = time.monotonic() + 60
                while up.fatal is None and time.monotonic() < end:
                    time.sleep(0.05)
            finally:
                up.stop()
            assert isinstance(up.fatal, UploadStopped)
            line = up.fatal.one_line()
            assert f"({expect})" in line and "every queued message is kept" in line, line
            if case == "unknown":
                assert "not registered" in line
            else:
                assert "revoked" in line and "HEARTBEAT_BRIDGE_DEVICE_TOKEN" in line
            assert q.counts() == {"ready": n, "in_flight": 0, "acked": 0, "rejected": 0, "local": 0}
            b = q.next_batch(100)  # the batch it tried keeps its key for the next attempt
            assert json.loads(b.body)["device_id"] == device and b.attempts == 1


# ------------------------------------------------------------------------------------- the commands, end to end
def heartbeat(env: dict, *args: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("HEARTBEAT_BRIDGE_")}
    full.update({"COLUMNS": "200", **env})
    return subprocess.run([sys.executable, "-m", "heartbeat_core.cli", *args], capture_output=True, text=True, env=full,
                          timeout=600)


@pytest.mark.slow
def test_replay_and_run_upload_through_the_bridge(server, tmp_path, mitdb_dir):
    from heartbeat_system.emulator import Emulator
    from heartbeat_system.firmware_build import build_image

    uid = "heartbeat-edge-emu"  # APP_DEVICE_ID of the emulated device
    token, _ = new_device(server, uid)
    env = {"HEARTBEAT_DATA_DIR": str(mitdb_dir), "HEARTBEAT_STATE_DIR": str(tmp_path / "state")}
    out = tmp_path / "beats.jsonl"
    proc = heartbeat(env, "replay", "208", "--emulator", "--seconds", "40", "--out", str(out),
                     "--server", server.url, "--token", token)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = out.read_text().splitlines()
    assert len(lines) > 40 and "uploaded:" in proc.stdout
    assert server.db_count("beats", uid) == len(lines)
    # record 208's ventricular beats raise alerts; each carries the 4 s of ECG the bridge streamed around it
    alerts = server.db_count("alerts", uid)
    assert alerts > 0
    assert server.db_scalar("SELECT COUNT(*) FROM alerts a JOIN devices d ON a.device_id = d.id WHERE "
                            "d.device_uid = ? AND a.ecg_samples IS NOT NULL AND a.ecg_start >= 0", uid) == alerts

    # `bridge run` against a running emulated device: its HELLO and STATUS reach the server, the queue drains
    elf = build_image(tmp_path / "state" / "bridge" / "emulator-build")
    with Emulator(elf, log_path=tmp_path / "qemu.log") as emu:
        emu.wait_listening()
        hellos = server.db_count("hellos", uid)
        proc = heartbeat({**env, "HEARTBEAT_BRIDGE_DEVICE_TOKEN": token}, "bridge", "run", "--device", emu.url,
                         "--server", server.url, "--seconds", "6", "--no-live")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "stopped: 0 messages still queued" in proc.stdout
    assert server.db_count("hellos", uid) >= hellos + 1  # the boot's HELLO and the answer to HELLO_REQUEST
    proc = heartbeat(env, "bridge", "status", "--json")
    counts = json.loads(proc.stdout)["counts"]
    assert counts["ready"] == counts["in_flight"] == counts["rejected"] == 0 and counts["acked"] > 40

"""The whole chain as separate processes: the emulated device (the real firmware image under QEMU), the bridge
(`heartbeat replay ... --server`, which streams a real MIT-BIH record into the device and queues and uploads what
the device reports) and the server (`heartbeat server run`, SQLite).

While record 208 (many V beats, so alerts too) streams through, more than 5 minutes of it in all, the test
  1. stops the server for 30 s and starts it again,
  2. SIGKILLs the bridge mid-stream during that outage and starts it again (same queue file), which streams
     another 5 minutes,
  3. pulls the device's cable: the TCP relay between bridge and device closes both ends; the bridge reconnects.
Afterwards the server holds exactly the BEATs and ALERTs the device counts in its STATUS for that boot: every seq
once, none missing, none twice.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from procs import Server, TcpRelay, wait_until

from edge_bridge import wire
from edge_bridge.queue import DurableQueue
from heartbeat_system.emulator import Emulator
from heartbeat_system.parts import heartbeat_command

pytestmark = pytest.mark.slow

RECORD = "208"
DEVICE_UID = "heartbeat-edge-emu"  # APP_DEVICE_ID of the QEMU build (firmware/include/app_config.h)


def device_status(port: int, timeout_s: float = 30.0) -> tuple[wire.Hello, wire.Status]:
    """Asks the device itself (a fresh connection straight to QEMU's UART) for HELLO and STATUS."""
    dec = wire.Decoder(wire.Accepts.DEVICE_TO_HOST)
    hello = status = None
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as s:
        s.sendall(b"\x00" + wire.encode(wire.HelloRequest(), 1) + wire.encode(wire.GetStatus(), 2))
        end = time.monotonic() + timeout_s
        while (hello is None or status is None) and time.monotonic() < end:
            data = s.recv(4096)
            assert data, "the device closed the connection"
            for frame in dec.feed(data):
                if isinstance(frame.message, wire.Hello):
                    hello = frame.message
                elif isinstance(frame.message, wire.Status) and hello is not None:
                    status = frame.message
    assert hello is not None and status is not None, "the device did not answer HELLO_REQUEST and GET_STATUS"
    return hello, status


class Bridge:
    def __init__(self, tmp: Path, device_url: str, server: Server, token: str):
        self.tmp = tmp
        self.state = tmp / "bridge-state"
        self.env = {**os.environ, "HEARTBEAT_STATE_DIR": str(self.state), "HEARTBEAT_BRIDGE_DEVICE_TOKEN": token,
                    "COLUMNS": "200"}
        self.device_url = device_url
        self.server = server
        self.runs = 0
        self.proc: subprocess.Popen | None = None

    def start(self, seconds: int) -> None:
        self.runs += 1
        log = open(self.tmp / f"bridge-{self.runs}.log", "wb")
        self.proc = subprocess.Popen(
            heartbeat_command("replay", RECORD, "--device", self.device_url, "--server", self.server.url,
                              "--seconds", str(seconds), "--out", str(self.tmp / f"beats-{self.runs}.jsonl")),
            env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def log(self) -> str:
        return (self.tmp / f"bridge-{self.runs}.log").read_text(errors="replace")[-4000:]


def test_no_beat_lost_or_doubled_through_server_outage_bridge_kill_and_cable_pull(tmp_path, mitdb_dir,
                                                                                    qemu_image):
    server = Server(tmp_path / "server-state")
    server.bootstrap_admin()
    server.start()
    server.login_admin()
    token, _ = server.new_device(DEVICE_UID, "emulated device (end-to-end test)")

    with Emulator(qemu_image, log_path=tmp_path / "qemu.log") as emu:
        emu.wait_listening()
        qemu_port = emu.port
        relay = TcpRelay(qemu_port)
        bridge = Bridge(tmp_path, relay.url, server, token)
        try:
            # run 1: five minutes of the record; beats reach the server
            bridge.start(seconds=300)
            wait_until(lambda: server.db_count("beats", DEVICE_UID) >= 50, 180, "the first beats on the server")

            # (1) the server goes away for 30 s; the bridge keeps streaming and queueing
            server.stop()
            time.sleep(10)
            assert bridge.proc.poll() is None, "run 1 ended before it could be killed mid-stream:\n" + bridge.log()

            # (2) ... and 10 s into the outage the bridge dies mid-stream without a chance to clean up
            bridge.proc.send_signal(signal.SIGKILL)
            bridge.proc.wait(timeout=30)
            with DurableQueue(bridge.state / "bridge" / "queue.db") as q:
                left = q.counts()
            assert left["ready"] + left["in_flight"] > 0, left  # the kill left messages to deliver
            time.sleep(20)
            server.start()
            server.login_admin()

            # run 2: the restarted bridge (same queue) streams five more minutes into the same boot
            bridge.start(seconds=300)
            wait_until(lambda: relay.connections >= 2, 60, "the restarted bridge to connect")
            time.sleep(3)

            # (3) the cable is pulled while samples flow; the bridge reconnects on its own
            relay.cut()
            wait_until(lambda: relay.connections >= 3, 60, "the bridge to reconnect after the cable pull")

            assert bridge.proc.wait(timeout=600) == 0, bridge.log()
        finally:
            if bridge.proc is not None and bridge.proc.poll() is None:
                bridge.proc.kill()
            relay.close()

        hello, status = device_status(qemu_port)

    assert hello.device_id == DEVICE_UID
    assert status.lost == 0 and status.overruns == 0, status
    assert status.beats > 300, f"two runs of up to 5 minutes of record {RECORD} gave only {status.beats} beats"
    boot = (" AND t.boot_id = ?", (hello.boot_id,))

    def server_has_all() -> bool:
        return server.db_count("beats", DEVICE_UID, *boot) >= status.beats \
            and server.db_count("alerts", DEVICE_UID, *boot) >= status.alerts

    try:
        wait_until(server_has_all, 60, "the server to hold every beat and alert")
    finally:
        db = server.db()
        beats = db.execute("SELECT t.seq FROM beats t JOIN devices d ON t.device_id = d.id "
                           "WHERE d.device_uid = ? AND t.boot_id = ?", (DEVICE_UID, hello.boot_id)).fetchall()
        alerts = db.execute("SELECT t.seq FROM alerts t JOIN devices d ON t.device_id = d.id "
                            "WHERE d.device_uid = ? AND t.boot_id = ?", (DEVICE_UID, hello.boot_id)).fetchall()
        other_boots = db.execute("SELECT COUNT(*) FROM beats t JOIN devices d ON t.device_id = d.id "
                                 "WHERE d.device_uid = ? AND t.boot_id != ?", (DEVICE_UID, hello.boot_id)).fetchone()
        db.close()
        server.stop()

    beat_seqs = [r[0] for r in beats]
    alert_seqs = [r[0] for r in alerts]
    # exactly the device's counts, every seq once
    assert len(beat_seqs) == status.beats, (len(beat_seqs), status)
    assert len(alert_seqs) == status.alerts, (len(alert_seqs), status)
    assert len(set(beat_seqs)) == len(beat_seqs) and len(set(alert_seqs)) == len(alert_seqs)
    assert other_boots[0] == 0
    # BEATs and ALERTs share the seq space 2..last_seq (seq 1 is HELLO; STATUS/ACK frames take seqs too), so
    # every BEAT/ALERT seq is within it and the newest one is the device's last_seq
    held = sorted(beat_seqs + alert_seqs)
    assert held[0] >= 2 and held[-1] == status.last_seq
    assert status.alerts > 0, f"record {RECORD} should raise alerts (V beats)"


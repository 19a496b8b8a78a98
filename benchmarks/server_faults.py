"""Server faults under ingest (issue 14 finding 9): the database locked for 40 s, the disk full, and kill -9 of
the server, each while a bridge (its real durable queue and uploader) streams beats to the real server.

    .venv/bin/python benchmarks/server_faults.py [--lock-seconds 40] [--full-seconds 20] [--kill-after 8]
                                                 [--rate 100] [--only lock,disk,kill] [--out FILE]

Per scenario: a fresh server (`heartbeat server run`, its own process, SQLite, default 30 s busy timeout) and a
bridge queue in another folder; a producer stores --rate beats/s in the queue and the uploader sends them
(batches of 100, backoff on 5xx) for the whole scenario:
- lock: after 5 s another connection holds the database's write lock (BEGIN IMMEDIATE) for --lock-seconds;
- disk: the server's state folder is a small tmpfs (mounting one needs root; skipped otherwise); after 5 s a
  filler file takes all its space for --full-seconds, then is removed;
- kill: after --kill-after s the server is killed with SIGKILL, and started again 5 s later on the same state.
Meanwhile /health is asked every 2 s. Then the producer stops and the queue drains (bounded).

Reports, per scenario: the uploader's requests by answer (503s carry Retry-After), 500s (target 0), health's
answers, beats produced, stored in the server's database, lost (target 0) and duplicated (0 by construction:
UNIQUE device keys). Exit status 1 when a target is missed. Loopback only; every wait is bounded.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from server_process import ServerProcess

from edge_bridge import wire
from edge_bridge.queue import DurableQueue
from edge_bridge.uploader import Uploader


class CountingTransport(httpx.BaseTransport):
    """The uploader's HTTP transport, counting answers by status (and connection failures as -1)."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.statuses: collections.Counter[int] = collections.Counter()
        self.retry_after_missing = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = self.inner.handle_request(request)
        except httpx.TransportError:
            self.statuses[-1] += 1
            raise
        self.statuses[response.status_code] += 1
        if response.status_code == 503 and "retry-after" not in response.headers:
            self.retry_after_missing += 1
        return response

    def close(self) -> None:
        self.inner.close()


def stored_beats(db: Path, device_uid: str) -> tuple[int, int]:
    """(beats stored for the device, distinct device keys among them)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=60)
    try:
        n, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT beats.boot_id || ':' || beats.seq) FROM beats "
            "JOIN devices ON devices.id = beats.device_id WHERE devices.device_uid = ?", (device_uid,)).fetchone()
        return int(n), int(distinct)
    finally:
        conn.close()


def run_scenario(name: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    disk: Path | None = None
    state = workdir / "state"
    if name == "disk":
        disk = workdir / "disk"
        disk.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12m,mode=0700", "tmpfs", str(disk)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            return {"skipped": f"cannot mount a tmpfs: {done.stderr.strip()}"}
        state = disk / "state"
    server = ServerProcess(state).start()
    producer_stop = threading.Event()
    produced = 0
    health: collections.Counter[str] = collections.Counter()
    queue = DurableQueue(workdir / "bridge" / "queue.db")
    transport = CountingTransport()
    uploader: Uploader | None = None
    try:
        admin_token = server.make_admin()
        uid, token = server.make_device(admin_token)
        boot = int(time.time()) & 0x7FFFFFFF or 1
        uploader = Uploader(queue, server.url, token, batch_size=100, backoff_max_s=5.0, timeout_s=90.0,
                            transport=transport).start()

        def produce() -> None:
            nonlocal produced
            step = 0.2
            per_step = max(1, int(args.rate * step))
            while not producer_stop.wait(step):
                frames = [(produced + i + 1, wire.Beat(r_sample=300 * (produced + i + 1), beat_class=0,
                                                       scores=(120, -128, -128, -128, -128), cost=41000, flags=0))
                          for i in range(per_step)]
                queue.store(uid, boot, frames)
                produced += per_step
                uploader.wake()

        def ask_health() -> None:
            while not producer_stop.wait(2.0):
                try:
                    r = httpx.get(server.url + "/api/v1/health", timeout=10)
                    health[f"{r.status_code} {r.json().get('database')}"] += 1
                except (httpx.HTTPError, ValueError) as exc:
                    health[type(exc).__name__] += 1

        threads = [threading.Thread(target=produce, daemon=True), threading.Thread(target=ask_health, daemon=True)]
        for t in threads:
            t.start()
        fault_s = _fault(name, args, server, disk)
        producer_stop.set()
        for t in threads:
            t.join(30)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and queue.counts().get("acked", 0) < produced:
            time.sleep(0.5)
        acked = queue.counts().get("acked", 0)
    finally:
        producer_stop.set()
        if uploader is not None:
            uploader.stop()
        server.stop()
    db = state / "server" / "server.db"
    stored, distinct = stored_beats(db, uid)
    queue.close()
    transport.close()
    if disk is not None:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)
    return {"fault_seconds": round(fault_s, 1), "requests": dict(sorted(transport.statuses.items())),
            "five_hundreds": sum(n for code, n in transport.statuses.items() if code == 500),
            "503_without_retry_after": transport.retry_after_missing, "health": dict(health),
            "beats_produced": produced, "beats_acked_by_bridge": acked, "beats_stored": stored,
            "beats_lost": produced - distinct, "beats_duplicated": stored - distinct,
            "uploader_fatal": str(uploader.fatal) if uploader and uploader.fatal else None}


def _fault(name: str, args: argparse.Namespace, server: ServerProcess, disk: Path | None) -> float:
    """Stream 5 s, apply the fault, stream 10 s more; returns how long the fault lasted."""
    time.sleep(5)
    started = time.monotonic()
    if name == "lock":
        conn = sqlite3.connect(str(server.state / "server" / "server.db"), timeout=60, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        time.sleep(args.lock_seconds)
        conn.execute("ROLLBACK")
        conn.close()
    elif name == "disk":
        assert disk is not None
        filler = disk / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            for size in (1 << 20, 65536, 4096, 512):
                try:
                    while True:
                        os.write(fd, b"\0" * size)
                except OSError:
                    pass
        finally:
            os.close(fd)
        time.sleep(args.full_seconds)
        filler.unlink()
    elif name == "kill":
        time.sleep(max(0.0, args.kill_after - 5))
        server.kill9()
        time.sleep(5)
        server.start()
    fault = time.monotonic() - started
    time.sleep(10)
    return fault


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lock-seconds", type=float, default=40.0)
    parser.add_argument("--full-seconds", type=float, default=20.0)
    parser.add_argument("--kill-after", type=float, default=8.0)
    parser.add_argument("--rate", type=float, default=100.0, help="beats per second into the bridge's queue")
    parser.add_argument("--only", default="lock,disk,kill")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    results: dict[str, Any] = {}
    for name in args.only.split(","):
        workdir = Path(tempfile.mkdtemp(prefix=f"hb-fault-{name}-"))
        try:
            results[name] = run_scenario(name, args, workdir)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        print(f"{name}: {json.dumps(results[name])}", flush=True)
    ok = all("skipped" in r or (r["five_hundreds"] == 0 and r["beats_lost"] == 0 and r["beats_duplicated"] == 0
                                and r["503_without_retry_after"] == 0 and not r["uploader_fatal"])
             for r in results.values())
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))
    print("server faults: " + ("OK" if ok else "TARGET MISSED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

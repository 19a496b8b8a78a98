"""Ingest throughput: beats per second and request latency of POST /api/v1/ingest, against a bare endpoint.

    .venv/bin/python benchmarks/ingest_throughput.py [--batches 300] [--batch-size 100] [--clients 4]
                                                     [--database-url URL] [--target 2000] [--out FILE]

In one run:
1. the real server (uvicorn serving server.main:create_app, its own process) on a free loopback port, with a
   fresh SQLite database (or --database-url, e.g. an empty PostgreSQL database) in a temporary state folder;
   a device is registered and given a token;
2. a loopback load generator: --clients threads, each with its own HTTP connection, post --batches batches of
   --batch-size beats (unique device keys, a new Idempotency-Key each), bodies serialised before the clock
   starts; a few warm-up batches first, not counted;
3. the same payloads, the same way, to a bare FastAPI endpoint (its own uvicorn process) that parses them with
   the same pydantic models and the same item validation as ingest, and stores nothing.

Reports beats/s and p50/p99 latency of both and the ratio ingest / bare (the price of authentication,
idempotency and the database), checks that the database holds exactly the beats sent, and writes the figures to
<state>/benchmarks/ingest_throughput.json (or --out). Exit status 1 when ingest stays below --target beats/s.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, Header

from heartbeat_system.ports import free_port
from server.schemas.ingest import IDEMPOTENCY_KEY_PATTERN, IngestCounts, IngestRequest, IngestResponse, validate_items
from server.services.ingest import request_sha256

REPO = Path(__file__).resolve().parent.parent
T0 = "2026-11-24T20:00:00.000+00:00"

# ---------------------------------------------------------------------------------------------------------------
# the bare endpoint: the same parsing (envelope by FastAPI, every item by validate_items, the fingerprint), no DB
# ---------------------------------------------------------------------------------------------------------------
bare_app = FastAPI(title="bare ingest parse")


@bare_app.post("/api/v1/ingest", response_model=IngestResponse)
def bare_ingest(body: IngestRequest,
                idempotency_key: Annotated[str, Header(alias="Idempotency-Key", pattern=IDEMPOTENCY_KEY_PATTERN)]
                ) -> IngestResponse:
    valid, errors = validate_items(body.items, body.device_id)
    request_sha256(body)
    return IngestResponse(batch_id=0, stored=len(valid), duplicates=len(errors), replayed=False,
                          counts=IngestCounts(beat=len(valid)))


# ---------------------------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------------------------
def start_uvicorn(target: str, port: int, env: dict[str, str], app_dir: Path | None = None,
                  factory: bool = False) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", str(port),
           "--log-level", "warning", "--no-access-log"]
    if factory:
        cmd.append("--factory")
    if app_dir is not None:
        cmd += ["--app-dir", str(app_dir)]
    return subprocess.Popen(cmd, cwd=REPO, env=env)


def wait_ready(url: str, proc: subprocess.Popen, timeout_s: float = 60.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"error: the server at {url} exited with status {proc.returncode}")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"error: no answer from {url} within {timeout_s:.0f} s")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def make_bodies(device_uid: str, batches: int, size: int, boot_id: int) -> list[bytes]:
    bodies = []
    seq = 1
    for _ in range(batches):
        items = []
        for _ in range(size):
            items.append({"type": "beat", "boot_id": boot_id, "seq": seq, "received_at": T0,
                          "r_sample": 300 * seq, "label": "N", "scores": [120, -128, -126, -128, -128],
                          "cost": 41_250, "flags": 0})
            seq += 1
        bodies.append(json.dumps({"device_id": device_uid, "items": items}, separators=(",", ":")).encode())
    return bodies


def run_load(base_url: str, token: str | None, bodies: list[bytes], clients: int, key_prefix: str
             ) -> tuple[float, list[float]]:
    """Posts every body once, spread over `clients` threads; (wall seconds, latencies in seconds)."""
    import httpx

    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    next_index = iter(range(len(bodies)))
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    barrier = threading.Barrier(clients + 1)

    def worker() -> None:
        with httpx.Client(base_url=base_url, headers=headers, timeout=120.0) as client:
            client.get("/api/v1/health")  # open the connection before the clock starts
            barrier.wait()
            while True:
                with lock:
                    i = next(next_index, None)
                if i is None:
                    return
                started = time.perf_counter()
                r = client.post("/api/v1/ingest", content=bodies[i],
                                headers={"Idempotency-Key": f"{key_prefix}-{i:06d}"})
                took = time.perf_counter() - started
                with lock:
                    latencies.append(took)
                    if r.status_code != 200:
                        failures.append(f"batch {i}: {r.status_code} {r.text[:200]}")

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    if failures:
        raise SystemExit(f"error: {len(failures)} requests failed, e.g. {failures[0]}")
    return wall, latencies


def summary(name: str, wall: float, latencies: list[float], beats: int) -> dict:
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return {"name": name, "requests": len(latencies), "beats": beats, "seconds": round(wall, 3),
            "beats_per_s": round(beats / wall, 1), "p50_ms": round(1000 * statistics.median(latencies), 2),
            "p99_ms": round(1000 * cuts[98], 2), "max_ms": round(1000 * max(latencies), 2)}


# ---------------------------------------------------------------------------------------------------------------
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, default=300, help="batches measured (default 300)")
    ap.add_argument("--batch-size", type=int, default=100, help="beats per batch (default 100)")
    ap.add_argument("--clients", type=int, default=4, help="concurrent clients (default 4)")
    ap.add_argument("--warmup", type=int, default=10, help="batches sent first and not counted (default 10)")
    ap.add_argument("--database-url", help="the server's database (default: SQLite in a temporary folder)")
    ap.add_argument("--target", type=float, default=2000.0, help="beats/s ingest must reach (default 2000)")
    ap.add_argument("--out", type=Path, help="result file (default <state>/benchmarks/ingest_throughput.json)")
    args = ap.parse_args()
    if min(args.batches, args.batch_size, args.clients) < 1 or args.warmup < 0:
        raise SystemExit("error: --batches, --batch-size and --clients must be >= 1, --warmup >= 0")

    from sqlalchemy import func, select

    from heartbeat_core.settings import get_settings as toolchain_settings
    from server.core.db import make_engine, make_sessionmaker, upgrade
    from server.core.settings import Settings
    from server.models.telemetry import Beat
    from server.schemas.device import DeviceCreate
    from server.services.devices import issue_token, register_device

    with tempfile.TemporaryDirectory(prefix="heartbeat-ingest-bench-") as tmp:
        state = Path(tmp) / "state"
        secret = secrets.token_hex(32)
        settings = Settings(secret_key=secret, state_dir=state, database_url=args.database_url)
        db_kind = settings.db_url.split(":", 1)[0]
        upgrade(settings.db_url)
        engine = make_engine(settings.db_url)
        with make_sessionmaker(engine)() as session:
            device = register_device(session, DeviceCreate(device_uid=f"hb-bench-{secrets.token_hex(4)}",
                                                           name="benchmark"))
            _, token = issue_token(session, device)
            device_uid, device_pk = device.device_uid, device.id

        env = {k: v for k, v in os.environ.items() if not k.startswith("HEARTBEAT_")}
        env.update({"HEARTBEAT_SECRET_KEY": secret, "HEARTBEAT_STATE_DIR": str(state),
                    "HEARTBEAT_DATABASE_URL": settings.db_url})
        n = args.warmup + args.batches
        bodies = make_bodies(device_uid, n, args.batch_size, boot_id=int.from_bytes(os.urandom(4), "little") | 1)
        warm, measured = bodies[:args.warmup], bodies[args.warmup:]
        beats = args.batches * args.batch_size
        print(f"{args.batches} batches of {args.batch_size} beats ({len(measured[0]) // 1024} KiB each), "
              f"{args.clients} clients, database {db_kind}")

        results = []
        port = free_port()
        proc = start_uvicorn("server.main:create_app", port, env, factory=True)
        try:
            wait_ready(f"http://127.0.0.1:{port}/api/v1/health", proc)
            base = f"http://127.0.0.1:{port}"
            if warm:
                run_load(base, token, warm, args.clients, "warm")
            wall, lat = run_load(base, token, measured, args.clients, "bench")
            results.append(summary("ingest (SQLAlchemy, " + db_kind + ")", wall, lat, beats))
        finally:
            stop(proc)
        with make_sessionmaker(engine)() as session:
            stored = session.scalar(select(func.count()).select_from(Beat).where(Beat.device_id == device_pk))
        engine.dispose()
        if stored != n * args.batch_size:
            raise SystemExit(f"error: the database holds {stored} beats, {n * args.batch_size} were sent")

        port = free_port()
        proc = start_uvicorn("ingest_throughput:bare_app", port, env, app_dir=Path(__file__).resolve().parent)
        try:
            wait_ready(f"http://127.0.0.1:{port}/docs", proc)
            base = f"http://127.0.0.1:{port}"
            if warm:
                run_load(base, None, warm, args.clients, "warm")
            wall, lat = run_load(base, None, measured, args.clients, "bench")
            results.append(summary("bare parse (no DB)", wall, lat, beats))
        finally:
            stop(proc)

    ingest, bare = results
    ratio = ingest["beats_per_s"] / bare["beats_per_s"]
    print(f"{'endpoint':28} {'beats/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for r in results:
        print(f"{r['name']:28} {r['beats_per_s']:>10.0f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} {r['max_ms']:>8.1f}")
    met = ingest["beats_per_s"] >= args.target
    print(f"ratio ingest / bare parse: {ratio:.2f}; database holds all {stored} beats sent")
    print(f"target >= {args.target:.0f} beats/s: {'met' if met else 'NOT met'}")

    out = args.out or toolchain_settings().state_dir / "benchmarks" / "ingest_throughput.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"batches": args.batches, "batch_size": args.batch_size, "clients": args.clients,
                               "database": db_kind, "results": results, "ratio": round(ratio, 3),
                               "target": args.target, "met": met, "cpus": os.cpu_count()}, indent=2))
    print(f"written: {out}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())

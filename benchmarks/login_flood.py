"""Login flood beside ingest (issue 14 finding 1): ingest latency with and without 40 clients sending wrong
passwords, on the real server (its own process, production argon2 profile, SQLite in a temporary state folder).

    .venv/bin/python benchmarks/login_flood.py [--seconds 30] [--clients 40] [--same-address] [--out FILE]

1. baseline: one bridge-like client posts 100-beat ingest batches back to back for --seconds; each latency kept;
2. flood: the same ingest load while --clients threads post wrong passwords for the administrator's e-mail as
   fast as the server answers, each from its own loopback address (127.0.1.x; with --same-address all from
   127.0.0.1), for --seconds;
3. a real user's login right after the flood: the administrator's right password from its usual address
   (127.0.0.1; with --same-address, where the flood came from there, from 127.0.0.2), waiting out Retry-After
   when it is 60 s or less.

Reports ingest p50/p99 of both phases and their ratio, the flood's answers by status (401 password checked,
429 held by the throttle), and every 5xx. Targets: flood p99 <= 2 x baseline p99, no 5xx anywhere, the real
user logs in (kept out 60 s at most). Exit status 1 when a target is missed. Loopback only, bounded by --seconds.
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from server_process import ServerProcess, percentile


def beat_batch(device_uid: str, boot: int, first_seq: int, n: int = 100) -> bytes:
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    items = [{"type": "beat", "boot_id": boot, "seq": s, "received_at": now, "r_sample": 300 * s, "label": "N",
              "scores": [120, -128, -128, -128, -128], "cost": 41000, "flags": 0}
             for s in range(first_seq, first_seq + n)]
    return json.dumps({"device_id": device_uid, "items": items}).encode()


class IngestLoad:
    """One client posting 100-beat batches back to back until stopped; latencies and statuses kept."""

    def __init__(self, url: str, device_uid: str, token: str, boot: int):
        self.client = httpx.Client(base_url=url, timeout=120, headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        self.device_uid, self.boot, self.seq = device_uid, boot, 1
        self.latencies: list[float] = []
        self.statuses: collections.Counter[int] = collections.Counter()

    def post_one(self) -> float:
        body = beat_batch(self.device_uid, self.boot, self.seq)
        started = time.perf_counter()
        r = self.client.post("/api/v1/ingest", content=body,
                             headers={"Idempotency-Key": f"bench-{self.boot}-{self.seq}"})
        elapsed = time.perf_counter() - started
        self.statuses[r.status_code] += 1
        self.seq += 100
        return elapsed

    def run_for(self, seconds: float) -> list[float]:
        out: list[float] = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            out.append(self.post_one())
        return out


def flood(url: str, email: str, clients: int, seconds: float, same_address: bool,
          statuses: collections.Counter[int], lock: threading.Lock) -> None:
    end = time.monotonic() + seconds

    def one(i: int) -> None:
        address = "127.0.0.1" if same_address else f"127.0.1.{i + 1}"
        with httpx.Client(base_url=url, timeout=120, transport=httpx.HTTPTransport(local_address=address)) as c:
            n = 0
            while time.monotonic() < end:
                try:
                    code = c.post("/api/v1/auth/token", data={"username": email,
                                                             "password": f"wrong guess {i}-{n}"}).status_code
                except httpx.TransportError:
                    code = -1
                n += 1
                with lock:
                    statuses[code] += 1

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 120)


def real_user_login(server: ServerProcess, address: str) -> tuple[int, float]:
    """The administrator logs in with the right password right after the flood (from its usual address, or -
    when the flood came from that very address - from another one), waiting out at most two Retry-Afters of
    60 s or less: (final status, seconds it was kept out)."""
    started = time.monotonic()
    with httpx.Client(base_url=server.url, timeout=120, transport=httpx.HTTPTransport(local_address=address)) as c:
        for _ in range(3):
            r = c.post("/api/v1/auth/token", data={"username": server.admin_email, "password": server.admin_password})
            retry = int(r.headers.get("retry-after", "0"))
            if r.status_code != 429 or retry > 60:
                return r.status_code, time.monotonic() - started
            time.sleep(retry)
    return r.status_code, time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=40)
    parser.add_argument("--same-address", action="store_true", help="every flood client from 127.0.0.1")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="hb-login-flood-") as tmp:
        server = ServerProcess(Path(tmp) / "state").start()
        try:
            admin_token = server.make_admin()
            uid, token = server.make_device(admin_token)
            load = IngestLoad(server.url, uid, token, boot=int(time.time()) & 0xFFFFFFF or 1)
            load.run_for(3)  # warm-up, not counted
            baseline = load.run_for(args.seconds)

            flood_statuses: collections.Counter[int] = collections.Counter()
            lock = threading.Lock()
            flooder = threading.Thread(target=flood, args=(server.url, server.admin_email, args.clients,
                                                           args.seconds, args.same_address, flood_statuses, lock))
            flooder.start()
            time.sleep(0.5)  # the flood is under way
            flooded = load.run_for(max(1.0, args.seconds - 0.5))
            flooder.join()
            after, locked_out_s = real_user_login(server, "127.0.0.2" if args.same_address else "127.0.0.1")
        finally:
            server.stop()

    five_xx = sum(n for code, n in flood_statuses.items() if code >= 500 or code < 0) + \
        sum(n for code, n in load.statuses.items() if code >= 500)
    report = {
        "seconds": args.seconds, "clients": args.clients, "same_address": args.same_address,
        "baseline": {"batches": len(baseline), "p50_ms": 1000 * percentile(baseline, 50),
                     "p99_ms": 1000 * percentile(baseline, 99)},
        "flood": {"batches": len(flooded), "p50_ms": 1000 * percentile(flooded, 50),
                  "p99_ms": 1000 * percentile(flooded, 99),
                  "login_answers": dict(sorted(flood_statuses.items()))},
        "ingest_answers": dict(sorted(load.statuses.items())),
        "p99_ratio": percentile(flooded, 99) / percentile(baseline, 99),
        "five_xx": five_xx,
        "real_user_login_after_flood": after,
        "real_user_kept_out_s": locked_out_s,
    }
    ok = report["p99_ratio"] <= 2.0 and five_xx == 0 and after == 200
    print(f"ingest p50/p99 without flood: {report['baseline']['p50_ms']:.1f} / {report['baseline']['p99_ms']:.1f} ms"
          f" ({len(baseline)} batches of 100 beats)")
    print(f"ingest p50/p99 with {args.clients} flooding clients: {report['flood']['p50_ms']:.1f} / "
          f"{report['flood']['p99_ms']:.1f} ms ({len(flooded)} batches); p99 ratio {report['p99_ratio']:.2f} "
          "(target <= 2)")
    print(f"flood answers by status: {report['flood']['login_answers']}; 5xx anywhere: {five_xx} (target 0); "
          f"the real user's login after the flood: {after} (kept out {locked_out_s:.1f} s)")
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))
    print("login flood: " + ("OK" if ok else "TARGET MISSED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
